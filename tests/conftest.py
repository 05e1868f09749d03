"""Test harness: real PostgreSQL, real Redis, a real SMTP server, both backends.

- Each run creates its own PostgreSQL database (`authapi_test_<run id>`) and uses
  its own Redis key prefix, and removes both at the end: runs never see each
  other's data. Tests within a run use unique email addresses.
- `backend` parametrises API tests over `embedded` (SQLite + in-process store +
  console/outbox mail) and `production` (PostgreSQL + Redis + SMTP to an
  in-process aiosmtpd server).
- PostgreSQL or Redis missing: the tests that need them are skipped with the
  reason, or fail when AUTHAPI_TEST_REQUIRE_SERVICES=1 (set by .ci/run).
- bcrypt runs at cost 4 except where a test sets its own.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import redis
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import select

# The suite must not pick up a developer's own configuration.
for _name in [
    name
    for name in os.environ
    if name.startswith("AUTHAPI_") and not name.startswith("AUTHAPI_TEST_")
]:
    del os.environ[_name]

import fastapi.dependencies.models as fastapi_dependency_models  # noqa: E402

from authapi.app import create_app  # noqa: E402
from authapi.db import migrate_sync  # noqa: E402
from authapi.models import OutboxMessage  # noqa: E402
from authapi.settings import Settings  # noqa: E402
from authapi.store import memory as memory_store  # noqa: E402
from tests.redis_topologies import (  # noqa: E402
    Cluster,
    SentinelSet,
    running_cluster,
    running_sentinels,
)

POSTGRES_ADMIN_DSN = os.environ.get(
    "AUTHAPI_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AUTHAPI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("AUTHAPI_TEST_REQUIRE_SERVICES") == "1"

RUN_ID = uuid.uuid4().hex[:10]
T = TypeVar("T")
ENCRYPTION_KEY = Fernet.generate_key().decode()
PASSWORD = "correct horse battery staple"
PUBLIC_URL = "https://app.example.com"
# where emailed links open: the built-in pages, as AUTHAPI_APP_URL is unset
APP_URL = f"{PUBLIC_URL}/account"


def service_missing(name: str, exc: BaseException) -> None:
    message = f"{name} is not reachable ({type(exc).__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; AUTHAPI_TEST_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(message)


# --- PostgreSQL -----------------------------------------------------------------
@dataclass(frozen=True)
class PostgresDatabase:
    dsn: str  # libpq form, for asyncpg
    url: str  # SQLAlchemy form, for the app


def _dsn_for(database: str) -> str:
    return POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking set-up code (asyncio.run inside) even where an event loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


@contextmanager
def temporary_postgres(tag: str, *, migrated: bool = True) -> Iterator[PostgresDatabase]:
    """A PostgreSQL database of its own (migrated, or empty), dropped afterwards."""
    name = f"authapi_{tag}_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    try:
        in_thread(asyncio.run, _admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)
    dsn = _dsn_for(name)
    database = PostgresDatabase(dsn=dsn, url="postgresql+asyncpg://" + dsn.split("://", 1)[1])
    try:
        if migrated:
            in_thread(migrate_sync, database.url)
        yield database
    finally:
        in_thread(asyncio.run, _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabase]:
    """The run's shared, migrated database."""
    with temporary_postgres("test") as database:
        yield database


# --- each test's app goes with it -------------------------------------------------
def release_finished_apps() -> None:
    """Empty FastAPI's module-level caches of how it classified each endpoint and
    dependency (LRU caches of 4,096 entries holding the callables themselves).

    fastapi_offline's docs routes are closures over their app, so through those caches
    every test's app stayed alive: hundreds of apps, a heap of gigabytes, and by the
    middle of a run full garbage collections of several seconds, long enough to time
    out an asyncpg connect (the 'database unreachable: TimeoutError' at start that CI
    saw now and then). A service has one app per process: this is the suite's problem.
    """
    for value in vars(fastapi_dependency_models).values():
        cache_clear = getattr(value, "cache_clear", None)
        if callable(cache_clear):
            cache_clear()


@pytest.fixture(autouse=True)
def _release_finished_app() -> Iterator[None]:
    yield
    release_finished_apps()


# --- Redis -----------------------------------------------------------------------
@dataclass(frozen=True)
class RedisSpace:
    url: str
    prefix: str


@pytest.fixture(scope="session")
def redis_space() -> Iterator[RedisSpace]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    space = RedisSpace(url=REDIS_URL, prefix=f"authapi-test-{RUN_ID}")
    yield space
    for key in client.scan_iter(match=f"{space.prefix}*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A 3-master Redis Cluster of this run's own, on private ports."""
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A master, a replica and three sentinels of this run's own (never failed over:
    a test that kills a master starts its own set)."""
    with running_sentinels(tmp_path_factory.mktemp("redis-sentinel")) as sentinels:
        yield sentinels


# --- SQLite ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'authapi.db'}"
    migrate_sync(url)
    return url


def wait_until_answering(
    url: str, process: subprocess.Popen[Any], log_path: Path, *, timeout: float = 20.0
) -> None:
    """Poll `url` until it answers 200; fail with the process's output if it exits or is slow."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, f"exited with {process.returncode}:\n{log_path.read_text()}"
        assert time.monotonic() < deadline, f"no answer within {timeout} s:\n{log_path.read_text()}"
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- SMTP ------------------------------------------------------------------------
class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        # when each recipient was last announced (RCPT TO), for a late mail's diagnosis:
        # announced but not collected means the server is still reading the message
        self.announced: dict[str, float] = {}
        # by the To header, parsed once: the run collects thousands of messages, and
        # re-reading every header on each poll of `wait_for` would stall the event loop
        # that the app under test (and its mail sender) runs on
        self.by_recipient: dict[str, list[EmailMessage]] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        self.announced[address] = time.monotonic()
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.by_recipient.setdefault(str(parsed["To"]), []).append(parsed)
        self.messages.append(parsed)
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    collector: _Collector
    controller: Controller | None = None  # the run's server; None for a test's own

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def diagnose(self, address: str) -> str:
        """What the server knows of `address`, and whether its event loop answers."""
        announced = self.collector.announced.get(address)
        seen = (
            f"RCPT TO {time.monotonic() - announced:.2f}s ago"
            if announced is not None
            else "no RCPT TO"
        )
        if self.controller is None:
            return f"; the SMTP server saw {seen}"
        answered = Future[float]()
        asked = time.monotonic()
        self.controller.loop.call_soon_threadsafe(lambda: answered.set_result(time.monotonic()))
        try:
            latency = f"{answered.result(timeout=3) - asked:.3f}s"
        except TimeoutError:
            latency = "no answer within 3 s"
        return f"; the SMTP server saw {seen}, and its event loop answered in {latency}"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    collector = _Collector()
    port = free_port()
    # server_hostname: else every connection asks socket.getfqdn(), a blocking lookup on
    # the server's event loop
    controller = Controller(collector, hostname="127.0.0.1", port=port, server_hostname="smtp.test")
    controller.start()
    try:
        yield SmtpServer(host="127.0.0.1", port=port, collector=collector, controller=controller)
    finally:
        controller.stop()


# --- mail, whichever way it leaves ----------------------------------------------------
@dataclass
class Mailbox:
    """Messages sent by the app under test: from the SMTP server or the outbox folder."""

    smtp: SmtpServer | None = None
    outbox: Path | None = None
    seen: set[str] = field(default_factory=set)
    # what the app under test says of an address's mail, for a failure message
    explain: Callable[[str], Awaitable[str]] | None = None

    def all(self) -> list[EmailMessage]:
        if self.smtp is not None:
            return list(self.smtp.collector.messages)
        assert self.outbox is not None
        if not self.outbox.exists():
            return []
        messages = []
        for path in sorted(self.outbox.glob("*.eml")):
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            messages.append(parsed)
        return messages

    def to(self, address: str) -> list[EmailMessage]:
        if self.smtp is not None:
            return list(self.smtp.collector.by_recipient.get(address, []))
        return [message for message in self.all() if message["To"] == address]

    async def wait_for(
        self, address: str, *, subject: str | None = None, count: int = 1, wait_seconds: float = 5.0
    ) -> EmailMessage:
        """The `count`-th message to `address` (matching `subject`), waiting for it to arrive."""
        deadline = time.monotonic() + wait_seconds
        while True:
            matching = [
                m for m in self.to(address) if subject is None or subject in str(m["Subject"])
            ]
            if len(matching) >= count:
                return matching[count - 1]
            if time.monotonic() > deadline:
                state = await self.explain(address) if self.explain else ""
                if self.smtp is not None:
                    state += self.smtp.diagnose(address)
                raise AssertionError(
                    f"no email #{count} to {address} (subject {subject!r}) within "
                    f"{wait_seconds}s{state}"
                )
            await asyncio.sleep(0.02)


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def link_token(message: EmailMessage) -> str:
    match = re.search(r"\?token=([A-Za-z0-9_-]+)", body_of(message))
    assert match, "no link with a token in the email"
    return match.group(1)


# --- the app under test ------------------------------------------------------------
def common_settings(tmp_path: Path) -> dict[str, Any]:
    """What every test app shares; the backend's locations are added by the caller."""
    return {
        "data_dir": tmp_path / "data",
        "public_url": PUBLIC_URL,
        "bcrypt_rounds": 4,
        "hash_workers": 2,
        "encryption_keys": [ENCRYPTION_KEY],
        "keys_reload_seconds": 60,
        "outbox_poll_seconds": 0.2,
        "outbox_retry_seconds": 0.2,
        # generous here: every test shares one client IP; the limits have tests of their own
        "email_rate_limit_per_address": "1000/minute",
        "email_rate_limit_per_ip": "10000/minute",
        "mfa_rate_limit_per_user": "1000/minute",
        "mfa_rate_limit_per_session": "1000/minute",
        "login_rate_limit_per_ip": "10000/minute",
        "login_rate_limit_per_account": "1000/minute",
        "login_rate_limit_per_account_ip": "1000/minute",
        "register_rate_limit_per_ip": "10000/minute",
        "refresh_rate_limit_per_session": "1000/minute",
        "oidc_rate_limit_per_ip": "10000/minute",
        "passkey_rate_limit_per_ip": "10000/minute",
    }


@asynccontextmanager
async def open_api(
    settings: Settings, mail: Mailbox, *, client_ip: str = "203.0.113.10", settle: bool = True
) -> AsyncIterator[Api]:
    """A running app (lifespan and all) with an httpx client; waits for its mail at the end."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            api = Api(client=client, app=app, settings=settings, mail=mail)
            mail.explain = api.explain_mail
            yield api
            if settle:
                await api.settle()


@pytest.fixture(params=["embedded", "production"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def base_settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    values = common_settings(tmp_path)
    if backend == "embedded":
        values["database_url"] = request.getfixturevalue("sqlite_url")
    else:
        values["database_url"] = request.getfixturevalue("postgres").url
        space: RedisSpace = request.getfixturevalue("redis_space")
        values["redis_url"] = space.url
        values["redis_prefix"] = space.prefix
        values["smtp_url"] = request.getfixturevalue("smtp_server").url
    return values


@pytest.fixture
def mailbox(backend: str, base_settings: dict[str, Any], request: pytest.FixtureRequest) -> Mailbox:
    if backend == "embedded":
        return Mailbox(outbox=Path(base_settings["data_dir"]) / "outbox")
    return Mailbox(smtp=request.getfixturevalue("smtp_server"))


def awaiting(coroutine: Any) -> list[str]:
    """Where a suspended coroutine waits, outermost first, down to what it awaits last
    (`Task.get_stack` shows only the outermost frame)."""
    chain = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
        if frame is None:
            chain.append(type(coroutine).__name__)  # a future, or a C-level awaitable
            break
        chain.append(
            f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}:{frame.f_lineno}"
        )
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    return chain


@dataclass
class Api:
    """An httpx client on a running app, plus the steps most tests need."""

    client: httpx.AsyncClient
    app: FastAPI
    settings: Settings
    mail: Mailbox
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    async def settle(self, wait_seconds: float = 10.0) -> None:
        """Wait until background work is done and every email this app queued is sent."""
        resources = self.app.state.resources
        await resources.background.drain()
        deadline = time.monotonic() + wait_seconds
        while await resources.outbox_sender.pending(created_since=self.started_at):
            assert time.monotonic() < deadline, "queued email was not delivered in time"
            resources.outbox_sender.wake()
            await asyncio.sleep(0.02)

    async def explain_mail(self, address: str) -> str:
        """The outbox rows for `address` and the state of the mail sender: why mail is late."""
        resources = self.app.state.resources
        async with resources.sessionmaker() as db:
            rows = (
                await db.execute(
                    select(
                        OutboxMessage.created_at,
                        OutboxMessage.attempts,
                        OutboxMessage.next_attempt_at,
                        OutboxMessage.sent_at,
                        OutboxMessage.last_error,
                    ).where(OutboxMessage.recipient == address)
                )
            ).all()
            backlog = await resources.outbox_sender.pending()
        task = resources.outbox_sender._task
        sender = "not started" if task is None else ("ended" if task.done() else "running")
        if task is not None and not task.done():
            sender += " at " + " > ".join(awaiting(task.get_coro()))
        received = len(self.mail.smtp.collector.messages) if self.mail.smtp else "-"
        return (
            f"\n  at {datetime.now(UTC):%H:%M:%S.%f}: outbox rows for it {[tuple(r) for r in rows]}"
            f"\n  unsent in the whole outbox: {backlog}; sender task: {sender}; "
            f"messages the SMTP server got in all: {received}"
        )

    async def register(self, email_address: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/auth/register", json={"email": email_address, "password": password}
        )

    async def create_user(self, email_address: str | None = None, password: str = PASSWORD) -> str:
        """Register and verify a new account; returns its email."""
        address = email_address or unique_email()
        response = await self.register(address, password)
        assert response.status_code == 202, response.text
        token = link_token(await self.mail.wait_for(address, subject="Confirm"))
        verified = await self.client.post("/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text
        return address

    async def create_unverified_user(self, email_address: str | None = None) -> str:
        """Register without verifying (the confirmation email has arrived); returns its email."""
        address = email_address or unique_email()
        assert (await self.register(address)).status_code == 202
        await self.mail.wait_for(address, subject="Confirm")
        return address

    async def login(
        self, email_address: str, password: str = PASSWORD, *, delivery: str = "body"
    ) -> httpx.Response:
        return await self.client.post(
            "/auth/login",
            json={"email": email_address, "password": password, "refresh_token_delivery": delivery},
        )

    async def signed_in(self, email_address: str | None = None) -> Tokens:
        address = email_address or await self.create_user()
        response = await self.login(address)
        assert response.status_code == 200, response.text
        body = response.json()
        return Tokens(email=address, access=body["access_token"], refresh=body["refresh_token"])

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.client.post("/auth/refresh", json={"refresh_token": refresh_token})

    async def me(self, access_token: str) -> httpx.Response:
        return await self.client.get("/users/me", headers=bearer(access_token))


@dataclass(frozen=True)
class Tokens:
    email: str
    access: str
    refresh: str


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A problem+json answer (RFC 9457) with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def assert_throttled(response: httpx.Response, *, window_seconds: int) -> int:
    """429 `rate_limited` with an integer Retry-After within the window; returns it."""
    assert_problem(response, 429, "rate_limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= window_seconds
    return int(retry_after)


@asynccontextmanager
async def client_from(api: Api, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another client of the same app, connecting from `ip`."""
    transport = httpx.ASGITransport(app=api.app, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


def headers_of(response: httpx.Response) -> dict[str, str]:
    """The response's headers but X-Request-ID, which is new for every request."""
    return {name: value for name, value in response.headers.items() if name != "x-request-id"}


def assert_same_response(first: httpx.Response, second: httpx.Response) -> None:
    """Byte-for-byte the same answer: status, body and every header (but the request id)."""
    assert first.status_code == second.status_code
    assert first.content == second.content
    assert headers_of(first) == headers_of(second)


def recorded(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[Any]:
    """Wrap `owner.name` for the test: calls go through, each result is appended to the list."""
    results: list[Any] = []
    real = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        results.append(real(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(owner, name, wrapper)
    return results


def unique_ip() -> str:
    """A client IP of its own, in a /64 of its own (budgets count an IPv6 client by its
    /64) of the documentation range: throttle counters persist in Redis."""
    return f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::7"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def make_api(base_settings: dict[str, Any], mailbox: Mailbox) -> Callable[..., Any]:
    """`async with make_api(**setting_overrides) as api:` — an app with its own settings."""

    def _make(client_ip: str = "203.0.113.10", **overrides: Any) -> Any:
        return open_api(Settings(**{**base_settings, **overrides}), mailbox, client_ip=client_ip)

    return _make


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    async with make_api() as instance:
        yield instance


@pytest.fixture
def redis_client(backend: str, request: pytest.FixtureRequest) -> Iterator[redis.Redis | None]:
    """A plain Redis client on the production backend (None on the embedded one)."""
    if backend != "production":
        yield None
        return
    space: RedisSpace = request.getfixturevalue("redis_space")
    client = redis.Redis.from_url(space.url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


async def stash_keys(api: Api, redis_client: redis.Redis | None) -> set[str]:
    """The keys of stashed single-use values: OpenID sign-in states, passkey challenges
    (Redis keys, or the memory store's keys)."""
    if redis_client is not None:
        return set(redis_client.scan_iter(match=f"{api.settings.redis_prefix}:stash:*"))
    store = api.app.state.resources.store
    assert isinstance(store, memory_store.MemoryTokenStore)
    return set(store._stash._items)  # the embedded store has no other way to list them


async def expire_stashed(
    api: Api, key: str, redis_client: redis.Redis | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make a stashed value's TTL run out now, the way each store sees it (even the minimum
    TTLs, 30 s, are too long to wait out): Redis gets the key's TTL cut to 1 ms and expires
    it itself; the memory store's clock moves past every TTL (`monkeypatch.undo()` ends it)."""
    if redis_client is not None:
        assert redis_client.pexpire(key, 1)
        deadline = time.monotonic() + 2
        while redis_client.exists(key):
            assert time.monotonic() < deadline, "Redis did not expire the key"
            await asyncio.sleep(0.005)
    else:
        later = time.time() + 3600
        monkeypatch.setattr(memory_store, "time", SimpleNamespace(time=lambda: later))


# --- OpenID provider (tests/oidc.py) ---------------------------------------------------
@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Any]:
    """The run's OpenID provider (node, tests/oidc_provider): a `tests.oidc.OidcProvider`."""
    from tests.oidc import start_provider  # imported here: tests.oidc imports this module

    with start_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def oidc_provider_claims_in_id_token() -> Iterator[Any]:
    """A second provider that puts email, email_verified and name into the id_token."""
    from tests.oidc import start_provider

    with start_provider(conform_id_token_claims=False) as provider:
        yield provider


@pytest.fixture
async def oidc_api(make_api: Callable[..., Any], oidc_provider: Any) -> AsyncIterator[Api]:
    """An app with the run's provider configured as "local" (see tests.oidc.oidc_settings)."""
    from tests.oidc import oidc_settings

    async with make_api(**oidc_settings(oidc_provider)) as instance:
        yield instance


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--requirements-report",
        metavar="PATH",
        type=Path,
        default=None,
        help="write the requirements each marked test proves, and its outcomes, to PATH "
        "(tools/compliance.py reads it)",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--requirements-report")
    if path is not None:
        from tests.requirements_report import RequirementsReport

        config.pluginmanager.register(RequirementsReport(path), "requirements-report")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI every test must run: any skip (a missing service, say) turns the run red."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if REQUIRE_SERVICES and skipped:
        reporter.write_line(
            f"AUTHAPI_TEST_REQUIRE_SERVICES=1 and {len(skipped)} test(s) skipped: failing", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
