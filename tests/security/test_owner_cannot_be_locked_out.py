"""An attacker guessing from many IPs cannot lock the owner out.

The address-wide sign-in budget (`login:account`) stops guessing spread over
many IPs; an (address, IP) pair that has signed in successfully skips it, so the
owner's usual IPs keep working while it is empty. Their own per-(address, IP)
budget still applies, and a new IP still meets the exhausted budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Api, assert_problem, unique_ip

PROXY = "203.0.113.10"


async def login_from(api: Api, ip: str, email: str, password: str) -> httpx.Response:
    return await api.client.post(
        "/auth/login",
        json={"email": email, "password": password, "refresh_token_delivery": "body"},
        headers={"X-Forwarded-For": ip},
    )


@pytest.mark.requirement("ASVS-6.3.1")
async def test_owner_on_a_known_ip_signs_in_while_the_address_budget_is_empty(
    make_api: Callable[..., Any],
) -> None:
    async with make_api(
        client_ip=PROXY, trusted_proxies=[f"{PROXY}/32"], login_rate_limit_per_account="4/minute"
    ) as api:
        email = await api.create_user()
        home = unique_ip()
        assert (await login_from(api, home, email, PASSWORD)).status_code == 200

        # guesses from many IPs empty the address-wide budget
        answers = [(await login_from(api, unique_ip(), email, "wrong guess")) for _ in range(6)]
        assert [a.status_code for a in answers] == [401] * 4 + [429] * 2
        assert_problem(answers[-1], 429, "rate_limited")

        # a new IP meets the empty budget, even with the right password; the owner's
        # known IP does not
        assert_problem(await login_from(api, unique_ip(), email, PASSWORD), 429, "rate_limited")
        assert (await login_from(api, home, email, PASSWORD)).status_code == 200


async def test_a_known_ip_still_has_its_own_budget(make_api: Callable[..., Any]) -> None:
    async with make_api(
        client_ip=PROXY,
        trusted_proxies=[f"{PROXY}/32"],
        login_rate_limit_per_account="100/minute",
        login_rate_limit_per_account_ip="3/minute",
    ) as api:
        email = await api.create_user()
        home = unique_ip()
        assert (await login_from(api, home, email, PASSWORD)).status_code == 200
        statuses = [
            (await login_from(api, home, email, "wrong guess")).status_code for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        assert_problem(await login_from(api, home, email, PASSWORD), 429, "rate_limited")
