"""Sentinel fails the master over while the service is under load.

A master, a replica and three sentinels of the test's own (tests/redis_topologies.py);
the app runs in-process with AUTHAPI_REDIS_URL=redis+sentinel://…. Clients refresh
their own chains, read /users/me and sign out while the master is killed (SIGKILL).
During the failover an answer is a success or 503, never a 500; afterwards no session
that was signed out (204) is accepted again, by its access or its refresh token, and
the same app serves on the promoted replica without a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Api, PostgresDatabase, SmtpServer, Tokens, assert_problem
from tests.outage.conftest import eventually, outage_api, run_blocking
from tests.redis_topologies import SentinelSet, running_sentinels

WORKERS = 6
LOAD_BEFORE_KILL_SECONDS = 1.0
FAILOVER_BOUND_SECONDS = 30.0
# after the failover, the load runs on until every worker has succeeded again this long
LOAD_AFTER_RECOVERY_SECONDS = 1.0


@pytest.fixture
def own_sentinels(tmp_path: Path) -> SentinelSet:  # type: ignore[misc]
    with running_sentinels(tmp_path / "sentinels") as sentinels:
        yield sentinels


@dataclass
class Load:
    statuses: Counter[str] = field(default_factory=Counter)
    signed_out: list[Tokens] = field(default_factory=list)
    last_success: dict[int, float] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self, what: str, status: int, worker: int) -> None:
        self.statuses[f"{what} {status}"] += 1
        assert status < 500 or status == 503, f"{what} answered {status}"
        if status < 300:
            self.last_success[worker] = time.monotonic()


async def refresher(api: Api, load: Load, worker: int, email: str) -> None:
    """Rotate one chain and read /users/me; on 401 (a session a failover cost), sign in."""
    tokens = await api.signed_in(email)
    refresh, access = tokens.refresh, tokens.access
    while not load.stop.is_set():
        rotated = await api.refresh(refresh)
        load.note("refresh", rotated.status_code, worker)
        if rotated.status_code == 200:
            refresh, access = rotated.json()["refresh_token"], rotated.json()["access_token"]
        elif rotated.status_code == 401:
            again = await api.login(email)
            load.note("login", again.status_code, worker)
            if again.status_code == 200:
                refresh, access = again.json()["refresh_token"], again.json()["access_token"]
        me = await api.me(access)
        load.note("me", me.status_code, worker)
        await asyncio.sleep(0.005)


async def signer_out(api: Api, load: Load, worker: int, email: str) -> None:
    """Sign in and out again and again; keep every session whose sign-out said 204."""
    while not load.stop.is_set():
        signed_in = await api.login(email)
        load.note("login", signed_in.status_code, worker)
        if signed_in.status_code != 200:
            await asyncio.sleep(0.02)
            continue
        body = signed_in.json()
        tokens = Tokens(email=email, access=body["access_token"], refresh=body["refresh_token"])
        ended = await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        load.note("logout", ended.status_code, worker)
        if ended.status_code == 204:
            load.signed_out.append(tokens)


@pytest.mark.requirement("ASVS-16.5.2")
async def test_a_sentinel_failover_under_load_gives_503_not_500_and_revives_nothing(
    tmp_path: Path,
    postgres: PostgresDatabase,
    smtp_server: SmtpServer,
    own_sentinels: SentinelSet,
) -> None:
    async with outage_api(
        tmp_path, smtp_server, database_url=postgres.url, redis_url=own_sentinels.url
    ) as api:
        emails = [await api.create_user() for _ in range(WORKERS)]
        before = await api.signed_in(emails[0])
        ended = await api.client.post("/auth/logout", json={"refresh_token": before.refresh})
        assert ended.status_code == 204
        load = Load(signed_out=[before])
        workers = [
            asyncio.create_task(
                (signer_out if index % 3 == 0 else refresher)(api, load, index, email)
            )
            for index, email in enumerate(emails)
        ]
        try:
            await asyncio.sleep(LOAD_BEFORE_KILL_SECONDS)
            old_master = own_sentinels.master.port
            killed_at = time.monotonic()
            await run_blocking(own_sentinels.master.kill)

            # Sentinel promotes the replica by itself; the load runs on meanwhile
            while own_sentinels.current_master_port() == old_master:
                assert time.monotonic() - killed_at < FAILOVER_BOUND_SECONDS, load.statuses
                assert not any(task.done() for task in workers), load.statuses
                await asyncio.sleep(0.1)
            assert own_sentinels.current_master_port() == own_sentinels.replica.port
            promoted_at = time.monotonic()
            # every worker succeeds again on the promoted replica, without a restart
            while not all(
                load.last_success.get(index, 0) > promoted_at + LOAD_AFTER_RECOVERY_SECONDS
                for index in range(WORKERS)
            ):
                assert time.monotonic() - promoted_at < FAILOVER_BOUND_SECONDS, load.statuses
                assert not any(task.done() for task in workers), load.statuses
                await asyncio.sleep(0.1)
        finally:
            load.stop.set()
            outcomes = await asyncio.gather(*workers, return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert not failures, failures

        # the failover was felt (some 503s), and work went on around it
        assert load.statuses["refresh 503"] + load.statuses["login 503"] > 0, load.statuses
        assert load.statuses["refresh 200"] > 0, load.statuses
        assert load.statuses["logout 204"] > 0, load.statuses

        # nothing signed out came back
        assert len(load.signed_out) > 1
        for tokens in load.signed_out:
            assert_problem(await api.me(tokens.access), 401, "invalid_token")
            assert_problem(await api.refresh(tokens.refresh), 401, "invalid_refresh_token")

        # and the app carries on: a new session works end to end
        again = await eventually(lambda: api.login(emails[1]), 200)
        rotated = await api.refresh(again.json()["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        assert (await api.me(rotated.json()["access_token"])).status_code == 200
        assert (await api.client.get("/readyz")).status_code == 200
