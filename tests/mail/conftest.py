"""Fixtures for the outbox and SMTP tests.

- `mail_postgres`: a migrated PostgreSQL database of these tests' own, whose outbox
  is emptied before each test, so a sender here never meets another test's mail
  (and a deliberately abandoned claim never delays another test's mail).
- `SmtpService`: an aiosmtpd server on a fixed port that a test can stop and start
  again, recording for each message when it arrived, over TLS or not, and who
  authenticated.
- `production_api(smtp)`: the app on PostgreSQL + Redis + that SMTP server, built
  the way tests/conftest.py's `make_api` builds it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from sqlalchemy import select

from authapi.models import OutboxMessage
from authapi.settings import Settings
from tests.conftest import (
    Api,
    Mailbox,
    PostgresDatabase,
    RedisSpace,
    SmtpServer,
    common_settings,
    free_port,
    open_api,
    temporary_postgres,
)

T = TypeVar("T")
SMTP_USER = "mailer@example.com"
SMTP_PASSWORD = "s3cret:p@ss/word"  # characters that must be percent-encoded in a URL


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float, what: str, every: float = 0.02
) -> T:
    """Poll `probe` until it returns something other than None (or fail after `within` s)."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(every)


# --- SMTP ------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    message: EmailMessage
    arrived_at: float  # time.monotonic()
    over_tls: bool
    login: str | None


@dataclass
class Collector:
    """aiosmtpd handler: keeps every accepted message, or refuses the next few (451)."""

    deliveries: list[Delivery] = field(default_factory=list)
    refuse_next: int = 0
    refused: int = 0
    delay_seconds: float = 0.0

    @property
    def messages(self) -> list[EmailMessage]:
        return [delivery.message for delivery in self.deliveries]

    @property
    def by_recipient(self) -> dict[str, list[EmailMessage]]:
        grouped: dict[str, list[EmailMessage]] = {}
        for message in self.messages:
            grouped.setdefault(str(message["To"]), []).append(message)
        return grouped

    def with_subject(self, text: str) -> list[Delivery]:
        return [d for d in self.deliveries if text in str(d.message["Subject"])]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            return "451 4.3.0 Try again later"
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        auth = session.auth_data
        self.deliveries.append(
            Delivery(
                message=parsed,
                arrived_at=time.monotonic(),
                over_tls=server.transport.get_extra_info("ssl_object") is not None,
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 OK"


def password_authenticator(
    username: str, password: str
) -> Callable[[Any, Any, Any, str, Any], AuthResult]:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        )
        if not ok:
            return AuthResult(success=False, handled=False)  # aiosmtpd answers 535
        return AuthResult(success=True, auth_data=auth_data)

    return authenticate


class _Controller(Controller):
    """aiosmtpd's Controller, keeping each connection so that stop() can close them:
    Controller.stop() leaves open connections to be garbage-collected unclosed
    (ResourceWarnings that filterwarnings=error turns into failures)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: list[SMTP] = []

    def factory(self) -> SMTP:
        connection = super().factory()
        self.connections.append(connection)
        return connection

    def stop(self, no_assert: bool = False) -> None:
        async def close_connections() -> None:
            for connection in self.connections:
                for transport in (connection.transport, connection._original_transport):
                    if transport is not None:
                        transport.abort()  # close() would wait for a TLS goodbye
            await asyncio.sleep(0.01)  # let connection_lost run

        asyncio.run_coroutine_threadsafe(close_connections(), self.loop).result(timeout=5)
        super().stop(no_assert)


class SmtpService:
    """An aiosmtpd server on one port that can be stopped and started again."""

    def __init__(self, *, port: int | None = None, **controller_options: Any) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.collector = Collector()
        self._options = controller_options
        self._controller: _Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        assert self._controller is None, "already running"
        controller = _Controller(
            self.collector, hostname=self.host, port=self.port, **self._options
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def quiet(self, within: float = 2.0) -> None:
        """Wait until clients have closed their connections (before stopping the server).

        Over TLS a client's close is a goodbye exchange that needs its event loop
        a moment longer; a test loop closed in between leaves a socket behind.
        """
        deadline = time.monotonic() + within
        controller = self._controller
        while controller is not None and time.monotonic() < deadline:
            if all(connection.transport is None for connection in controller.connections):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.02)  # the client's side of the goodbye

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[SmtpService]:
        """Started for the block; clients are let go quietly before it stops."""
        self.start()
        try:
            yield self
            await self.quiet()
        finally:
            self.stop()

    def mailbox(self) -> Mailbox:
        # Mailbox reads `.collector.messages` and `.by_recipient`, which Collector provides
        return Mailbox(smtp=SmtpServer(host=self.host, port=self.port, collector=self.collector))  # type: ignore[arg-type]


@pytest.fixture
async def smtp_service() -> AsyncIterator[SmtpService]:
    """A running plain SMTP server of this test's own."""
    async with SmtpService().serving() as service:
        yield service


# --- PostgreSQL ----------------------------------------------------------------------
@pytest.fixture(scope="package")
def mail_database() -> Iterator[PostgresDatabase]:
    with temporary_postgres("mail") as database:
        yield database


@pytest.fixture
async def mail_postgres(mail_database: PostgresDatabase) -> PostgresDatabase:
    """The mail tests' database, with an empty outbox."""
    connection = await asyncpg.connect(mail_database.dsn, timeout=5)
    try:
        await connection.execute("DELETE FROM outbox")
    finally:
        await connection.close()
    return mail_database


# --- the app, production style -------------------------------------------------------
ProductionApi = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def production_api(
    mail_postgres: PostgresDatabase, redis_space: RedisSpace, tmp_path: Path
) -> ProductionApi:
    """`async with production_api(smtp, **overrides) as api:` — PostgreSQL, Redis, that SMTP."""

    def _make(smtp: SmtpService, *, settle: bool = True, **overrides: Any) -> Any:
        values = {
            **common_settings(tmp_path),
            "database_url": mail_postgres.url,
            "redis_url": redis_space.url,
            "redis_prefix": redis_space.prefix,
            "smtp_url": smtp.url,
            "smtp_timeout_seconds": 5,
        }
        return open_api(Settings(**{**values, **overrides}), smtp.mailbox(), settle=settle)

    return _make


async def outbox_rows(api: Api, recipient: str) -> list[OutboxMessage]:
    """The outbox rows addressed to `recipient`, oldest first."""
    async with api.app.state.resources.sessionmaker() as db:
        rows = await db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.created_at)
        )
        return list(rows)
