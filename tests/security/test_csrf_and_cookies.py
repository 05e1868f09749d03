"""The refresh cookie and CSRF (SPEC "Security properties" and "Token response").

Browser delivery sets `HttpOnly; Secure; SameSite=Strict; Path=/auth` and keeps
the refresh token out of the body. Requests authenticated by the cookie
(refresh, logout) need `X-Requested-With` and, when `Origin` is sent, an allowed
origin; otherwise 403 `csrf_failed`. CORS is an explicit allow-list with
credentials, never `*`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from authapi.settings import Settings
from tests.conftest import PASSWORD, PUBLIC_URL, Api, bearer

COOKIE = "authapi_refresh"
SPA = "https://spa.example.com"
XRW = {"X-Requested-With": "XMLHttpRequest"}
FOREIGN_ORIGINS = [
    "https://evil.example",
    "null",
    "https://app.example.com.evil.example",
    "http://app.example.com",
    "https://app.example.com:8443",
    "https://spa.example.com",  # allowed only when configured
]


@dataclass(frozen=True)
class SetCookie:
    value: str
    attributes: dict[str, str]  # lower-case names; flags map to ""


def set_cookie(response: httpx.Response, name: str = COOKIE) -> SetCookie | None:
    for header in response.headers.get_list("set-cookie"):
        name_value, *parts = (part.strip() for part in header.split(";"))
        cookie_name, _, value = name_value.partition("=")
        if cookie_name == name:
            attributes = {}
            for part in parts:
                key, _, attribute = part.partition("=")
                attributes[key.lower()] = attribute
            return SetCookie(value=value, attributes=attributes)
    return None


async def cookie_login(api: Api, email: str) -> str:
    """Sign in with cookie delivery; returns the refresh cookie's value (the jar is emptied)."""
    response = await api.login(email, PASSWORD, delivery="cookie")
    assert response.status_code == 200, response.text
    cookie = set_cookie(response)
    assert cookie is not None
    api.client.cookies.clear()
    return cookie.value


async def post_with_cookie(
    api: Api, path: str, value: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api.client.post(path, headers={"Cookie": f"{COOKIE}={value}", **(headers or {})})


def assert_csrf_failed(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "csrf_failed"
    assert set_cookie(response) is None


class TestRefreshCookie:
    @pytest.mark.requirement("ASVS-10.1.1", "NIST-63B-5.1.1-a", "NIST-63B-5.1.1-b", "RFC6750-5.3-b")
    async def test_login_sets_a_hardened_cookie_and_keeps_the_token_out_of_the_body(
        self, api: Api
    ) -> None:
        email = await api.create_user()
        response = await api.login(email, PASSWORD, delivery="cookie")
        assert response.status_code == 200
        assert set(response.json()) == {"access_token", "token_type", "expires_in"}

        cookie = set_cookie(response)
        assert cookie is not None
        assert cookie.value.count(".") == 2  # an opaque refresh token
        assert "httponly" in cookie.attributes
        assert "secure" in cookie.attributes
        assert cookie.attributes["samesite"].lower() == "strict"
        assert cookie.attributes["path"] == "/auth"
        assert "domain" not in cookie.attributes  # host-only
        max_age = int(cookie.attributes["max-age"])
        assert api.settings.refresh_token_ttl_seconds - 60 <= max_age
        assert max_age <= api.settings.refresh_token_ttl_seconds

    @pytest.mark.requirement("ASVS-10.1.1")
    async def test_cookie_is_the_default_delivery(self, api: Api) -> None:
        email = await api.create_user()
        response = await api.client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200
        assert "refresh_token" not in response.json()
        assert set_cookie(response) is not None

    async def test_body_delivery_sets_no_cookie(self, api: Api) -> None:
        email = await api.create_user()
        response = await api.login(email, PASSWORD, delivery="body")
        assert response.status_code == 200
        assert "refresh_token" in response.json()
        assert response.headers.get_list("set-cookie") == []

    @pytest.mark.requirement("ASVS-10.1.1", "NIST-63B-5.1.1-a")
    async def test_the_cookie_travels_only_to_auth_paths(self, api: Api) -> None:
        email = await api.create_user()
        login = await api.login(email, PASSWORD, delivery="cookie")
        me = await api.client.get("/users/me", headers=bearer(login.json()["access_token"]))
        assert me.status_code == 200
        assert "cookie" not in me.request.headers
        refreshed = await api.client.post("/auth/refresh", headers=XRW)
        assert refreshed.status_code == 200, refreshed.text
        assert COOKIE in refreshed.request.headers["cookie"]


class TestCsrfOnRefresh:
    @pytest.mark.requirement("RFC6750-5.3-b")
    async def test_cookie_refresh_without_x_requested_with_is_refused(self, api: Api) -> None:
        value = await cookie_login(api, await api.create_user())
        assert_csrf_failed(await post_with_cookie(api, "/auth/refresh", value))
        assert_csrf_failed(
            await post_with_cookie(api, "/auth/refresh", value, {"Origin": PUBLIC_URL})
        )
        # the refusal changed nothing: the cookie is still the live token
        assert (await post_with_cookie(api, "/auth/refresh", value, XRW)).status_code == 200

    @pytest.mark.requirement("RFC6750-5.3-b")
    @pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
    async def test_cookie_refresh_from_a_foreign_origin_is_refused(
        self, api: Api, origin: str
    ) -> None:
        value = await cookie_login(api, await api.create_user())
        response = await post_with_cookie(api, "/auth/refresh", value, {**XRW, "Origin": origin})
        assert_csrf_failed(response)
        assert (await post_with_cookie(api, "/auth/refresh", value, XRW)).status_code == 200

    async def test_cookie_refresh_with_the_header_and_no_origin_rotates_the_cookie(
        self, api: Api
    ) -> None:
        value = await cookie_login(api, await api.create_user())
        response = await post_with_cookie(api, "/auth/refresh", value, XRW)
        assert response.status_code == 200, response.text
        assert "refresh_token" not in response.json()
        cookie = set_cookie(response)
        assert cookie is not None
        assert cookie.value != value
        assert cookie.attributes["path"] == "/auth"
        assert "httponly" in cookie.attributes

    async def test_the_public_urls_origin_is_allowed(self, api: Api) -> None:
        value = await cookie_login(api, await api.create_user())
        response = await post_with_cookie(
            api, "/auth/refresh", value, {**XRW, "Origin": PUBLIC_URL}
        )
        assert response.status_code == 200, response.text
        assert set_cookie(response) is not None

    async def test_a_configured_origin_is_allowed(self, make_api: Callable[..., Any]) -> None:
        async with make_api(allowed_origins=[SPA]) as api:
            value = await cookie_login(api, await api.create_user())
            response = await post_with_cookie(api, "/auth/refresh", value, {**XRW, "Origin": SPA})
            assert response.status_code == 200, response.text
            cookie = set_cookie(response)
            assert cookie is not None
            assert cookie.value != value
            evil = await post_with_cookie(
                api, "/auth/refresh", cookie.value, {**XRW, "Origin": "https://evil.example"}
            )
            assert_csrf_failed(evil)

    async def test_native_apps_sending_the_token_in_the_body_need_no_header(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await api.client.post(
            "/auth/refresh", json={"refresh_token": tokens.refresh}, headers={}
        )
        assert response.status_code == 200, response.text
        assert set_cookie(response) is None


class TestCsrfOnLogout:
    async def test_cookie_logout_without_the_header_is_refused_and_ends_nothing(
        self, api: Api
    ) -> None:
        value = await cookie_login(api, await api.create_user())
        assert_csrf_failed(await post_with_cookie(api, "/auth/logout", value))
        assert_csrf_failed(
            await post_with_cookie(
                api, "/auth/logout", value, {**XRW, "Origin": "https://evil.example"}
            )
        )
        assert (await post_with_cookie(api, "/auth/refresh", value, XRW)).status_code == 200

    @pytest.mark.requirement("NIST-63B-5.1-b")
    async def test_cookie_logout_with_the_header_ends_the_session_and_clears_the_cookie(
        self, api: Api
    ) -> None:
        value = await cookie_login(api, await api.create_user())
        response = await post_with_cookie(api, "/auth/logout", value, {**XRW, "Origin": PUBLIC_URL})
        assert response.status_code == 204
        cleared = set_cookie(response)
        assert cleared is not None
        assert cleared.value in ("", '""')
        assert cleared.attributes["max-age"] == "0"
        assert cleared.attributes["path"] == "/auth"
        refreshed = await post_with_cookie(api, "/auth/refresh", value, XRW)
        assert refreshed.status_code == 401
        assert refreshed.json()["code"] == "invalid_refresh_token"


class TestCors:
    async def test_preflight_from_an_allowed_origin_is_answered_with_credentials(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(allowed_origins=[SPA]) as api:
            response = await api.client.options(
                "/auth/refresh",
                headers={
                    "Origin": SPA,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type, x-requested-with",
                },
            )
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == SPA
            assert response.headers["access-control-allow-credentials"] == "true"
            allowed = response.headers["access-control-allow-headers"].lower()
            assert "x-requested-with" in allowed

    async def test_preflight_from_another_origin_gets_no_allow_origin(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(allowed_origins=[SPA]) as api:
            for origin in ("https://evil.example", "null", "https://spa.example.com.evil.example"):
                response = await api.client.options(
                    "/auth/refresh",
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "x-requested-with",
                    },
                )
                assert "access-control-allow-origin" not in response.headers, origin

    async def test_responses_name_only_an_allowed_origin(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(allowed_origins=[SPA]) as api:
            allowed = await api.client.get("/healthz", headers={"Origin": SPA})
            assert allowed.headers["access-control-allow-origin"] == SPA
            assert allowed.headers["access-control-allow-credentials"] == "true"
            foreign = await api.client.get("/healthz", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in foreign.headers

    async def test_without_configured_origins_no_cross_origin_access_is_granted(
        self, api: Api
    ) -> None:
        response = await api.client.options(
            "/auth/refresh",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in response.headers
        response = await api.client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers


class TestOriginSettings:
    @pytest.mark.parametrize(
        "origins",
        [["*"], ["https://spa.example.com", "*"], "https://spa.example.com,*", "*"],
    )
    def test_wildcard_origin_is_refused(self, origins: Any) -> None:
        with pytest.raises(ValidationError, match="allowed_origins"):
            Settings(allowed_origins=origins)

    def test_wildcard_origin_is_refused_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AUTHAPI_ALLOWED_ORIGINS", "https://spa.example.com, *")
        with pytest.raises(ValidationError, match="allowed_origins"):
            Settings()

    @pytest.mark.parametrize(
        "origin",
        ["null", "spa.example.com", "https://spa.example.com/app", "ftp://spa.example.com"],
    )
    def test_an_origin_must_be_scheme_and_host(self, origin: str) -> None:
        with pytest.raises(ValidationError, match="allowed_origins"):
            Settings(allowed_origins=[origin])

    def test_origins_are_read_comma_separated_and_lower_cased(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "AUTHAPI_ALLOWED_ORIGINS", "https://SPA.example.com, https://b.example.com/"
        )
        settings = Settings()
        assert settings.allowed_origins == ["https://spa.example.com", "https://b.example.com"]
