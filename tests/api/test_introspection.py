"""`POST /auth/introspect` (RFC 7662), as a resource server calls it, on both backends.

- Callers authenticate with HTTP Basic as a client of AUTHAPI_INTROSPECTION_CLIENTS
  (id and secret form-encoded first, RFC 6749 §2.3.1). Anything else is 401
  `invalid_client` with `WWW-Authenticate: Basic realm="authapi"`, and says nothing
  about the token.
- A live access or refresh token is `active: true` with its claims; anything that is not
  live now (ended, rotated away, expired, forged, another issuer's or audience's,
  malformed) is exactly `{"active": false}`. Revocation shows at once.
- Answers are never cached (`Cache-Control: no-store`) and never a 500.

Expired access tokens: the app's tokens live at least 10 s, so rather than wait, the
test takes a live token and re-signs its claims, with `exp` in the past, with the app's
own signing key (`resources.keyring.signer`, the key `AccessTokens.issue` signs with)
under its `kid` and `typ`. A control token minted the same way with the claims unchanged
is active, so the expired one is refused for its `exp` alone. One test (one backend: the
expiry check is in-process) also waits out a 10 s token, since a token already verified
once is checked against a cache of verified tokens, a path of its own.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote_plus

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import (
    PUBLIC_URL,
    Api,
    Tokens,
    assert_problem,
    bearer,
    link_token,
    unique_email,
)
from tests.mfa import challenge, mfa_user

RS1 = ("rs1", secrets.token_urlsafe(24))  # 32 characters
RS2 = ("rs2", secrets.token_urlsafe(24))
# RFC 6749 §2.3.1: a secret with reserved characters travels form-encoded inside Basic
ODD = ("odd", "p:ss%word+with:colons%41&=/" + secrets.token_urlsafe(12))
CLIENTS = [f"{client_id}:{secret}" for client_id, secret in (RS1, RS2, ODD)]
CHALLENGE = 'Basic realm="authapi"'
INACTIVE = {"active": False}
OTHER_ISSUER = "https://other-issuer.example.com"


# --- steps ---------------------------------------------------------------------------------
def basic(client_id: str, secret: str) -> dict[str, str]:
    """Basic credentials as RFC 6749 §2.3.1 sends them: both parts form-encoded first."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def raw_authorization(value: str) -> dict[str, str]:
    return {"Authorization": value}


async def introspect(
    api: Api, token: str | None, headers: dict[str, str] | None = None, **form: str
) -> httpx.Response:
    data = dict(form)
    if token is not None:
        data["token"] = token
    return await api.client.post(
        "/auth/introspect", data=data, headers=basic(*RS1) if headers is None else headers
    )


def assert_no_store(response: httpx.Response) -> None:
    assert "no-store" in response.headers.get("cache-control", ""), response.headers


def assert_inactive(response: httpx.Response) -> None:
    """Exactly `{"active": false}`: a dead token's claims are never told."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == INACTIVE, response.text
    assert_no_store(response)


def assert_active(response: httpx.Response, token_type: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["active"] is True, body
    assert body["token_type"] == token_type, body
    assert_no_store(response)
    return body


def assert_invalid_client(response: httpx.Response, *secrets_shown: str) -> None:
    """401 invalid_client with the Basic challenge, and nothing about the token."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == CHALLENGE
    body = response.json()
    assert body["error"] == "invalid_client", body
    assert "active" not in body
    assert not {"sub", "sid", "exp", "iat", "iss", "aud", "token_type"} & set(body), body
    assert_no_store(response)
    for secret in secrets_shown:
        assert secret not in response.text


async def user_id(api: Api, access: str) -> str:
    response = await api.me(access)
    assert response.status_code == 200, response.text
    value: str = response.json()["id"]
    return value


def claims_of(access: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(access, options={"verify_signature": False})
    return claims


def mint(api: Api, claims: dict[str, Any], **changes: Any) -> str:
    """The claims (with `changes`) signed as the app signs its access tokens."""
    signer = api.app.state.resources.keyring.signer
    return jwt.encode(
        {**claims, **changes},
        signer.signing_key,
        algorithm=signer.algorithm,
        headers={"kid": signer.kid, "typ": "at+jwt"},
    )


@pytest.fixture
async def rs_api(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    """An app with three introspection clients configured."""
    async with make_api(introspection_clients=CLIENTS) as instance:
        yield instance


# --- live tokens ----------------------------------------------------------------------------
class TestLiveTokens:
    @pytest.mark.requirement("RFC6750-5.3-a", "RFC7662-2.2-a")
    async def test_a_live_access_token_is_active_with_its_claims(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        claims = claims_of(tokens.access)
        before = int(time.time())

        body = assert_active(await introspect(rs_api, tokens.access), "access_token")

        assert body["sub"] == await user_id(rs_api, tokens.access)
        assert body["sid"] == claims["sid"]
        uuid.UUID(body["sid"])
        assert body["exp"] == claims["exp"]
        assert body["iat"] == claims["iat"]
        assert body["iat"] <= before + 1 < body["exp"]
        assert body["exp"] - body["iat"] == rs_api.settings.access_token_ttl_seconds
        assert body["iss"] == PUBLIC_URL
        assert body["aud"] == rs_api.settings.audience
        assert body["client_id"] == rs_api.settings.client_id
        assert isinstance(body["exp"], int)
        assert isinstance(body["iat"], int)

    @pytest.mark.requirement("RFC7662-2.2-a")
    async def test_a_live_refresh_token_is_active_with_its_session(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        before = time.time()

        body = assert_active(await introspect(rs_api, tokens.refresh), "refresh_token")

        assert body["sub"] == await user_id(rs_api, tokens.access)
        assert body["sid"] == claims_of(tokens.access)["sid"]
        ttl = rs_api.settings.refresh_token_ttl_seconds
        assert before < body["exp"] <= before + ttl + 2, (body, before)
        assert body.get("iat", before) <= before + 1

    @pytest.mark.requirement("RFC6749-2.3.1", "RFC7662-2.1-a")
    async def test_every_configured_client_may_ask_and_the_hint_is_ignored(
        self, rs_api: Api
    ) -> None:
        tokens = await rs_api.signed_in()
        for client in (RS1, RS2, ODD):
            assert_active(await introspect(rs_api, tokens.access, basic(*client)), "access_token")
        # a wrong hint changes nothing: each kind is recognised by its form
        hinted = await introspect(rs_api, tokens.access, token_type_hint="refresh_token")
        assert_active(hinted, "access_token")
        hinted = await introspect(rs_api, tokens.refresh, token_type_hint="access_token")
        assert_active(hinted, "refresh_token")

    @pytest.mark.requirement("RFC6749-2.3.1")
    async def test_the_basic_scheme_name_is_case_insensitive(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        value = basic(*RS1)["Authorization"].split(" ", 1)[1]
        for scheme in ("basic", "BASIC"):
            response = await introspect(
                rs_api, tokens.access, raw_authorization(f"{scheme} {value}")
            )
            assert_active(response, "access_token")


# --- ended tokens -----------------------------------------------------------------------------
async def end_by_logout(api: Api, tokens: Tokens) -> None:
    response = await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
    assert response.status_code == 204, response.text


async def end_by_revoking_the_refresh_token(api: Api, tokens: Tokens) -> None:
    response = await api.client.post("/auth/revoke", data={"token": tokens.refresh})
    assert response.status_code == 200, response.text


async def end_by_revoking_the_access_token(api: Api, tokens: Tokens) -> None:
    response = await api.client.post("/auth/revoke", data={"token": tokens.access})
    assert response.status_code == 200, response.text


async def end_by_logout_all(api: Api, tokens: Tokens) -> None:
    response = await api.client.post("/auth/logout-all", headers=bearer(tokens.access))
    assert response.status_code == 204, response.text


async def end_by_deleting_the_session(api: Api, tokens: Tokens) -> None:
    sid = claims_of(tokens.access)["sid"]
    response = await api.client.delete(f"/auth/sessions/{sid}", headers=bearer(tokens.access))
    assert response.status_code == 204, response.text


ENDINGS = {
    "logout": end_by_logout,
    "revoke refresh token": end_by_revoking_the_refresh_token,
    "revoke access token": end_by_revoking_the_access_token,
    "logout-all": end_by_logout_all,
    "delete session": end_by_deleting_the_session,
}


class TestEndedTokens:
    @pytest.mark.requirement("ASVS-7.4.1", "RFC7009-2.1-b", "RFC7662-2.2-b")
    @pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
    async def test_an_ended_sessions_tokens_are_inactive_at_once(
        self, rs_api: Api, ending: str
    ) -> None:
        tokens = await rs_api.signed_in()
        other = await rs_api.signed_in(tokens.email)  # another session of the same account
        assert_active(await introspect(rs_api, tokens.access), "access_token")
        assert_active(await introspect(rs_api, tokens.refresh), "refresh_token")

        await ENDINGS[ending](rs_api, tokens)

        assert_inactive(await introspect(rs_api, tokens.access))
        assert_inactive(await introspect(rs_api, tokens.refresh))
        # consistent with the API's own checks
        assert_problem(await rs_api.me(tokens.access), 401, "invalid_token")
        if ending == "logout-all":
            assert_inactive(await introspect(rs_api, other.access))
            assert_inactive(await introspect(rs_api, other.refresh))
        else:
            assert_active(await introspect(rs_api, other.access), "access_token")
            assert_active(await introspect(rs_api, other.refresh), "refresh_token")

    @pytest.mark.requirement("RFC7662-4")
    async def test_a_rotated_away_refresh_token_is_inactive_and_asking_revokes_nothing(
        self, rs_api: Api
    ) -> None:
        tokens = await rs_api.signed_in()
        rotated = await rs_api.refresh(tokens.refresh)
        assert rotated.status_code == 200, rotated.text
        successor, new_access = rotated.json()["refresh_token"], rotated.json()["access_token"]

        for _ in range(3):  # asking repeatedly is not a reuse
            assert_inactive(await introspect(rs_api, tokens.refresh))
        assert_active(await introspect(rs_api, successor), "refresh_token")
        assert_active(await introspect(rs_api, new_access), "access_token")

        # the session lives on: the successor still refreshes
        again = await rs_api.refresh(successor)
        assert again.status_code == 200, again.text
        assert (await rs_api.me(again.json()["access_token"])).status_code == 200
        assert_inactive(await introspect(rs_api, successor))  # now rotated away too
        assert_active(await introspect(rs_api, again.json()["refresh_token"]), "refresh_token")

    @pytest.mark.requirement("RFC7662-2.2-b")
    async def test_a_forged_refresh_token_of_a_live_session_is_inactive_and_harmless(
        self, rs_api: Api
    ) -> None:
        tokens = await rs_api.signed_in()
        sid, secret, mac = tokens.refresh.split(".")
        forged = [
            f"{sid}.{secret}.{'A' * len(mac)}",
            f"{sid}.{'B' * len(secret)}.{mac}",
            f"{sid}.{secret}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
            f"{sid}.{secret}",
            f"{sid}..{mac}",
        ]
        for token in forged:
            assert_inactive(await introspect(rs_api, token))
        # nothing of that revoked the session
        assert_active(await introspect(rs_api, tokens.refresh), "refresh_token")
        assert (await rs_api.refresh(tokens.refresh)).status_code == 200


# --- expired, foreign and malformed tokens ------------------------------------------------------
class TestExpiredTokens:
    @pytest.mark.requirement("RFC7662-4")
    async def test_an_expired_access_token_of_a_live_session_is_inactive(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        claims = claims_of(tokens.access)
        now = int(time.time())
        leeway = rs_api.settings.clock_leeway_seconds

        # control: minted like the app mints, the claims unchanged, it is active
        control = mint(rs_api, claims, jti=uuid.uuid4().hex)
        assert_active(await introspect(rs_api, control), "access_token")

        expired = mint(
            rs_api,
            claims,
            jti=uuid.uuid4().hex,
            iat=now - 1000,
            nbf=now - 1000,
            exp=now - leeway - 30,
        )
        assert_inactive(await introspect(rs_api, expired))
        assert_problem(await rs_api.me(expired), 401, "token_expired")
        # the session itself is fine
        assert_active(await introspect(rs_api, tokens.access), "access_token")

    @pytest.mark.requirement("RFC7662-4")
    async def test_a_token_not_yet_valid_is_inactive(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        claims = claims_of(tokens.access)
        now = int(time.time())
        future = mint(rs_api, claims, jti=uuid.uuid4().hex, iat=now + 600, nbf=now + 600)
        assert_inactive(await introspect(rs_api, future))

    @pytest.mark.requirement("ASVS-9.2.1")
    @pytest.mark.parametrize("backend", ["embedded"], indirect=True)
    async def test_a_token_verified_once_is_inactive_once_it_expires(
        self, make_api: Callable[..., Any]
    ) -> None:
        """A token checked once (its verification cached) stops working at its `exp`. The
        token is signed as the app signs, with an `exp` two seconds away: settings allow
        no access token shorter than 10 s, and waiting for one made this the suite's
        slowest test."""
        async with make_api(introspection_clients=CLIENTS, clock_leeway_seconds=0) as api:
            tokens = await api.signed_in()
            expires_at = int(time.time()) + 2
            access = mint(api, claims_of(tokens.access), jti=uuid.uuid4().hex, exp=expires_at)
            assert_active(await introspect(api, access), "access_token")
            assert (await api.me(access)).status_code == 200

            await asyncio.sleep(max(0.0, expires_at - time.time()) + 1.2)

            assert_inactive(await introspect(api, access))
            assert_problem(await api.me(access), 401, "token_expired")
            # the refresh token is still live, and its successor's access token is active
            assert_active(await introspect(api, tokens.refresh), "refresh_token")
            rotated = await api.refresh(tokens.refresh)
            assert rotated.status_code == 200, rotated.text
            assert_active(await introspect(api, rotated.json()["access_token"]), "access_token")


class TestForeignTokens:
    @pytest.mark.requirement("ASVS-10.3.1", "ASVS-9.2.3", "RFC7662-2.2-b")
    async def test_a_token_of_another_issuer_or_audience_is_inactive(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        claims = claims_of(tokens.access)
        for changes in (
            {"iss": OTHER_ISSUER},
            {"aud": "another-audience"},
            {"aud": ["another-audience"]},
        ):
            token = mint(rs_api, claims, jti=uuid.uuid4().hex, **changes)
            assert_inactive(await introspect(rs_api, token))

    @pytest.mark.requirement("RFC8725-3.8")
    async def test_a_token_of_another_app_configured_with_another_issuer_is_inactive(
        self, rs_api: Api, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            introspection_clients=CLIENTS, issuer=OTHER_ISSUER, app_url=OTHER_ISSUER
        ) as other:
            theirs = await other.signed_in()
            # a good token there…
            body = assert_active(await introspect(other, theirs.access), "access_token")
            assert body["iss"] == OTHER_ISSUER
            # …but not one of ours
            assert_inactive(await introspect(rs_api, theirs.access))
            # and ours is not theirs
            ours = await rs_api.signed_in()
            assert_inactive(await introspect(other, ours.access))

    @pytest.mark.requirement("ASVS-9.1.1", "RFC7662-4")
    async def test_a_token_signed_by_another_key_is_inactive(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        claims = claims_of(tokens.access)
        signer = rs_api.app.state.resources.keyring.signer
        foreign = ec.generate_private_key(ec.SECP256R1())
        for kid in (signer.kid, "someone-elses-key"):
            token = jwt.encode(
                claims, foreign, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"}
            )
            assert_inactive(await introspect(rs_api, token))
        unsigned = jwt.encode(
            claims, None, algorithm="none", headers={"kid": signer.kid, "typ": "at+jwt"}
        )
        assert_inactive(await introspect(rs_api, unsigned))
        # a flipped signature character
        head, payload, signature = tokens.access.split(".")
        flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
        assert_inactive(await introspect(rs_api, f"{head}.{payload}.{flipped}"))
        # the live one still is
        assert_active(await introspect(rs_api, tokens.access), "access_token")

    @pytest.mark.requirement("RFC7662-2.2-b")
    async def test_garbage_is_inactive_and_never_a_500(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        garbage = [
            "garbage",
            "a.b.c",
            "...",
            "eyJhbGciOiJub25lIn0.e30.",
            "%00%ff",
            "токен",
            "x" * 5000,
            tokens.access + "x" * 5000,
            "Bearer " + tokens.access,
            tokens.refresh.replace(".", "", 1),
            f"{uuid.uuid4()}.{'a' * 43}.{'b' * 43}",
            "\t" + "y" * 100,
        ]
        for token in garbage:
            assert_inactive(await introspect(rs_api, token))

    @pytest.mark.requirement("RFC8725-3.12")
    async def test_other_secrets_of_the_app_are_not_tokens(self, rs_api: Api) -> None:
        """A sign-in challenge (mfa_token) and an email link token are inactive."""
        user = await mfa_user(rs_api)
        assert_inactive(await introspect(rs_api, await challenge(rs_api, user.email)))
        email = unique_email("introspect-link")
        assert (await rs_api.register(email)).status_code == 202
        link = link_token(await rs_api.mail.wait_for(email, subject="Confirm"))
        assert_inactive(await introspect(rs_api, link))
        # the link still works: asking about it spent nothing
        verified = await rs_api.client.post("/auth/verify-email", json={"token": link})
        assert verified.status_code == 200, verified.text

    async def test_an_empty_token_is_inactive(self, rs_api: Api) -> None:
        response = await introspect(rs_api, "")
        assert response.status_code != 500, response.text
        # The parameter is present, its value names no live token: the contract (issue 7:
        # "anything ... malformed -> exactly {"active": false}") and the service
        # (Introspection.introspect returns INACTIVE for an empty token) say inactive.
        assert response.status_code == 200, (
            "APP BUG: POST /auth/introspect with token= (present, empty) answers "
            f"{response.status_code} {response.text}: FastAPI turns the empty form value into "
            "None, so the route says 'The token parameter is missing.' and "
            "Introspection.introspect's empty-token branch is never reached"
        )
        assert_inactive(response)


# --- the request and the caller -------------------------------------------------------------------
class TestRequest:
    @pytest.mark.requirement("RFC7662-2.1-a")
    async def test_a_missing_token_is_invalid_request(self, rs_api: Api) -> None:
        response = await introspect(rs_api, None)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_request"
        assert "active" not in response.json()
        assert_no_store(response)

    async def test_a_json_body_is_not_a_form(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        response = await rs_api.client.post(
            "/auth/introspect", json={"token": tokens.access}, headers=basic(*RS1)
        )
        assert response.status_code in (400, 415, 422), response.text
        assert tokens.access not in response.text


class TestClientAuthentication:
    def bad_credentials(self) -> dict[str, dict[str, str]]:
        rs1_id, rs1_secret = RS1
        _, rs2_secret = RS2
        changed = rs1_secret[:-1] + ("A" if rs1_secret[-1] != "A" else "B")
        b64 = base64.b64encode
        return {
            "none": {},
            "wrong secret": basic(rs1_id, "x" * 32),
            "another client's secret": basic(rs1_id, rs2_secret),
            "one character off": basic(rs1_id, changed),
            "a prefix of the secret": basic(rs1_id, rs1_secret[:-1]),
            "the secret and more": basic(rs1_id, rs1_secret + "x"),
            "empty secret": basic(rs1_id, ""),
            "unknown client id": basic("rs3", rs1_secret),
            "empty client id": basic("", rs1_secret),
            "id and secret swapped": basic(rs1_secret, rs1_id),
            "not base64": raw_authorization("Basic !!!not-base64!!!"),
            "no colon": raw_authorization("Basic " + b64((rs1_id + rs1_secret).encode()).decode()),
            "not UTF-8": raw_authorization("Basic " + b64(b"rs1:\xff\xfe" + b"x" * 30).decode()),
            "scheme only": raw_authorization("Basic"),
            "scheme and space": raw_authorization("Basic "),
            "bearer scheme": raw_authorization(f"Bearer {rs1_secret}"),
            "digest scheme": raw_authorization(f'Digest username="{rs1_id}"'),
            "credentials without scheme": raw_authorization(
                b64(f"{rs1_id}:{rs1_secret}".encode()).decode()
            ),
        }

    @pytest.mark.requirement("ASVS-10.4.10", "RFC6749-5.2-b", "RFC7662-2.1-b")
    async def test_bad_client_credentials_are_401_with_a_basic_challenge(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        sub = await user_id(rs_api, tokens.access)
        sid = claims_of(tokens.access)["sid"]
        for case, headers in self.bad_credentials().items():
            for token in (tokens.access, tokens.refresh, "garbage"):
                response = await introspect(rs_api, token, headers)
                assert response.status_code == 401, (case, response.text)
                assert_invalid_client(response, sub, sid, RS1[1], RS2[1])
        # a bearer access token is no client credential either
        response = await introspect(rs_api, tokens.access, bearer(tokens.access))
        assert_invalid_client(response, sub, sid)
        # and nothing was revoked by any of it
        assert_active(await introspect(rs_api, tokens.access), "access_token")
        assert_active(await introspect(rs_api, tokens.refresh), "refresh_token")

    @pytest.mark.requirement("RFC7662-2.1-b")
    async def test_bad_credentials_without_a_token_are_401_not_400(self, rs_api: Api) -> None:
        assert_invalid_client(await introspect(rs_api, None, {}))
        assert_invalid_client(await introspect(rs_api, None, basic(RS1[0], "x" * 32)))

    @pytest.mark.requirement("ASVS-10.4.10", "RFC6749-5.2-b", "RFC7662-2.1-b")
    async def test_no_clients_configured_means_401_for_everyone(self, api: Api) -> None:
        tokens = await api.signed_in()
        for headers in ({}, basic(*RS1), basic("", ""), bearer(tokens.access)):
            response = await introspect(api, tokens.access, headers)
            assert_invalid_client(response)

    @pytest.mark.requirement("RFC6749-2.3.1")
    async def test_a_secret_with_reserved_characters_works_form_encoded(self, rs_api: Api) -> None:
        tokens = await rs_api.signed_in()
        client_id, secret = ODD
        assert all(character in secret for character in ":%+")
        assert_active(
            await introspect(rs_api, tokens.access, basic(client_id, secret)), "access_token"
        )
        # the same secret with one character off is refused
        assert_invalid_client(
            await introspect(rs_api, tokens.access, basic(client_id, secret + "!"))
        )
