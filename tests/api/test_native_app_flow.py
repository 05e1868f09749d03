"""Native apps signing in with a provider in the system browser (RFC 8252 with RFC 7636):
`/auth/oauth/{provider}/authorize` with the app's code challenge and its own scheme,
the provider, a one-time code at the app's redirect, then `POST /auth/token`
(`grant_type=authorization_code`) for tokens in the body.

SPEC (native apps): the flow from authorize to code exchange; a wrong verifier, a reused
code, an expired code and an unlisted scheme refused; a private-use scheme without a
code challenge refused (400); no session or refresh cookie in the system browser.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis

from tests.conftest import Api, Tokens, assert_problem, expire_stashed, stash_keys
from tests.mfa import enable_totp
from tests.oidc import REDIRECT, REDIRECT_TREE, OidcBrowser, OidcProvider, oidc_settings

APP_REDIRECT = "com.example.app:/oauth/callback"


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), as the app makes them."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
async def app(make_api: Callable[..., Any], oidc_provider: OidcProvider) -> AsyncIterator[Api]:
    settings = oidc_settings(
        oidc_provider,
        allowed_redirects=[REDIRECT, REDIRECT_TREE, APP_REDIRECT],
        oidc_code_ttl_seconds=10,
    )
    async with make_api(**settings) as api:
        yield api


def person(provider: OidcProvider) -> str:
    sub = f"sub-{secrets.token_hex(6)}"
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    return sub


async def authorize(api: Api, **params: str) -> httpx.Response:
    return await api.client.get(
        "/auth/oauth/local/authorize", params=params, follow_redirects=False
    )


async def code_for(
    api: Api, provider: OidcProvider, sub: str, challenge: str, state: str = "app-state"
) -> str:
    """The system browser's part: authorize, the provider, the callback; returns the code
    the app's redirect carries (and checks that the browser keeps no session)."""
    started = await authorize(
        api,
        redirect_to=APP_REDIRECT,
        code_challenge=challenge,
        code_challenge_method="S256",
        state=state,
    )
    assert started.status_code == 302, started.text
    browser = OidcBrowser(api.client)
    back = await browser.callback(await browser.at_provider(started.headers["location"], sub=sub))
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(APP_REDIRECT + "?"), location
    cookies = back.headers.get_list("set-cookie")
    assert not any(c.startswith(api.settings.refresh_cookie_name) for c in cookies)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return query["code"][0]


async def exchange(
    api: Api, code: str, verifier: str, redirect_uri: str = APP_REDIRECT
) -> httpx.Response:
    return await api.client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
        },
    )


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["code"] == "invalid_authorization_code"


async def test_from_authorize_to_tokens_in_the_body(app: Api, oidc_provider: OidcProvider) -> None:
    verifier, challenge = pkce()
    code = await code_for(app, oidc_provider, person(oidc_provider), challenge)
    response = await exchange(app, code, verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert "refresh_token" in body
    assert "set-cookie" not in response.headers
    assert (await app.me(body["access_token"])).status_code == 200
    assert (await app.refresh(body["refresh_token"])).status_code == 200


async def test_a_claimed_https_link_gets_the_code_too(
    app: Api, oidc_provider: OidcProvider
) -> None:
    """An app may claim an https link (Universal Links, App Links) instead of a scheme."""
    verifier, challenge = pkce()
    started = await authorize(
        app, redirect_to=REDIRECT, code_challenge=challenge, code_challenge_method="S256"
    )
    browser = OidcBrowser(app.client)
    sub = person(oidc_provider)
    back = await browser.callback(await browser.at_provider(started.headers["location"], sub=sub))
    location = back.headers["location"]
    assert location.startswith(f"{REDIRECT}?code="), location
    code = parse_qs(urlsplit(location).query)["code"][0]
    assert (await exchange(app, code, verifier, REDIRECT)).status_code == 200


@pytest.mark.requirement("RFC7636-4.6")
async def test_a_wrong_verifier_is_refused_and_uses_the_code_up(
    app: Api, oidc_provider: OidcProvider
) -> None:
    verifier, challenge = pkce()
    code = await code_for(app, oidc_provider, person(oidc_provider), challenge)
    assert_invalid_grant(await exchange(app, code, pkce()[0]))
    assert_invalid_grant(await exchange(app, code, verifier))


@pytest.mark.requirement("ASVS-10.4.2")
async def test_a_reused_code_is_refused_and_ends_the_session_it_started(
    app: Api, oidc_provider: OidcProvider
) -> None:
    verifier, challenge = pkce()
    code = await code_for(app, oidc_provider, person(oidc_provider), challenge)
    first = await exchange(app, code, verifier)
    assert first.status_code == 200
    assert_invalid_grant(await exchange(app, code, verifier))
    assert_problem(await app.me(first.json()["access_token"]), 401, "invalid_token")
    assert_problem(await app.refresh(first.json()["refresh_token"]), 401, "invalid_refresh_token")


async def test_another_redirect_uri_is_refused(app: Api, oidc_provider: OidcProvider) -> None:
    verifier, challenge = pkce()
    code = await code_for(app, oidc_provider, person(oidc_provider), challenge)
    assert_invalid_grant(await exchange(app, code, verifier, "com.example.app:/other"))


async def test_an_expired_code_is_refused(
    app: Api,
    oidc_provider: OidcProvider,
    redis_client: redis.Redis | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier, challenge = pkce()
    sub = person(oidc_provider)
    before = await stash_keys(app, redis_client)
    code = await code_for(app, oidc_provider, sub, challenge)
    (key,) = await stash_keys(app, redis_client) - before  # the code's (the state is taken)
    await expire_stashed(app, key, redis_client, monkeypatch)
    assert_invalid_grant(await exchange(app, code, verifier))


async def test_an_unlisted_scheme_is_refused(app: Api) -> None:
    _, challenge = pkce()
    response = await authorize(
        app,
        redirect_to="com.evil.app:/oauth/callback",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert_problem(response, 400, "redirect_not_allowed")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"code_challenge_method": "S256"},
        {"code_challenge": "x" * 43, "code_challenge_method": "plain"},
        {"code_challenge": "short", "code_challenge_method": "S256"},
    ],
    ids=["none", "no-challenge", "plain", "malformed"],
)
async def test_an_apps_scheme_needs_an_s256_code_challenge(
    app: Api, params: dict[str, str]
) -> None:
    response = await authorize(app, redirect_to=APP_REDIRECT, **params)
    assert_problem(response, 400, "invalid_code_challenge")


async def test_an_account_with_two_factor_authentication_gets_the_second_step_in_the_app(
    app: Api, oidc_provider: OidcProvider
) -> None:
    sub = person(oidc_provider)
    verifier, challenge = pkce()
    first = await exchange(app, await code_for(app, oidc_provider, sub, challenge), verifier)
    assert first.status_code == 200, first.text

    tokens = Tokens(
        f"{sub}@example.com", first.json()["access_token"], first.json()["refresh_token"]
    )
    await enable_totp(app, tokens, password=None)
    _, challenge = pkce()
    started = await authorize(
        app, redirect_to=APP_REDIRECT, code_challenge=challenge, code_challenge_method="S256"
    )
    browser = OidcBrowser(app.client)
    back = await browser.callback(await browser.at_provider(started.headers["location"], sub=sub))
    location = back.headers["location"]
    assert location.startswith(f"{APP_REDIRECT}?error=mfa_required#mfa_token="), location


@pytest.mark.parametrize("missing", ["code", "code_verifier", "redirect_uri"])
async def test_an_exchange_without_a_parameter_is_invalid_request(app: Api, missing: str) -> None:
    form = {"grant_type": "authorization_code", "code": "c", "code_verifier": "v"}
    form["redirect_uri"] = APP_REDIRECT
    del form[missing]
    response = await app.client.post("/auth/token", data=form)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert missing in response.json()["error_description"]
