"""The `mfa_token` of a half-finished sign-in is worth nothing but its second step (SPEC
"Security properties" and "Tokens": verification "rejects every other token type
(refresh, MFA challenge, ID tokens)").

Someone who knows the password but not the second factor holds an `mfa_token`; it
must not open a bearer-protected route, refresh a session or pass as a refresh
grant. The other way round, an access or refresh token is no `mfa_token`. After
every misuse the challenge is still open and completes with the right code, so
each refusal was of a live token. (Enrolment confirms with the previous step's code,
so the current step's code is free to complete it.)
"""

from __future__ import annotations

import httpx
import pyotp
import pytest

from tests.conftest import Api, assert_problem, bearer
from tests.mfa import STEP, challenge, mfa_user, submit, wait_for_fresh_step

BEARER_ROUTES = ["/users/me", "/auth/mfa", "/auth/sessions"]


# `mfa_token` is an opaque token field (schemas.OpaqueToken): anything longer is
# refused at the schema, as every oversized field is; an ES256 access token is longer
def assert_refused_as_mfa_token(response: httpx.Response, impostor: str) -> None:
    # any string that is not a live mfa_token, however long (issue 12, item 17)
    assert_problem(response, 401, "invalid_mfa_token")


async def assert_still_completes(api: Api, mfa_token: str, authenticator: pyotp.TOTP) -> None:
    await wait_for_fresh_step()
    completed = await submit(api, mfa_token, authenticator.now())
    assert completed.status_code == 200, completed.text


class TestMfaTokenAsSomethingElse:
    @pytest.mark.requirement("ASVS-2.3.1", "ASVS-9.2.2", "RFC8725-3.12")
    @pytest.mark.parametrize("route", BEARER_ROUTES)
    async def test_it_is_no_bearer_token(self, api: Api, route: str) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)

        response = await api.client.get(route, headers=bearer(mfa_token))

        assert_problem(response, 401, "invalid_token")
        assert response.headers["www-authenticate"].startswith("Bearer ")
        assert mfa_token not in response.text
        await assert_still_completes(api, mfa_token, user.app)

    async def test_it_refreshes_nothing(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)

        assert_problem(await api.refresh(mfa_token), 401, "invalid_refresh_token")
        await assert_still_completes(api, mfa_token, user.app)

    async def test_it_is_no_refresh_grant(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)

        response = await api.client.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": mfa_token}
        )

        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
        assert "access_token" not in response.json()
        await assert_still_completes(api, mfa_token, user.app)


class TestOtherTokensAsMfaToken:
    @pytest.mark.requirement("RFC8725-3.12")
    async def test_an_access_or_refresh_token_is_no_mfa_token(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)  # a live challenge of this account
        await wait_for_fresh_step()
        code = user.app.now()

        for impostor in (user.tokens.access, user.tokens.refresh):
            assert_refused_as_mfa_token(await submit(api, impostor, code), impostor)
        # the right code was not spent by those answers: it still completes the real one
        completed = await submit(api, mfa_token, code)
        assert completed.status_code == 200, completed.text
        session = completed.json()
        for impostor in (session["access_token"], session["refresh_token"]):
            assert_refused_as_mfa_token(await submit(api, impostor, code), impostor)

    async def test_a_completed_mfa_token_is_no_token_at_all(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)
        await assert_still_completes(api, mfa_token, user.app)

        for route in BEARER_ROUTES:
            assert_problem(
                await api.client.get(route, headers=bearer(mfa_token)), 401, "invalid_token"
            )
        assert_problem(await api.refresh(mfa_token), 401, "invalid_refresh_token")
