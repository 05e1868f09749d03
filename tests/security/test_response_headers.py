"""Response headers (SPEC "Endpoints" and "Tokens"): token responses carry
`Cache-Control: no-store`; every response carries `X-Content-Type-Options: nosniff`;
the JWKS is cacheable; 401s on bearer routes carry an RFC 6750 `WWW-Authenticate`."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Api, bearer, link_token, unique_email

CHALLENGE = 'Bearer realm="authapi"'
BEARER_ROUTES = [
    ("GET", "/users/me"),
    ("GET", "/auth/sessions"),
    ("POST", "/auth/logout-all"),
    ("DELETE", f"/auth/sessions/{uuid.uuid4()}"),
]


def assert_no_store(response: httpx.Response) -> None:
    directives = [part.strip() for part in response.headers["cache-control"].split(",")]
    assert "no-store" in directives, response.headers


def assert_nosniff(response: httpx.Response) -> None:
    assert response.headers.get("x-content-type-options") == "nosniff", (
        response.request.method,
        response.request.url.path,
        response.status_code,
        dict(response.headers),
    )


def max_age(response: httpx.Response) -> int:
    match = re.search(r"(?:^|,)\s*max-age=(\d+)", response.headers["cache-control"])
    assert match, response.headers["cache-control"]
    return int(match.group(1))


class TestTokenResponses:
    async def test_login_and_refresh_responses_are_no_store(self, api: Api) -> None:
        email = await api.create_user()
        for delivery in ("body", "cookie"):
            login = await api.login(email, PASSWORD, delivery=delivery)
            assert login.status_code == 200
            assert_no_store(login)
        tokens = await api.signed_in(email)
        refreshed = await api.refresh(tokens.refresh)
        assert refreshed.status_code == 200
        assert_no_store(refreshed)
        by_cookie = await api.client.post("/auth/refresh", headers={"X-Requested-With": "1"})
        assert by_cookie.status_code == 200, by_cookie.text
        assert_no_store(by_cookie)

    @pytest.mark.requirement("RFC6749-5.1")
    async def test_oauth_token_endpoint_responses_are_no_store(self, api: Api) -> None:
        email = await api.create_user()
        granted = await api.client.post(
            "/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert granted.status_code == 200
        assert_no_store(granted)
        assert granted.headers["pragma"] == "no-cache"
        refreshed = await api.client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": granted.json()["refresh_token"]},
        )
        assert refreshed.status_code == 200
        assert_no_store(refreshed)
        refused = await api.client.post(
            "/auth/token", data={"grant_type": "password", "username": email, "password": "nope"}
        )
        assert refused.status_code == 400
        assert_no_store(refused)

    async def test_account_data_and_errors_are_no_store(self, api: Api) -> None:
        tokens = await api.signed_in()
        assert_no_store(await api.me(tokens.access))
        assert_no_store(await api.login(unique_email(), PASSWORD))
        assert_no_store(await api.client.get("/auth/sessions", headers=bearer(tokens.access)))


class TestNosniff:
    async def test_every_response_carries_nosniff(self, api: Api) -> None:
        client = api.client
        email = unique_email()
        responses = [
            await client.get("/healthz"),
            await client.get("/readyz"),
            await client.get("/.well-known/jwks.json"),
            await client.get("/.well-known/oauth-authorization-server"),
            await client.get("/docs"),
            await client.get("/openapi.json"),
            await api.register(email),
        ]
        token = link_token(await api.mail.wait_for(email, subject="Confirm"))
        responses += [
            await client.post("/auth/verify-email", json={"token": token}),
            await client.post("/auth/verify-email", json={"token": token}),  # 400
            await client.post("/auth/verify-email/resend", json={"email": email}),
            await api.login(email, PASSWORD),
            await api.login(email, "wrong password here"),  # 401
            await client.post("/auth/login", json={"email": 1}),  # 422
            await client.post(
                "/auth/login", content=b"{", headers={"Content-Type": "application/json"}
            ),
            await client.post("/auth/token", data={}),  # 400 (OAuth)
            await client.get("/users/me"),  # 401
            await client.get("/nothing/here"),  # 404
            await client.get("/auth/login"),  # 405
            await client.post("/auth/logout"),  # 204
        ]
        tokens = await api.signed_in(email)
        responses += [
            await api.me(tokens.access),
            await api.refresh(tokens.refresh),
            await client.get("/auth/sessions", headers=bearer(tokens.access)),
        ]
        for response in responses:
            assert response.status_code < 500, response.text
            assert_nosniff(response)

    async def test_payload_too_large_responses_carry_nosniff(self, api: Api) -> None:
        big = b'{"password": "' + b"p" * (api.settings.max_body_bytes + 10) + b'"}'
        response = await api.client.post(
            "/auth/login", content=big, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert_nosniff(response)

        async def chunks() -> AsyncIterator[bytes]:
            yield big

        streamed = await api.client.post(
            "/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert_nosniff(streamed)

    async def test_cors_responses_carry_nosniff(self, make_api: Callable[..., Any]) -> None:
        async with make_api(allowed_origins=["https://spa.example.com"]) as api:
            for origin in ("https://spa.example.com", "https://evil.example"):
                preflight = await api.client.options(
                    "/auth/refresh",
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "x-requested-with",
                    },
                )
                assert_nosniff(preflight)
                simple = await api.client.get("/healthz", headers={"Origin": origin})
                assert_nosniff(simple)


class TestCacheableDiscovery:
    async def test_jwks_is_publicly_cacheable(self, api: Api) -> None:
        response = await api.client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        directives = response.headers["cache-control"]
        assert "public" in directives
        assert "no-store" not in directives
        assert "private" not in directives
        assert 60 <= max_age(response) <= 24 * 3600
        assert response.json()["keys"]

    async def test_server_metadata_is_publicly_cacheable(self, api: Api) -> None:
        response = await api.client.get("/.well-known/oauth-authorization-server")
        assert response.status_code == 200
        assert "public" in response.headers["cache-control"]
        assert "no-store" not in response.headers["cache-control"]
        assert max_age(response) > 0


class TestBearerChallenges:
    @pytest.mark.parametrize(("method", "path"), BEARER_ROUTES)
    async def test_missing_token_gets_a_bare_bearer_challenge(
        self, api: Api, method: str, path: str
    ) -> None:
        response = await api.client.request(method, path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == CHALLENGE

    @pytest.mark.requirement("RFC6750-3-a")
    @pytest.mark.parametrize(("method", "path"), BEARER_ROUTES)
    async def test_bad_token_gets_an_invalid_token_challenge(
        self, api: Api, method: str, path: str
    ) -> None:
        for token in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
            response = await api.client.request(method, path, headers=bearer(token))
            assert response.status_code == 401
            assert response.json()["code"] == "invalid_token"
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith(f'{CHALLENGE}, error="invalid_token"'), challenge

    @pytest.mark.requirement("RFC6750-3-a")
    async def test_token_of_an_ended_session_gets_an_invalid_token_challenge(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        assert (
            await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        ).status_code == 204
        for method, path in BEARER_ROUTES:
            response = await api.client.request(method, path, headers=bearer(tokens.access))
            assert response.status_code == 401, (path, response.text)
            assert 'error="invalid_token"' in response.headers["www-authenticate"]


class TestTransportAndPages:
    """HSTS, a Content-Security-Policy on HTML, and HEAD (issue 12, item 19)."""

    @pytest.mark.requirement("NIST-63B-5.1.1-a")
    async def test_hsts_when_the_public_url_is_https(self, make_api: Callable[..., Any]) -> None:
        async with make_api() as api:  # https://app.example.com
            for path in ("/healthz", "/docs", "/users/me", "/nowhere"):
                response = await api.client.get(path)
                assert response.headers["strict-transport-security"] == (
                    "max-age=63072000; includeSubDomains"
                ), path
        async with make_api(public_url="http://127.0.0.1:8000") as plain:
            assert "strict-transport-security" not in (await plain.client.get("/healthz")).headers

    async def test_html_pages_carry_a_restrictive_csp(self, api: Api) -> None:
        docs = await api.client.get("/docs")
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in docs.headers["content-security-policy"].split(";")
        )
        assert policy["default-src"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["base-uri"] == "'none'"
        scripts = policy["script-src"].split()
        assert "'unsafe-inline'" not in scripts
        assert "'unsafe-eval'" not in scripts
        # exactly the page's own inline scripts are allowed, by hash
        inline = re.findall(r"<script>(.*?)</script>", docs.text, re.S)
        assert inline, docs.text
        allowed = {
            f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
            for s in inline
        }
        assert set(scripts) == {"'self'", *allowed}
        assert len(docs.content) == int(docs.headers["content-length"])

    async def test_head_is_answered_on_get_routes(self, api: Api) -> None:
        tokens = await api.signed_in()
        for path, headers in [
            ("/healthz", {}),
            ("/readyz", {}),
            ("/docs", {}),
            ("/openapi.json", {}),
            ("/.well-known/jwks.json", {}),
            ("/.well-known/oauth-authorization-server", {}),
            ("/users/me", bearer(tokens.access)),
            ("/users/me", {}),  # 401 either way
        ]:
            got = await api.client.get(path, headers=headers)
            head = await api.client.head(path, headers=headers)
            assert head.status_code == got.status_code, path
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
            assert head.headers["content-length"] == got.headers["content-length"], path
        # a route without GET: the same 405 as for GET
        refused = await api.client.head("/auth/login")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "POST"
