"""Each TOTP time step is accepted once per user (SPEC "Security properties": "each time
step usable once per user (replay refused, atomically)").

A code counts only for a step later than the last one accepted for the account,
checked and recorded in one conditional UPDATE. So one code works once: sent twice,
in parallel on separate challenges, or first at sign-in and then at an MFA
management endpoint (or the other way round); and an older step never works after a
newer one did. Parallel confirmations of one code turn TOTP on once.

Enrolment here confirms with the previous step's code (`-30 s`, inside the ±1 step
window), so the current step is still free for the test. Before anything
time-sensitive a test waits until at least MARGIN_SECONDS remain in the current
30 s step, so `now`, `-30 s` and `+30 s` name the steps they are meant to.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import pyotp
import pytest

from tests.conftest import PASSWORD, Api, Tokens, assert_problem, bearer

STEP_SECONDS = 30
MARGIN_SECONDS = 3.0


async def fresh_step() -> None:
    """Wait (a few seconds at most) until at least MARGIN_SECONDS remain in this step."""
    remaining = STEP_SECONDS - time.time() % STEP_SECONDS
    if remaining < MARGIN_SECONDS:
        await asyncio.sleep(remaining + 0.05)


@dataclass(frozen=True)
class Enrolled:
    tokens: Tokens  # the session that enrolled (confirming keeps it)
    authenticator: pyotp.TOTP
    recovery_codes: list[str]


async def setup_totp(api: Api, access: str) -> pyotp.TOTP:
    setup = await api.client.post("/auth/mfa/totp/setup", headers=bearer(access))
    assert setup.status_code == 200, setup.text
    return pyotp.TOTP(setup.json()["secret"])


async def confirm(api: Api, access: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/mfa/totp/confirm", json={"code": code}, headers=bearer(access)
    )


async def enrolled_user(api: Api) -> Enrolled:
    """A signed-in account with TOTP on, confirmed with the previous step's code."""
    tokens = await api.signed_in()
    authenticator = await setup_totp(api, tokens.access)
    await fresh_step()
    confirmed = await confirm(api, tokens.access, authenticator.at(time.time() - STEP_SECONDS))
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(tokens, authenticator, confirmed.json()["recovery_codes"])


async def challenge(api: Api, email: str) -> str:
    """Sign in with the password; returns the mfa_token of the 403 `mfa_required`."""
    mfa_token: str = assert_problem(await api.login(email), 403, "mfa_required")["mfa_token"]
    return mfa_token


async def answer(api: Api, mfa_token: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": code, "refresh_token_delivery": "body"},
    )


async def mfa_status(api: Api, access: str) -> dict[str, object]:
    response = await api.client.get("/auth/mfa", headers=bearer(access))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


class TestAtSignIn:
    async def test_a_code_signs_in_once(self, api: Api) -> None:
        user = await enrolled_user(api)
        first, second = [await challenge(api, user.tokens.email) for _ in range(2)]
        await fresh_step()
        code = user.authenticator.now()

        signed_in = await answer(api, first, code)
        assert signed_in.status_code == 200, signed_in.text
        assert_problem(await answer(api, second, code), 401, "invalid_mfa_code")
        assert (await api.me(signed_in.json()["access_token"])).status_code == 200

    @pytest.mark.parametrize("parallel", [2, 10])
    async def test_one_code_sent_in_parallel_on_separate_challenges_signs_in_once(
        self, api: Api, parallel: int
    ) -> None:
        user = await enrolled_user(api)
        mfa_tokens = [await challenge(api, user.tokens.email) for _ in range(parallel)]
        await fresh_step()
        code = user.authenticator.now()

        answers = await asyncio.gather(*(answer(api, token, code) for token in mfa_tokens))

        winners = [response for response in answers if response.status_code == 200]
        assert len(winners) == 1, [response.text for response in answers]
        for response in answers:
            if response.status_code != 200:
                assert_problem(response, 401, "invalid_mfa_code")
        assert (await api.me(winners[0].json()["access_token"])).status_code == 200
        # the losers' challenges are still open: the code stays refused on them too
        loser = mfa_tokens[answers.index(next(r for r in answers if r.status_code != 200))]
        assert_problem(await answer(api, loser, code), 401, "invalid_mfa_code")

    async def test_an_older_step_is_refused_after_a_newer_one(self, api: Api) -> None:
        # enrolment used step -1; signing in with step +1 (clock drift allows it) leaves
        # the current step unused, yet older than the last one accepted
        user = await enrolled_user(api)
        mfa_tokens = [await challenge(api, user.tokens.email) for _ in range(3)]
        await fresh_step()
        now = time.time()
        newer = user.authenticator.at(now + STEP_SECONDS)
        current = user.authenticator.at(now)
        older = user.authenticator.at(now - STEP_SECONDS)

        assert (await answer(api, mfa_tokens[0], newer)).status_code == 200
        assert_problem(await answer(api, mfa_tokens[1], current), 401, "invalid_mfa_code")
        assert_problem(await answer(api, mfa_tokens[2], older), 401, "invalid_mfa_code")


class TestAcrossEndpoints:
    async def test_a_code_used_to_sign_in_cannot_manage_mfa(self, api: Api) -> None:
        user = await enrolled_user(api)
        mfa_token = await challenge(api, user.tokens.email)
        await fresh_step()
        code = user.authenticator.now()
        signed_in = await answer(api, mfa_token, code)
        assert signed_in.status_code == 200, signed_in.text
        access = signed_in.json()["access_token"]

        disable = await api.client.post(
            "/auth/mfa/totp/disable",
            json={"password": PASSWORD, "code": code},
            headers=bearer(access),
        )
        assert_problem(disable, 401, "invalid_mfa_code")
        regenerate = await api.client.post(
            "/auth/mfa/recovery-codes", json={"code": code}, headers=bearer(access)
        )
        assert_problem(regenerate, 401, "invalid_mfa_code")
        assert await mfa_status(api, access) == {
            "totp_enabled": True,
            "recovery_codes_remaining": 10,
        }

    async def test_a_code_used_to_manage_mfa_cannot_sign_in(self, api: Api) -> None:
        user = await enrolled_user(api)
        mfa_token = await challenge(api, user.tokens.email)
        await fresh_step()
        code = user.authenticator.now()
        regenerate = await api.client.post(
            "/auth/mfa/recovery-codes", json={"code": code}, headers=bearer(user.tokens.access)
        )
        assert regenerate.status_code == 200, regenerate.text

        assert_problem(await answer(api, mfa_token, code), 401, "invalid_mfa_code")


class TestAtConfirmation:
    async def test_the_step_that_confirmed_cannot_sign_in(self, api: Api) -> None:
        tokens = await api.signed_in()
        authenticator = await setup_totp(api, tokens.access)
        await fresh_step()
        code = authenticator.now()
        assert (await confirm(api, tokens.access, code)).status_code == 200

        assert_problem(
            await answer(api, await challenge(api, tokens.email), code), 401, "invalid_mfa_code"
        )

    async def test_parallel_confirmations_with_one_code_turn_totp_on_once(self, api: Api) -> None:
        tokens = await api.signed_in()
        authenticator = await setup_totp(api, tokens.access)
        await fresh_step()
        code = authenticator.now()

        answers = await asyncio.gather(*(confirm(api, tokens.access, code) for _ in range(5)))

        winners = [response for response in answers if response.status_code == 200]
        assert len(winners) == 1, [response.text for response in answers]
        for response in answers:
            if response.status_code == 401:  # refused by the conditional UPDATE
                assert_problem(response, 401, "invalid_mfa_code")
            elif response.status_code != 200:  # arrived after the winner committed
                assert_problem(response, 409, "mfa_already_enabled")
        assert await mfa_status(api, tokens.access) == {
            "totp_enabled": True,
            "recovery_codes_remaining": 10,
        }
        # the one set of recovery codes handed out is the set that works
        recovery_code = winners[0].json()["recovery_codes"][0]
        signed_in = await answer(api, await challenge(api, tokens.email), recovery_code)
        assert signed_in.status_code == 200, signed_in.text
