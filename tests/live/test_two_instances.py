"""Two uvicorn processes sharing PostgreSQL and Redis behave as one service.

No correctness-relevant state lives in a process: a session opened on A is
refreshed, used and ended on B, a logout on A is seen by B at once, and
concurrent refreshes of one token on A and B converge on one successor, and
sign-in guesses spread over A and B spend one budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import PASSWORD, PostgresDatabase, RedisSpace, SmtpServer, bearer
from tests.live.conftest import (
    LiveServer,
    ServerPool,
    client_address,
    create_verified_user,
    login,
    production_env,
)

pytestmark = pytest.mark.live

CONCURRENT_ROUNDS = 5
# below the default (5) so the shared budget, not a default, is what the test sees;
# the other tests sign each account in once, from an address of its own
LOGINS_PER_ACCOUNT_IP = 4


@dataclass(frozen=True)
class Pair:
    a: LiveServer
    b: LiveServer


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
    postgres: PostgresDatabase,
    redis_space: RedisSpace,
    smtp_server: SmtpServer,
) -> Iterator[Pair]:
    directory = tmp_path_factory.mktemp("two-instances")
    pool = ServerPool(directory=directory)
    try:
        # one after the other: the first start creates the signing key if there is none
        a = pool.start(
            production_env(
                database=postgres,
                redis_space=redis_space,
                smtp_server=smtp_server,
                data_dir=directory / "a",
                AUTHAPI_LOGIN_RATE_LIMIT_PER_ACCOUNT_IP=f"{LOGINS_PER_ACCOUNT_IP}/minute",
            ),
            name="A",
        )
        b = pool.start(
            production_env(
                database=postgres,
                redis_space=redis_space,
                smtp_server=smtp_server,
                data_dir=directory / "b",
                AUTHAPI_LOGIN_RATE_LIMIT_PER_ACCOUNT_IP=f"{LOGINS_PER_ACCOUNT_IP}/minute",
            ),
            name="B",
        )
        assert a.base != b.base
        yield Pair(a=a, b=b)
    finally:
        pool.close()


@pytest.fixture(autouse=True)
def show_server_output(pair: Pair) -> Iterator[None]:
    """Print what A and B logged during this test (pytest shows it when the test fails)."""
    offsets = {"A": pair.a.output_size(), "B": pair.b.output_size()}
    yield
    print(f"----- A ({pair.a.base}) during this test -----\n{pair.a.output(offsets['A'])}")
    print(f"----- B ({pair.b.base}) during this test -----\n{pair.b.output(offsets['B'])}")


class TestOneSessionTwoInstances:
    async def test_refresh_token_from_a_rotates_on_b(
        self, pair: Pair, smtp_server: SmtpServer
    ) -> None:
        async with pair.a.client() as a, pair.b.client() as b:
            email = await create_verified_user(a, smtp_server)
            tokens = await login(a, email)

            refreshed = await b.post(
                "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text
            successor = refreshed.json()
            assert successor["refresh_token"] != tokens["refresh_token"]
            # the successor issued by B is the live token on A too
            again = await a.post(
                "/auth/refresh", json={"refresh_token": successor["refresh_token"]}
            )
            assert again.status_code == 200, again.text
            assert again.json()["refresh_token"] not in (
                tokens["refresh_token"],
                successor["refresh_token"],
            )

    async def test_access_token_from_a_is_accepted_by_b(
        self, pair: Pair, smtp_server: SmtpServer
    ) -> None:
        async with pair.a.client() as a, pair.b.client() as b:
            email = await create_verified_user(a, smtp_server)
            tokens = await login(a, email)

            me = await b.get("/users/me", headers=bearer(tokens["access_token"]))
            assert me.status_code == 200, me.text
            assert me.json()["email"] == email
            assert me.json()["email_verified"] is True

    async def test_logout_on_a_ends_the_session_on_b_at_once(
        self, pair: Pair, smtp_server: SmtpServer
    ) -> None:
        async with pair.a.client() as a, pair.b.client() as b:
            email = await create_verified_user(a, smtp_server)
            tokens = await login(a, email)
            assert (
                await b.get("/users/me", headers=bearer(tokens["access_token"]))
            ).status_code == 200

            logout = await a.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
            assert logout.status_code == 204, logout.text

            me = await b.get("/users/me", headers=bearer(tokens["access_token"]))
            assert me.status_code == 401, me.text
            assert me.json()["code"] == "invalid_token"
            assert me.headers["www-authenticate"].startswith("Bearer")
            refreshed = await b.post(
                "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 401, refreshed.text
            assert refreshed.json()["code"] == "invalid_refresh_token"


class TestConcurrentRefreshAcrossInstances:
    async def test_simultaneous_refresh_on_a_and_b_returns_one_successor(
        self, pair: Pair, smtp_server: SmtpServer
    ) -> None:
        async with pair.a.client() as a, pair.b.client() as b:
            email = await create_verified_user(a, smtp_server)
            current = (await login(a, email))["refresh_token"]
            for round_number in range(CONCURRENT_ROUNDS):
                on_a, on_b = await asyncio.gather(
                    a.post("/auth/refresh", json={"refresh_token": current}),
                    b.post("/auth/refresh", json={"refresh_token": current}),
                )
                assert on_a.status_code == 200, (round_number, on_a.text)
                assert on_b.status_code == 200, (round_number, on_b.text)
                successor = on_a.json()["refresh_token"]
                assert on_b.json()["refresh_token"] == successor, round_number
                assert successor != current
                # both answers carry a usable access token for the same live session
                for response, server in ((on_a, b), (on_b, a)):
                    me = await server.get(
                        "/users/me", headers=bearer(response.json()["access_token"])
                    )
                    assert me.status_code == 200, (round_number, me.text)
                current = successor

            # the family did not fork: the converged token is the one live token
            final = await b.post("/auth/refresh", json={"refresh_token": current})
            assert final.status_code == 200, final.text


class TestLoginCountersAcrossInstances:
    async def test_wrong_logins_alternating_between_a_and_b_share_one_budget(
        self, pair: Pair, smtp_server: SmtpServer
    ) -> None:
        guesser = {"X-Forwarded-For": client_address()}
        async with (
            pair.a.client() as owner,
            pair.a.client(headers=guesser) as a,
            pair.b.client(headers=guesser) as b,
        ):
            email = await create_verified_user(owner, smtp_server)
            wrong = {
                "email": email,
                "password": "not the password",
                "refresh_token_delivery": "body",
            }
            answers = [
                await (a if attempt % 2 == 0 else b).post("/auth/login", json=wrong)
                for attempt in range(LOGINS_PER_ACCOUNT_IP + 2)
            ]
            right_on_b = await b.post("/auth/login", json={**wrong, "password": PASSWORD})

        codes = [(answer.status_code, answer.json()["code"]) for answer in answers]
        # each instance saw 3 guesses at most: alone, neither would have refused one
        assert codes == [(401, "invalid_credentials")] * LOGINS_PER_ACCOUNT_IP + [
            (429, "rate_limited"),  # the 5th, on A
            (429, "rate_limited"),  # the 6th, on B
        ]
        for answer in answers[LOGINS_PER_ACCOUNT_IP:]:
            assert answer.headers["retry-after"].isdigit()
            assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert right_on_b.status_code == 429, right_on_b.text
        assert right_on_b.json()["code"] == "rate_limited"
