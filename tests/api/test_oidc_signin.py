"""Signing in with an OpenID provider: the authorization-code flow with PKCE, end to end.

Every test drives the app's endpoints (`/auth/oauth/{provider}/authorize` and `/callback`,
`/users/me/identities`) through a real provider (tests/oidc.py: npm oidc-provider, played by
`OidcBrowser`), on both backends. The contract (README, "Sign in with Google or any
OpenID provider"):

- authorize: 302 to the provider with response_type=code, client_id, redirect_uri, scope,
  state, nonce and an S256 code_challenge; the `authapi_oauth` cookie binds it to the browser.
- callback: success sets the refresh cookie and lands on redirect_to unchanged; otherwise
  redirect_to gets `?error=<code>` (`&` when it has a query), `mfa_required` with the
  `mfa_token` in the fragment, or `?linked=<provider>` after linking.
- accounts are matched by (issuer, subject); an email links a provider to an existing
  account only when both the provider and the account say the address is verified.

The provider is shared by the session: every test uses its own `sub`s and addresses. Each
test app has its own client IP, so the per-IP sign-in budget (kept in Redis for the whole
run on the production backend) is never shared between tests.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from authapi.models import Identity, SecurityEvent, User, UserSession
from tests.conftest import (
    PASSWORD,
    PUBLIC_URL,
    Api,
    Tokens,
    assert_problem,
    assert_throttled,
    bearer,
    client_from,
    link_token,
    unique_email,
    unique_ip,
)
from tests.mfa import enable_totp, mfa_user, next_code, submit, user_id_of
from tests.oidc import (
    REDIRECT,
    REDIRECT_TREE,
    OidcBrowser,
    OidcProvider,
    oidc_settings,
    start_provider,
)

REFRESH_COOKIE = "authapi_refresh"
OAUTH_COOKIE = "authapi_oauth"
CALLBACK = f"{PUBLIC_URL}/auth/oauth/local/callback"
CSRF = {"X-Requested-With": "x"}
NEW_PASSWORD = "a password set after signing in with a provider"
DEEP_TARGET = f"{REDIRECT_TREE}x?tab=1"  # under the REDIRECT_TREE entry, with a query
BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
DISCOVERY = "/.well-known/openid-configuration"


# --- fixtures and steps ---------------------------------------------------------------------
@pytest.fixture
def oidc_app(make_api: Callable[..., Any], oidc_provider: OidcProvider) -> Callable[..., Any]:
    """`async with oidc_app(provider=None, **overrides) as api:` an app with "local" configured.

    Each app connects from an IP of its own (see the module docstring)."""

    def _make(provider: OidcProvider | None = None, **overrides: Any) -> Any:
        settings = oidc_settings(provider or oidc_provider, **overrides)
        return make_api(client_ip=unique_ip(), **settings)

    return _make


@pytest.fixture
async def app(oidc_app: Callable[..., Any]) -> AsyncIterator[Api]:
    async with oidc_app() as instance:
        yield instance


def new_sub() -> str:
    return f"sub-{uuid.uuid4().hex}"


def provider_user(
    provider: OidcProvider, email: str | None, *, verified: bool | None = True, sub: str = ""
) -> str:
    """Create (or replace) the provider's account `sub` (default: a new one); returns its sub.

    verified=None leaves email_verified out of the claims; email=None leaves the email out."""
    sub = sub or new_sub()
    claims: dict[str, Any] = {"name": "Ada Lovelace"}
    if email is not None:
        claims["email"] = email
    if verified is not None:
        claims["email_verified"] = verified
    provider.set_user(sub, **claims)
    return sub


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """The response's Set-Cookie headers by cookie name: {"": value, attribute: value}."""
    cookies: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        parsed = {"": value}
        for attribute in attributes:
            key, _, attribute_value = attribute.partition("=")
            parsed[key.lower()] = attribute_value
        cookies[name] = parsed
    return cookies


def assert_signed_in(response: httpx.Response, location: str = REDIRECT) -> None:
    """The callback's answer to a successful sign-in: to `location` exactly, refresh cookie."""
    assert response.status_code == 302, response.text
    assert response.headers["location"] == location
    assert response.headers["cache-control"] == "no-store"
    cookies = set_cookies(response)
    assert REFRESH_COOKIE in cookies, response.headers.get_list("set-cookie")
    refresh = cookies[REFRESH_COOKIE]
    assert refresh[""], "the refresh cookie is empty"
    assert refresh["path"] == "/auth"
    assert "httponly" in refresh
    assert "secure" in refresh
    assert refresh["samesite"].lower() == "strict"
    assert int(refresh["max-age"]) > 0
    # the sign-in state's cookie is done with
    assert OAUTH_COOKIE in cookies
    assert cookies[OAUTH_COOKIE]["max-age"] == "0"


async def assert_no_session(client: httpx.AsyncClient, response: httpx.Response) -> None:
    """The callback set no refresh cookie, and the browser has none to refresh with."""
    cookies = set_cookies(response)
    assert REFRESH_COOKIE not in cookies, f"a refresh cookie was set: {cookies[REFRESH_COOKIE]}"
    assert client.cookies.get(REFRESH_COOKIE) is None
    assert_problem(await client.post("/auth/refresh", headers=CSRF), 401, "invalid_refresh_token")


def assert_error(response: httpx.Response, error: str, redirect_to: str = REDIRECT) -> None:
    assert response.status_code == 302, response.text
    separator = "&" if "?" in redirect_to else "?"
    assert response.headers["location"] == f"{redirect_to}{separator}error={error}"
    assert response.headers["cache-control"] == "no-store"
    cookies = set_cookies(response)
    assert OAUTH_COOKIE in cookies
    assert cookies[OAUTH_COOKIE]["max-age"] == "0"


async def access_from_cookie(client: httpx.AsyncClient) -> str:
    """POST /auth/refresh with the browser's refresh cookie: the new access token."""
    response = await client.post("/auth/refresh", headers=CSRF)
    assert response.status_code == 200, response.text
    access: str = response.json()["access_token"]
    return access


async def signed_in_with_provider(
    api: Api, sub: str, client: httpx.AsyncClient | None = None
) -> str:
    """A provider sign-in in `client` (default: the app's) that succeeds; the access token."""
    browser = OidcBrowser(client or api.client)
    assert_signed_in(await browser.sign_in(sub=sub))
    return await access_from_cookie(browser.app)


async def me(api: Api, access: str) -> dict[str, Any]:
    response = await api.me(access)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def identities(api: Api, access: str) -> list[dict[str, Any]]:
    response = await api.client.get("/users/me/identities", headers=bearer(access))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    listed: list[dict[str, Any]] = response.json()["identities"]
    return listed


async def rows(api: Api, statement: Any) -> list[Any]:
    async with api.app.state.resources.sessionmaker() as db:
        return list((await db.scalars(statement)).all())


async def count(api: Api, statement: Any) -> int:
    async with api.app.state.resources.sessionmaker() as db:
        return int(await db.scalar(statement) or 0)


async def users_with_email(api: Api, email: str) -> int:
    return await count(api, select(func.count()).select_from(User).where(User.email == email))


async def identities_of_sub(api: Api, sub: str) -> list[Identity]:
    return await rows(api, select(Identity).where(Identity.subject == sub))


async def sessions_of(api: Api, user_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id)
    return await count(api, statement)


async def events_of(api: Api, user_id: uuid.UUID, event_type: str) -> list[SecurityEvent]:
    return await rows(
        api,
        select(SecurityEvent)
        .where(SecurityEvent.user_id == user_id, SecurityEvent.type == event_type)
        .order_by(SecurityEvent.id),
    )


def delta(before: dict[str, int], after: dict[str, int], path: str) -> int:
    return after.get(path, 0) - before.get(path, 0)


# --- the start: GET /auth/oauth/{provider}/authorize -------------------------------------------
class TestAuthorize:
    @pytest.mark.requirement("ASVS-10.1.2", "RFC7636-4.2", "RFC9700-2.1.1")
    async def test_redirects_to_the_provider_with_pkce_state_and_nonce(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        response = await OidcBrowser(app.client).authorize()

        assert response.status_code == 302, response.text
        assert response.headers["cache-control"] == "no-store"
        location = response.headers["location"]
        assert location.startswith(f"{oidc_provider.issuer}/auth?"), location
        query = parse_qs(urlsplit(location).query, keep_blank_values=True)
        assert all(len(values) == 1 for values in query.values()), query
        params = {name: values[0] for name, values in query.items()}
        assert set(params) == {
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        }
        assert params["response_type"] == "code"
        assert params["client_id"] == oidc_provider.client_id
        assert params["redirect_uri"] == CALLBACK
        assert "openid" in params["scope"].split(" ")
        assert len(params["state"]) >= 43
        assert BASE64URL.match(params["state"])
        assert len(params["nonce"]) >= 43
        assert BASE64URL.match(params["nonce"])
        assert params["code_challenge_method"] == "S256"
        assert len(params["code_challenge"]) == 43
        assert BASE64URL.match(params["code_challenge"])

        cookies = set_cookies(response)
        assert set(cookies) == {OAUTH_COOKIE}, cookies
        oauth = cookies[OAUTH_COOKIE]
        assert len(oauth[""]) >= 43
        assert "httponly" in oauth
        assert oauth["samesite"].lower() == "lax"
        assert oauth["path"] == "/auth/oauth"
        assert "secure" in oauth
        assert oauth["max-age"] == "600"

    @pytest.mark.requirement("ASVS-10.1.2")
    async def test_every_start_has_fresh_secrets(self, app: Api) -> None:
        browser = OidcBrowser(app.client)
        seen: list[dict[str, str]] = []
        for _ in range(2):
            response = await browser.authorize()
            assert response.status_code == 302, response.text
            query = parse_qs(urlsplit(response.headers["location"]).query)
            seen.append(
                {
                    "state": query["state"][0],
                    "nonce": query["nonce"][0],
                    "code_challenge": query["code_challenge"][0],
                    "cookie": set_cookies(response)[OAUTH_COOKIE][""],
                }
            )
        for name in seen[0]:
            assert seen[0][name] != seen[1][name], name

    @pytest.mark.requirement("ASVS-2.4.1")
    async def test_starts_are_throttled_per_ip(self, oidc_app: Callable[..., Any]) -> None:
        async with oidc_app(oidc_rate_limit_per_ip="2/minute") as api:
            for _ in range(2):
                started = await api.client.get("/auth/oauth/local/authorize")
                assert started.status_code == 302, started.text
            refused = await api.client.get("/auth/oauth/local/authorize")
            assert_throttled(refused, window_seconds=60)
            assert OAUTH_COOKIE not in set_cookies(refused)

    async def test_the_providers_are_listed_for_sign_in_buttons(
        self, oidc_app: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        second = {**oidc_provider.provider_setting("local2"), "display_name": "Work account"}
        providers = [oidc_provider.provider_setting("local"), second]
        async with oidc_app(oidc_providers=providers) as api:
            response = await api.client.get("/auth/oauth/providers")  # no credentials needed
        assert response.status_code == 200, response.text
        assert response.json() == {
            "providers": [
                {"name": "local", "display_name": "Local"},
                {"name": "local2", "display_name": "Work account"},
            ]
        }
        assert "client_id" not in response.text
        assert "issuer" not in response.text

    async def test_no_provider_lists_none(self, api: Api) -> None:
        response = await api.client.get("/auth/oauth/providers")
        assert response.status_code == 200, response.text
        assert response.json() == {"providers": []}

    async def test_without_allowed_redirects_the_built_in_pages_are_the_default(
        self, oidc_app: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        sub = provider_user(oidc_provider, unique_email("pages"))
        async with oidc_app(allowed_redirects=[]) as api:
            browser = OidcBrowser(api.client)
            assert_signed_in(await browser.sign_in(sub=sub), f"{PUBLIC_URL}/account/")
            elsewhere = await browser.authorize(redirect_to=REDIRECT)
        assert_problem(elsewhere, 400, "redirect_not_allowed")

    async def test_unknown_provider_is_404(self, app: Api) -> None:
        response = await OidcBrowser(app.client).authorize("nope")
        assert_problem(response, 404, "unknown_provider")
        assert OAUTH_COOKIE not in set_cookies(response)

    async def test_no_provider_configured_is_404(self, api: Api) -> None:
        response = await OidcBrowser(api.client).authorize("local")
        assert_problem(response, 404, "unknown_provider")
        assert OAUTH_COOKIE not in set_cookies(response)
        tokens = await api.signed_in()
        linking = await api.client.post(
            "/users/me/identities",
            json={"provider": "local", "password": PASSWORD},
            headers=bearer(tokens.access),
        )
        assert_problem(linking, 404, "unknown_provider")

    async def test_linking_an_unknown_provider_is_404(self, app: Api) -> None:
        tokens = await app.signed_in()
        response = await app.client.post(
            "/users/me/identities",
            json={"provider": "nope", "password": PASSWORD},
            headers=bearer(tokens.access),
        )
        assert_problem(response, 404, "unknown_provider")
        assert OAUTH_COOKIE not in set_cookies(response)


# --- first sign-in: a new account ---------------------------------------------------------------
class TestNewAccount:
    @pytest.mark.requirement("RFC7636-4.2", "RFC7636-4.5")
    async def test_a_new_verified_email_creates_an_account_without_password(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-new")
        sub = provider_user(oidc_provider, email)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        assert_signed_in(response)
        access = await access_from_cookie(app.client)
        profile = await me(app, access)
        assert profile["email"] == email
        assert profile["email_verified"] is True
        assert profile["mfa_enabled"] is False
        assert profile["has_password"] is False
        linked = await identities(app, access)
        assert len(linked) == 1, linked
        assert linked[0]["provider"] == "local"
        assert linked[0]["email"] == email
        assert linked[0]["last_used_at"] is not None
        uuid.UUID(linked[0]["id"])
        # stored by the configured issuer and the provider's subject
        (stored,) = await identities_of_sub(app, sub)
        assert stored.issuer == oidc_provider.issuer
        assert str(stored.user_id) == profile["id"]

        # no password: no password works
        for password in (PASSWORD, "x" * 12):
            assert_problem(await app.login(email, password), 401, "invalid_credentials")

        # the owner can set one through forgot-password, then sign in with it
        forgot = await app.client.post("/auth/forgot-password", json={"email": email})
        assert forgot.status_code == 202, forgot.text
        token = link_token(await app.mail.wait_for(email, subject="Reset your password"))
        reset = await app.client.post(
            "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 200, reset.text
        login = await app.login(email, NEW_PASSWORD)
        assert login.status_code == 200, login.text
        after = await me(app, login.json()["access_token"])
        assert after["id"] == profile["id"]
        assert after["has_password"] is True

    @pytest.mark.requirement("ASVS-16.3.1")
    async def test_the_new_account_is_recorded_with_the_provider_method(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-events")
        sub = provider_user(oidc_provider, email)
        await signed_in_with_provider(app, sub)
        user_id = await user_id_of(app, email)
        registered = await events_of(app, user_id, "user_registered")
        assert [event.details for event in registered] == [{"method": "oidc:local"}]
        logins = await events_of(app, user_id, "login_succeeded")
        assert [event.details for event in logins] == [{"method": "oidc:local"}]
        assert [event.details for event in await events_of(app, user_id, "identity_linked")] == [
            {"provider": "local"}
        ]
        # a new account is not told that a provider "was added"
        await app.settle()
        assert app.mail.to(email) == []

    async def test_the_provider_email_is_normalised(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-case")
        sub = provider_user(oidc_provider, f"  {email.upper()}")
        access = await signed_in_with_provider(app, sub)
        assert (await me(app, access))["email"] == email
        assert await users_with_email(app, email) == 1

    @pytest.mark.parametrize(
        "claims",
        [
            {"verified": False},
            {"verified": None},  # no email_verified claim at all
            {"verified": True, "no_email": True},  # verified, but no address
        ],
        ids=["email-verified-false", "email-verified-missing", "no-email"],
    )
    async def test_an_unverified_or_missing_email_creates_nothing(
        self, app: Api, oidc_provider: OidcProvider, claims: dict[str, Any]
    ) -> None:
        email = unique_email("oidc-unverified")
        sub = provider_user(
            oidc_provider, None if claims.get("no_email") else email, verified=claims["verified"]
        )

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        assert_error(response, "email_not_verified")
        await assert_no_session(app.client, response)
        assert await users_with_email(app, email) == 0
        assert await identities_of_sub(app, sub) == []
        (failed,) = await rows(
            app,
            select(SecurityEvent)
            .where(SecurityEvent.type == "login_failed", SecurityEvent.user_id.is_(None))
            .order_by(SecurityEvent.id.desc())
            .limit(1),
        )
        assert failed.details == {"method": "oidc:local", "reason": "email_not_verified"}


# --- later sign-ins: the same (issuer, subject) --------------------------------------------------
class TestReturningUser:
    @pytest.mark.requirement("ASVS-10.5.2")
    async def test_the_same_sub_signs_in_to_the_same_account(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-again")
        sub = provider_user(oidc_provider, email)
        first_access = await signed_in_with_provider(app, sub)
        first = await me(app, first_access)
        (first_identity,) = await identities(app, first_access)

        second_access = await signed_in_with_provider(app, sub)

        assert (await me(app, second_access))["id"] == first["id"]
        (second_identity,) = await identities(app, second_access)
        assert second_identity["id"] == first_identity["id"]
        assert second_identity["created_at"] == first_identity["created_at"]
        assert datetime.fromisoformat(second_identity["last_used_at"]) > datetime.fromisoformat(
            first_identity["last_used_at"]
        )
        assert len(await identities_of_sub(app, sub)) == 1
        assert await users_with_email(app, email) == 1
        assert await sessions_of(app, uuid.UUID(first["id"])) == 2

    @pytest.mark.requirement("ASVS-10.5.2")
    async def test_a_changed_provider_email_still_maps_to_the_same_account(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email, changed = unique_email("oidc-before"), unique_email("oidc-after")
        sub = provider_user(oidc_provider, email)
        first = await me(app, await signed_in_with_provider(app, sub))

        provider_user(oidc_provider, changed, sub=sub)
        access = await signed_in_with_provider(app, sub)

        profile = await me(app, access)
        assert profile["id"] == first["id"], "identities are by (iss, sub), not by email"
        assert profile["email"] == email, "the account's own address does not follow"
        (identity,) = await identities(app, access)
        assert identity["email"] == changed
        assert await users_with_email(app, changed) == 0
        assert len(await identities_of_sub(app, sub)) == 1

    async def test_a_known_sub_signs_in_even_when_its_email_is_no_longer_verified(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-known")
        sub = provider_user(oidc_provider, email)
        first = await me(app, await signed_in_with_provider(app, sub))
        provider_user(oidc_provider, unique_email("oidc-unverified-now"), verified=False, sub=sub)
        assert (await me(app, await signed_in_with_provider(app, sub)))["id"] == first["id"]


# --- first sign-in with the address of an existing account ---------------------------------------
class TestExistingAccount:
    async def test_verified_on_both_sides_links_the_provider(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = await app.create_user()
        user_id = await user_id_of(app, email)
        sub = provider_user(oidc_provider, email)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        assert_signed_in(response)
        access = await access_from_cookie(app.client)
        assert (await me(app, access))["id"] == str(user_id)
        (identity,) = await identities(app, access)
        assert identity["provider"] == "local"
        assert identity["email"] == email
        notice = await app.mail.wait_for(email, subject="sign-in was added")
        assert "Local" in str(notice["Subject"])
        login = await app.login(email)
        assert login.status_code == 200, "the password still works"
        assert (await me(app, login.json()["access_token"]))["id"] == str(user_id)

    @pytest.mark.parametrize("verified", [False, None], ids=["false", "missing"])
    async def test_an_unverified_provider_email_is_refused(
        self, app: Api, oidc_provider: OidcProvider, verified: bool | None
    ) -> None:
        email = await app.create_user()
        user_id = await user_id_of(app, email)
        sub = provider_user(oidc_provider, email, verified=verified)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        # the same answer as for an address without an account (issue 12, item 7)
        assert_error(response, "email_not_verified")
        await assert_no_session(app.client, response)
        assert await identities_of_sub(app, sub) == []
        assert await sessions_of(app, user_id) == 0
        # refused before any account was looked up: nothing is said about this one
        assert await events_of(app, user_id, "login_failed") == []
        await app.settle()
        assert [str(m["Subject"]) for m in app.mail.to(email)] == ["Confirm your email address"]

    async def test_an_unverified_local_account_is_refused(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = await app.create_unverified_user()
        user_id = await user_id_of(app, email)
        sub = provider_user(oidc_provider, email, verified=True)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        assert_error(response, "account_exists")
        await assert_no_session(app.client, response)
        assert await identities_of_sub(app, sub) == []
        assert await sessions_of(app, user_id) == 0
        (user,) = await rows(app, select(User).where(User.id == user_id))
        assert user.email_verified_at is None, "the provider must not verify the local account"


# --- accounts with two-factor authentication ------------------------------------------------------
class TestMfa:
    @pytest.mark.requirement("ASVS-2.3.1", "ASVS-6.3.4")
    @pytest.mark.parametrize("redirect_to", [None, DEEP_TARGET], ids=["default", "with-query"])
    async def test_a_provider_sign_in_needs_the_second_factor(
        self, app: Api, oidc_provider: OidcProvider, redirect_to: str | None
    ) -> None:
        user = await mfa_user(app)
        user_id = await user_id_of(app, user.email)
        sub = provider_user(oidc_provider, user.email)  # linked by the verified address
        sessions_before = await sessions_of(app, user_id)

        response = await OidcBrowser(app.client).sign_in(sub=sub, redirect_to=redirect_to)

        assert response.status_code == 302, response.text
        location = response.headers["location"]
        target, _, fragment = location.partition("#")
        expected = f"{DEEP_TARGET}&" if redirect_to else f"{REDIRECT}?"
        assert target == f"{expected}error=mfa_required", location
        answer = parse_qs(fragment, strict_parsing=True)
        assert set(answer) == {"mfa_token", "expires_in"}, location
        assert int(answer["expires_in"][0]) > 0
        await assert_no_session(app.client, response)
        assert await sessions_of(app, user_id) == sessions_before
        challenged = await events_of(app, user_id, "mfa_challenged")
        assert challenged[-1].details == {"method": "oidc:local"}

        finished = await submit(app, answer["mfa_token"][0], next_code(user.app))

        assert finished.status_code == 200, finished.text
        access = finished.json()["access_token"]
        assert (await me(app, access))["id"] == str(user_id)
        logins = await events_of(app, user_id, "login_succeeded")
        assert logins[-1].details == {"method": "oidc:local+totp"}, (
            "the session is recorded as a provider sign-in completed with TOTP"
        )
        sessions = await app.client.get("/auth/sessions", headers=bearer(access))
        assert sessions.status_code == 200, sessions.text
        current = [s for s in sessions.json()["sessions"] if s["current"]]
        assert len(current) == 1
        assert logins[-1].session_id == uuid.UUID(current[0]["id"])

    async def test_an_identity_linked_while_signed_in_also_needs_the_second_factor(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        user = await mfa_user(app)
        sub = provider_user(oidc_provider, unique_email("oidc-mfa-other"))
        linked = await OidcBrowser(app.client).link(user.tokens.access, sub=sub)
        assert linked.headers["location"] == f"{REDIRECT}?linked=local"

        async with client_from(app, unique_ip()) as other_browser:
            response = await OidcBrowser(other_browser).sign_in(sub=sub)
            assert response.headers["location"].startswith(f"{REDIRECT}?error=mfa_required#")
            await assert_no_session(other_browser, response)


# --- what the id_token carries ----------------------------------------------------------------
class TestUserinfo:
    async def test_claims_in_the_id_token_spare_the_userinfo_request(
        self,
        oidc_app: Callable[..., Any],
        oidc_provider_claims_in_id_token: OidcProvider,
    ) -> None:
        provider = oidc_provider_claims_in_id_token
        email = unique_email("oidc-idtoken")
        sub = provider_user(provider, email)
        async with oidc_app(provider) as api:
            before = provider.request_counts()
            access = await signed_in_with_provider(api, sub)
            after = provider.request_counts()
            assert (await me(api, access))["email"] == email
        assert delta(before, after, "/token") == 1
        assert delta(before, after, "/me") == 0, "userinfo was asked although the id_token had all"

    async def test_an_id_token_without_email_asks_userinfo_once(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-userinfo")
        sub = provider_user(oidc_provider, email)
        before = oidc_provider.request_counts()
        access = await signed_in_with_provider(app, sub)
        after = oidc_provider.request_counts()
        assert (await me(app, access))["email"] == email
        assert delta(before, after, "/token") == 1
        assert delta(before, after, "/me") == 1

    async def test_discovery_and_keys_are_fetched_once_per_app(
        self, oidc_app: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        subs = [provider_user(oidc_provider, unique_email("oidc-cache")) for _ in range(2)]
        before = oidc_provider.request_counts()
        async with oidc_app() as api:
            for sub in subs:
                async with client_from(api, unique_ip()) as browser:
                    await signed_in_with_provider(api, sub, browser)
        after = oidc_provider.request_counts()
        assert delta(before, after, "/token") == 2
        assert delta(before, after, DISCOVERY) == 1
        assert delta(before, after, "/jwks") == 1


class TestIssuerSpelling:
    async def test_an_issuer_ending_in_a_slash_is_kept_as_written_and_signs_in(
        self, oidc_app: Callable[..., Any]
    ) -> None:
        # Auth0 spells its issuers so: discovery, id_token and callback all name it with "/"
        with start_provider(issuer_trailing_slash=True) as provider:
            assert provider.issuer.endswith("/")
            email = unique_email("oidc-slash")
            sub = provider_user(provider, email)
            async with oidc_app(provider) as api:
                access = await signed_in_with_provider(api, sub)
                assert (await me(api, access))["email"] == email


# --- the user says no, and where the browser lands ---------------------------------------------
class TestOutcomes:
    async def test_access_denied_at_the_provider(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        sub = provider_user(oidc_provider, unique_email("oidc-deny"))
        browser = OidcBrowser(app.client)
        started = await browser.authorize()
        assert started.status_code == 302, started.text

        back = await browser.at_provider(started.headers["location"], sub=sub, deny=True)

        assert back.startswith(f"{CALLBACK}?")
        assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]
        response = await browser.callback(back)
        assert_error(response, "access_denied")
        await assert_no_session(app.client, response)
        assert await identities_of_sub(app, sub) == []

    async def test_a_target_under_the_tree_is_kept_exactly(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-deep")
        sub = provider_user(oidc_provider, email)
        response = await OidcBrowser(app.client).sign_in(sub=sub, redirect_to=DEEP_TARGET)
        assert_signed_in(response, location=DEEP_TARGET)
        assert (await me(app, await access_from_cookie(app.client)))["email"] == email

    async def test_errors_are_appended_to_the_targets_query(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        refused = provider_user(oidc_provider, unique_email("oidc-deep-no"), verified=False)
        response = await OidcBrowser(app.client).sign_in(sub=refused, redirect_to=DEEP_TARGET)
        assert_error(response, "email_not_verified", redirect_to=DEEP_TARGET)
        assert response.headers["location"] == f"{DEEP_TARGET}&error=email_not_verified"
        await assert_no_session(app.client, response)

        browser = OidcBrowser(app.client)
        started = await browser.authorize(redirect_to=DEEP_TARGET)
        back = await browser.at_provider(started.headers["location"], sub=new_sub(), deny=True)
        denied = await browser.callback(back)
        assert denied.headers["location"] == f"{DEEP_TARGET}&error=access_denied"


# --- linking a provider to the signed-in account --------------------------------------------------
class TestLinking:
    @pytest.mark.requirement("NIST-63B-4.1.2.1")
    async def test_link_while_signed_in(self, app: Api, oidc_provider: OidcProvider) -> None:
        tokens = await app.signed_in()
        provider_email = unique_email("oidc-link")
        sub = provider_user(oidc_provider, provider_email)

        started = await app.client.post(
            "/users/me/identities",
            json={"provider": "local", "password": PASSWORD},
            headers=bearer(tokens.access),
        )

        assert started.status_code == 200, started.text
        assert started.headers["cache-control"] == "no-store"
        url = started.json()["authorization_url"]
        assert set(started.json()) == {"authorization_url"}
        assert url.startswith(f"{oidc_provider.issuer}/auth?")
        query = parse_qs(urlsplit(url).query)
        assert query["redirect_uri"] == [CALLBACK]
        assert query["code_challenge_method"] == ["S256"]
        oauth = set_cookies(started)[OAUTH_COOKIE]
        assert oauth["path"] == "/auth/oauth"
        assert "httponly" in oauth
        assert oauth["samesite"].lower() == "lax"
        assert oauth["max-age"] == "600"

        response = await OidcBrowser(app.client).callback(
            await OidcBrowser(app.client).at_provider(url, sub=sub)
        )

        assert response.status_code == 302, response.text
        assert response.headers["location"] == f"{REDIRECT}?linked=local"
        assert REFRESH_COOKIE not in set_cookies(response), "linking starts no session"
        (identity,) = await identities(app, tokens.access)
        assert identity["provider"] == "local"
        assert identity["email"] == provider_email
        notice = await app.mail.wait_for(tokens.email, subject="sign-in was added")
        assert "Local" in str(notice["Subject"])
        # the provider now signs in to this account
        async with client_from(app, unique_ip()) as other_browser:
            access = await signed_in_with_provider(app, sub, other_browser)
        profile = await me(app, access)
        assert profile["email"] == tokens.email
        assert await users_with_email(app, provider_email) == 0

    async def test_linking_keeps_a_target_under_the_tree(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        tokens = await app.signed_in()
        sub = provider_user(oidc_provider, unique_email("oidc-link-deep"))
        response = await OidcBrowser(app.client).link(
            tokens.access, sub=sub, redirect_to=DEEP_TARGET
        )
        assert response.headers["location"] == f"{DEEP_TARGET}&linked=local"

    async def test_linking_an_identity_of_another_account_is_refused(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        owner_email = unique_email("oidc-owner")
        sub = provider_user(oidc_provider, owner_email)
        async with client_from(app, unique_ip()) as owner_browser:
            owner_access = await signed_in_with_provider(app, sub, owner_browser)
        other = await app.signed_in()

        response = await OidcBrowser(app.client).link(other.access, sub=sub)

        assert_error(response, "identity_in_use")
        assert await identities(app, other.access) == []
        (identity,) = await identities_of_sub(app, sub)
        assert str(identity.user_id) == (await me(app, owner_access))["id"]
        other_id = await user_id_of(app, other.email)
        failed = await events_of(app, other_id, "login_failed")
        assert [event.details for event in failed] == [
            {"method": "oidc:local", "reason": "identity_in_use"}
        ]

    async def test_linking_the_same_identity_again_changes_nothing(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        tokens = await app.signed_in()
        sub = provider_user(oidc_provider, unique_email("oidc-twice"))
        for _ in range(2):
            response = await OidcBrowser(app.client).link(tokens.access, sub=sub)
            assert response.headers["location"] == f"{REDIRECT}?linked=local"
        assert len(await identities(app, tokens.access)) == 1

    async def test_linking_after_the_session_ended_is_refused(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        tokens = await app.signed_in()
        sub = provider_user(oidc_provider, unique_email("oidc-gone"))
        browser = OidcBrowser(app.client)
        started = await app.client.post(
            "/users/me/identities",
            json={"provider": "local", "password": PASSWORD},
            headers=bearer(tokens.access),
        )
        assert started.status_code == 200, started.text
        back = await browser.at_provider(started.json()["authorization_url"], sub=sub)
        logout = await app.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        assert logout.status_code == 204, logout.text

        response = await browser.callback(back)

        assert_error(response, "not_signed_in")
        await assert_no_session(app.client, response)
        assert await identities_of_sub(app, sub) == []
        fresh = await app.signed_in(tokens.email)
        assert await identities(app, fresh.access) == []

    async def test_linking_needs_a_bearer_token(self, app: Api) -> None:
        response = await app.client.post("/users/me/identities", json={"provider": "local"})
        assert response.status_code == 401, response.text
        assert OAUTH_COOKIE not in set_cookies(response)


# --- unlinking ----------------------------------------------------------------------------
class TestUnlinking:
    async def linked(self, api: Api, provider: OidcProvider, tokens: Tokens) -> tuple[str, str]:
        """Link a new provider account to `tokens`' account; (identity id, sub)."""
        provider_email = unique_email("oidc-unlink")
        sub = provider_user(provider, provider_email)
        response = await OidcBrowser(api.client).link(tokens.access, sub=sub)
        assert response.headers["location"] == f"{REDIRECT}?linked=local"
        listed = await identities(api, tokens.access)
        (identity,) = [i for i in listed if i["email"] == provider_email]
        identity_id: str = identity["id"]
        return identity_id, sub

    async def test_unlink_removes_the_identity_and_tells_the_owner(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        tokens = await app.signed_in()
        identity_id, sub = await self.linked(app, oidc_provider, tokens)

        response = await app.client.delete(
            f"/users/me/identities/{identity_id}", headers=bearer(tokens.access)
        )

        assert response.status_code == 204, response.text
        assert response.content == b""
        assert await identities(app, tokens.access) == []
        assert await identities_of_sub(app, sub) == []
        notice = await app.mail.wait_for(tokens.email, subject="removed")
        assert "Local" in str(notice["Subject"])
        user_id = await user_id_of(app, tokens.email)
        unlinked = await events_of(app, user_id, "identity_unlinked")
        assert [event.details for event in unlinked] == [{"provider": "local"}]
        again = await app.client.delete(
            f"/users/me/identities/{identity_id}", headers=bearer(tokens.access)
        )
        assert_problem(again, 404, "identity_not_found")

    async def test_the_only_way_to_sign_in_cannot_be_removed(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-only")
        sub = provider_user(oidc_provider, email)
        access = await signed_in_with_provider(app, sub)
        (identity,) = await identities(app, access)

        response = await app.client.delete(
            f"/users/me/identities/{identity['id']}", headers=bearer(access)
        )

        assert_problem(response, 409, "last_sign_in_method")
        assert [i["id"] for i in await identities(app, access)] == [identity["id"]]
        assert len(await identities_of_sub(app, sub)) == 1

    async def test_a_provider_only_account_can_remove_one_of_two_identities(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = unique_email("oidc-two")
        first_sub = provider_user(oidc_provider, email)
        access = await signed_in_with_provider(app, first_sub)
        (first,) = await identities(app, access)
        second_sub = provider_user(oidc_provider, unique_email("oidc-second"))
        linked = await OidcBrowser(app.client).link(access, sub=second_sub, password=None)
        assert linked.headers["location"] == f"{REDIRECT}?linked=local"
        assert len(await identities(app, access)) == 2

        response = await app.client.delete(
            f"/users/me/identities/{first['id']}", headers=bearer(access)
        )

        assert response.status_code == 204, response.text
        (remaining,) = await identities(app, access)
        last = await app.client.delete(
            f"/users/me/identities/{remaining['id']}", headers=bearer(access)
        )
        assert_problem(last, 409, "last_sign_in_method")

    async def test_unknown_and_foreign_identities_are_404(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        owner = await app.signed_in()
        identity_id, sub = await self.linked(app, oidc_provider, owner)
        stranger = await app.signed_in()

        unknown = await app.client.delete(
            f"/users/me/identities/{uuid.uuid4()}", headers=bearer(stranger.access)
        )
        assert_problem(unknown, 404, "identity_not_found")
        foreign = await app.client.delete(
            f"/users/me/identities/{identity_id}", headers=bearer(stranger.access)
        )
        assert_problem(foreign, 404, "identity_not_found")
        assert [i["id"] for i in await identities(app, owner.access)] == [identity_id]
        assert len(await identities_of_sub(app, sub)) == 1
        await app.settle()
        assert not [m for m in app.mail.to(owner.email) if "removed" in str(m["Subject"])]


class TestAccountWithoutPassword:
    """An account made through a provider confirms changes by a recent sign-in (RFC 9470
    max_age, 5 minutes) instead of the password it does not have."""

    async def _provider_account(self, app: Api, provider: OidcProvider) -> tuple[str, str]:
        email = unique_email("no-password")
        access = await signed_in_with_provider(app, provider_user(provider, email))
        return email, access

    async def _age_sessions(self, app: Api, email: str, minutes: int) -> None:
        sessionmaker = app.app.state.resources.sessionmaker
        async with sessionmaker.begin() as db:
            user_id = await db.scalar(select(User.id).where(User.email == email))
            await db.execute(
                update(UserSession)
                .where(UserSession.user_id == user_id)
                .values(created_at=datetime.now(UTC) - timedelta(minutes=minutes))
            )

    async def test_a_fresh_sign_in_deletes_the_account_without_a_password(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email, access = await self._provider_account(app, oidc_provider)
        deleted = await app.client.request("DELETE", "/users/me", json={}, headers=bearer(access))
        assert deleted.status_code == 204, deleted.text
        assert await users_with_email(app, email) == 0

    @pytest.mark.requirement("ASVS-10.3.4", "NIST-63B-5.1.2")
    async def test_an_old_session_must_sign_in_again(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email, access = await self._provider_account(app, oidc_provider)
        await self._age_sessions(app, email, minutes=6)
        refused = await app.client.request("DELETE", "/users/me", json={}, headers=bearer(access))
        assert_problem(refused, 401, "reauthentication_required")
        challenge = refused.headers["www-authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge
        assert "max_age=300" in challenge
        assert await users_with_email(app, email) == 1
        moved = await app.client.post(
            "/users/me/email", json={"new_email": unique_email("moved")}, headers=bearer(access)
        )
        assert_problem(moved, 401, "reauthentication_required")

        # a new sign-in through the provider is the confirmation
        again = await signed_in_with_provider(app, (await self._sub_of(app, email)))
        deleted = await app.client.request("DELETE", "/users/me", json={}, headers=bearer(again))
        assert deleted.status_code == 204, deleted.text

    async def _sub_of(self, app: Api, email: str) -> str:
        async with app.app.state.resources.sessionmaker() as db:
            subject = await db.scalar(select(Identity.subject).where(Identity.email == email))
        assert subject is not None
        return str(subject)

    async def test_a_password_is_never_accepted_for_an_account_without_one(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email, access = await self._provider_account(app, oidc_provider)
        for password in (PASSWORD, "x"):
            refused = await app.client.request(
                "DELETE", "/users/me", json={"password": password}, headers=bearer(access)
            )
            assert_problem(refused, 401, "invalid_credentials")
        assert await users_with_email(app, email) == 1

    async def test_an_account_with_a_password_must_send_it(self, app: Api) -> None:
        tokens = await app.signed_in()
        for body in ({}, {"password": None}):
            refused = await app.client.request(
                "DELETE", "/users/me", json=body, headers=bearer(tokens.access)
            )
            assert_problem(refused, 401, "invalid_credentials")
        moved = await app.client.post(
            "/users/me/email",
            json={"new_email": unique_email("moved")},
            headers=bearer(tokens.access),
        )
        assert_problem(moved, 401, "invalid_credentials")
        assert (await app.me(tokens.access)).status_code == 200

    async def test_email_change_and_mfa_off_with_a_fresh_sign_in(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email, access = await self._provider_account(app, oidc_provider)
        moved = await app.client.post(
            "/users/me/email", json={"new_email": unique_email("moved")}, headers=bearer(access)
        )
        assert moved.status_code == 202, moved.text

        user = await enable_totp(app, Tokens(email=email, access=access, refresh=""), password=None)
        turned_off = await app.client.post(
            "/auth/mfa/totp/disable", json={"code": next_code(user.app)}, headers=bearer(access)
        )
        assert turned_off.status_code == 204, turned_off.text
