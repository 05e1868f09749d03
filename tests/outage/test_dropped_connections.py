"""Connections dropped under load (issue 12, items 20 and 21).

Nothing is down: Redis closes every client connection (`CLIENT KILL`, as a failover,
a proxy or `timeout` does), or PostgreSQL ends every backend of the service
(`pg_terminate_backend`, as a restart or a pooler does), while requests are in flight.

- Redis: every connection of the service's pools is retried (a few milliseconds), so
  not even the requests that meet a dead connection fail: no 503 after the first
  second (in fact none at all here), never a 500.
- PostgreSQL: a statement cut off on its connection is answered 503
  `service_unavailable` with `Retry-After` (it was a 500); the pool then hands out
  fresh connections, and within a second every answer is a 200 again. The clients
  read `/auth/sessions` here: refresh and a kept `/users/me` never reach the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio

from tests.conftest import (
    POSTGRES_ADMIN_DSN,
    Api,
    PostgresDatabase,
    SmtpServer,
    Tokens,
    bearer,
)
from tests.outage.conftest import PrivateRedis, outage_api

LOAD_SECONDS = 3.0
CLIENTS = 8
FAULTS_AT = (1.0, 2.0)  # seconds into the load
FAULT_GAP_SECONDS = 0.5  # a fault struck late still leaves the clients this long to reconnect
SETTLE_SECONDS = 1.0  # after a fault, answers must be clean again within this


class Load:
    """Clients each refreshing their own session and reading `read` (a bearer GET) while
    a fault strikes at FAULTS_AT; every answer is kept with the moment it came."""

    def __init__(self, api: Api, *, read: str = "/users/me") -> None:
        self.api = api
        self.read = read
        self.answers: list[tuple[float, int, str]] = []
        self.faults: list[float] = []  # when each struck, seconds into the load
        self.started = time.monotonic()

    def running(self, until: float) -> bool:
        """Until LOAD_SECONDS have passed, and every fault has struck and been settled for
        SETTLE_SECONDS: a fault struck late on a busy machine still meets clients, with
        connections to kill and requests that must succeed afterwards."""
        now = time.monotonic()
        if len(self.faults) < len(FAULTS_AT):
            return True
        return now < max(until, self.started + self.faults[-1] + SETTLE_SECONDS)

    async def client(self, tokens: Tokens, until: float) -> None:
        refresh = tokens.refresh
        while self.running(until):
            refreshed = await self.api.refresh(refresh)
            self.note(refreshed)
            if refreshed.status_code == 200:
                refresh = refreshed.json()["refresh_token"]
                access = refreshed.json()["access_token"]
                self.note(await self.api.client.get(self.read, headers=bearer(access)))

    def note(self, response: httpx.Response) -> None:
        self.answers.append(
            (time.monotonic() - self.started, response.status_code, response.text[:200])
        )

    async def strike(self, fault: Callable[[], Awaitable[None]]) -> None:
        for moment in FAULTS_AT:
            due = self.started + moment
            if self.faults:  # a slow first fault must not make the second strike at once
                due = max(due, self.started + self.faults[-1] + FAULT_GAP_SECONDS)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await fault()
            self.faults.append(time.monotonic() - self.started)

    async def run(self, fault: Callable[[], Awaitable[None]]) -> None:
        email = await self.api.create_user()
        sessions = [await self.api.signed_in(email) for _ in range(CLIENTS)]
        self.started = time.monotonic()
        until = self.started + LOAD_SECONDS
        await asyncio.gather(
            *(self.client(tokens, until) for tokens in sessions), self.strike(fault)
        )

    def failures_outside_faults(self) -> list[tuple[float, int, str]]:
        """Answers that are not 200 and came later than SETTLE_SECONDS after every fault."""
        return [
            answer
            for answer in self.answers
            if answer[1] != 200
            and not any(0 <= answer[0] - fault < SETTLE_SECONDS for fault in self.faults)
        ]


@pytest.fixture
async def api(
    tmp_path: Path,
    postgres: PostgresDatabase,
    private_redis: PrivateRedis,
    smtp_server: SmtpServer,
) -> AsyncIterator[Api]:
    async with outage_api(
        tmp_path, smtp_server, database_url=postgres.url, redis_url=private_redis.url
    ) as app:
        yield app


async def test_dropped_redis_connections_are_retried_not_503(
    api: Api, private_redis: PrivateRedis
) -> None:
    admin = redis.asyncio.Redis.from_url(private_redis.url)
    killed: list[int] = []

    async def kill_every_client() -> None:
        # every connection but this one: the token store's pool and the limiter's
        killed.append(await admin.client_kill_filter(_type="normal", skipme=True))

    load = Load(api)
    try:
        await load.run(kill_every_client)
    finally:
        await admin.aclose()

    assert all(count > 0 for count in killed), killed  # there were connections to kill
    assert [a for a in load.answers if a[1] >= 500] == [], "retries should have hidden it"
    assert not load.failures_outside_faults()
    assert len(load.answers) > 50, len(load.answers)  # it was under load


async def test_terminated_postgres_connections_are_503_not_500(
    api: Api, postgres: PostgresDatabase
) -> None:
    database = postgres.dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    ended: list[int] = []

    async def terminate_every_backend() -> None:
        ended.append(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND application_name = 'authapi'",
                database,
            )
        )

    # refresh and /users/me (its profile kept in Redis) ask PostgreSQL nothing: the
    # clients list their sessions instead, a read of the database on every turn
    load = Load(api, read="/auth/sessions")
    try:
        await load.run(terminate_every_backend)
    finally:
        await admin.close()

    assert all(count > 0 for count in ended), ended
    assert {status for _, status, _ in load.answers} <= {200, 503}, load.answers
    for _, status, text in load.answers:
        if status == 503:
            assert '"code":"service_unavailable"' in text, text
    assert not load.failures_outside_faults(), load.failures_outside_faults()
    # and afterwards, as before
    fresh = await api.signed_in()
    assert (await api.client.get("/users/me", headers=bearer(fresh.access))).status_code == 200
