"""Redis (the token store and the throttle) goes away and comes back, the app keeps running.

The Redis server is a private `redis-server` this test started on a port of its own;
PostgreSQL is the run's shared database, which stays up. While Redis is down every
request that needs it answers 503 service_unavailable quickly, never 500 and never
200 for a session the app can no longer check; after Redis returns (empty: it kept
nothing, so every session is gone) the same app serves again without a restart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PostgresDatabase, SmtpServer, assert_problem, bearer
from tests.outage.conftest import PrivateRedis, eventually, outage_api, run_blocking, timed


@pytest.mark.requirement("ASVS-16.5.2", "ASVS-16.5.3")
async def test_redis_outage_fails_closed_with_503_and_recovers_without_restart(
    tmp_path: Path,
    postgres: PostgresDatabase,
    private_redis: PrivateRedis,
    smtp_server: SmtpServer,
) -> None:
    async with outage_api(
        tmp_path, smtp_server, database_url=postgres.url, redis_url=private_redis.url
    ) as api:
        email = await api.create_user()
        live = await api.signed_in(email)
        revoked = await api.signed_in(email)
        logout = await api.client.post("/auth/logout", json={"refresh_token": revoked.refresh})
        assert logout.status_code == 204, logout.text
        assert (await api.me(live.access)).status_code == 200
        assert_problem(await api.me(revoked.access), 401, "invalid_token")

        await run_blocking(private_redis.stop)

        # Sessions can not be checked: no access token is accepted, live or revoked.
        assert_problem(await timed(api.me(live.access)), 503, "service_unavailable")
        assert_problem(await timed(api.me(revoked.access)), 503, "service_unavailable")
        assert_problem(await timed(api.refresh(live.refresh)), 503, "service_unavailable")
        assert_problem(await timed(api.refresh(revoked.refresh)), 503, "service_unavailable")
        assert_problem(await timed(api.login(email)), 503, "service_unavailable")
        ending = await timed(api.client.post("/auth/logout", json={"refresh_token": live.refresh}))
        assert_problem(ending, 503, "service_unavailable")

        ready = await timed(api.client.get("/readyz"))
        body = assert_problem(ready, 503, "service_unavailable")
        assert body["checks"] == {"database": "ok", "token_store": "unavailable"}
        health = await timed(api.client.get("/healthz"))
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}

        await run_blocking(private_redis.start)

        # Redis came back empty: the sessions it held are gone, so both tokens stay refused.
        assert_problem(await eventually(lambda: api.me(live.access), 401), 401, "invalid_token")
        assert_problem(await timed(api.me(revoked.access)), 401, "invalid_token")
        assert_problem(await timed(api.refresh(live.refresh)), 401, "invalid_refresh_token")
        assert_problem(await timed(api.refresh(revoked.refresh)), 401, "invalid_refresh_token")

        # The same app serves again: sign in, use and rotate a new session.
        again = await eventually(lambda: api.login(email), 200)
        fresh = again.json()
        assert (await timed(api.me(fresh["access_token"]))).status_code == 200
        rotated = await timed(api.refresh(fresh["refresh_token"]))
        assert rotated.status_code == 200, rotated.text
        me = await timed(
            api.client.get("/users/me", headers=bearer(rotated.json()["access_token"]))
        )
        assert me.status_code == 200, me.text
        assert me.json()["email"] == email
        ready = await eventually(lambda: api.client.get("/readyz"), 200)
        assert ready.json() == {
            "status": "ok",
            "checks": {"database": "ok", "token_store": "ok"},
        }


@pytest.mark.requirement("ASVS-16.5.2")
async def test_unresponsive_redis_gives_503_within_the_bound_and_recovers(
    tmp_path: Path,
    postgres: PostgresDatabase,
    private_redis: PrivateRedis,
    smtp_server: SmtpServer,
) -> None:
    """A Redis that accepts connections but never answers (frozen): timeouts, not hangs."""
    async with outage_api(
        tmp_path, smtp_server, database_url=postgres.url, redis_url=private_redis.url
    ) as api:
        tokens = await api.signed_in()
        private_redis.freeze()
        try:
            assert_problem(await timed(api.me(tokens.access)), 503, "service_unavailable")
            assert_problem(await timed(api.refresh(tokens.refresh)), 503, "service_unavailable")
            assert_problem(await timed(api.login(tokens.email)), 503, "service_unavailable")
            body = assert_problem(
                await timed(api.client.get("/readyz")), 503, "service_unavailable"
            )
            assert body["checks"] == {"database": "ok", "token_store": "unavailable"}
            assert (await timed(api.client.get("/healthz"))).status_code == 200
        finally:
            private_redis.thaw()

        # Nothing was lost this time: the session is still there and works again.
        me = await eventually(lambda: api.me(tokens.access), 200)
        assert me.json()["email"] == tokens.email
        # (the old refresh token is not retried: the frozen server may have run the rotation
        # it was sent once it thawed, so whether it is a replay depends on the grace period)
        again = await eventually(lambda: api.login(tokens.email), 200)
        rotated = await timed(api.refresh(again.json()["refresh_token"]))
        assert rotated.status_code == 200, rotated.text
        assert (await eventually(lambda: api.client.get("/readyz"), 200)).json()["status"] == "ok"
