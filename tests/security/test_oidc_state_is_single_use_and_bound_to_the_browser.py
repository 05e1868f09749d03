"""OIDC `state`: genuine, single use, bound to the browser and the provider, short-lived;
and PKCE (SPEC security property: "OIDC: state, nonce and PKCE verified").

Every sign-in starts at GET /auth/oauth/{provider}/authorize, which stores the state
(keyed by a hash of it) together with a hash of a secret that only the starting browser
holds (the `authapi_oauth` cookie). The callback takes the state out of the store before
anything else. Whatever is wrong with it (missing, made up, replayed, another browser's,
another provider's, expired) ends as 400 problem+json `invalid_oauth_state`: no redirect,
no cookie, no session. Only a callback that passes these checks reaches the provider's
token endpoint, where PKCE binds the code to the verifier of its own sign-in.

All flows run against the real OpenID provider of tests/oidc.py, on both backends.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import redis

from tests.conftest import (
    Api,
    assert_problem,
    client_from,
    expire_stashed,
    stash_keys,
    unique_email,
)
from tests.oidc import REDIRECT, FormPost, OidcBrowser, OidcProvider, oidc_settings

OAUTH_COOKIE = "authapi_oauth"
REFRESH_COOKIE = "authapi_refresh"
JAR_DOMAIN = "testserver.local"  # how http.cookiejar files cookies of https://testserver
XRW = {"X-Requested-With": "XMLHttpRequest"}
VICTIM_IP = "198.51.100.77"


# --- fixtures and helpers ----------------------------------------------------------------
@pytest.fixture
def app(oidc_api: Api) -> Api:
    """An app with the run's provider as "local" (conftest's oidc_api)."""
    return oidc_api


def provider_user(provider: OidcProvider) -> str:
    """A new account at the provider (verified address); returns its sub."""
    sub = f"state-{uuid.uuid4().hex}"
    provider.set_user(sub, email=unique_email("oidc-state"), email_verified=True, name="Ada")
    return sub


@dataclass(frozen=True)
class Pending:
    """A sign-in that came back from the provider but has not been delivered to the app."""

    callback: str  # the URL the provider sent the browser to (code, state, iss)
    cookie: str  # the starting browser's authapi_oauth value
    authorization_url: str

    @property
    def state(self) -> str:
        return parse_qs(urlsplit(self.callback).query)["state"][0]

    @property
    def code(self) -> str:
        return parse_qs(urlsplit(self.callback).query)["code"][0]


async def pending_sign_in(
    browser: OidcBrowser, provider: OidcProvider, provider_name: str = "local"
) -> Pending:
    started = await browser.authorize(provider_name)
    assert started.status_code == 302, started.text
    cookie = browser.app.cookies.get(OAUTH_COOKIE)
    assert cookie, "authorize set no authapi_oauth cookie"
    authorization_url = started.headers["location"]
    callback = await browser.at_provider(authorization_url, sub=provider_user(provider))
    return Pending(callback=callback, cookie=cookie, authorization_url=authorization_url)


def changed(url: str, *, path: str | None = None, **params: str | None) -> str:
    """`url` with query parameters replaced (None removes one) and optionally another path."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in params.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(path=path or parts.path, query=urlencode(query)))


def put_oauth_cookie(client: httpx.AsyncClient, value: str) -> None:
    """Give a browser an authapi_oauth cookie, as if the app had set it."""
    client.cookies.set(OAUTH_COOKIE, value, domain=JAR_DOMAIN, path="/auth/oauth")


def assert_state_refused(response: httpx.Response) -> None:
    """400 invalid_oauth_state, and nothing a browser would act on: no redirect, no cookie."""
    assert_problem(response, 400, "invalid_oauth_state")
    assert "location" not in response.headers, response.headers
    assert response.headers.get_list("set-cookie") == [], "a refused callback set cookies: " + repr(
        response.headers.get_list("set-cookie")
    )


async def assert_not_signed_in(client: httpx.AsyncClient) -> None:
    assert REFRESH_COOKIE not in client.cookies, "the browser holds a refresh cookie"
    refreshed = await client.post("/auth/refresh", headers=XRW)
    assert_problem(refreshed, 401, "invalid_refresh_token")


async def assert_signed_in(response: httpx.Response, client: httpx.AsyncClient) -> None:
    assert response.status_code == 302, response.text
    assert response.headers["location"] == REDIRECT
    assert any(
        header.startswith(f"{REFRESH_COOKIE}=")
        for header in response.headers.get_list("set-cookie")
    ), response.headers
    refreshed = await client.post("/auth/refresh", headers=XRW)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"]


# --- a state must be present and genuine --------------------------------------------------
class TestStateMustBeGenuine:
    async def test_callback_without_state_is_refused(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        browser = OidcBrowser(app.client)
        pending = await pending_sign_in(browser, oidc_provider)

        assert_state_refused(await browser.callback(changed(pending.callback, state=None)))
        assert_state_refused(await app.client.get("/auth/oauth/local/callback"))
        await assert_not_signed_in(app.client)

        # control: the same callback with its state signs in, so the state was all it lacked
        await assert_signed_in(await browser.callback(pending.callback), app.client)

    @pytest.mark.parametrize(
        "forge",
        [
            lambda state: secrets.token_urlsafe(32),
            lambda state: "",
            lambda state: state[:-1] + ("A" if state[-1] != "A" else "B"),
            lambda state: state.upper() if state.upper() != state else state.lower(),
            lambda state: state + state,
            lambda state: "x" * 600,
        ],
        ids=["made-up", "empty", "last-character-changed", "case-changed", "doubled", "long"],
    )
    @pytest.mark.requirement("ASVS-10.2.1", "RFC9700-4.7")
    async def test_wrong_state_is_refused(
        self, app: Api, oidc_provider: OidcProvider, forge: Callable[[str], str]
    ) -> None:
        browser = OidcBrowser(app.client)
        pending = await pending_sign_in(browser, oidc_provider)
        forged = forge(pending.state)
        assert forged != pending.state

        assert_state_refused(await browser.callback(changed(pending.callback, state=forged)))
        await assert_not_signed_in(app.client)
        assert (
            await app.client.get("/auth/oauth/local/callback", params={"state": forged})
        ).json()["code"] == "invalid_oauth_state"

        # control: the genuine callback still works (a wrong state spends nothing)
        await assert_signed_in(await browser.callback(pending.callback), app.client)


# --- single use ----------------------------------------------------------------------------
class TestStateIsSingleUse:
    @pytest.mark.requirement("ASVS-10.1.2", "ASVS-10.5.1", "ASVS-7.2.4", "RFC9700-4.7")
    async def test_replayed_callback_is_refused_even_in_the_same_browser(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """The first delivery signs in and clears the cookie; the second is refused, also
        when the browser still (or again) holds the cookie: the state itself is spent."""
        browser = OidcBrowser(app.client)
        pending = await pending_sign_in(browser, oidc_provider)
        await assert_signed_in(await browser.callback(pending.callback), app.client)
        assert OAUTH_COOKIE not in app.client.cookies, "the callback did not clear the cookie"

        assert_state_refused(await browser.callback(pending.callback))

        put_oauth_cookie(app.client, pending.cookie)
        assert_state_refused(await browser.callback(pending.callback))

    async def test_replay_in_a_fresh_browser_with_the_cookie_signs_nobody_in(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """Someone who captured both the callback URL and the cookie after the sign-in
        (a shared computer, a proxy log) gets no session out of them."""
        browser = OidcBrowser(app.client)
        pending = await pending_sign_in(browser, oidc_provider)
        await assert_signed_in(await browser.callback(pending.callback), app.client)

        async with client_from(app, VICTIM_IP) as thief:
            put_oauth_cookie(thief, pending.cookie)
            assert_state_refused(await OidcBrowser(thief).callback(pending.callback))
            await assert_not_signed_in(thief)


# --- bound to the browser (login CSRF) -------------------------------------------------------
class TestStateIsBoundToTheBrowser:
    @pytest.mark.requirement("ASVS-10.2.1", "RFC9700-4.7")
    async def test_callback_pushed_into_a_browser_without_a_sign_in_is_refused(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """Login CSRF: the attacker starts a sign-in with his own provider account in his
        browser, stops at the callback URL and makes the victim's browser open it (a link,
        an <img>). The victim's browser has no authapi_oauth cookie: refused, and the victim
        is not signed in to the attacker's account.

        A request without any authapi_oauth cookie is turned away before the store is read,
        so it does not spend the state (the test below covers a browser that sends one)."""
        attacker = OidcBrowser(app.client)
        pending = await pending_sign_in(attacker, oidc_provider)

        async with client_from(app, VICTIM_IP) as victim_client:
            victim = OidcBrowser(victim_client)
            assert_state_refused(await victim.callback(pending.callback))
            await assert_not_signed_in(victim_client)

    @pytest.mark.requirement("ASVS-10.1.2", "RFC9700-4.7")
    async def test_callback_pushed_into_a_browser_with_its_own_sign_in_is_refused(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """The same attack against a victim who is in the middle of a sign-in of his own:
        his browser sends its own authapi_oauth cookie, which is not the one the attacker's
        state was issued with. Refused, and the victim is not signed in."""
        attacker = OidcBrowser(app.client)
        pending = await pending_sign_in(attacker, oidc_provider)

        async with client_from(app, VICTIM_IP) as victim_client:
            victim = OidcBrowser(victim_client)
            own = await victim.authorize()
            assert own.status_code == 302, own.text
            assert victim_client.cookies.get(OAUTH_COOKIE) not in (None, pending.cookie)

            assert_state_refused(await victim.callback(pending.callback))
            await assert_not_signed_in(victim_client)

    async def test_a_wrong_browser_cookie_does_not_spend_the_state(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """A callback with the wrong cookie is refused without touching the state: it is
        stored under a key that only the right cookie gives, so the browser that started the
        sign-in still finishes it, once (issue 12, item 14)."""
        owner = OidcBrowser(app.client)
        pending = await pending_sign_in(owner, oidc_provider)

        async with client_from(app, VICTIM_IP) as other_client:
            other = OidcBrowser(other_client)
            assert (await other.authorize()).status_code == 302  # a cookie of its own
            for _ in range(3):
                assert_state_refused(await other.callback(pending.callback))
            await assert_not_signed_in(other_client)

        await assert_signed_in(await owner.callback(pending.callback), app.client)
        assert_state_refused(await owner.callback(pending.callback))  # and only once

    async def test_cookie_of_another_sign_in_in_the_same_browser_is_refused(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """Two sign-ins started in one browser: the second overwrites the cookie, so the
        first one's callback no longer matches (the browser secret is per sign-in)."""
        browser = OidcBrowser(app.client)
        first = await pending_sign_in(browser, oidc_provider)
        second = await pending_sign_in(browser, oidc_provider)
        assert first.cookie != second.cookie

        assert_state_refused(await browser.callback(first.callback))
        await assert_not_signed_in(app.client)
        await assert_signed_in(await browser.callback(second.callback), app.client)


# --- bound to the provider --------------------------------------------------------------
@pytest.mark.requirement("ASVS-10.2.2", "ASVS-2.2.3", "RFC9700-4.4")
async def test_state_of_one_provider_is_refused_at_another(
    make_api: Callable[..., Any], oidc_provider: OidcProvider
) -> None:
    """ "local" and "local2" are the same provider and client under two names: only the state
    tells which one the sign-in was started with, and it must match the callback's."""
    settings = oidc_settings(oidc_provider, "local", "local2")
    async with make_api(**settings) as api:
        browser = OidcBrowser(api.client)
        pending = await pending_sign_in(browser, oidc_provider, "local")
        elsewhere = changed(pending.callback, path="/auth/oauth/local2/callback")

        assert_state_refused(await browser.callback(elsewhere))
        await assert_not_signed_in(api.client)
        # presented once, spent (see the login CSRF test): not usable at "local" either
        assert_state_refused(await browser.callback(pending.callback))

        # control: "local2" itself works
        sub = provider_user(oidc_provider)
        await assert_signed_in(await browser.sign_in("local2", sub=sub), api.client)


# --- short-lived ------------------------------------------------------------------------
class TestStateExpires:
    @pytest.mark.parametrize("ttl", [None, 30], ids=["default-600", "minimum-30"])
    async def test_state_and_cookie_live_as_long_as_the_setting(
        self,
        make_api: Callable[..., Any],
        oidc_provider: OidcProvider,
        redis_client: redis.Redis | None,
        ttl: int | None,
    ) -> None:
        overrides = {} if ttl is None else {"oidc_state_ttl_seconds": ttl}
        expected = ttl or 600
        async with make_api(**oidc_settings(oidc_provider, **overrides)) as api:
            before = await stash_keys(api, redis_client)
            started = await OidcBrowser(api.client).authorize()
            assert started.status_code == 302, started.text
            (key,) = await stash_keys(api, redis_client) - before

            cookie = next(
                header
                for header in started.headers.get_list("set-cookie")
                if header.startswith(f"{OAUTH_COOKIE}=")
            )
            assert f"Max-Age={expected};" in cookie, cookie

            if redis_client is not None:
                remaining_ms = redis_client.pttl(key)
                assert expected * 1000 - 10_000 < remaining_ms <= expected * 1000, remaining_ms
            else:
                store = api.app.state.resources.store
                remaining = store._stash._items[key].expires_at - time.time()
                assert expected - 10 < remaining <= expected, remaining

    async def test_expired_state_is_refused(
        self,
        make_api: Callable[..., Any],
        oidc_provider: OidcProvider,
        redis_client: redis.Redis | None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Waiting out even the minimum TTL (30 s) is too slow for a test, so the time runs
        out the way each store sees it: Redis gets the key's TTL cut to 1 ms (Redis itself
        then expires it); the memory store's clock is moved past the TTL. The app's part,
        that an expired state is not there any more and is refused, is what is tested."""
        settings = oidc_settings(oidc_provider, oidc_state_ttl_seconds=30)
        async with make_api(**settings) as api:
            browser = OidcBrowser(api.client)
            before = await stash_keys(api, redis_client)
            pending = await pending_sign_in(browser, oidc_provider)
            (key,) = await stash_keys(api, redis_client) - before

            await expire_stashed(api, key, redis_client, monkeypatch)

            assert_state_refused(await browser.callback(pending.callback))
            monkeypatch.undo()
            await assert_not_signed_in(api.client)


# --- what the store holds ----------------------------------------------------------------
def redis_contents(client: redis.Redis, prefix: str) -> list[tuple[str, str]]:
    """(key, every value in it as text) for each key of the run's Redis prefix."""
    contents = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        kind = client.type(key)
        if kind == "string":
            values: list[Any] = [client.get(key)]
        elif kind == "hash":
            values = [item for pair in client.hgetall(key).items() for item in pair]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "none":
            continue  # expired since the scan found it
        else:
            raise AssertionError(f"unexpected Redis type {kind} of {key}")
        contents.append((key, " ".join(str(value) for value in values)))
    return contents


async def test_store_holds_neither_the_state_nor_the_browser_secret(
    app: Api, oidc_provider: OidcProvider, redis_client: redis.Redis | None
) -> None:
    """The state travels in URLs (provider logs, Referer, browser history) and the cookie
    is the browser's proof: the store is keyed by a hash of the one and holds a hash of the
    other, so reading the store yields neither."""
    browser = OidcBrowser(app.client)
    before = await stash_keys(app, redis_client)
    pending = await pending_sign_in(browser, oidc_provider)
    (key,) = await stash_keys(app, redis_client) - before

    secrets_ = {"state": pending.state, "browser secret": pending.cookie}
    if redis_client is not None:
        contents = redis_contents(redis_client, app.settings.redis_prefix)
        assert any(name == key for name, _ in contents)
    else:
        store = app.app.state.resources.store
        contents = [(name, kept.value) for name, kept in store._stash._items.items()]
    for what, value in secrets_.items():
        leaks = [name for name, text in contents if value in name or value in text]
        assert not leaks, f"the raw {what} is stored in {leaks}"

    # and the callback takes the stored state away
    await assert_signed_in(await browser.callback(pending.callback), app.client)
    assert key not in await stash_keys(app, redis_client)


# --- PKCE -------------------------------------------------------------------------------
@pytest.mark.requirement(
    "ASVS-10.2.1", "ASVS-16.3.4", "RFC7636-4.2", "RFC7636-4.5", "RFC9700-2.1.1"
)
async def test_code_delivered_with_another_sign_ins_state_is_refused_by_pkce(
    app: Api, oidc_provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """PKCE doing its job. Two sign-ins A and B are started in one browser and both come
    back from the provider. A's code is delivered with B's state (and B's cookie, which the
    browser now holds): the state checks pass, so the app exchanges A's code with B's
    code_verifier. Same client, same redirect_uri, a fresh code: the only thing wrong is
    that B's verifier does not hash to the code_challenge A's code was issued for, and the
    real provider (which requires PKCE) refuses the exchange. The browser lands on
    ?error=provider_error without a session. An attacker who injects a stolen code into
    his own sign-in gets nothing out of it for the same reason."""
    browser = OidcBrowser(app.client)
    first = await pending_sign_in(browser, oidc_provider)
    second = await pending_sign_in(browser, oidc_provider)
    for pending in (first, second):
        query = parse_qs(urlsplit(pending.authorization_url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    tokens_before = oidc_provider.request_counts().get("/token", 0)

    with caplog.at_level(logging.WARNING, logger="authapi.oidc"):
        response = await browser.callback(changed(second.callback, code=first.code))

    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"{REDIRECT}?error=provider_error"
    assert not any(
        header.startswith(f"{REFRESH_COOKIE}=")
        for header in response.headers.get_list("set-cookie")
    )
    await assert_not_signed_in(app.client)
    assert oidc_provider.request_counts().get("/token", 0) == tokens_before + 1, (
        "the app did not try the exchange"
    )
    assert "code exchange failed: invalid_grant" in caplog.text, caplog.text


# --- RFC 9207: the provider names itself ---------------------------------------------------
@pytest.mark.requirement("RFC9207-2.4-a", "RFC9207-2.4-b", "ASVS-10.2.2")
@pytest.mark.parametrize("iss", ["https://evil.example", None], ids=["another", "missing"])
async def test_a_callback_that_does_not_name_the_provider_is_refused_before_the_code_is_used(
    app: Api, oidc_provider: OidcProvider, iss: str | None
) -> None:
    """Mix-up defence. The provider's metadata promises `iss` in its authorization responses
    (`authorization_response_iss_parameter_supported`), so a callback naming another issuer,
    or none, did not come from it: refused without redeeming the code."""
    async with httpx.AsyncClient() as plain:
        discovery = await plain.get(f"{oidc_provider.issuer}/.well-known/openid-configuration")
    assert discovery.json()["authorization_response_iss_parameter_supported"] is True
    browser = OidcBrowser(app.client)
    pending = await pending_sign_in(browser, oidc_provider)
    assert parse_qs(urlsplit(pending.callback).query)["iss"] == [oidc_provider.issuer]
    tokens_before = oidc_provider.request_counts().get("/token", 0)

    response = await browser.callback(changed(pending.callback, iss=iss))

    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"{REDIRECT}?error=provider_error"
    await assert_not_signed_in(app.client)
    assert oidc_provider.request_counts().get("/token", 0) == tokens_before, "the code was used"


@pytest.mark.requirement("RFC9700-4.2")
async def test_the_callback_answer_keeps_the_code_out_of_referers(
    app: Api, oidc_provider: OidcProvider
) -> None:
    """The browser arrives at the callback with the code in the URL; the answer tells it
    never to send that URL on as a Referer."""
    browser = OidcBrowser(app.client)
    pending = await pending_sign_in(browser, oidc_provider)
    response = await browser.callback(pending.callback)
    assert response.status_code == 302, response.text
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.requirement("ASVS-10.5.3")
async def test_a_discovery_document_naming_another_issuer_is_refused(
    make_api: Callable[..., Any], oidc_provider: OidcProvider
) -> None:
    """The configured issuer differs from the one the provider's document names (here by a
    final "/"): no sign-in starts, and the answer says the provider is unavailable."""
    setting = {**oidc_provider.provider_setting("local"), "issuer": f"{oidc_provider.issuer}/"}
    async with make_api(oidc_providers=[setting], allowed_redirects=[REDIRECT]) as api:
        response = await api.client.get(
            "/auth/oauth/local/authorize", params={"redirect_to": REDIRECT}, follow_redirects=False
        )
    assert_problem(response, 503, "provider_unavailable")


# --- response_mode=form_post (Sign in with Apple's way back) -------------------------------
class TestFormPostIsBoundToTheBrowser:
    """The provider's page POSTs the answer cross-site, where the SameSite=Lax cookie is not
    sent; the app answers with a 303 to its GET callback, a top-level navigation on which
    the cookie is sent, so the state is bound to the browser that started the sign-in."""

    @pytest.fixture
    async def form_post_app(
        self, make_api: Callable[..., Any], oidc_provider: OidcProvider
    ) -> AsyncIterator[Api]:
        settings = oidc_settings(oidc_provider)
        settings["oidc_providers"][0] = {
            **settings["oidc_providers"][0],
            "response_mode": "form_post",
        }
        async with make_api(**settings) as api:
            yield api

    async def test_a_form_post_sign_in_completes_in_the_browser_that_started_it(
        self, form_post_app: Api, oidc_provider: OidcProvider
    ) -> None:
        browser = OidcBrowser(form_post_app.client)
        pending = await pending_sign_in(browser, oidc_provider)
        assert isinstance(pending.callback, FormPost)
        assert "response_mode=form_post" in pending.authorization_url
        assert set(pending.callback.fields) >= {"code", "state"}
        await assert_signed_in(await browser.callback(pending.callback), form_post_app.client)

    async def test_the_posted_answer_in_another_browser_is_refused_and_spends_nothing(
        self, form_post_app: Api, oidc_provider: OidcProvider
    ) -> None:
        browser = OidcBrowser(form_post_app.client)
        pending = await pending_sign_in(browser, oidc_provider)
        assert isinstance(pending.callback, FormPost)
        async with client_from(form_post_app, "203.0.113.77") as other:
            posted = await other.post(
                urlsplit(pending.callback.action).path, data=pending.callback.fields
            )
            assert posted.status_code == 303, posted.text
            assert posted.headers.get_list("set-cookie") == []
            assert_state_refused(await other.get(posted.headers["location"]))
            await assert_not_signed_in(other)
        await assert_signed_in(await browser.callback(pending.callback), form_post_app.client)
