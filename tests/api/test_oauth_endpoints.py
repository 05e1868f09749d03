"""`/auth/token` (RFC 6749, as Swagger UI's Authorize button posts it) and
`/auth/revoke` (RFC 7009), on both backends."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import PASSWORD, Api, Tokens, bearer, unique_email

FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def assert_oauth_error(response: httpx.Response, error: str, code: str | None = None) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description", "code"}
    assert body["error"] == error
    assert body["error_description"]
    if code is not None:
        assert body["code"] == code


async def password_grant(api: Api, **fields: str) -> httpx.Response:
    return await api.client.post("/auth/token", data=fields)


class TestPasswordGrant:
    @pytest.mark.parametrize(
        ("extra_fields", "headers"),
        [
            ({}, {}),
            ({"client_id": "swagger-ui"}, {}),
            ({"client_id": "swagger-ui"}, basic("swagger-ui")),
        ],
        ids=["plain", "client-id", "client-id-and-basic-auth"],
    )
    @pytest.mark.requirement("RFC6749-5.1")
    async def test_swagger_authorize_form_gets_a_token_response(
        self, api: Api, extra_fields: dict[str, str], headers: dict[str, str]
    ) -> None:
        email = await api.create_user()
        response = await api.client.post(
            "/auth/token",
            content=urlencode(
                {
                    "grant_type": "password",
                    "username": email,
                    "password": PASSWORD,
                    "scope": "",
                    **extra_fields,
                }
            ),
            headers={"Content-Type": FORM, "Accept": "application/json", **headers},
        )

        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == api.settings.access_token_ttl_seconds
        me = await api.me(body["access_token"])
        assert me.status_code == 200
        assert me.json()["email"] == email
        assert (await api.refresh(body["refresh_token"])).status_code == 200

    async def test_username_is_normalised_like_login(self, api: Api) -> None:
        email = await api.create_user()
        response = await password_grant(
            api, grant_type="password", username=f"  {email.upper()} ", password=PASSWORD
        )
        assert response.status_code == 200, response.text

    @pytest.mark.requirement("RFC6749-4.3.2-a", "RFC6749-5.2-a")
    async def test_wrong_password_is_invalid_grant(self, api: Api) -> None:
        email = await api.create_user()
        response = await password_grant(
            api, grant_type="password", username=email, password="wrong password entirely"
        )
        assert_oauth_error(response, "invalid_grant", "invalid_credentials")

    async def test_unknown_user_is_the_same_invalid_grant(self, api: Api) -> None:
        known = await password_grant(
            api, grant_type="password", username=await api.create_user(), password="nope nope nope"
        )
        unknown = await password_grant(
            api, grant_type="password", username=unique_email(), password="nope nope nope"
        )
        assert_oauth_error(unknown, "invalid_grant", "invalid_credentials")
        assert unknown.json() == known.json()

    async def test_username_that_is_not_an_email_is_invalid_grant(self, api: Api) -> None:
        response = await password_grant(
            api, grant_type="password", username="not an email", password=PASSWORD
        )
        assert_oauth_error(response, "invalid_grant", "invalid_credentials")

    @pytest.mark.requirement("RFC6749-5.2-a")
    async def test_missing_grant_type_is_invalid_request(self, api: Api) -> None:
        email = await api.create_user()
        response = await password_grant(api, username=email, password=PASSWORD)
        assert_oauth_error(response, "invalid_request")

    async def test_empty_form_is_invalid_request(self, api: Api) -> None:
        response = await api.client.post("/auth/token", headers={"Content-Type": FORM})
        assert_oauth_error(response, "invalid_request")

    @pytest.mark.requirement("RFC6749-5.2-a")
    @pytest.mark.parametrize(
        "grant_type",
        ["client_credentials", "urn:ietf:params:oauth:grant-type:device_code", "PASSWORD"],
    )
    async def test_unknown_grant_type_is_unsupported_grant_type(
        self, api: Api, grant_type: str
    ) -> None:
        response = await password_grant(
            api, grant_type=grant_type, username=unique_email(), password=PASSWORD
        )
        assert_oauth_error(response, "unsupported_grant_type")

    @pytest.mark.requirement("RFC6749-4.3.2-a")
    @pytest.mark.parametrize("missing", ["username", "password"])
    async def test_missing_credentials_are_invalid_request(self, api: Api, missing: str) -> None:
        fields = {"grant_type": "password", "username": unique_email(), "password": PASSWORD}
        del fields[missing]
        assert_oauth_error(await password_grant(api, **fields), "invalid_request")

    async def test_unverified_email_is_invalid_grant_with_its_code(self, api: Api) -> None:
        email = unique_email()
        assert (await api.register(email)).status_code == 202
        response = await password_grant(
            api, grant_type="password", username=email, password=PASSWORD
        )
        assert_oauth_error(response, "invalid_grant", "email_not_verified")


async def revoke(api: Api, **fields: Any) -> httpx.Response:
    return await api.client.post("/auth/revoke", data=fields)


async def assert_ended(api: Api, tokens: Tokens) -> None:
    me = await api.client.get("/users/me", headers=bearer(tokens.access))
    assert me.status_code == 401
    assert me.json()["code"] == "invalid_token"
    refreshed = await api.refresh(tokens.refresh)
    assert refreshed.status_code == 401
    assert refreshed.json()["code"] == "invalid_refresh_token"


class TestRevocation:
    @pytest.mark.requirement("ASVS-10.4.9", "RFC7009-2", "RFC7009-2.1-b")
    async def test_revoking_a_refresh_token_ends_its_session(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await revoke(api, token=tokens.refresh, token_type_hint="refresh_token")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        await assert_ended(api, tokens)

    @pytest.mark.requirement("RFC7009-2")
    async def test_revoking_an_access_token_ends_its_session(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await revoke(api, token=tokens.access, token_type_hint="access_token")
        assert response.status_code == 200
        await assert_ended(api, tokens)

    @pytest.mark.requirement("RFC7009-2.1-a")
    async def test_a_wrong_type_hint_does_not_matter(self, api: Api) -> None:
        tokens = await api.signed_in()
        assert (
            await revoke(api, token=tokens.access, token_type_hint="refresh_token")
        ).status_code == 200
        await assert_ended(api, tokens)

    async def test_revocation_leaves_other_sessions_alone(self, api: Api) -> None:
        email = await api.create_user()
        revoked = await api.signed_in(email)
        kept = await api.signed_in(email)
        assert (await revoke(api, token=revoked.refresh)).status_code == 200
        assert (await api.me(kept.access)).status_code == 200
        assert (await api.refresh(kept.refresh)).status_code == 200

    @pytest.mark.parametrize(
        "token",
        [
            "garbage",
            "00000000-0000-0000-0000-000000000000.secret.mac",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        ],
        ids=["garbage", "unsigned-refresh-shape", "unsigned-jwt"],
    )
    @pytest.mark.requirement("RFC7009-2.2")
    async def test_unknown_or_invalid_token_is_200(self, api: Api, token: str) -> None:
        response = await revoke(api, token=token)
        assert response.status_code == 200

    @pytest.mark.requirement("RFC7009-2.2")
    async def test_revoking_twice_is_200(self, api: Api) -> None:
        tokens = await api.signed_in()
        assert (await revoke(api, token=tokens.refresh)).status_code == 200
        assert (await revoke(api, token=tokens.refresh)).status_code == 200
        assert (await revoke(api, token=tokens.access)).status_code == 200

    @pytest.mark.requirement("RFC7009-2.2")
    async def test_forged_refresh_token_revokes_nothing(self, api: Api) -> None:
        tokens = await api.signed_in()
        session_id, secret, mac = tokens.refresh.split(".")
        assert (
            await revoke(api, token=f"{session_id}.{secret}.{'A' * len(mac)}")
        ).status_code == 200
        assert (await api.me(tokens.access)).status_code == 200

    @pytest.mark.requirement("RFC7009-2.1-a")
    async def test_missing_token_is_invalid_request(self, api: Api) -> None:
        response = await api.client.post("/auth/revoke", headers={"Content-Type": FORM})
        assert_oauth_error(response, "invalid_request")
        response = await revoke(api, token_type_hint="refresh_token")
        assert_oauth_error(response, "invalid_request")


class TestFormEncoding:
    """OAuth clients send forms; a JSON body is told so instead of "grant_type is missing"."""

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/auth/token", {"grant_type": "password", "username": "a@example.com"}),
            ("/auth/revoke", {"token": "x"}),
        ],
    )
    @pytest.mark.requirement("RFC6749-5.2-a")
    async def test_a_json_body_is_told_to_send_a_form(
        self, api: Api, path: str, body: dict[str, str]
    ) -> None:
        response = await api.client.post(path, json=body)
        assert_oauth_error(response, "invalid_request")
        assert "form-encoded" in response.json()["error_description"]

    async def test_introspection_authenticates_the_client_before_reading_the_body(
        self, make_api: Any
    ) -> None:
        secret = "s" * 24
        async with make_api(introspection_clients=[f"rs:{secret}"]) as api:
            anonymous = await api.client.post("/auth/introspect", json={"token": "x"})
            assert anonymous.status_code == 401
            assert anonymous.json()["error"] == "invalid_client"
            response = await api.client.post(
                "/auth/introspect", json={"token": "x"}, headers=basic("rs", secret)
            )
            assert_oauth_error(response, "invalid_request")
            assert "form-encoded" in response.json()["error_description"]
            # a form is still a form, with or without its charset
            tokens = await api.signed_in()
            form = await api.client.post(
                "/auth/introspect",
                content=urlencode({"token": tokens.access}),
                headers={
                    **basic("rs", secret),
                    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                },
            )
            assert form.status_code == 200
            assert form.json()["active"] is True
