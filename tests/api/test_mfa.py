"""Two-factor authentication over the API, on both backends, with pyotp as the app.

SPEC (two-factor authentication): enrolment (`/auth/mfa/totp/setup`, `confirm`),
the sign-in challenge (`/auth/login` → 403 `mfa_required` → `/auth/login/mfa`),
TOTP replay and format rules, recovery codes, the challenge's attempts, expiry and
single use, turning TOTP off, the per-user code budget, and what is recorded.

TOTP codes depend on the clock. A user can spend at most the steps now-30 s,
now and now+30 s (each accepted once, in increasing order), and confirming already
spends now: sign-ins here use the `+30 s` code (`next_code`), or recovery codes.
The tests of older steps move the recorded last step back (`set_last_used_step`), as
if TOTP had been turned on a while ago, rather than wait for the clock. Tests that need
a particular step wait for a fresh step first (`wait_for_fresh_step`), so `-60`,
`-30`, `now` and `+30` map to the steps intended. The steps shared with the
security tests (enrolment, `challenge`, `submit`, codes of the app) are in tests/mfa.py.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from sqlalchemy import select, update

from authapi.models import SecurityEvent, TotpCredential
from tests.conftest import (
    PASSWORD,
    Api,
    Tokens,
    assert_problem,
    bearer,
    body_of,
    link_token,
)
from tests.mfa import (
    STEP,
    challenge,
    code_in,
    confirm,
    disable_totp,
    enable_totp,
    mfa_status,
    mfa_user,
    next_code,
    regenerate_codes,
    signed_in_with_mfa,
    start_setup,
    submit,
    user_id_of,
    wait_for_fresh_step,
    wrong_code,
)

NEW_PASSWORD = "a different passphrase for this account"
CODE_FORMAT = re.compile(r"[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}")
# the same ten digits from other Unicode blocks (U+FF10…, U+0660…)
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + n) for n in range(10)))
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + n) for n in range(10)))

MFA_ON_SUBJECT = "Two-factor authentication is on"
MFA_OFF_SUBJECT = "Two-factor authentication is off"
RECOVERY_USED_SUBJECT = "A recovery code was used"
NEW_CODES_SUBJECT = "New recovery codes"


# --- helpers -------------------------------------------------------------------
async def assert_totp(api: Api, tokens: Tokens, *, enabled: bool) -> None:
    """TOTP is on (or off) by every account: status, profile and the next sign-in."""
    assert (await mfa_status(api, tokens.access))["totp_enabled"] is enabled
    me = await api.me(tokens.access)
    assert me.status_code == 200, me.text
    assert me.json()["mfa_enabled"] is enabled
    login = await api.login(tokens.email)
    if enabled:
        assert_problem(login, 403, "mfa_required")
    else:
        assert login.status_code == 200, login.text


async def assert_session_ended(api: Api, tokens: Tokens) -> None:
    assert_problem(await api.me(tokens.access), 401, "invalid_token")
    assert_problem(await api.refresh(tokens.refresh), 401, "invalid_refresh_token")


async def set_last_used_step(api: Api, email: str, step: int) -> None:
    """Set the last accepted time step, as if the app had last been used back then."""
    user_id = await user_id_of(api, email)
    async with api.app.state.resources.sessionmaker() as db:
        await db.execute(
            update(TotpCredential)
            .where(TotpCredential.user_id == user_id)
            .values(last_used_step=step)
        )
        await db.commit()


def is_no_store(response: httpx.Response) -> bool:
    return "no-store" in response.headers.get("cache-control", "")


# --- tests ---------------------------------------------------------------------
class TestSignIn:
    async def test_full_flow_setup_confirm_logout_login_with_a_fresh_code(self, api: Api) -> None:
        tokens = await api.signed_in()
        setup = await api.client.post(
            "/auth/mfa/totp/setup", json={"password": PASSWORD}, headers=bearer(tokens.access)
        )
        assert setup.status_code == 200, setup.text
        assert is_no_store(setup)
        enrolment = setup.json()
        assert set(enrolment) == {"secret", "otpauth_uri", "qr_code"}
        assert re.fullmatch(r"[A-Z2-7]{32}", enrolment["secret"])
        assert enrolment["qr_code"].startswith("data:image/svg+xml")
        app = pyotp.parse_uri(enrolment["otpauth_uri"])
        assert isinstance(app, pyotp.TOTP)
        assert app.secret == enrolment["secret"]
        assert app.name == tokens.email
        assert app.issuer == api.settings.mfa_issuer_name

        confirmed = await confirm(api, tokens.access, app.now())
        assert confirmed.status_code == 200, confirmed.text
        assert is_no_store(confirmed)
        codes = confirmed.json()["recovery_codes"]
        assert len(codes) == 10
        assert len(set(codes)) == 10
        assert all(CODE_FORMAT.fullmatch(code) for code in codes), codes

        logout = await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        assert logout.status_code == 204

        login = await api.login(tokens.email)
        problem = assert_problem(login, 403, "mfa_required")
        assert is_no_store(login)
        assert re.fullmatch(r"[0-9a-f]{32}\.[A-Za-z0-9_-]+", problem["mfa_token"])
        assert problem["expires_in"] == api.settings.mfa_challenge_ttl_seconds
        assert "access_token" not in problem
        assert "refresh_token" not in problem

        done = await submit(api, problem["mfa_token"], next_code(app))
        assert done.status_code == 200, done.text
        assert is_no_store(done)
        body = done.json()
        assert body["token_type"].lower() == "bearer"
        assert body["refresh_token"]
        me = await api.me(body["access_token"])
        assert me.status_code == 200, me.text
        assert me.json()["email"] == tokens.email
        assert me.json()["mfa_enabled"] is True
        assert (await api.refresh(body["refresh_token"])).status_code == 200

    async def test_mfa_sign_in_can_deliver_the_refresh_token_as_a_cookie(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await submit(
            api, await challenge(api, user.email), user.codes[0], delivery="cookie"
        )
        assert response.status_code == 200, response.text
        assert "refresh_token" not in response.json()
        cookies = [
            header
            for header in response.headers.get_list("set-cookie")
            if header.startswith(f"{api.settings.refresh_cookie_name}=")
        ]
        assert len(cookies) == 1
        attributes = {part.strip().lower() for part in cookies[0].split(";")}
        assert {"httponly", "secure", "path=/auth", "samesite=strict"} <= attributes
        # the cookie is a working refresh token
        refreshed = await api.client.post("/auth/refresh", headers={"X-Requested-With": "1"})
        assert refreshed.status_code == 200, refreshed.text
        assert (await api.me(refreshed.json()["access_token"])).status_code == 200


class TestTotpReplay:
    async def test_a_code_signs_in_only_once(self, api: Api) -> None:
        user = await mfa_user(api)
        code = next_code(user.app)
        assert (await submit(api, await challenge(api, user.email), code)).status_code == 200
        again = await submit(api, await challenge(api, user.email), code)
        assert_problem(again, 401, "invalid_mfa_code")

    async def test_the_step_used_to_confirm_cannot_sign_in(self, api: Api) -> None:
        tokens = await api.signed_in()
        app = await start_setup(api, tokens.access)
        code = app.now()
        assert (await confirm(api, tokens.access, code)).status_code == 200
        mfa_token = await challenge(api, tokens.email)
        assert_problem(await submit(api, mfa_token, code), 401, "invalid_mfa_code")
        # the challenge itself is fine: a later step signs in
        assert (await submit(api, mfa_token, next_code(app))).status_code == 200

    @pytest.mark.requirement("ASVS-6.5.5")
    async def test_a_code_of_sixty_seconds_ago_is_refused_of_thirty_accepted_once(
        self, api: Api
    ) -> None:
        user = await mfa_user(api)
        await wait_for_fresh_step()
        # as if TOTP had been turned on 90 s ago: no step in the window is used yet
        await set_last_used_step(api, user.email, int(time.time() // STEP) - 3)
        old, previous = code_in(user.app, -2 * STEP), code_in(user.app, -STEP)
        assert old != previous
        mfa_token = await challenge(api, user.email)
        assert_problem(await submit(api, mfa_token, old), 401, "invalid_mfa_code")
        assert (await submit(api, mfa_token, previous)).status_code == 200
        again = await submit(api, await challenge(api, user.email), previous)
        assert_problem(again, 401, "invalid_mfa_code")

    async def test_a_step_earlier_than_the_last_used_is_refused(self, api: Api) -> None:
        user = await mfa_user(api)
        await wait_for_fresh_step()
        await set_last_used_step(api, user.email, int(time.time() // STEP) - 3)
        assert (await signed_in_with_mfa(api, user.email, user.app.now())).access
        mfa_token = await challenge(api, user.email)
        # the -30 s code is still inside the window, but older than the step just used
        assert_problem(
            await submit(api, mfa_token, code_in(user.app, -STEP)), 401, "invalid_mfa_code"
        )
        assert (await submit(api, mfa_token, next_code(user.app))).status_code == 200

    async def test_parallel_submissions_of_one_code_sign_in_once(self, api: Api) -> None:
        user = await mfa_user(api)
        first, second = await challenge(api, user.email), await challenge(api, user.email)
        code = next_code(user.app)
        responses = await asyncio.gather(submit(api, first, code), submit(api, second, code))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 401], [response.text for response in responses]
        loser = next(response for response in responses if response.status_code == 401)
        assert_problem(loser, 401, "invalid_mfa_code")


def _full_width(code: str) -> str:
    return code.translate(FULL_WIDTH)


def _arabic_indic(code: str) -> str:
    return code.translate(ARABIC_INDIC)


def _inner_space(code: str) -> str:
    return f"{code[:3]} {code[3:]}"


def _seven_digits(code: str) -> str:
    return code + "0"


def _five_digits(code: str) -> str:
    return code[:5]


def _letter(code: str) -> str:
    return code[:5] + "a"


class TestCodeFormat:
    @pytest.mark.parametrize(
        "mangle",
        [_full_width, _inner_space, _seven_digits, _five_digits, _letter, _arabic_indic],
        ids=["full-width", "inner-space", "seven-digits", "five-digits", "letter", "arabic-indic"],
    )
    async def test_lookalikes_of_the_right_code_are_refused(
        self, api: Api, mangle: Callable[[str], str]
    ) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        code = next_code(user.app)
        assert_problem(await submit(api, mfa_token, mangle(code)), 401, "invalid_mfa_code")
        # refused without spending the step: the right code still works on this challenge
        response = await submit(api, mfa_token, next_code(user.app))
        assert response.status_code == 200, response.text

    async def test_all_lookalikes_spend_attempts_and_the_right_code_still_works(
        self, api: Api
    ) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        code = next_code(user.app)
        for mangle in (_full_width, _inner_space, _seven_digits, _arabic_indic):
            assert_problem(await submit(api, mfa_token, mangle(code)), 401, "invalid_mfa_code")
        # the fifth and last attempt
        assert (await submit(api, mfa_token, next_code(user.app))).status_code == 200

    async def test_an_overlong_code_is_a_validation_error(self, api: Api) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        assert_problem(await submit(api, mfa_token, "1" * 65), 422, "validation_error")


class TestRecoveryCodes:
    @pytest.mark.requirement("ASVS-6.5.1", "NIST-63B-3.1.2.2-a")
    async def test_a_recovery_code_signs_in_once(self, api: Api) -> None:
        user = await mfa_user(api)
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 10

        assert (
            await submit(api, await challenge(api, user.email), user.codes[0])
        ).status_code == 200
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 9
        notice = await api.mail.wait_for(user.email, subject=RECOVERY_USED_SUBJECT)
        assert "9 unused codes" in body_of(notice)
        assert user.codes[0] not in body_of(notice)

        again = await submit(api, await challenge(api, user.email), user.codes[0])
        assert_problem(again, 401, "invalid_mfa_code")
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 9

    @pytest.mark.parametrize(
        "typed",
        [str.upper, lambda code: code.replace("-", ""), lambda code: code.replace("-", " ")],
        ids=["upper-case", "no-hyphens", "spaces"],
    )
    @pytest.mark.requirement("NIST-63B-3.1.2.2-a")
    async def test_a_recovery_code_may_be_typed_loosely(
        self, api: Api, typed: Callable[[str], str]
    ) -> None:
        user = await mfa_user(api)
        response = await submit(api, await challenge(api, user.email), typed(user.codes[3]))
        assert response.status_code == 200, response.text
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 9
        # it was that code which was used up, in whatever form it comes back
        for form in (user.codes[3], typed(user.codes[3])):
            again = await submit(api, await challenge(api, user.email), form)
            assert_problem(again, 401, "invalid_mfa_code")

    @pytest.mark.requirement("NIST-63B-4.2.4")
    async def test_each_use_emails_the_owner(self, api: Api) -> None:
        user = await mfa_user(api)
        for code in user.codes[:2]:
            assert (await submit(api, await challenge(api, user.email), code)).status_code == 200
        second = await api.mail.wait_for(user.email, subject=RECOVERY_USED_SUBJECT, count=2)
        assert "8 unused codes" in body_of(second)

    @pytest.mark.requirement("NIST-63B-4.2.4")
    async def test_regenerating_replaces_every_old_code(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await regenerate_codes(api, user.tokens.access, next_code(user.app))
        assert response.status_code == 200, response.text
        assert is_no_store(response)
        new = response.json()["recovery_codes"]
        assert len(new) == 10
        assert len(set(new)) == 10
        assert all(CODE_FORMAT.fullmatch(code) for code in new)
        assert not set(new) & set(user.codes)
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 10
        await api.mail.wait_for(user.email, subject=NEW_CODES_SUBJECT)

        mfa_token = await challenge(api, user.email)
        for dead in user.codes[:3]:
            assert_problem(await submit(api, mfa_token, dead), 401, "invalid_mfa_code")
        assert (await submit(api, mfa_token, new[0])).status_code == 200

    @pytest.mark.requirement("NIST-63B-3.1.2.2-a")
    async def test_regenerating_with_a_recovery_code_spends_it(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await regenerate_codes(api, user.tokens.access, user.codes[0])
        assert response.status_code == 200, response.text
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 10
        await api.mail.wait_for(user.email, subject=NEW_CODES_SUBJECT)
        await api.settle()
        # nobody signed in: the owner hears about new codes, not about a sign-in
        assert not [m for m in api.mail.to(user.email) if RECOVERY_USED_SUBJECT in m["Subject"]]

    @pytest.mark.requirement("NIST-63B-4.1.2.1")
    async def test_regenerating_with_a_wrong_code_changes_nothing(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await regenerate_codes(api, user.tokens.access, wrong_code(user.app))
        assert_problem(response, 401, "invalid_mfa_code")
        assert (
            await submit(api, await challenge(api, user.email), user.codes[0])
        ).status_code == 200

    async def test_regenerating_when_totp_is_off_is_a_conflict(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await regenerate_codes(api, tokens.access, "123456")
        assert_problem(response, 409, "mfa_not_enabled")


class TestChallenge:
    async def test_six_wrong_codes_end_the_challenge(self, api: Api) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        for _ in range(api.settings.mfa_challenge_max_attempts):
            assert_problem(
                await submit(api, mfa_token, wrong_code(user.app)), 401, "invalid_mfa_code"
            )
        assert_problem(await submit(api, mfa_token, next_code(user.app)), 401, "invalid_mfa_token")
        # a new sign-in gets a new challenge, and the code was not spent by the dead one
        response = await submit(api, await challenge(api, user.email), next_code(user.app))
        assert response.status_code == 200, response.text

    async def test_mfa_token_is_not_an_access_token(self, api: Api) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        assert_problem(await api.me(mfa_token), 401, "invalid_token")
        assert_problem(
            await api.client.get("/auth/mfa", headers=bearer(mfa_token)), 401, "invalid_token"
        )
        assert_problem(
            await api.client.post("/auth/mfa/totp/setup", headers=bearer(mfa_token)),
            401,
            "invalid_token",
        )

    @pytest.mark.requirement("ASVS-7.2.4")
    async def test_a_completed_challenge_cannot_be_used_again(self, api: Api) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        assert (await submit(api, mfa_token, user.codes[0])).status_code == 200
        assert_problem(await submit(api, mfa_token, user.codes[1]), 401, "invalid_mfa_token")
        # the second code was not spent
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 9

    async def test_parallel_completions_of_one_challenge_sign_in_once(self, api: Api) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        responses = await asyncio.gather(
            submit(api, mfa_token, user.codes[0]), submit(api, mfa_token, user.codes[1])
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 401], [response.text for response in responses]
        loser = next(response for response in responses if response.status_code == 401)
        assert_problem(loser, 401, "invalid_mfa_token")
        # only the winner's recovery code is used up
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 9

    async def test_an_expired_challenge_is_refused(self, make_api: Callable[..., Any]) -> None:
        async with make_api(mfa_challenge_ttl_seconds=1) as api:
            user = await mfa_user(api)
            login = await api.login(user.email)
            assert assert_problem(login, 403, "mfa_required")["expires_in"] == 1
            mfa_token = assert_problem(login, 403, "mfa_required")["mfa_token"]
            await asyncio.sleep(1.2)
            assert_problem(await submit(api, mfa_token, user.codes[0]), 401, "invalid_mfa_token")
            assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 10

    async def test_garbage_mfa_tokens_are_refused(self, api: Api) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        challenge_id, _, secret = mfa_token.partition(".")
        changed = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        garbage = [
            "x",
            "a" * 32 + ".x",
            challenge_id,
            f"{challenge_id}.",
            f"{challenge_id}.{changed}",
            f"{challenge_id.upper()}.{secret}",
            f"{challenge_id}.{secret}x",
            uuid.uuid4().hex + "." + secret,
        ]
        for token in garbage:
            assert_problem(await submit(api, token, user.codes[0]), 401, "invalid_mfa_token")
        # more refusals than the challenge has attempts: a wrong token spends none of them,
        # and no recovery code was used
        assert len(garbage) > api.settings.mfa_challenge_max_attempts
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 10
        assert (await submit(api, mfa_token, user.codes[0])).status_code == 200

    async def test_a_password_change_voids_a_pending_challenge(self, api: Api) -> None:
        # the session that turned TOTP on is still signed in: it changes the password
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        changed = await api.client.post(
            "/users/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(user.tokens.access),
        )
        assert changed.status_code == 204, changed.text
        assert_problem(await submit(api, mfa_token, next_code(user.app)), 401, "invalid_mfa_token")
        # the new password's challenge works, with the very same (unspent) code
        fresh = await challenge(api, user.email, NEW_PASSWORD)
        assert (await submit(api, fresh, next_code(user.app))).status_code == 200

    @pytest.mark.requirement("ASVS-6.4.3")
    async def test_a_password_reset_leaves_mfa_on(self, api: Api) -> None:
        user = await mfa_user(api)
        forgot = await api.client.post("/auth/forgot-password", json={"email": user.email})
        assert forgot.status_code == 202
        token = link_token(await api.mail.wait_for(user.email, subject="Reset your password"))
        reset = await api.client.post(
            "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 200, reset.text

        mfa_token = await challenge(api, user.email, NEW_PASSWORD)
        response = await submit(api, mfa_token, user.codes[0])
        assert response.status_code == 200, response.text
        status = await mfa_status(api, response.json()["access_token"])
        assert status == {"totp_enabled": True, "recovery_codes_remaining": 9}

    @pytest.mark.requirement("ASVS-6.3.4")
    async def test_oauth_password_grant_answers_mfa_required(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await api.client.post(
            "/auth/token",
            data={"grant_type": "password", "username": user.email, "password": PASSWORD},
        )
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/json"
        assert is_no_store(response)
        body = response.json()
        assert set(body) == {"error", "error_description", "code", "mfa_token", "expires_in"}
        assert body["error"] == "mfa_required"
        assert body["code"] == "mfa_required"
        assert body["expires_in"] == api.settings.mfa_challenge_ttl_seconds
        assert "access_token" not in body

        done = await submit(api, body["mfa_token"], user.codes[0])
        assert done.status_code == 200, done.text
        assert (await api.me(done.json()["access_token"])).status_code == 200

    async def test_wrong_password_gets_no_challenge(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await api.login(user.email, "not the password at all")
        body = assert_problem(response, 401, "invalid_credentials")
        assert "mfa_token" not in body


class TestEnrolment:
    @pytest.mark.requirement("RFC6238-3")
    async def test_a_second_setup_replaces_the_pending_secret(self, api: Api) -> None:
        tokens = await api.signed_in()
        first = await start_setup(api, tokens.access)
        second = await start_setup(api, tokens.access)
        assert first.secret != second.secret
        assert first.now() != second.now()
        assert_problem(await confirm(api, tokens.access, first.now()), 401, "invalid_mfa_code")
        await assert_totp(api, tokens, enabled=False)
        assert (await confirm(api, tokens.access, second.now())).status_code == 200
        await assert_totp(api, tokens, enabled=True)

    async def test_setup_when_on_is_a_conflict(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await api.client.post(
            "/auth/mfa/totp/setup", json={"password": PASSWORD}, headers=bearer(user.tokens.access)
        )
        assert_problem(response, 409, "mfa_already_enabled")
        # the enrolled secret is untouched
        assert (await signed_in_with_mfa(api, user.email, next_code(user.app))).access

    @pytest.mark.requirement("ASVS-2.3.1")
    async def test_confirm_without_setup_is_a_conflict(self, api: Api) -> None:
        tokens = await api.signed_in()
        assert_problem(await confirm(api, tokens.access, "123456"), 409, "mfa_setup_required")
        await assert_totp(api, tokens, enabled=False)

    async def test_confirm_when_on_is_a_conflict(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await confirm(api, user.tokens.access, next_code(user.app))
        assert_problem(response, 409, "mfa_already_enabled")

    async def test_a_wrong_confirm_code_leaves_totp_off(self, api: Api) -> None:
        tokens = await api.signed_in()
        app = await start_setup(api, tokens.access)
        for code in (wrong_code(app), _full_width(app.now()), code_in(app, -2 * STEP)):
            assert_problem(await confirm(api, tokens.access, code), 401, "invalid_mfa_code")
        await assert_totp(api, tokens, enabled=False)
        assert (await mfa_status(api, tokens.access))["recovery_codes_remaining"] == 0
        await api.settle()
        assert not [m for m in api.mail.to(tokens.email) if MFA_ON_SUBJECT in m["Subject"]]
        # the pending secret is still there to confirm
        assert (await confirm(api, tokens.access, app.now())).status_code == 200

    @pytest.mark.requirement("ASVS-7.4.3", "NIST-63B-4.1.2.1")
    async def test_enabling_ends_the_other_sessions_and_emails_the_owner(self, api: Api) -> None:
        laptop = await api.signed_in()
        phone = await api.signed_in(laptop.email)
        await enable_totp(api, laptop)

        await assert_session_ended(api, phone)
        assert (await api.me(laptop.access)).status_code == 200
        assert (await api.refresh(laptop.refresh)).status_code == 200
        notice = await api.mail.wait_for(laptop.email, subject=MFA_ON_SUBJECT)
        assert "signed out" in body_of(notice)


class TestDisable:
    async def test_wrong_password_keeps_totp_on(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await disable_totp(
            api, user.tokens.access, next_code(user.app), password="not the password at all"
        )
        assert_problem(response, 401, "invalid_credentials")
        await assert_totp(api, user.tokens, enabled=True)
        # the code was not spent on a refused request
        assert (await signed_in_with_mfa(api, user.email, next_code(user.app))).access

    async def test_wrong_code_keeps_totp_on(self, api: Api) -> None:
        user = await mfa_user(api)
        for code in (wrong_code(user.app), "aaaa-bbbb-cccc-dddd"):
            response = await disable_totp(api, user.tokens.access, code)
            assert_problem(response, 401, "invalid_mfa_code")
        await assert_totp(api, user.tokens, enabled=True)
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 10

    @pytest.mark.requirement("ASVS-7.4.3")
    async def test_password_and_code_turn_totp_off(self, api: Api) -> None:
        user = await mfa_user(api)
        other = await signed_in_with_mfa(api, user.email, user.codes[0])
        response = await disable_totp(api, user.tokens.access, next_code(user.app))
        assert response.status_code == 204, response.text
        assert response.content == b""

        await assert_session_ended(api, other)
        assert (await api.me(user.tokens.access)).status_code == 200
        notice = await api.mail.wait_for(user.email, subject=MFA_OFF_SUBJECT)
        assert "turned off" in body_of(notice)
        await assert_totp(api, user.tokens, enabled=False)
        assert await mfa_status(api, user.tokens.access) == {
            "totp_enabled": False,
            "recovery_codes_remaining": 0,
        }
        # a new enrolment starts from scratch: the old recovery codes are gone for good
        new_codes = (await enable_totp(api, user.tokens)).codes
        assert not set(new_codes) & set(user.codes)
        mfa_token = await challenge(api, user.email)
        assert_problem(await submit(api, mfa_token, user.codes[1]), 401, "invalid_mfa_code")

    async def test_a_recovery_code_turns_totp_off_too(self, api: Api) -> None:
        user = await mfa_user(api)
        response = await disable_totp(api, user.tokens.access, user.codes[0])
        assert response.status_code == 204, response.text
        await assert_totp(api, user.tokens, enabled=False)
        assert (await mfa_status(api, user.tokens.access))["recovery_codes_remaining"] == 0
        await api.mail.wait_for(user.email, subject=MFA_OFF_SUBJECT)
        await api.settle()
        assert not [m for m in api.mail.to(user.email) if RECOVERY_USED_SUBJECT in m["Subject"]]

    async def test_disable_when_off_is_a_conflict(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await disable_totp(api, tokens.access, "123456")
        assert_problem(response, 409, "mfa_not_enabled")


class TestPerUserLimit:
    @pytest.mark.requirement("ASVS-2.3.2", "NIST-63B-3.1.4.2-c", "RFC9457-3.1.2")
    async def test_codes_across_challenges_share_one_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(mfa_rate_limit_per_user="3/minute") as api:
            user = await mfa_user(api)  # confirming spent the session's budget, not this one
            first = await challenge(api, user.email)
            assert_problem(await submit(api, first, wrong_code(user.app)), 401, "invalid_mfa_code")
            assert_problem(await submit(api, first, wrong_code(user.app)), 401, "invalid_mfa_code")
            second = await challenge(api, user.email)
            assert_problem(await submit(api, second, wrong_code(user.app)), 401, "invalid_mfa_code")
            # the fourth code, right as it is, finds the budget empty
            response = await submit(api, second, next_code(user.app))
            assert_problem(response, 429, "rate_limited")
            retry_after = response.headers["retry-after"]
            assert retry_after.isdigit(), retry_after
            assert 1 <= int(retry_after) <= 60
            # a new challenge does not refill it
            third = await challenge(api, user.email)
            assert_problem(await submit(api, third, next_code(user.app)), 429, "rate_limited")

    async def test_the_budget_is_per_user(self, make_api: Callable[..., Any]) -> None:
        async with make_api(mfa_rate_limit_per_user="3/minute") as api:
            user = await mfa_user(api)
            for _ in range(3):
                await submit(api, await challenge(api, user.email), wrong_code(user.app))
            other = await mfa_user(api)
            response = await submit(api, await challenge(api, other.email), next_code(other.app))
            assert response.status_code == 200, response.text


class TestEvents:
    async def login_events(self, api: Api, email: str) -> list[SecurityEvent]:
        user_id = await user_id_of(api, email)
        async with api.app.state.resources.sessionmaker() as db:
            rows = await db.scalars(
                select(SecurityEvent)
                .where(SecurityEvent.user_id == user_id, SecurityEvent.type == "login_succeeded")
                .order_by(SecurityEvent.id)
            )
            return list(rows.all())

    def session_of(self, access_token: str) -> uuid.UUID:
        claims = jwt.decode(access_token, options={"verify_signature": False})
        return uuid.UUID(claims["sid"])

    @pytest.mark.requirement("ASVS-16.3.1")
    async def test_a_totp_sign_in_records_method_password_totp(self, api: Api) -> None:
        user = await mfa_user(api)
        signed_in = await signed_in_with_mfa(api, user.email, next_code(user.app))
        events = await self.login_events(api, user.email)
        assert [event.details for event in events] == [
            {"method": "password"},
            {"method": "password+totp"},
        ]
        assert events[-1].session_id == self.session_of(signed_in.access)

    async def test_a_recovery_code_sign_in_records_method_password_recovery_code(
        self, api: Api
    ) -> None:
        user = await mfa_user(api)
        signed_in = await signed_in_with_mfa(api, user.email, user.codes[0])
        events = await self.login_events(api, user.email)
        assert events[-1].details == {"method": "password+recovery_code"}
        assert events[-1].session_id == self.session_of(signed_in.access)

    @pytest.mark.requirement("ASVS-16.3.1")
    async def test_challenges_and_failures_are_recorded(self, api: Api) -> None:
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.email)
        assert_problem(await submit(api, mfa_token, wrong_code(user.app)), 401, "invalid_mfa_code")
        user_id = await user_id_of(api, user.email)
        async with api.app.state.resources.sessionmaker() as db:
            types = (
                await db.scalars(
                    select(SecurityEvent.type)
                    .where(SecurityEvent.user_id == user_id)
                    .order_by(SecurityEvent.id)
                )
            ).all()
        assert [t for t in types if t.startswith("mfa_")] == [
            "mfa_setup_started",
            "mfa_enabled",
            "mfa_challenged",
            "mfa_failed",
        ]
