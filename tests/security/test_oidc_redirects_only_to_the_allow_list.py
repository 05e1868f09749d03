"""Where a provider sign-in may send the browser back to: only AUTHAPI_ALLOWED_REDIRECTS
(SPEC security property: "redirect targets only from an allow-list").

The apps here allow tests.oidc.REDIRECT (https://app.example.com/signed-in, exact),
REDIRECT_TREE (https://app.example.com/app/, a tree) and the built-in pages
(https://app.example.com/account/, this service's own, always allowed). Anything else
given as `redirect_to`, to GET /auth/oauth/{provider}/authorize or
POST /users/me/identities, is refused up front: 400 problem+json `redirect_not_allowed`,
no Location, no authapi_oauth cookie, and no sign-in state stored, so an open redirect
can never be completed later either.
The unit tests of the parser are in tests/unit/test_redirects_unit.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from authapi.store.memory import MemoryTokenStore
from tests.conftest import PASSWORD, Api, RedisSpace, assert_problem, bearer, unique_email
from tests.oidc import REDIRECT, REDIRECT_TREE, OidcBrowser, OidcProvider

REFUSED = [
    "https://evil.example",
    "https://evil.example/signed-in",
    "//evil.example",
    "//evil.example/signed-in",
    "/\\evil.example",
    "\\\\evil.example/app/",
    "https://app.example.com@evil.example",
    "https://app.example.com@evil.example/signed-in",
    "https://app.example.com:443@evil.example/app/",
    "https://app.example.com\\@evil.example/app/",
    "https://app.example.com\\.evil.example/app/",
    "javascript:alert(1)",
    "javascript://app.example.com/signed-in%0aalert(1)",
    "http://app.example.com/signed-in",
    "ftp://app.example.com/app/",
    "https://app.example.com.evil.example/signed-in",
    "https://evil-app.example.com/signed-in",
    "https://app.example.com/signed-in/../../x",
    "https://app.example.com/app/../x",
    "https://app.example.com/app/./x",
    "https://app.example.com/app/%2e%2e/x",
    "https://app.example.com/app/.%2E/x",
    "https://app.example.com/app/..%2fx",
    "https://app.example.com:8443/app/",
    "https://app.example.com/signed-in#frag",
    "https://app.example.com/app/#",
    "https://app.example.com/signed-inx",
    "https://app.example.com/signed-in/",
    "https://app.example.com/signed-in/x",
    "https://app.example.com/app",
    "https://app.example.com/appx/",
    "https://app.example.com/",
    "https://app.example.com",
    "https://app.example.com/account",
    "https://app.example.com/accountx/",
    "https://app.example.com/ap\tp/x",
    "https://app.example.com/app/\nx",
    "https://app.exa\nmple.com/app/",
    "\thttps://app.example.com/app/",
    "https://app.example.com/app/ ",
    "https://app.example.com/app/%0d%0aSet-Cookie:x=1",
    "https://app.example.com/app/%5C%5Cevil.example",
    "https:/app.example.com/app/",
    "https:app.example.com/app/",
    "https://app.example.com:99999/app/",
    "https://app.example.com:abc/app/",
    "data:text/html,<script>alert(document.cookie)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "/signed-in",
    "signed-in",
    "app/",
    "",
]

ALLOWED = [
    REDIRECT,
    REDIRECT_TREE,
    REDIRECT_TREE + "page?x=1",
    REDIRECT_TREE + "deep/er/page",
    REDIRECT + "?tab=security",
    "https://APP.EXAMPLE.COM/signed-in",
    "HTTPS://app.example.com/app/",
    "https://app.example.com:443/signed-in",
    "https://app.example.com/account/",
    "https://app.example.com/account/sign-in",
]


@pytest.fixture
def app(oidc_api: Api) -> Api:
    """An app with the run's provider as "local" (conftest's oidc_api)."""
    return oidc_api


@pytest.fixture
def stored_states(
    backend: str, request: pytest.FixtureRequest
) -> Iterator[Callable[[Api], set[str]]]:
    """The keys of the sign-in states the app's store holds (Redis keys of the run's prefix
    on production; the memory store's entries on embedded). Tests compare the keys, not
    their number: other tests' short-lived keys in the run's prefix may expire meanwhile."""
    if backend == "embedded":

        def in_memory(api: Api) -> set[str]:
            store = api.app.state.resources.store
            assert isinstance(store, MemoryTokenStore)
            return set(store._stash._items)  # no other way to list them

        yield in_memory
        return
    space: RedisSpace = request.getfixturevalue("redis_space")
    client = redis.Redis.from_url(space.url)

    def in_redis(api: Api) -> set[str]:
        return {
            key.decode() for key in client.scan_iter(match=f"{api.settings.redis_prefix}:stash:*")
        }

    try:
        yield in_redis
    finally:
        client.close()


def assert_redirect_refused(response: httpx.Response) -> None:
    assert_problem(response, 400, "redirect_not_allowed")
    assert "location" not in response.headers
    assert not any(
        header.startswith("authapi_oauth=") for header in response.headers.get_list("set-cookie")
    ), response.headers


class TestAuthorize:
    @pytest.mark.requirement("ASVS-2.2.2", "RFC9700-4.11")
    @pytest.mark.parametrize("target", REFUSED)
    async def test_target_off_the_list_is_refused(
        self, app: Api, stored_states: Callable[[Api], set[str]], target: str
    ) -> None:
        before = stored_states(app)
        response = await OidcBrowser(app.client).authorize(redirect_to=target)
        assert_redirect_refused(response)
        assert "authapi_oauth" not in app.client.cookies
        assert stored_states(app) - before == set(), (
            "a sign-in state was stored for a refused target"
        )

    @pytest.mark.parametrize("target", ALLOWED)
    async def test_target_on_the_list_starts_the_sign_in(
        self,
        app: Api,
        oidc_provider: OidcProvider,
        stored_states: Callable[[Api], set[str]],
        target: str,
    ) -> None:
        before = stored_states(app)
        response = await OidcBrowser(app.client).authorize(redirect_to=target)
        assert response.status_code == 302, response.text
        assert response.headers["location"].startswith(f"{oidc_provider.issuer}/auth?")
        assert app.client.cookies.get("authapi_oauth")
        assert len(stored_states(app) - before) == 1

    async def test_omitted_target_is_the_first_entry(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        sub = f"redirects-{unique_email()}"
        oidc_provider.set_user(sub, email=unique_email("redirects"), email_verified=True)
        response = await OidcBrowser(app.client).sign_in(sub=sub)
        assert response.status_code == 302, response.text
        assert response.headers["location"] == REDIRECT

    async def test_allowed_target_is_where_the_browser_lands_with_its_query(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """End to end: the SPA's own query survives, and an outcome is appended to it."""
        target = REDIRECT_TREE + "page?x=1"
        sub = f"redirects-{unique_email()}"
        oidc_provider.set_user(sub, email=unique_email("redirects"), email_verified=True)
        signed_in = await OidcBrowser(app.client).sign_in(sub=sub, redirect_to=target)
        assert signed_in.status_code == 302, signed_in.text
        assert signed_in.headers["location"] == target

        unverified = f"redirects-{unique_email()}"
        oidc_provider.set_user(unverified, email=unique_email("redirects"), email_verified=False)
        refused = await OidcBrowser(app.client).sign_in(sub=unverified, redirect_to=target)
        assert refused.status_code == 302, refused.text
        assert refused.headers["location"] == f"{target}&error=email_not_verified"


class TestLinkIdentity:
    """POST /users/me/identities takes the same redirect_to, with the same allow-list."""

    async def link(self, api: Api, access: str, target: str | None) -> httpx.Response:
        return await api.client.post(
            "/users/me/identities",
            json={"provider": "local", "redirect_to": target, "password": PASSWORD},
            headers=bearer(access),
        )

    @pytest.mark.requirement("RFC9700-4.11")
    async def test_targets_off_the_list_are_refused(
        self, app: Api, stored_states: Callable[[Api], set[str]]
    ) -> None:
        """One account for the whole corpus (each case is reported, not just the first).

        Control characters are refused one step earlier for this JSON body: every text field
        of a request body refuses them (422 validation_error), before redirect_to is read."""
        tokens = await app.signed_in()
        before = stored_states(app)
        wrong = []
        for target in REFUSED:
            response = await self.link(app, tokens.access, target)
            expected = (
                (422, "validation_error")
                if any(ord(char) < 0x20 for char in target)
                else (400, "redirect_not_allowed")
            )
            got = (response.status_code, response.json().get("code"))
            cookie = response.headers.get_list("set-cookie")
            if got != expected or "location" in response.headers or cookie:
                wrong.append(f"{target!r}: {got} {cookie}")
        assert not wrong, "allowed or wrongly refused:\n" + "\n".join(wrong)
        assert "authapi_oauth" not in app.client.cookies
        assert stored_states(app) - before == set(), "a link state was stored for a refused target"

    async def test_tab_in_the_target_is_refused_as_a_redirect_when_escaped(
        self, app: Api, stored_states: Callable[[Api], set[str]]
    ) -> None:
        """The JSON body cannot carry a raw control character past validation; its
        percent-encoded form reaches the allow-list, which decodes and refuses it."""
        tokens = await app.signed_in()
        before = stored_states(app)
        for target in ("https://app.example.com/ap%09p/x", "https://app.example.com/app/%0ax"):
            assert_redirect_refused(await self.link(app, tokens.access, target))
        assert stored_states(app) - before == set()

    async def test_targets_on_the_list_are_accepted(
        self, app: Api, oidc_provider: OidcProvider, stored_states: Callable[[Api], set[str]]
    ) -> None:
        tokens = await app.signed_in()
        before = stored_states(app)
        for target in [*ALLOWED, None]:
            response = await self.link(app, tokens.access, target)
            assert response.status_code == 200, (target, response.text)
            assert response.json()["authorization_url"].startswith(f"{oidc_provider.issuer}/auth?")
        assert len(stored_states(app) - before) == len(ALLOWED) + 1
