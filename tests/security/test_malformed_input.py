"""Malformed input gets a 4xx problem, never a 500 (SPEC "Endpoints": unknown fields,
wrong types, oversized bodies and malformed JSON get 4xx).

- malformed JSON -> 400 `malformed_request`
- wrong types, unknown fields, a body that is not an object -> 422 `validation_error`
- a body over AUTHAPI_MAX_BODY_BYTES -> 413 `payload_too_large`
- every error is application/problem+json with a `code`
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.conftest import PASSWORD, Api, assert_problem, unique_email

JSON = {"Content-Type": "application/json"}
PROBLEM_JSON = "application/problem+json"
JSON_ENDPOINTS = [
    "/auth/register",
    "/auth/login",
    "/auth/verify-email",
    "/auth/verify-email/resend",
    "/auth/refresh",
    "/auth/logout",
]
MALFORMED_JSON = [
    b'{"email": ',
    b"{email: 1}",
    b"not json at all",
    b'{"email": "a@example.com",}',
    b"{'email': 'a@example.com'}",
    b'{"email": "a@example.com"} trailing',
]


class TestMalformedJson:
    @pytest.mark.requirement("RFC9457-3", "RFC9457-3.1.2")
    @pytest.mark.parametrize("path", JSON_ENDPOINTS)
    async def test_malformed_json_is_400_malformed_request(self, api: Api, path: str) -> None:
        for content in MALFORMED_JSON:
            response = await api.client.post(path, content=content, headers=JSON)
            assert_problem(response, 400, "malformed_request")

    async def test_body_that_is_not_utf8_is_400_malformed_request(self, api: Api) -> None:
        content = b'{"email": "\xff\xfe@example.com", "password": "x"}'
        response = await api.client.post("/auth/login", content=content, headers=JSON)
        assert_problem(response, 400, "malformed_request")

    async def test_deeply_nested_json_is_400_malformed_request(self, api: Api) -> None:
        content = b"[" * 20_000 + b"]" * 20_000  # 40 KB, under the body limit
        response = await api.client.post("/auth/login", content=content, headers=JSON)
        assert_problem(response, 400, "malformed_request")


class TestWrongShapes:
    @pytest.mark.parametrize(
        "body",
        [
            {"email": 123, "password": PASSWORD},
            {"email": "shape@example.com", "password": None},
            {"email": "shape@example.com", "password": 12345678901234567890},
            {"email": ["shape@example.com"], "password": PASSWORD},
            {"email": {"address": "shape@example.com"}, "password": PASSWORD},
            {"email": "shape@example.com", "password": True},
            {"email": "shape@example.com"},
            {"password": PASSWORD},
            {},
            ["shape@example.com", PASSWORD],
            [{"email": "shape@example.com", "password": PASSWORD}],
            "shape@example.com",
            42,
            None,
        ],
        ids=lambda body: repr(body)[:40],
    )
    @pytest.mark.requirement("ASVS-2.2.1", "RFC9457-3")
    async def test_wrong_types_are_422_validation_error(self, api: Api, body: Any) -> None:
        for path in ("/auth/register", "/auth/login"):
            response = await api.client.post(path, json=body)
            assert_problem(response, 422, "validation_error")
            assert isinstance(response.json()["errors"], list)

    async def test_wrong_delivery_value_is_422(self, api: Api) -> None:
        response = await api.client.post(
            "/auth/login",
            json={"email": unique_email(), "password": PASSWORD, "refresh_token_delivery": "url"},
        )
        assert_problem(response, 422, "validation_error")

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/auth/register", {"email": "f@example.com", "password": PASSWORD, "is_admin": True}),
            ("/auth/login", {"email": "f@example.com", "password": PASSWORD, "mfa": "000000"}),
            ("/auth/verify-email", {"token": "a" * 43, "email": "f@example.com"}),
            ("/auth/verify-email/resend", {"email": "f@example.com", "lang": "en"}),
            ("/auth/refresh", {"refresh_token": "a" * 80, "scope": "admin"}),
            ("/auth/logout", {"refresh_token": "a" * 80, "all": True}),
        ],
        ids=lambda value: value if isinstance(value, str) else "",
    )
    @pytest.mark.requirement("ASVS-2.2.1")
    async def test_unknown_fields_are_422_validation_error(
        self, api: Api, path: str, body: dict[str, Any]
    ) -> None:
        response = await api.client.post(path, json=body)
        assert_problem(response, 422, "validation_error")
        assert any(error["loc"][-1] in body for error in response.json()["errors"])

    @pytest.mark.requirement("ASVS-16.5.3", "ASVS-2.2.2")
    async def test_unknown_field_at_register_creates_no_account(self, api: Api) -> None:
        email = unique_email()
        response = await api.client.post(
            "/auth/register", json={"email": email, "password": PASSWORD, "email_verified": True}
        )
        assert_problem(response, 422, "validation_error")
        response = await api.login(email)
        assert response.status_code == 401

    @pytest.mark.requirement("ASVS-2.2.1")
    async def test_oversized_string_fields_are_422(self, api: Api) -> None:
        long_email = "a" * 300 + "@example.com"
        cases = [
            ("/auth/register", {"email": long_email, "password": PASSWORD}),
            ("/auth/login", {"email": unique_email(), "password": "p" * 5000}),
        ]
        for path, body in cases:
            assert_problem(await api.client.post(path, json=body), 422, "validation_error")


class TestWrongContentType:
    @pytest.mark.parametrize(
        "content_type",
        ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
    )
    async def test_json_endpoints_refuse_another_content_type(
        self, api: Api, content_type: str
    ) -> None:
        email = unique_email()
        content = f'{{"email": "{email}", "password": "{PASSWORD}"}}'.encode()
        response = await api.client.post(
            "/auth/register", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code in (415, 422), response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        expected = {415: "unsupported_media_type", 422: "validation_error"}
        assert response.json()["code"] == expected[response.status_code]
        assert api.mail.to(email) == []

    async def test_form_endpoint_with_a_json_body_is_an_oauth_error(self, api: Api) -> None:
        response = await api.client.post(
            "/auth/token", json={"grant_type": "password", "username": "a", "password": "b"}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


class TestBodyLimit:
    async def test_body_over_the_limit_is_413_problem(self, api: Api) -> None:
        assert api.settings.max_body_bytes == 64 * 1024
        content = b'{"email": "a@example.com", "password": "' + b"p" * 70_000 + b'"}'
        response = await api.client.post("/auth/login", content=content, headers=JSON)
        assert_problem(response, 413, "payload_too_large")

    async def test_streamed_body_over_the_limit_is_413_problem(self, api: Api) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"email": "a@example.com", "password": "'
            for _ in range(80):
                yield b"p" * 1000
            yield b'"}'

        response = await api.client.post("/auth/login", content=chunks(), headers=JSON)
        assert_problem(response, 413, "payload_too_large")

    async def test_limit_is_configurable_and_applies_to_form_endpoints(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(max_body_bytes=2048) as api:
            form = {"grant_type": "password", "username": "a@example.com", "password": "p" * 3000}
            response = await api.client.post("/auth/token", data=form)
            assert_problem(response, 413, "payload_too_large")
            response = await api.client.post(
                "/auth/register", json={"email": unique_email(), "password": "p" * 3000}
            )
            assert_problem(response, 413, "payload_too_large")

    async def test_body_under_the_limit_is_processed(self, make_api: Callable[..., Any]) -> None:
        async with make_api(max_body_bytes=2048) as api:
            response = await api.login(unique_email(), "p" * 1900)
            assert_problem(response, 401, "invalid_credentials")


class TestEveryErrorIsAProblem:
    @pytest.mark.requirement("ASVS-16.5.1")
    async def test_no_bad_request_anywhere_is_a_500(self, api: Api) -> None:
        bodies: list[bytes] = [
            b"",
            b"null",
            b"[]",
            b"{}",
            b'{"email": null}',
            b'{"email": 1e400, "password": -1}',
            b'{"token": ""}',
            b'{"refresh_token": ""}',
            b'{"refresh_token": "' + b"." * 100 + b'"}',
            b'{"refresh_token": "' + f"{uuid.uuid4().hex}.x.y".encode() + b'"}',
            b'{"email": "@", "password": ""}',
            b'{"email": "a@b", "password": "' + PASSWORD.encode() + b'"}',
            b'{"email": "a@[127.0.0.1]", "password": "' + PASSWORD.encode() + b'"}',
            b'{"email": "' + "é".encode() * 200 + b'@example.com", "password": "x"}',
            b"\x00\x01\x02",
        ]
        for path in JSON_ENDPOINTS:
            for content in bodies:
                response = await api.client.post(path, content=content, headers=JSON)
                if response.status_code == 204 and path == "/auth/logout":
                    continue  # logout is idempotent: a body without a live token ends nothing
                assert 400 <= response.status_code < 500, (path, content[:60], response.text)
                assert response.headers["content-type"] == PROBLEM_JSON, (path, content[:60])
                assert isinstance(response.json()["code"], str)

    async def test_unknown_routes_and_methods_are_problems(self, api: Api) -> None:
        assert_problem(await api.client.get("/nothing/here"), 404, "not_found")
        assert_problem(await api.client.post("/auth/nothing"), 404, "not_found")
        login = await api.client.get("/auth/login")
        assert_problem(login, 405, "method_not_allowed")
        assert login.headers["allow"] == "POST"
        me = await api.client.put("/users/me")
        assert_problem(me, 405, "method_not_allowed")
        assert me.headers["allow"] == "DELETE, GET, HEAD"  # every route of the path

    async def test_bad_path_parameter_is_a_problem(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await api.client.delete(
            "/auth/sessions/not-a-uuid", headers={"Authorization": f"Bearer {tokens.access}"}
        )
        assert_problem(response, 422, "validation_error")


# strings that are no token of any kind: an access token, garbage of every length,
# control characters, a lone surrogate, other scripts
NOT_A_TOKEN = [
    "eyJhbGciOiJFUzI1NiJ9." + "e30" * 300 + ".sig",
    "x",
    "r" * 10_000,
    "abc\x00def",
    "line\nbreak",
    "\ud800",
    "жетон.токен.знак",
]


class TestAnyStringIsATokenRefusal:
    """A client that sends the wrong thing as a token gets that token's refusal, never a
    422, so its "sign in again" path works whatever it held (issue 12, item 17)."""

    async def test_any_string_that_is_not_a_refresh_token_is_401(self, api: Api) -> None:
        for value in [*NOT_A_TOKEN, ""]:
            response = await post_json(api, "/auth/refresh", {"refresh_token": value})
            assert_problem(response, 401, "invalid_refresh_token")
            ended = await post_json(api, "/auth/logout", {"refresh_token": value})
            assert ended.status_code == 204, ended.text

    async def test_any_string_that_is_not_a_refresh_token_is_invalid_grant(self, api: Api) -> None:
        for value in NOT_A_TOKEN:
            if "\ud800" in value:
                continue  # a form cannot carry a lone surrogate
            response = await api.client.post(
                "/auth/token", data={"grant_type": "refresh_token", "refresh_token": value}
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_grant"

    async def test_any_string_that_is_not_an_mfa_token_is_401(self, api: Api) -> None:
        for value in [*NOT_A_TOKEN, "0" * 32 + ".x", ""]:
            response = await post_json(
                api, "/auth/login/mfa", {"mfa_token": value, "code": "123456"}
            )
            assert_problem(response, 401, "invalid_mfa_token")

    async def test_any_string_that_is_not_an_email_link_is_400(self, api: Api) -> None:
        for value in [*NOT_A_TOKEN, ""]:
            verified = await post_json(api, "/auth/verify-email", {"token": value})
            assert_problem(verified, 400, "invalid_token")
            reset = await post_json(
                api, "/auth/reset-password", {"token": value, "new_password": PASSWORD}
            )
            assert_problem(reset, 400, "invalid_token")


async def post_json(api: Api, path: str, body: dict[str, Any]) -> Any:
    # json.dumps escapes everything (a lone surrogate becomes "\ud800"), as a client may send it
    return await api.client.post(path, content=json.dumps(body).encode(), headers=JSON)
