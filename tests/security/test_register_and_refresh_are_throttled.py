"""Registrations per IP and refreshes per session are throttled (SPEC "Security
properties": register per IP, 429 with `Retry-After`; no user enumeration through
register).

`register_rate_limit_per_ip` is spent before anything else, so a throttled answer is
the same for a new and an existing address. `refresh_rate_limit_per_session` is
spent before the rotation: a throttled refresh leaves the token and the session as
they were, and other sessions keep their own budgets.

Counters persist in Redis for the whole run, so every test uses client IPs and
addresses of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, client_from, headers_of, link_token, unique_email, unique_ip
from tests.conftest import assert_throttled as throttled

ONE_MINUTE = 60


def assert_throttled(response: httpx.Response, *, window_seconds: int = ONE_MINUTE) -> int:
    return throttled(response, window_seconds=window_seconds)


async def register(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/register", json={"email": email, "password": PASSWORD})


class TestRegisterPerIp:
    @pytest.mark.requirement("ASVS-2.4.1")
    async def test_one_ip_cannot_register_more_than_its_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip=unique_ip(), register_rate_limit_per_ip="3/minute") as api:
            # an existing, verified account, registered from elsewhere
            existing = unique_email("existing")
            async with client_from(api, unique_ip()) as elsewhere:
                assert (await register(elsewhere, existing)).status_code == 202
                token = link_token(await api.mail.wait_for(existing, subject="Confirm"))
                verified = await elsewhere.post("/auth/verify-email", json={"token": token})
                assert verified.status_code == 200, verified.text

            for _ in range(3):
                assert (await register(api.client, unique_email())).status_code == 202
            throttled_new = await register(api.client, unique_email("fourth"))
            throttled_existing = await register(api.client, existing)

            # the budget is the IP's: another client still registers
            async with client_from(api, unique_ip()) as other:
                assert (await register(other, unique_email())).status_code == 202

        assert_throttled(throttled_new)
        assert_throttled(throttled_existing)
        # nothing tells the addresses apart but the second that may pass between them
        assert throttled_new.content == throttled_existing.content
        new_headers, existing_headers = (
            headers_of(throttled_new),
            headers_of(throttled_existing),
        )
        new_wait = int(new_headers.pop("retry-after"))
        existing_wait = int(existing_headers.pop("retry-after"))
        assert new_headers == existing_headers
        assert abs(new_wait - existing_wait) <= 2


class TestIpv6Networks:
    async def test_ipv6_clients_are_counted_by_their_64(self, make_api: Callable[..., Any]) -> None:
        """12 registrations from 2001:db8:…:1 to :c of one /64 (a host picks any of them at
        will) spend one budget; another /64 has its own (issue 12, item 8)."""
        network = unique_ip().rsplit("::", 1)[0]
        async with make_api(register_rate_limit_per_ip="10/minute") as api:
            answers = []
            for host in range(1, 13):
                async with client_from(api, f"{network}::{host:x}") as client:
                    answers.append(await register(client, unique_email()))
            async with client_from(api, unique_ip()) as neighbour:
                assert (await register(neighbour, unique_email())).status_code == 202

        assert [answer.status_code for answer in answers] == [202] * 10 + [429] * 2
        assert_throttled(answers[-1])

    async def test_the_prefix_is_configurable(self, make_api: Callable[..., Any]) -> None:
        network = unique_ip().rsplit("::", 1)[0]
        async with make_api(
            register_rate_limit_per_ip="1/minute", rate_limit_ipv6_prefix=128
        ) as api:
            for host in (1, 2):
                async with client_from(api, f"{network}::{host:x}") as client:
                    assert (await register(client, unique_email())).status_code == 202


class TestRefreshPerSession:
    @pytest.mark.requirement("ASVS-2.4.1")
    async def test_one_session_cannot_refresh_more_than_its_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            client_ip=unique_ip(), refresh_rate_limit_per_session="3/minute"
        ) as api:
            throttled = await api.signed_in()
            other = await api.signed_in(throttled.email)  # a second session of the same user

            current = throttled.refresh
            for _ in range(3):
                rotated = await api.refresh(current)
                assert rotated.status_code == 200, rotated.text
                assert rotated.json()["refresh_token"] != current
                current = rotated.json()["refresh_token"]
                access = rotated.json()["access_token"]
            assert_throttled(await api.refresh(current))
            # the OAuth refresh grant spends the same budget
            via_token = await api.client.post(
                "/auth/token", data={"grant_type": "refresh_token", "refresh_token": current}
            )
            assert_throttled(via_token)

            # the throttled session lives on; the other session has a budget of its own
            assert (await api.me(access)).status_code == 200
            other_refresh = other.refresh
            for _ in range(3):
                elsewhere = await api.refresh(other_refresh)
                assert elsewhere.status_code == 200, elsewhere.text
                other_refresh = elsewhere.json()["refresh_token"]

    async def test_a_throttled_refresh_does_not_spend_the_token(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            client_ip=unique_ip(), refresh_rate_limit_per_session="2/2second"
        ) as api:
            current = (await api.signed_in()).refresh
            for _ in range(2):
                rotated = await api.refresh(current)
                assert rotated.status_code == 200, rotated.text
                current = rotated.json()["refresh_token"]
            retry_after = assert_throttled(await api.refresh(current), window_seconds=2)

            await asyncio.sleep(retry_after)
            # the token refused with 429 is still the live one: no reuse detected
            again = await api.refresh(current)
            assert again.status_code == 200, again.text
            assert again.json()["refresh_token"] != current
