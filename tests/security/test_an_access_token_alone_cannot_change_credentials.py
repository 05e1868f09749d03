"""What an access token alone cannot do (issue 12, items 2 and 3).

A stolen access token must not be a way to keep or widen access: enrolling an
authenticator (the owner would then be locked out) and linking a provider account
(a way in that survives a password reset) need the password, as email changes and
deletion already did; an account without one needs a sign-in in the last 5 minutes
(401 `reauthentication_required` with the RFC 9470 challenge otherwise).

And every password checked for a signed-in user spends the account's sign-in budget
and records a `password_check_failed` event: a token is no way to guess faster than
signing in. On both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from authapi.models import Identity, SecurityEvent, UserSession, utcnow
from tests.api.test_oidc_signin import provider_user, signed_in_with_provider
from tests.conftest import (
    PASSWORD,
    Api,
    assert_problem,
    assert_throttled,
    bearer,
    client_from,
    unique_email,
    unique_ip,
)
from tests.mfa import user_id_of
from tests.oidc import OidcProvider, oidc_settings

WRONG = "not the password of this account"
BUDGET = 3


async def setup_totp(api: Api, access: str, body: dict[str, Any] | None) -> httpx.Response:
    return await api.client.post("/auth/mfa/totp/setup", json=body, headers=bearer(access))


async def link(api: Api, access: str, body: dict[str, Any]) -> httpx.Response:
    return await api.client.post(
        "/users/me/identities", json={"provider": "local", **body}, headers=bearer(access)
    )


# each endpoint that checks a password, called by `client` with `password`
Check = Callable[[httpx.AsyncClient, str, str], Any]
PASSWORD_CHECKS: dict[str, Check] = {
    "change_password": lambda client, access, password: client.post(
        "/users/me/password",
        json={"current_password": password, "new_password": "a brand new passphrase here"},
        headers=bearer(access),
    ),
    "change_email": lambda client, access, password: client.post(
        "/users/me/email",
        json={"password": password, "new_email": unique_email("moved")},
        headers=bearer(access),
    ),
    "delete_account": lambda client, access, password: client.request(
        "DELETE", "/users/me", json={"password": password}, headers=bearer(access)
    ),
    "mfa_disable": lambda client, access, password: client.post(
        "/auth/mfa/totp/disable",
        json={"password": password, "code": "123456"},
        headers=bearer(access),
    ),
    "totp_setup": lambda client, access, password: client.post(
        "/auth/mfa/totp/setup", json={"password": password}, headers=bearer(access)
    ),
    "link_identity": lambda client, access, password: client.post(
        "/users/me/identities",
        json={"provider": "local", "password": password},
        headers=bearer(access),
    ),
}


async def failure_events(api: Api, email: str) -> list[dict[str, Any] | None]:
    user_id = await user_id_of(api, email)
    async with api.app.state.resources.sessionmaker() as db:
        rows = await db.scalars(
            select(SecurityEvent.details).where(
                SecurityEvent.user_id == user_id, SecurityEvent.type == "password_check_failed"
            )
        )
        return list(rows)


class TestProofBeyondTheAccessToken:
    @pytest.mark.requirement("NIST-63B-4.1.2.1", "NIST-63B-5.1.2")
    async def test_enrolling_totp_needs_the_password(self, api: Api) -> None:
        tokens = await api.signed_in()

        assert_problem(await setup_totp(api, tokens.access, None), 401, "invalid_credentials")
        assert_problem(await setup_totp(api, tokens.access, {}), 401, "invalid_credentials")
        wrong = await setup_totp(api, tokens.access, {"password": WRONG})
        assert_problem(wrong, 401, "invalid_credentials")
        assert (await api.me(tokens.access)).json()["mfa_enabled"] is False

        right = await setup_totp(api, tokens.access, {"password": PASSWORD})
        assert right.status_code == 200, right.text

    async def test_linking_a_provider_needs_the_password(
        self, make_api: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        async with make_api(**oidc_settings(oidc_provider)) as api:
            tokens = await api.signed_in()

            assert_problem(await link(api, tokens.access, {}), 401, "invalid_credentials")
            wrong = await link(api, tokens.access, {"password": WRONG})
            assert_problem(wrong, 401, "invalid_credentials")
            assert "set-cookie" not in wrong.headers  # no sign-in was started

            right = await link(api, tokens.access, {"password": PASSWORD})
            assert right.status_code == 200, right.text
            assert set(right.json()) == {"authorization_url"}

    @pytest.mark.requirement("ASVS-10.3.4", "NIST-63B-5.1.2")
    async def test_without_a_password_both_need_a_recent_sign_in(
        self, make_api: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        async with make_api(**oidc_settings(oidc_provider)) as api:
            fresh = await signed_in_with_provider(
                api, provider_user(oidc_provider, unique_email("oidc-fresh"))
            )
            # a sign-in a moment ago is enough: both go ahead
            assert (await setup_totp(api, fresh, {})).status_code == 200
            assert (await link(api, fresh, {})).status_code == 200

            old_sub = provider_user(oidc_provider, unique_email("oidc-old"))
            old = await signed_in_with_provider(api, old_sub)
            await age_sessions(api, old_sub)
            for response in (await setup_totp(api, old, {}), await link(api, old, {})):
                assert_problem(response, 401, "reauthentication_required")
                assert "max_age=300" in response.headers["www-authenticate"]


async def age_sessions(api: Api, sub: str) -> None:
    """Move the start of every session of the provider account `sub` 10 minutes back."""
    async with api.app.state.resources.sessionmaker.begin() as db:
        user_id = await db.scalar(select(Identity.user_id).where(Identity.subject == sub))
        await db.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id)
            .values(created_at=utcnow() - timedelta(minutes=10))
        )


class TestPasswordChecksAreThrottled:
    @pytest.mark.requirement("ASVS-16.3.2")
    @pytest.mark.parametrize("endpoint", list(PASSWORD_CHECKS))
    async def test_password_checks_on_bearer_endpoints_are_throttled_and_recorded(
        self, make_api: Callable[..., Any], endpoint: str
    ) -> None:
        async with make_api(
            login_rate_limit_per_account=f"{BUDGET}/minute",
            login_rate_limit_per_account_ip=f"{BUDGET}/minute",
        ) as api:
            tokens = await api.signed_in()  # the owner, from their usual address
            check = PASSWORD_CHECKS[endpoint]
            # the thief, with the stolen access token, from an address of their own
            async with client_from(api, unique_ip()) as thief:
                for _ in range(BUDGET):
                    wrong = await check(thief, tokens.access, WRONG)
                    assert_problem(wrong, 401, "invalid_credentials")
                # the right password, too late: the account's budget is empty
                assert_throttled(await check(thief, tokens.access, PASSWORD), window_seconds=60)

            # as it is for signing in from anywhere new ...
            async with client_from(api, unique_ip()) as elsewhere:
                signing_in = await elsewhere.post(
                    "/auth/login", json={"email": tokens.email, "password": PASSWORD}
                )
            assert_throttled(signing_in, window_seconds=60)
            # ... but not from the owner's usual address (tests/security/test_owner_*)
            assert (await api.login(tokens.email)).status_code == 200
            assert await failure_events(api, tokens.email) == [{"purpose": endpoint}] * BUDGET
