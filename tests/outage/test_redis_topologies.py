"""The whole service on Redis beyond one node: a 3-master Cluster and Sentinel.

The token store's contract runs on both in tests/store/test_contract.py; here the
app itself signs in, rotates, catches a reused token, signs out, runs a second
factor's challenge and spends rate limits with AUTHAPI_REDIS_URL set to
`redis+cluster://…` and `redis+sentinel://…`, and the throttle's budgets are
counted on each (keys spread over the Cluster's slots).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from authapi.errors import RateLimited
from authapi.ratelimit import Throttle, open_throttle
from authapi.settings import Settings
from tests.conftest import (
    Api,
    PostgresDatabase,
    SmtpServer,
    assert_problem,
    common_settings,
    unique_email,
)
from tests.mfa import challenge, mfa_user, next_code, submit, wrong_code
from tests.outage.conftest import outage_api
from tests.redis_topologies import Cluster, SentinelSet


@pytest.fixture(params=["cluster", "sentinel"])
def topology_url(request: pytest.FixtureRequest) -> str:
    if request.param == "cluster":
        cluster: Cluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    sentinels: SentinelSet = request.getfixturevalue("redis_sentinels")
    return sentinels.url


@pytest.fixture
async def topology_api(
    tmp_path: Path, postgres: PostgresDatabase, smtp_server: SmtpServer, topology_url: str
) -> AsyncIterator[Api]:
    async with outage_api(
        tmp_path,
        smtp_server,
        database_url=postgres.url,
        redis_url=topology_url,
        login_rate_limit_per_account="3/minute",
    ) as api:
        yield api


async def test_sign_in_rotate_reuse_and_sign_out_work_on_the_topology(
    topology_api: Api,
) -> None:
    api = topology_api
    tokens = await api.signed_in()
    assert (await api.me(tokens.access)).json()["email"] == tokens.email
    ready = await api.client.get("/readyz")
    assert ready.json()["checks"]["token_store"] == "ok"

    rotated = await api.refresh(tokens.refresh)
    assert rotated.status_code == 200, rotated.text
    successor = rotated.json()["refresh_token"]
    again = await api.refresh(successor)
    assert again.status_code == 200, again.text
    # the first token is two generations old: reuse, and the whole session ends
    assert_problem(await api.refresh(tokens.refresh), 401, "refresh_token_reused")
    assert_problem(await api.refresh(again.json()["refresh_token"]), 401, "invalid_refresh_token")
    assert_problem(await api.me(again.json()["access_token"]), 401, "invalid_token")

    other = await api.signed_in(tokens.email)
    signed_out = await api.client.post("/auth/logout", json={"refresh_token": other.refresh})
    assert signed_out.status_code == 204, signed_out.text
    assert_problem(await api.me(other.access), 401, "invalid_token")
    assert_problem(await api.refresh(other.refresh), 401, "invalid_refresh_token")


async def test_login_budgets_are_counted_on_the_topology(topology_api: Api) -> None:
    email = await topology_api.create_user()
    for _ in range(3):
        wrong = await topology_api.login(email, "not the password at all")
        assert_problem(wrong, 401, "invalid_credentials")
    throttled = await topology_api.login(email, "not the password at all")
    assert_problem(throttled, 429, "rate_limited")
    assert int(throttled.headers["Retry-After"]) >= 1


async def test_a_second_factor_challenge_works_on_the_topology(topology_api: Api) -> None:
    user = await mfa_user(topology_api)
    mfa_token = await challenge(topology_api, user.tokens.email)
    assert_problem(
        await submit(topology_api, mfa_token, wrong_code(user.app)), 401, "invalid_mfa_code"
    )
    answered = await submit(topology_api, mfa_token, next_code(user.app))
    assert answered.status_code == 200, answered.text
    assert (await topology_api.me(answered.json()["access_token"])).status_code == 200


@pytest.fixture
async def topology_throttle(tmp_path: Path, topology_url: str) -> AsyncIterator[Throttle]:
    """A new throttle on the topology (its own limiter client), two logins a minute."""
    settings = Settings(
        **{
            **common_settings(tmp_path),
            "redis_url": topology_url,
            "redis_prefix": "authapi-topology",
            "login_rate_limit_per_account": "2/minute",
        }
    )
    throttle, close = open_throttle(settings)
    assert close is not None
    try:
        yield throttle
    finally:
        await close()


async def test_the_throttle_spends_and_forgives_on_the_topology(
    topology_throttle: Throttle,
) -> None:
    throttle = topology_throttle
    # many keys, so a Cluster's three masters all hold some
    addresses = [unique_email("budget") for _ in range(30)]
    for address in addresses:
        await throttle.spend("login:account", address)
        await throttle.spend("login:account", address)
        with pytest.raises(RateLimited):
            await throttle.spend("login:account", address)
    await throttle.forgive("login:account", addresses[0])
    await throttle.spend("login:account", addresses[0])


async def test_concurrent_first_spends_of_a_new_throttle_count_once_on_the_topology(
    topology_throttle: Throttle,
) -> None:
    # The limiter's own Cluster client, new and told nothing yet, gets forty spends at
    # once (store/topology.py, CLUSTER_OPTIONS): each counts once, none fails.
    throttle = topology_throttle
    addresses = [unique_email("burst") for _ in range(40)]
    await asyncio.gather(*(throttle.spend("login:account", a) for a in addresses))
    for address in addresses:
        await throttle.spend("login:account", address)  # the second of two: allowed
        with pytest.raises(RateLimited):
            await throttle.spend("login:account", address)
