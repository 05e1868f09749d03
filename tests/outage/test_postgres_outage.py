"""PostgreSQL goes away and comes back, the app keeps running.

The cluster is a private one this run initialised and started on a port of its own
(as the `postgres` OS user); Redis is a private `redis-server` that stays up. While
the database is down, requests that need it answer 503 service_unavailable quickly
(never 500, never a hang), /readyz names the database, /healthz stays 200 and a
request that needs only Redis still works. After the restart the same app, with the
same connection pool, serves again: broken pooled connections must not surface as 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api, SmtpServer, Tokens, assert_problem, bearer, unique_email
from tests.outage.conftest import (
    PrivatePostgres,
    PrivateRedis,
    eventually,
    outage_api,
    run_blocking,
    timed,
)


@pytest.fixture
async def pg_api(
    tmp_path: Path,
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    smtp_server: SmtpServer,
) -> AsyncIterator[Api]:
    async with outage_api(
        tmp_path,
        smtp_server,
        database_url=private_postgres.url,
        redis_url=private_redis.url,
        # The outbox sender wakes when mail is queued but does not poll meanwhile, so the
        # first requests after a restart (not a background task) meet the broken connections.
        outbox_poll_seconds=300,
    ) as api:
        try:
            yield api
        finally:
            # the cluster is shared by the session: never leave it stopped
            if not private_postgres.running:
                await run_blocking(private_postgres.start)


@pytest.mark.requirement("ASVS-16.5.2")
async def test_postgres_outage_answers_503_and_the_pool_recovers_without_restart(
    pg_api: Api, private_postgres: PrivatePostgres
) -> None:
    api = pg_api
    email = await api.create_user()
    before = await api.signed_in(email)
    assert (await api.me(before.access)).status_code == 200  # its profile is now kept
    unread = await api.signed_in()  # /users/me was never asked: nothing kept

    await run_blocking(private_postgres.stop)

    assert_problem(await timed(api.login(email)), 503, "service_unavailable")
    # /users/me needs the database only when the profile is not kept in Redis
    assert_problem(await timed(api.me(unread.access)), 503, "service_unavailable")
    assert (await timed(api.me(before.access))).status_code == 200
    assert_problem(await timed(api.register(unique_email())), 503, "service_unavailable")
    ready = await timed(api.client.get("/readyz"))
    body = assert_problem(ready, 503, "service_unavailable")
    assert body["checks"] == {"database": "unavailable", "token_store": "ok"}
    health = await timed(api.client.get("/healthz"))
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}

    # Rotating a refresh token needs only Redis (and the signing key held in memory).
    rotated = await timed(api.refresh(before.refresh))
    assert rotated.status_code == 200, rotated.text
    during = Tokens(
        email=email,
        access=rotated.json()["access_token"],
        refresh=rotated.json()["refresh_token"],
    )
    # ...and so does /users/me, with the profile kept there.
    assert (await timed(api.me(during.access))).json()["email"] == email

    # A second round of requests: a pool that has given up must not turn into 500s either.
    assert_problem(await timed(api.login(email)), 503, "service_unavailable")
    assert_problem(await timed(api.client.get("/readyz")), 503, "service_unavailable")

    await run_blocking(private_postgres.start)

    # The same app, the same pool: the first request may still meet a broken connection
    # (503 then, never 500); within a short deadline everything works again.
    me = await eventually(lambda: api.me(during.access), 200)
    assert me.json()["email"] == email
    again = await eventually(lambda: api.login(email), 200)
    assert (await timed(api.me(again.json()["access_token"]))).status_code == 200
    assert (await timed(api.refresh(during.refresh))).status_code == 200
    ready = await eventually(lambda: api.client.get("/readyz"), 200)
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "token_store": "ok"}}
    other = await api.create_user()
    assert (await timed(api.login(other))).status_code == 200


@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
async def test_postgres_restart_breaks_every_pooled_connection_yet_no_request_is_a_500(
    pg_api: Api, private_postgres: PrivatePostgres, stop_mode: str
) -> None:
    """Several pooled connections die at once (clean or crash-like stop); the app recovers."""
    api = pg_api
    email = await api.create_user()
    tokens = [await api.signed_in(email) for _ in range(4)]
    # concurrent reads of the database (a session list: /users/me would answer from its
    # kept profile) open several pooled connections, all of which the restart breaks
    opened = await asyncio.gather(*(sessions_of(api, token) for token in tokens))
    assert [response.status_code for response in opened] == [200] * len(tokens)

    await run_blocking(private_postgres.stop, stop_mode)
    await run_blocking(private_postgres.start)

    async def listed(token: Tokens) -> httpx.Response:
        return await eventually(lambda: sessions_of(api, token), 200)

    answers = await asyncio.gather(*(listed(token) for token in tokens))
    assert all(len(response.json()["sessions"]) == len(tokens) for response in answers)
    login = await eventually(lambda: api.login(email), 200)
    assert login.json()["token_type"].lower() == "bearer"


async def sessions_of(api: Api, tokens: Tokens) -> httpx.Response:
    return await api.client.get("/auth/sessions", headers=bearer(tokens.access))
