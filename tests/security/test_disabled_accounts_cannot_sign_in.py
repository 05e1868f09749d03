"""A disabled account cannot sign in, and disabling it ends its sessions at once (issue 7).

The operator's action is `AdminService.disable` (what `authapi users disable` runs), called
here with the app's own resources, so the store it ends sessions in is the app's (the
in-process store on the embedded backend, Redis on production). Then, on both backends:

- its access tokens get 401 on /users/me right away, its refresh tokens are refused (both
  /auth/refresh and the token endpoint), and introspection says inactive;
- the password step answers 403 `account_disabled` only to the right password: a wrong one
  gets the very answer of any wrong password (401 `invalid_credentials`), so a guesser
  learns nothing; the token endpoint says `invalid_grant` with code `account_disabled`;
- a second-factor step started before the account was disabled opens no session;
- a provider sign-in lands on `?error=account_disabled` with no refresh cookie;
- enabling it lets it sign in again (the sessions ended stay ended);
- each operator action is a security event of the account (account_disabled,
  sessions_revoked, account_enabled), recorded with the user agent `authapi-cli`.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from authapi.models import Identity, SecurityEvent, User, UserSession
from authapi.services.admin import AdminService
from tests.conftest import (
    PASSWORD,
    Api,
    Tokens,
    assert_problem,
    bearer,
    client_from,
    unique_email,
    unique_ip,
)
from tests.mfa import challenge, mfa_user, next_code, submit, user_id_of
from tests.oidc import REDIRECT, OidcBrowser, OidcProvider, oidc_settings

WRONG_PASSWORD = "certainly not the password"
CLIENT = ("rs", secrets.token_urlsafe(24))
REFRESH_COOKIE = "authapi_refresh"
CSRF = {"X-Requested-With": "x"}
# headers that differ from one request to the next whatever the answer
PER_REQUEST_HEADERS = {"x-request-id", "date"}


# --- the operator ------------------------------------------------------------------------
async def disable(api: Api, email: str) -> int:
    resources = api.app.state.resources
    async with resources.sessionmaker.begin() as db:
        return await AdminService(db, resources).disable(email)


async def enable(api: Api, email: str) -> bool:
    resources = api.app.state.resources
    async with resources.sessionmaker.begin() as db:
        return await AdminService(db, resources).enable(email)


# --- steps -----------------------------------------------------------------------------------
async def introspect(api: Api, token: str) -> dict[str, Any]:
    credentials = base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
    response = await api.client.post(
        "/auth/introspect", data={"token": token}, headers={"Authorization": f"Basic {credentials}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def token_grant(api: Api, **form: str) -> httpx.Response:
    return await api.client.post("/auth/token", data=form)


async def open_sessions(api: Api, user_id: uuid.UUID) -> int:
    async with api.app.state.resources.sessionmaker() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        )
    return int(count or 0)


async def events_of(api: Api, user_id: uuid.UUID) -> list[SecurityEvent]:
    async with api.app.state.resources.sessionmaker() as db:
        rows = await db.scalars(
            select(SecurityEvent).where(SecurityEvent.user_id == user_id).order_by(SecurityEvent.id)
        )
        return list(rows.all())


def assert_same_answer(first: httpx.Response, second: httpx.Response) -> None:
    """The same status, body and headers (but those that differ for every request)."""
    assert first.status_code == second.status_code, (first.text, second.text)
    assert first.content == second.content
    assert {k: v for k, v in first.headers.items() if k not in PER_REQUEST_HEADERS} == {
        k: v for k, v in second.headers.items() if k not in PER_REQUEST_HEADERS
    }


def refresh_cookie_set(response: httpx.Response) -> bool:
    """Whether the answer sets a refresh cookie (clearing one does not count)."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        max_age = next(
            (a.partition("=")[2] for a in attributes if a.lower().startswith("max-age=")), None
        )
        if name == REFRESH_COOKIE and value.strip('"') and max_age != "0":
            return True
    return False


@pytest.fixture
async def app(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    async with make_api(introspection_clients=[f"{CLIENT[0]}:{CLIENT[1]}"]) as instance:
        yield instance


# --- sessions end at once ----------------------------------------------------------------------
class TestDisablingEndsSessions:
    @pytest.mark.requirement("ASVS-7.4.2")
    async def test_every_session_ends_at_once(self, app: Api) -> None:
        first = await app.signed_in()
        second = await app.signed_in(first.email)
        rotated = await app.refresh(second.refresh)
        assert rotated.status_code == 200, rotated.text
        second = Tokens(
            first.email, rotated.json()["access_token"], rotated.json()["refresh_token"]
        )
        bystander = await app.signed_in()  # another account
        user_id = await user_id_of(app, first.email)
        assert await open_sessions(app, user_id) == 2

        assert await disable(app, first.email) == 2

        for tokens in (first, second):
            assert_problem(await app.me(tokens.access), 401, "invalid_token")
            assert_problem(await app.refresh(tokens.refresh), 401, "invalid_refresh_token")
            refused = await token_grant(
                app, grant_type="refresh_token", refresh_token=tokens.refresh
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"] == "invalid_grant"
            assert await introspect(app, tokens.access) == {"active": False}
            assert await introspect(app, tokens.refresh) == {"active": False}
        assert await open_sessions(app, user_id) == 0
        # the bystander is untouched
        assert (await app.me(bystander.access)).status_code == 200
        assert (await introspect(app, bystander.access))["active"] is True

    async def test_disabling_again_changes_nothing_and_is_recorded_once(self, app: Api) -> None:
        tokens = await app.signed_in()
        user_id = await user_id_of(app, tokens.email)
        assert await disable(app, tokens.email) == 1
        assert await disable(app, tokens.email) == 0
        disabled = [e for e in await events_of(app, user_id) if e.type == "account_disabled"]
        assert len(disabled) == 1, disabled

    async def test_an_unknown_address_is_not_found(self, app: Api) -> None:
        from authapi.services.admin import UserNotFound

        with pytest.raises(UserNotFound):
            await disable(app, unique_email("nobody"))


# --- the password step -------------------------------------------------------------------------
class TestPasswordSignIn:
    async def test_the_right_password_is_told_the_account_is_disabled(self, app: Api) -> None:
        tokens = await app.signed_in()
        await disable(app, tokens.email)

        body = assert_problem(await app.login(tokens.email), 403, "account_disabled")
        assert "access_token" not in body
        assert "refresh_token" not in body
        for delivery in ("cookie", "body"):
            response = await app.login(tokens.email, delivery=delivery)
            assert_problem(response, 403, "account_disabled")
            assert not refresh_cookie_set(response)
        assert await open_sessions(app, await user_id_of(app, tokens.email)) == 0

    async def test_a_wrong_password_gets_the_answer_of_any_wrong_password(self, app: Api) -> None:
        disabled = await app.create_user()
        enabled = await app.create_user()
        await disable(app, disabled)

        reference = await app.login(enabled, WRONG_PASSWORD)
        assert_problem(reference, 401, "invalid_credentials")
        assert_same_answer(await app.login(disabled, WRONG_PASSWORD), reference)
        assert_same_answer(await app.login(unique_email("nobody"), WRONG_PASSWORD), reference)

        grant_reference = await token_grant(
            app, grant_type="password", username=enabled, password=WRONG_PASSWORD
        )
        assert grant_reference.status_code == 400, grant_reference.text
        assert grant_reference.json()["code"] == "invalid_credentials"
        assert_same_answer(
            await token_grant(
                app, grant_type="password", username=disabled, password=WRONG_PASSWORD
            ),
            grant_reference,
        )

    async def test_the_password_grant_is_invalid_grant_account_disabled(self, app: Api) -> None:
        email = await app.create_user()
        await disable(app, email)
        response = await token_grant(app, grant_type="password", username=email, password=PASSWORD)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["error"] == "invalid_grant"
        assert body["code"] == "account_disabled"
        assert "access_token" not in body
        assert await open_sessions(app, await user_id_of(app, email)) == 0

    async def test_the_failed_sign_in_is_recorded_for_the_owner(self, app: Api) -> None:
        email = await app.create_user()
        await disable(app, email)
        assert_problem(await app.login(email), 403, "account_disabled")
        failures = [
            event
            for event in await events_of(app, await user_id_of(app, email))
            if event.type == "login_failed"
        ]
        assert [event.details for event in failures] == [
            {"method": "password", "reason": "account_disabled"}
        ]


# --- the second factor ----------------------------------------------------------------------------
class TestSecondFactor:
    async def test_disabled_between_the_password_and_the_code_opens_no_session(
        self, app: Api
    ) -> None:
        user = await mfa_user(app)
        user_id = await user_id_of(app, user.email)
        mfa_token = await challenge(app, user.email)

        await disable(app, user.email)
        assert await open_sessions(app, user_id) == 0

        response = await submit(app, mfa_token, next_code(user.app))
        body = assert_problem(response, 403, "account_disabled")
        assert "access_token" not in body
        assert not refresh_cookie_set(response)
        assert await open_sessions(app, user_id) == 0
        # a recovery code does no better
        second = await submit(app, mfa_token, user.codes[0])
        assert second.status_code in (401, 403), second.text
        assert "access_token" not in second.text
        assert await open_sessions(app, user_id) == 0

    async def test_a_disabled_mfa_account_gets_no_challenge(self, app: Api) -> None:
        user = await mfa_user(app)
        await disable(app, user.email)
        body = assert_problem(await app.login(user.email), 403, "account_disabled")
        assert "mfa_token" not in body


# --- provider sign-in -----------------------------------------------------------------------------
@pytest.fixture
async def oidc_app(make_api: Callable[..., Any], oidc_provider: OidcProvider) -> AsyncIterator[Api]:
    async with make_api(client_ip=unique_ip(), **oidc_settings(oidc_provider)) as instance:
        yield instance


class TestProviderSignIn:
    @pytest.mark.requirement("ASVS-6.3.4")
    async def test_a_disabled_accounts_provider_sign_in_is_refused(
        self, oidc_app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-disabled")
        sub = f"sub-{uuid.uuid4().hex}"
        oidc_provider.set_user(sub, email=email, email_verified=True, name="Ada")
        async with client_from(oidc_app, unique_ip()) as first_browser:
            signed_in = await OidcBrowser(first_browser).sign_in(sub=sub)
            assert signed_in.status_code == 302, signed_in.text
            assert signed_in.headers["location"] == REDIRECT
            assert refresh_cookie_set(signed_in)

            assert await disable(oidc_app, email) == 1

            # the browser's session ended with it
            assert_problem(
                await first_browser.post("/auth/refresh", headers=CSRF),
                401,
                "invalid_refresh_token",
            )

        async with client_from(oidc_app, unique_ip()) as browser:
            refused = await OidcBrowser(browser).sign_in(sub=sub)
            assert refused.status_code == 302, refused.text
            assert refused.headers["location"] == f"{REDIRECT}?error=account_disabled"
            assert not refresh_cookie_set(refused), refused.headers.get_list("set-cookie")
            assert browser.cookies.get(REFRESH_COOKIE) is None
        user_id = await user_id_of(oidc_app, email)
        assert await open_sessions(oidc_app, user_id) == 0
        failures = [e for e in await events_of(oidc_app, user_id) if e.type == "login_failed"]
        assert failures[-1].details == {"method": "oidc:local", "reason": "account_disabled"}

        # enabled again: the provider sign-in works
        assert await enable(oidc_app, email) is True
        async with client_from(oidc_app, unique_ip()) as browser:
            again = await OidcBrowser(browser).sign_in(sub=sub)
            assert again.status_code == 302, again.text
            assert again.headers["location"] == REDIRECT
            assert refresh_cookie_set(again)
            refreshed = await browser.post("/auth/refresh", headers=CSRF)
            assert refreshed.status_code == 200, refreshed.text

    async def test_a_provider_cannot_link_itself_to_a_disabled_account(
        self, oidc_app: Api, oidc_provider: OidcProvider
    ) -> None:
        """The verified address would link the provider to the local account; refused, and
        nothing of the attempt stays (no identity row)."""
        email = await oidc_app.create_user(unique_email("oidc-link-disabled"))
        await disable(oidc_app, email)
        sub = f"sub-{uuid.uuid4().hex}"
        oidc_provider.set_user(sub, email=email, email_verified=True)

        async with client_from(oidc_app, unique_ip()) as browser:
            refused = await OidcBrowser(browser).sign_in(sub=sub)
            assert refused.status_code == 302, refused.text
            assert refused.headers["location"] == f"{REDIRECT}?error=account_disabled"
            assert not refresh_cookie_set(refused)
        async with oidc_app.app.state.resources.sessionmaker() as db:
            linked = await db.scalar(
                select(func.count()).select_from(Identity).where(Identity.subject == sub)
            )
        assert linked == 0
        assert await open_sessions(oidc_app, await user_id_of(oidc_app, email)) == 0


# --- enabling again -------------------------------------------------------------------------------
class TestEnabling:
    async def test_enabling_allows_sign_in_but_resurrects_no_session(self, app: Api) -> None:
        old = await app.signed_in()
        await disable(app, old.email)
        assert_problem(await app.login(old.email), 403, "account_disabled")

        assert await enable(app, old.email) is True
        assert await enable(app, old.email) is False  # it was not disabled any more

        new = await app.signed_in(old.email)
        assert (await app.me(new.access)).status_code == 200
        assert (await app.refresh(new.refresh)).status_code == 200
        password_grant = await token_grant(
            app, grant_type="password", username=old.email, password=PASSWORD
        )
        assert password_grant.status_code == 200, password_grant.text
        # what disabling ended stays ended
        assert_problem(await app.me(old.access), 401, "invalid_token")
        assert_problem(await app.refresh(old.refresh), 401, "invalid_refresh_token")
        assert await introspect(app, old.refresh) == {"active": False}
        async with app.app.state.resources.sessionmaker() as db:
            user = await db.scalar(select(User).where(User.email == old.email))
        assert user is not None
        assert user.disabled_at is None

    async def test_enabling_lets_an_mfa_account_sign_in_with_both_factors(self, app: Api) -> None:
        user = await mfa_user(app)
        await disable(app, user.email)
        await enable(app, user.email)
        response = await submit(app, await challenge(app, user.email), next_code(user.app))
        assert response.status_code == 200, response.text


# --- the audit trail ------------------------------------------------------------------------------
class TestEvents:
    async def test_operator_actions_are_events_of_the_account(self, app: Api) -> None:
        first = await app.signed_in()
        await app.signed_in(first.email)
        user_id = await user_id_of(app, first.email)

        await disable(app, first.email)
        await enable(app, first.email)
        after = await app.signed_in(first.email)

        stored = await events_of(app, user_id)
        operator = [e for e in stored if e.user_agent == "authapi-cli"]
        assert [e.type for e in operator] == [
            "account_disabled",
            "sessions_revoked",
            "account_enabled",
        ], [(e.type, e.user_agent) for e in stored]
        assert operator[1].details == {"count": 2}
        assert all(e.ip is None for e in operator)

        # the owner sees them in their own trail, newest first
        response = await app.client.get(
            "/users/me/events", params={"limit": 100}, headers=bearer(after.access)
        )
        assert response.status_code == 200, response.text
        listed = response.json()["events"]
        types = [event["type"] for event in listed]
        assert types[0] == "login_succeeded"
        positions = [types.index(name) for name in ("account_enabled", "sessions_revoked")]
        assert positions == sorted(positions), types
        assert types.index("sessions_revoked") < types.index("account_disabled"), types
        for event in listed:
            if event["type"] in {"account_disabled", "sessions_revoked", "account_enabled"}:
                assert event["user_agent"] == "authapi-cli"
