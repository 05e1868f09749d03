"""Recovery endpoints are not an email-bombing tool (SPEC "Security properties": rate
limits on forgot-password and resend per email and per IP, 429 with `Retry-After`,
identical for unknown addresses; the client IP comes from `X-Forwarded-For` only
when the peer is a trusted proxy; counters shared through Redis expire).

Counters persist in Redis for the whole run, so every test uses client IPs and
addresses of its own.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio

from tests.conftest import PASSWORD, Api, bearer, client_from, headers_of, unique_email, unique_ip
from tests.conftest import assert_throttled as throttled

RESET_SUBJECT = "Reset your password"
ONE_HOUR = 3600


def spoofed_ip() -> str:
    return f"198.51.100.{random.randint(1, 254)}"


async def forgot(
    client: httpx.AsyncClient, email: str, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("/auth/forgot-password", json={"email": email}, headers=headers)


async def resend(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/verify-email/resend", json={"email": email})


def assert_throttled(response: httpx.Response, *, window_seconds: int = ONE_HOUR) -> int:
    return throttled(response, window_seconds=window_seconds)


def reset_emails(api: Api, email: str) -> int:
    return len([m for m in api.mail.to(email) if RESET_SUBJECT in str(m["Subject"])])


class TestPerAddress:
    @pytest.mark.requirement("ASVS-2.3.2")
    async def test_forgot_password_sends_at_most_the_limit_to_one_address(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(email_rate_limit_per_address="4/hour", client_ip=unique_ip()) as api:
            email = await api.create_user()  # registering spent one
            for _ in range(3):
                assert (await forgot(api.client, email)).status_code == 202
            assert_throttled(await forgot(api.client, email))
            assert_throttled(await forgot(api.client, email))  # still throttled

            await api.settle()
            assert reset_emails(api, email) == 3

    async def test_unknown_address_is_throttled_in_the_same_way(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(email_rate_limit_per_address="4/hour", client_ip=unique_ip()) as api:
            known = await api.create_user()  # registering spent one
            unknown = unique_email("nobody")
            assert (await resend(api.client, unknown)).status_code == 202  # so did this
            known_answers = [await forgot(api.client, known) for _ in range(4)]
            unknown_answers = [await forgot(api.client, unknown) for _ in range(4)]

        assert [r.status_code for r in known_answers] == [202, 202, 202, 429]
        assert [r.status_code for r in unknown_answers] == [202, 202, 202, 429]
        for known_answer, unknown_answer in zip(known_answers, unknown_answers, strict=True):
            assert known_answer.content == unknown_answer.content
        known_429, unknown_429 = known_answers[-1], unknown_answers[-1]
        assert_throttled(known_429)
        assert_throttled(unknown_429)
        # the wait may differ by the second that passed between them, nothing else
        assert (
            abs(int(known_429.headers["retry-after"]) - int(unknown_429.headers["retry-after"]))
            <= 2
        )
        without_wait = {k: v for k, v in headers_of(known_429).items() if k != "retry-after"}
        assert without_wait == {
            k: v for k, v in headers_of(unknown_429).items() if k != "retry-after"
        }

    async def test_every_spelling_of_an_address_shares_its_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(email_rate_limit_per_address="4/hour", client_ip=unique_ip()) as api:
            email = await api.create_user()  # registering spent one
            for spelling in (email, email.upper(), f"  {email} "):
                assert (await forgot(api.client, spelling)).status_code == 202
            assert_throttled(await forgot(api.client, email.title()))
            await api.settle()
            assert reset_emails(api, email) == 3

    async def test_resend_shares_the_per_address_budget(self, make_api: Callable[..., Any]) -> None:
        async with make_api(email_rate_limit_per_address="4/hour", client_ip=unique_ip()) as api:
            email = unique_email()
            assert (await api.register(email)).status_code == 202  # spends one too
            await api.mail.wait_for(email, subject="Confirm")

            assert (await forgot(api.client, email)).status_code == 202
            assert (await forgot(api.client, email)).status_code == 202
            assert (await resend(api.client, email)).status_code == 202
            assert_throttled(await resend(api.client, email))
            assert_throttled(await forgot(api.client, email))

            await api.settle()
            assert reset_emails(api, email) == 2
            confirmations = [m for m in api.mail.to(email) if "Confirm" in str(m["Subject"])]
            assert len(confirmations) == 2  # the registration's and the one resend

    async def test_a_throttled_address_does_not_hold_up_other_addresses(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(email_rate_limit_per_address="3/hour", client_ip=unique_ip()) as api:
            throttled = unique_email("bombed")
            for _ in range(3):
                assert (await forgot(api.client, throttled)).status_code == 202
            assert_throttled(await forgot(api.client, throttled))
            other = await api.create_user()
            assert (await forgot(api.client, other)).status_code == 202
            await api.mail.wait_for(other, subject=RESET_SUBJECT)


class TestRegistrationNotices:
    async def test_registration_notices_spend_the_address_email_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        """Registering a taken address from 12 IPs used to send its owner 12 notices
        (issue 12, item 6); every registration spends the address's email budget, known
        address or not."""
        async with make_api(email_rate_limit_per_address="5/hour") as api:
            taken = await api.create_user()  # one of the five
            unknown = unique_email("nobody")
            answers: dict[str, list[httpx.Response]] = {taken: [], unknown: []}
            for address in (taken, unknown):
                for _ in range(6 if address == unknown else 5):
                    async with client_from(api, unique_ip()) as client:
                        answers[address].append(
                            await client.post(
                                "/auth/register", json={"email": address, "password": PASSWORD}
                            )
                        )
            await api.settle()
            notices = [m for m in api.mail.to(taken) if "Someone tried" in str(m["Subject"])]

        assert [r.status_code for r in answers[taken]] == [202] * 4 + [429]
        assert [r.status_code for r in answers[unknown]] == [202] * 5 + [429]
        assert len(notices) == 4
        assert_throttled(answers[taken][-1])
        assert answers[taken][-1].content == answers[unknown][-1].content


class TestPerIp:
    async def test_one_ip_cannot_exceed_its_budget_across_addresses(
        self, make_api: Callable[..., Any]
    ) -> None:
        ip = unique_ip()
        async with make_api(email_rate_limit_per_ip="4/hour", client_ip=ip) as api:
            known = await api.create_user()
            addresses = [known, unique_email("a"), unique_email("b"), unique_email("c")]
            for address in addresses:
                assert (await forgot(api.client, address)).status_code == 202
            assert_throttled(await forgot(api.client, unique_email("d")))
            assert_throttled(await resend(api.client, unique_email("e")))  # one budget for both

            # the budget is per IP: another client of the same app is not throttled
            async with client_from(api, unique_ip()) as elsewhere:
                assert (await forgot(elsewhere, unique_email("f"))).status_code == 202
            await api.settle()
            assert reset_emails(api, known) == 1

    async def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_reset_the_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(email_rate_limit_per_ip="4/hour", client_ip=unique_ip()) as api:
            assert api.settings.trusted_proxies == []
            for _ in range(4):
                spoofed = {"X-Forwarded-For": f"{spoofed_ip()}, {unique_ip()}"}
                response = await forgot(api.client, unique_email(), headers=spoofed)
                assert response.status_code == 202
            assert_throttled(
                await forgot(api.client, unique_email(), headers={"X-Forwarded-For": unique_ip()})
            )

    async def test_forwarded_for_counts_only_behind_a_trusted_proxy(
        self, make_api: Callable[..., Any]
    ) -> None:
        # the control for the test above: from a trusted proxy, each forwarded client
        # has a budget of its own, and one forwarded client is throttled on its own
        proxy = unique_ip()
        async with make_api(
            email_rate_limit_per_ip="4/hour", client_ip=proxy, trusted_proxies=proxy
        ) as api:
            for _ in range(6):
                response = await forgot(
                    api.client, unique_email(), headers={"X-Forwarded-For": unique_ip()}
                )
                assert response.status_code == 202
            client = {"X-Forwarded-For": unique_ip()}
            for _ in range(4):
                assert (await forgot(api.client, unique_email(), headers=client)).status_code == 202
            assert_throttled(await forgot(api.client, unique_email(), headers=client))


@pytest.mark.parametrize("backend", ["production"])
class TestRedisCounters:
    async def test_every_rate_limit_key_in_redis_expires(
        self, make_api: Callable[..., Any], base_settings: dict[str, Any], backend: str
    ) -> None:
        # a key space of its own: the run's other tests clear and expire their counters
        # between this SCAN and its PTTL (-2: gone), which says nothing about these rules
        async with make_api(
            email_rate_limit_per_address="3/hour",
            email_rate_limit_per_ip="4/hour",
            client_ip=unique_ip(),
            redis_prefix=f"{base_settings['redis_prefix']}:{uuid.uuid4().hex[:12]}",
        ) as api:
            assert api.settings.redis_url is not None
            email = unique_email()
            for _ in range(4):
                await forgot(api.client, email)  # the 4th is refused: both rules were touched
            assert_throttled(await forgot(api.client, unique_email()))

            connection = redis.asyncio.Redis.from_url(api.settings.redis_url)
            try:
                pattern = f"{api.settings.redis_prefix}:limits:LIMITER/email:*"
                keys = [key async for key in connection.scan_iter(match=pattern, count=1000)]
                assert len(keys) >= 2, keys  # one per rule at least
                ttls = {key: await connection.pttl(key) for key in keys}
            finally:
                await connection.aclose()
        assert all(ttl > 0 for ttl in ttls.values()), ttls
        assert all(ttl <= ONE_HOUR * 1000 for ttl in ttls.values()), ttls


class TestEmailChange:
    async def test_email_change_cannot_flood_an_address(self, make_api: Callable[..., Any]) -> None:
        async with make_api(email_rate_limit_per_address="2/hour", client_ip=unique_ip()) as api:
            tokens = await api.signed_in()
            target = unique_email("target")
            answers = [
                await api.client.post(
                    "/users/me/email",
                    json={"password": PASSWORD, "new_email": target},
                    headers=bearer(tokens.access),
                )
                for _ in range(3)
            ]
            assert [answer.status_code for answer in answers] == [202, 202, 429]
            assert_throttled(answers[2])
            await api.settle()
            assert len(api.mail.to(target)) == 2
