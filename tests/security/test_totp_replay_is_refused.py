"""Each TOTP time step is accepted once per user (SPEC "Security properties": "each time
step usable once per user (replay refused, atomically)").

A code counts only for a step later than the last one accepted for the account,
checked and recorded in one conditional UPDATE. So one code works once: sent twice,
in parallel on separate challenges, or first at sign-in and then at an MFA
management endpoint (or the other way round); and an older step never works after a
newer one did. Parallel confirmations of one code turn TOTP on once.

Enrolment here confirms with the previous step's code (`-30 s`, inside the ±1 step
window), so the current step is still free for the test. Before anything
time-sensitive a test waits until at least a few seconds remain in the current
30 s step (`wait_for_fresh_step`), so `now`, `-30 s` and `+30 s` name the steps they
are meant to.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import Api, assert_problem
from tests.mfa import (
    STEP,
    challenge,
    confirm,
    disable_totp,
    mfa_status,
    mfa_user,
    regenerate_codes,
    start_setup,
    submit,
    wait_for_fresh_step,
)


class TestAtSignIn:
    @pytest.mark.requirement("ASVS-6.5.1", "NIST-63B-3.1.4.2-b", "RFC6238-5.2-b")
    async def test_a_code_signs_in_once(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        first, second = [await challenge(api, user.email) for _ in range(2)]
        await wait_for_fresh_step()
        code = user.app.now()

        signed_in = await submit(api, first, code)
        assert signed_in.status_code == 200, signed_in.text
        assert_problem(await submit(api, second, code), 401, "invalid_mfa_code")
        assert (await api.me(signed_in.json()["access_token"])).status_code == 200

    @pytest.mark.requirement("ASVS-2.3.4", "ASVS-6.5.1", "NIST-63B-3.1.4.2-b", "RFC6238-5.2-b")
    @pytest.mark.parametrize("parallel", [2, 10])
    async def test_one_code_sent_in_parallel_on_separate_challenges_signs_in_once(
        self, api: Api, parallel: int
    ) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_tokens = [await challenge(api, user.email) for _ in range(parallel)]
        await wait_for_fresh_step()
        code = user.app.now()

        answers = await asyncio.gather(*(submit(api, token, code) for token in mfa_tokens))

        winners = [response for response in answers if response.status_code == 200]
        assert len(winners) == 1, [response.text for response in answers]
        for response in answers:
            if response.status_code != 200:
                assert_problem(response, 401, "invalid_mfa_code")
        assert (await api.me(winners[0].json()["access_token"])).status_code == 200
        # the losers' challenges are still open: the code stays refused on them too
        loser = mfa_tokens[answers.index(next(r for r in answers if r.status_code != 200))]
        assert_problem(await submit(api, loser, code), 401, "invalid_mfa_code")

    @pytest.mark.requirement("NIST-63B-3.1.4.2-b")
    async def test_an_older_step_is_refused_after_a_newer_one(self, api: Api) -> None:
        # enrolment used step -1; signing in with step +1 (clock drift allows it) leaves
        # the current step unused, yet older than the last one accepted
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_tokens = [await challenge(api, user.email) for _ in range(3)]
        await wait_for_fresh_step()
        now = time.time()
        newer = user.app.at(now + STEP)
        current = user.app.at(now)
        older = user.app.at(now - STEP)

        assert (await submit(api, mfa_tokens[0], newer)).status_code == 200
        assert_problem(await submit(api, mfa_tokens[1], current), 401, "invalid_mfa_code")
        assert_problem(await submit(api, mfa_tokens[2], older), 401, "invalid_mfa_code")


class TestAcrossEndpoints:
    @pytest.mark.requirement("ASVS-6.5.1", "RFC6238-5.2-b")
    async def test_a_code_used_to_sign_in_cannot_manage_mfa(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)
        await wait_for_fresh_step()
        code = user.app.now()
        signed_in = await submit(api, mfa_token, code)
        assert signed_in.status_code == 200, signed_in.text
        access = signed_in.json()["access_token"]

        disable = await disable_totp(api, access, code)
        assert_problem(disable, 401, "invalid_mfa_code")
        regenerate = await regenerate_codes(api, access, code)
        assert_problem(regenerate, 401, "invalid_mfa_code")
        assert await mfa_status(api, access) == {
            "totp_enabled": True,
            "recovery_codes_remaining": 10,
        }

    async def test_a_code_used_to_manage_mfa_cannot_sign_in(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)
        await wait_for_fresh_step()
        code = user.app.now()
        regenerate = await regenerate_codes(api, user.tokens.access, code)
        assert regenerate.status_code == 200, regenerate.text

        assert_problem(await submit(api, mfa_token, code), 401, "invalid_mfa_code")


class TestAtConfirmation:
    @pytest.mark.requirement("NIST-63B-3.1.4.2-b")
    async def test_the_step_that_confirmed_cannot_sign_in(self, api: Api) -> None:
        tokens = await api.signed_in()
        authenticator = await start_setup(api, tokens.access)
        await wait_for_fresh_step()
        code = authenticator.now()
        assert (await confirm(api, tokens.access, code)).status_code == 200

        assert_problem(
            await submit(api, await challenge(api, tokens.email), code), 401, "invalid_mfa_code"
        )

    async def test_parallel_confirmations_with_one_code_turn_totp_on_once(self, api: Api) -> None:
        tokens = await api.signed_in()
        authenticator = await start_setup(api, tokens.access)
        await wait_for_fresh_step()
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
        signed_in = await submit(api, await challenge(api, tokens.email), recovery_code)
        assert signed_in.status_code == 200, signed_in.text
