"""The `mfa_token` of a half-finished sign-in is worth nothing but its second step (SPEC
"Security properties" and "Tokens": verification "rejects every other token type
(refresh, MFA challenge, ID tokens)").

Someone who knows the password but not the second factor holds an `mfa_token`; it
must not open a bearer-protected route, refresh a session or pass as a refresh
grant. The other way round, an access or refresh token is no `mfa_token`. After
every misuse the challenge is still open and completes with the right code, so
each refusal was of a live token.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pyotp
import pytest

from tests.conftest import Api, Tokens, assert_problem, bearer

STEP_SECONDS = 30
MARGIN_SECONDS = 3.0
BEARER_ROUTES = ["/users/me", "/auth/mfa", "/auth/sessions"]
# `mfa_token` is an opaque token field (schemas.OpaqueToken): anything longer is
# refused at the schema, as every oversized field is; an ES256 access token is longer
MAX_TOKEN_LENGTH = 512


async def fresh_step() -> None:
    """Wait (a few seconds at most) until at least MARGIN_SECONDS remain in this step."""
    remaining = STEP_SECONDS - time.time() % STEP_SECONDS
    if remaining < MARGIN_SECONDS:
        await asyncio.sleep(remaining + 0.05)


async def enrolled_user(api: Api) -> tuple[Tokens, pyotp.TOTP]:
    """An account with TOTP on, confirmed with the previous step's code."""
    tokens = await api.signed_in()
    setup = await api.client.post("/auth/mfa/totp/setup", headers=bearer(tokens.access))
    assert setup.status_code == 200, setup.text
    authenticator = pyotp.TOTP(setup.json()["secret"])
    await fresh_step()
    confirmed = await api.client.post(
        "/auth/mfa/totp/confirm",
        json={"code": authenticator.at(time.time() - STEP_SECONDS)},
        headers=bearer(tokens.access),
    )
    assert confirmed.status_code == 200, confirmed.text
    return tokens, authenticator


async def mfa_token_of(api: Api, email: str) -> str:
    mfa_token: str = assert_problem(await api.login(email), 403, "mfa_required")["mfa_token"]
    return mfa_token


async def answer(api: Api, mfa_token: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": code, "refresh_token_delivery": "body"},
    )


def assert_refused_as_mfa_token(response: httpx.Response, impostor: str) -> None:
    if len(impostor) > MAX_TOKEN_LENGTH:
        assert_problem(response, 422, "validation_error")
    else:
        assert_problem(response, 401, "invalid_mfa_token")


async def assert_still_completes(api: Api, mfa_token: str, authenticator: pyotp.TOTP) -> None:
    await fresh_step()
    completed = await answer(api, mfa_token, authenticator.now())
    assert completed.status_code == 200, completed.text


class TestMfaTokenAsSomethingElse:
    @pytest.mark.parametrize("route", BEARER_ROUTES)
    async def test_it_is_no_bearer_token(self, api: Api, route: str) -> None:
        tokens, authenticator = await enrolled_user(api)
        mfa_token = await mfa_token_of(api, tokens.email)

        response = await api.client.get(route, headers=bearer(mfa_token))

        assert_problem(response, 401, "invalid_token")
        assert response.headers["www-authenticate"].startswith("Bearer ")
        assert mfa_token not in response.text
        await assert_still_completes(api, mfa_token, authenticator)

    async def test_it_refreshes_nothing(self, api: Api) -> None:
        tokens, authenticator = await enrolled_user(api)
        mfa_token = await mfa_token_of(api, tokens.email)

        assert_problem(await api.refresh(mfa_token), 401, "invalid_refresh_token")
        await assert_still_completes(api, mfa_token, authenticator)

    async def test_it_is_no_refresh_grant(self, api: Api) -> None:
        tokens, authenticator = await enrolled_user(api)
        mfa_token = await mfa_token_of(api, tokens.email)

        response = await api.client.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": mfa_token}
        )

        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
        assert "access_token" not in response.json()
        await assert_still_completes(api, mfa_token, authenticator)


class TestOtherTokensAsMfaToken:
    async def test_an_access_or_refresh_token_is_no_mfa_token(self, api: Api) -> None:
        tokens, authenticator = await enrolled_user(api)
        mfa_token = await mfa_token_of(api, tokens.email)  # a live challenge of this account
        await fresh_step()
        code = authenticator.now()

        assert len(tokens.refresh) <= MAX_TOKEN_LENGTH  # one of them reaches the check
        for impostor in (tokens.access, tokens.refresh):
            assert_refused_as_mfa_token(await answer(api, impostor, code), impostor)
        # the right code was not spent by those answers: it still completes the real one
        completed = await answer(api, mfa_token, code)
        assert completed.status_code == 200, completed.text
        session = completed.json()
        for impostor in (session["access_token"], session["refresh_token"]):
            assert_refused_as_mfa_token(await answer(api, impostor, code), impostor)

    async def test_a_completed_mfa_token_is_no_token_at_all(self, api: Api) -> None:
        tokens, authenticator = await enrolled_user(api)
        mfa_token = await mfa_token_of(api, tokens.email)
        await assert_still_completes(api, mfa_token, authenticator)

        for route in BEARER_ROUTES:
            assert_problem(
                await api.client.get(route, headers=bearer(mfa_token)), 401, "invalid_token"
            )
        assert_problem(await api.refresh(mfa_token), 401, "invalid_refresh_token")
