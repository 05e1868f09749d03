"""The service behind PgBouncer in transaction pooling mode (AUTHAPI_DATABASE_POOL_MODE).

A private pgbouncer (tests/outage/conftest.py) hands each transaction to one of two
server connections, so concurrent clients meet each other's server connections all
the time. With AUTHAPI_DATABASE_POOL_MODE=transaction, a new database is migrated
through it, and the app then generates its signing key (under the advisory lock),
delivers mail through the outbox (FOR UPDATE SKIP LOCKED), registers, verifies, signs
in, reads, rotates and signs out, many clients at once. Without the setting, asyncpg's
named prepared statements collide there: the control case shows the failure the
setting prevents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from authapi.db import migrate_sync
from tests.conftest import (
    PostgresDatabase,
    RedisSpace,
    SmtpServer,
    assert_problem,
    bearer,
    in_thread,
    temporary_postgres,
)
from tests.outage.conftest import PrivatePgBouncer, outage_api

CLIENTS = 12


@pytest.fixture
def empty_database() -> Iterator[PostgresDatabase]:
    with temporary_postgres("pgbouncer", migrated=False) as database:
        yield database


def through(pgbouncer: PrivatePgBouncer, database: PostgresDatabase) -> str:
    return pgbouncer.url_for(database.dsn.rsplit("/", 1)[1])


async def test_the_service_works_behind_pgbouncer_in_transaction_mode(
    tmp_path: Path,
    pgbouncer: PrivatePgBouncer,
    empty_database: PostgresDatabase,
    redis_space: RedisSpace,
    smtp_server: SmtpServer,
) -> None:
    url = through(pgbouncer, empty_database)
    in_thread(lambda: migrate_sync(url, transaction_pooling=True))
    async with outage_api(
        tmp_path,
        smtp_server,
        database_url=url,
        database_pool_mode="transaction",
        redis_url=redis_space.url,
        redis_prefix=f"{redis_space.prefix}:pgbouncer",
    ) as api:
        emails = await asyncio.gather(*(api.create_user() for _ in range(CLIENTS)))
        sessions = await asyncio.gather(*(api.signed_in(email) for email in emails))
        reads = await asyncio.gather(
            *(api.me(tokens.access) for tokens in sessions for _ in range(4))
        )
        assert {response.status_code for response in reads} == {200}, _texts(reads)
        rotated = await asyncio.gather(*(api.refresh(tokens.refresh) for tokens in sessions))
        assert {response.status_code for response in rotated} == {200}, _texts(rotated)
        ended = await asyncio.gather(
            *(
                api.client.post("/auth/logout", json={"refresh_token": r.json()["refresh_token"]})
                for r in rotated
            )
        )
        assert {response.status_code for response in ended} == {204}, _texts(ended)
        assert_problem(await api.me(rotated[0].json()["access_token"]), 401, "invalid_token")
        again = await api.signed_in(emails[0])
        listed = await api.client.get("/auth/sessions", headers=bearer(again.access))
        assert listed.status_code == 200, listed.text
        assert len(listed.json()) >= 1
        assert (await api.client.get("/readyz")).status_code == 200


async def test_without_the_setting_prepared_statements_break_behind_pgbouncer(
    tmp_path: Path,
    pgbouncer: PrivatePgBouncer,
    empty_database: PostgresDatabase,
    redis_space: RedisSpace,
    smtp_server: SmtpServer,
) -> None:
    """The control: the same reads in session mode fail there (what the setting is for)."""
    url = through(pgbouncer, empty_database)
    in_thread(lambda: migrate_sync(url, transaction_pooling=True))
    space = {"redis_url": redis_space.url, "redis_prefix": f"{redis_space.prefix}:pgb-control"}
    async with outage_api(
        tmp_path, smtp_server, database_url=url, database_pool_mode="transaction", **space
    ) as seeding:
        emails = await asyncio.gather(*(seeding.create_user() for _ in range(CLIENTS)))
        sessions = await asyncio.gather(*(seeding.signed_in(email) for email in emails))
    user_ids = [jwt.decode(t.access, options={"verify_signature": False})["sub"] for t in sessions]
    async with outage_api(tmp_path, smtp_server, database_url=url, **space) as api:
        # /users/me's one-query read on an autocommit connection is what breaks (a
        # transaction, as /auth/sessions has, keeps one server): each round starts with
        # no profile kept, so every read is one
        reads: list[Any] = []
        for _ in range(4):
            await api.app.state.resources.store.forget_profiles(user_ids, ttl_seconds=60)
            reads += await asyncio.gather(
                *(api.me(tokens.access) for tokens in sessions), return_exceptions=True
            )
    failed = [r for r in reads if not isinstance(r, httpx.Response) or r.status_code != 200]
    assert failed, "every read succeeded without AUTHAPI_DATABASE_POOL_MODE=transaction"


def _texts(responses: list[httpx.Response]) -> list[str]:
    return [response.text[:200] for response in responses if response.status_code >= 300]
