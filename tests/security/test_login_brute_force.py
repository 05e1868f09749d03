"""Password guessing is throttled (SPEC "Security properties": login rate limits per IP
and per account, progressive with no permanent lockout, shared through Redis, 429 with
`Retry-After`; the client IP comes from `X-Forwarded-For` only behind a trusted proxy;
parallel guesses cannot exceed a budget).

Three budgets guard every password sign-in (/auth/login and /auth/token
grant_type=password): per client IP (any accounts), per email from anywhere, and
per email from one IP. A unit of each is spent before the password is looked at,
so the right password cannot slip past an empty budget and parallel guesses get
exactly the budget. The right password empties the account budgets (they count
consecutive failures), never the IP budget. Unknown addresses are counted like
known ones, with the same answers.

The base test settings make every budget generous; these tests set the documented
defaults (read from `Settings`) or small windows of their own. Counters persist in
Redis for the whole run, so every test uses client IPs and addresses of its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio

from authapi.settings import Settings
from tests.conftest import (
    PASSWORD,
    assert_problem,
    client_from,
    headers_of,
    unique_email,
    unique_ip,
)
from tests.conftest import assert_throttled as throttled

WRONG = "not the password at all"
ONE_MINUTE = 60
ONE_DAY = 86_400
LOGIN_RULES = (
    "login_rate_limit_per_ip",
    "login_rate_limit_per_account",
    "login_rate_limit_per_account_ip",
)


def documented(setting: str) -> str:
    """The default of a rate-limit setting, as shipped (the base test settings override it)."""
    value = Settings.model_fields[setting].default
    assert isinstance(value, str)
    return value


# what a deployment that configures nothing gets: 30/minute per IP, 10/minute per
# account, 5/minute per account from one IP (and longer windows behind them)
DOCUMENTED: dict[str, str] = {name: documented(name) for name in LOGIN_RULES}
PER_IP = 30
PER_ACCOUNT = 10
PER_ACCOUNT_IP = 5


@pytest.mark.requirement("ASVS-2.1.3")
def test_the_documented_budgets_are_the_ones_these_tests_count_on() -> None:
    assert {name: documented(name) for name in LOGIN_RULES} == {
        "login_rate_limit_per_ip": f"{PER_IP}/minute;300/hour",
        "login_rate_limit_per_account": f"{PER_ACCOUNT}/minute;50/hour;100/day",
        "login_rate_limit_per_account_ip": f"{PER_ACCOUNT_IP}/minute;20/hour;50/day",
    }


def assert_throttled(response: httpx.Response, *, window_seconds: int = ONE_MINUTE) -> int:
    return throttled(response, window_seconds=window_seconds)


def assert_wrong_password(response: httpx.Response) -> None:
    assert_problem(response, 401, "invalid_credentials")
    assert "retry-after" not in response.headers


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str = WRONG,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/auth/login",
        json={"email": email, "password": password, "refresh_token_delivery": "body"},
        headers=headers,
    )


async def token_grant(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(
        "/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )


class TestOneAccount:
    @pytest.mark.requirement("ASVS-2.3.2", "ASVS-6.3.1", "NIST-63B-3.2.2-a")
    async def test_brute_force_on_one_account_from_one_ip_gets_429_within_the_documented_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), **DOCUMENTED) as api:
            email = await api.create_user()
            answers = [await login(api.client, email) for _ in range(PER_ACCOUNT_IP + 2)]

        assert statuses(answers) == [401] * PER_ACCOUNT_IP + [429, 429]
        for answer in answers[:PER_ACCOUNT_IP]:
            assert_wrong_password(answer)
        for answer in answers[PER_ACCOUNT_IP:]:
            assert_throttled(answer)

    @pytest.mark.requirement("ASVS-6.3.1", "NIST-63B-3.2.2-a")
    async def test_guesses_from_many_ips_through_a_trusted_proxy_get_429_within_the_account_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(trusted_proxies=["203.0.113.10/32"], **DOCUMENTED) as api:
            assert api.settings.login_rate_limit_per_account_ip == documented(
                "login_rate_limit_per_account_ip"
            )
            email = await api.create_user()
            answers = [
                await login(api.client, email, headers={"X-Forwarded-For": unique_ip()})
                for _ in range(PER_ACCOUNT + 1)
            ]
            # even the owner, from an address of their own, waits now
            from_the_owner = await login(
                api.client, email, PASSWORD, headers={"X-Forwarded-For": unique_ip()}
            )

        # more than the per-account-IP budget (5) got through: every forwarded
        # address was counted on its own, and the per-account budget (10) stopped them
        assert statuses(answers) == [401] * PER_ACCOUNT + [429]
        for answer in answers[:PER_ACCOUNT]:
            assert_wrong_password(answer)
        assert_throttled(answers[-1])
        assert_throttled(from_the_owner)

    async def test_after_retry_after_the_real_user_can_sign_in(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            client_ip=unique_ip(), login_rate_limit_per_account_ip="3/2second"
        ) as api:
            email = await api.create_user()
            for _ in range(3):
                assert_wrong_password(await login(api.client, email))
            retry_after = assert_throttled(await login(api.client, email), window_seconds=2)

            await asyncio.sleep(retry_after)
            signed_in = await login(api.client, email, PASSWORD)
            assert signed_in.status_code == 200, signed_in.text
            assert signed_in.json()["access_token"]

    async def test_the_right_password_does_not_bypass_an_active_throttle(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), **DOCUMENTED) as api:
            email = await api.create_user()
            other = await api.create_user()
            for _ in range(PER_ACCOUNT_IP):
                assert_wrong_password(await login(api.client, email))

            assert_throttled(await login(api.client, email, PASSWORD))
            assert_throttled(await login(api.client, email, PASSWORD))  # still, and not forgiven
            # the throttle is the account's: another account signs in from the same IP
            assert (await login(api.client, other, PASSWORD)).status_code == 200

    async def test_an_unknown_email_gets_the_same_answers_as_a_known_one(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), **DOCUMENTED) as api:
            known = await api.create_user()
            unknown = unique_email("nobody")
            rounds = PER_ACCOUNT_IP + 2
            known_answers = [await login(api.client, known) for _ in range(rounds)]
            unknown_answers = [await login(api.client, unknown) for _ in range(rounds)]

        expected = [401] * PER_ACCOUNT_IP + [429, 429]
        assert statuses(known_answers) == expected
        assert statuses(unknown_answers) == expected
        for known_answer, unknown_answer in zip(known_answers, unknown_answers, strict=True):
            assert known_answer.content == unknown_answer.content
            # the wait may differ by the second that passed between them, nothing else
            known_headers = headers_of(known_answer)
            unknown_headers = headers_of(unknown_answer)
            known_wait = int(known_headers.pop("retry-after", "0"))
            unknown_wait = int(unknown_headers.pop("retry-after", "0"))
            assert known_headers == unknown_headers
            assert abs(known_wait - unknown_wait) <= 2
        for answer in (*known_answers[PER_ACCOUNT_IP:], *unknown_answers[PER_ACCOUNT_IP:]):
            assert_throttled(answer)

    async def test_an_unknown_email_meets_the_account_budget_from_many_ips_like_a_known_one(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(trusted_proxies=["203.0.113.10/32"], **DOCUMENTED) as api:
            known = await api.create_user()
            unknown = unique_email("nobody")
            answers = {
                address: [
                    await login(api.client, address, headers={"X-Forwarded-For": unique_ip()})
                    for _ in range(PER_ACCOUNT + 1)
                ]
                for address in (known, unknown)
            }

        expected = [401] * PER_ACCOUNT + [429]
        assert statuses(answers[known]) == expected
        assert statuses(answers[unknown]) == expected
        assert answers[known][-1].content == answers[unknown][-1].content

    async def test_a_persistent_guesser_meets_the_longer_window(
        self, make_api: Callable[..., Any]
    ) -> None:
        # several windows per rule: the short one makes a guesser wait seconds,
        # the longer one then makes them wait for the rest of the minute
        async with make_api(
            client_ip=unique_ip(), login_rate_limit_per_account_ip="3/2second;4/minute"
        ) as api:
            email = await api.create_user()
            for _ in range(3):
                assert_wrong_password(await login(api.client, email))
            short_wait = assert_throttled(await login(api.client, email), window_seconds=2)

            await asyncio.sleep(short_wait)
            assert_wrong_password(await login(api.client, email))  # the 4th of the minute
            long_wait = assert_throttled(await login(api.client, email, PASSWORD))
        assert long_wait > 2

    async def test_every_spelling_of_an_address_shares_its_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            client_ip=unique_ip(), login_rate_limit_per_account_ip="3/minute"
        ) as api:
            email = await api.create_user()
            for spelling in (email, email.upper(), f"  {email} "):
                assert_wrong_password(await login(api.client, spelling))
            assert_throttled(await login(api.client, email.title(), PASSWORD))


class TestParallelGuesses:
    @pytest.mark.requirement("ASVS-2.4.1", "NIST-63B-3.2.2-a")
    async def test_fifty_parallel_wrong_logins_cannot_exceed_the_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), **DOCUMENTED) as api:
            email = await api.create_user()
            answers = await asyncio.gather(*(login(api.client, email) for _ in range(50)))

        assert Counter(statuses(answers)) == {401: PER_ACCOUNT_IP, 429: 50 - PER_ACCOUNT_IP}
        for answer in answers:
            if answer.status_code == 401:
                assert_wrong_password(answer)
            else:
                assert_throttled(answer)


class TestClientIp:
    @pytest.mark.requirement("RFC9700-4.13")
    async def test_spoofed_forwarded_headers_from_an_untrusted_peer_do_not_evade_the_ip_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), login_rate_limit_per_ip="5/minute") as api:
            assert api.settings.trusted_proxies == []
            answers = []
            for _ in range(6):
                forged = unique_ip()
                headers = {
                    "X-Forwarded-For": f"{forged}, {unique_ip()}",
                    "Forwarded": f'for="[{forged}]"',
                    "X-Real-IP": forged,
                }
                answers.append(await login(api.client, unique_email(), headers=headers))

        assert statuses(answers) == [401] * 5 + [429]
        assert_throttled(answers[-1])

    async def test_forwarded_for_counts_only_behind_a_trusted_proxy(
        self, make_api: Callable[..., Any]
    ) -> None:
        # the control for the test above: behind a trusted proxy each forwarded
        # client has an IP budget of its own, and one of them is throttled on its own
        proxy = unique_ip()
        async with make_api(
            client_ip=proxy, trusted_proxies=[proxy], login_rate_limit_per_ip="5/minute"
        ) as api:
            for _ in range(7):
                headers = {"X-Forwarded-For": unique_ip()}
                assert_wrong_password(await login(api.client, unique_email(), headers=headers))
            one_client = {"X-Forwarded-For": unique_ip()}
            for _ in range(5):
                assert_wrong_password(await login(api.client, unique_email(), headers=one_client))
            assert_throttled(await login(api.client, unique_email(), headers=one_client))

    @pytest.mark.requirement("ASVS-6.3.1")
    async def test_one_ip_spraying_one_password_over_many_accounts_is_throttled(
        self, make_api: Callable[..., Any]
    ) -> None:
        sprayer = unique_ip()
        async with make_api(client_ip=sprayer, **DOCUMENTED) as api:
            # the last target's password is the one being sprayed
            victim = await api.create_user(password=PASSWORD)
            decoys = [await api.create_user(password="a different passphrase") for _ in range(3)]
            targets = [*decoys, *(unique_email("spray") for _ in range(PER_IP - len(decoys)))]
            answers = [await login(api.client, target, PASSWORD) for target in targets]
            on_the_victim = await login(api.client, victim, PASSWORD)

            # the IP is throttled, not the victim: the owner signs in from elsewhere
            async with client_from(api, unique_ip()) as owner:
                from_the_owner = await login(owner, victim, PASSWORD)

        assert len(set(targets)) == PER_IP
        assert statuses(answers) == [401] * PER_IP
        assert_throttled(on_the_victim)
        assert from_the_owner.status_code == 200, from_the_owner.text


class TestForgiveness:
    async def test_a_successful_sign_in_empties_the_account_ip_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            client_ip=unique_ip(), login_rate_limit_per_account_ip="3/minute"
        ) as api:
            email = await api.create_user()
            for _ in range(2):
                assert_wrong_password(await login(api.client, email))
            signed_in = await login(api.client, email, PASSWORD)
            assert signed_in.status_code == 200, signed_in.text

            # the budget counts consecutive failures: three more before the throttle
            for _ in range(3):
                assert_wrong_password(await login(api.client, email))
            assert_throttled(await login(api.client, email))

    @pytest.mark.requirement("NIST-63B-3.2.2-a")
    async def test_a_successful_sign_in_empties_the_account_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        # the guesses come from elsewhere: an (address, IP) pair that signed in
        # skips the address-wide budget, which would hide what this test looks at
        async with make_api(client_ip=unique_ip(), login_rate_limit_per_account="3/minute") as api:
            email = await api.create_user()
            async with client_from(api, unique_ip()) as guesser:
                for _ in range(2):
                    assert_wrong_password(await login(guesser, email))
                signed_in = await login(api.client, email, PASSWORD)
                assert signed_in.status_code == 200, signed_in.text

                for _ in range(3):
                    assert_wrong_password(await login(guesser, email))
                assert_throttled(await login(guesser, email))

    async def test_a_successful_sign_in_does_not_empty_the_ip_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), login_rate_limit_per_ip="4/minute") as api:
            email = await api.create_user()
            for _ in range(2):
                assert_wrong_password(await login(api.client, email))
            assert (await login(api.client, email, PASSWORD)).status_code == 200
            assert_wrong_password(await login(api.client, email))
            assert_throttled(await login(api.client, email, PASSWORD))


class TestTokenEndpoint:
    @pytest.mark.requirement("ASVS-6.3.4", "RFC6749-4.3.2-a")
    async def test_token_password_grant_shares_the_login_budgets(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), **DOCUMENTED) as api:
            email = await api.create_user()
            for _ in range(PER_ACCOUNT_IP):
                assert_wrong_password(await login(api.client, email))
            assert_throttled(await token_grant(api.client, email, PASSWORD))

    @pytest.mark.requirement("RFC6749-4.3.2-a")
    async def test_login_shares_the_budget_spent_at_the_token_endpoint(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), **DOCUMENTED) as api:
            email = await api.create_user()
            for _ in range(PER_ACCOUNT_IP):
                refused = await token_grant(api.client, email, WRONG)
                assert refused.status_code == 400, refused.text
                assert refused.json()["error"] == "invalid_grant"
                assert refused.json()["code"] == "invalid_credentials"
            assert_throttled(await token_grant(api.client, email, PASSWORD))
            assert_throttled(await login(api.client, email, PASSWORD))


@pytest.mark.parametrize("backend", ["production"])
class TestRedisCounters:
    async def test_every_login_counter_in_redis_expires_and_names_no_address(
        self, make_api: Callable[..., Any], backend: str
    ) -> None:
        ip = unique_ip()
        async with make_api(client_ip=ip, **DOCUMENTED) as api:
            assert api.settings.redis_url is not None
            connection = redis.asyncio.Redis.from_url(api.settings.redis_url)
            pattern = f"{api.settings.redis_prefix}:limits*"
            try:
                before = {key async for key in connection.scan_iter(match=pattern, count=1000)}
                email = unique_email("counted")
                unknown = unique_email("nobody")
                for address in (email, unknown):
                    for _ in range(PER_ACCOUNT_IP):
                        await login(api.client, address)
                    assert_throttled(await login(api.client, address))
                after = {key async for key in connection.scan_iter(match=pattern, count=1000)}
                written = after - before
                ttls = {key: await connection.pttl(key) for key in written}
            finally:
                await connection.aclose()

        # per IP: 2 windows; per account and per account+IP: 3 windows each, for 2 addresses
        assert len(written) == 2 + 2 * (3 + 3), sorted(written)
        assert all(0 < ttl <= ONE_DAY * 1000 for ttl in ttls.values()), ttls
        names = b"\n".join(written).lower()
        for secret in (email, unknown, email.split("@")[0], unknown.split("@")[0], ip):
            assert secret.lower().encode() not in names, secret
