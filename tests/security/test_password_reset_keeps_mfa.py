"""A password reset does not remove the second factor (SPEC "Security properties": "A
password reset does not remove MFA").

Whoever controls the mailbox can set a new password, but signing in still asks for
a code: TOTP stays on, the same secret and the same recovery codes keep working,
the reset itself hands out no session, and a challenge opened with the old
password is void.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import pyotp

from tests.conftest import PASSWORD, Api, Tokens, assert_problem, bearer, link_token

STEP_SECONDS = 30
MARGIN_SECONDS = 3.0
NEW_PASSWORD = "a brand new passphrase for this account"
RESET_SUBJECT = "Reset your password"


async def fresh_step() -> None:
    """Wait (a few seconds at most) until at least MARGIN_SECONDS remain in this step."""
    remaining = STEP_SECONDS - time.time() % STEP_SECONDS
    if remaining < MARGIN_SECONDS:
        await asyncio.sleep(remaining + 0.05)


@dataclass(frozen=True)
class Enrolled:
    tokens: Tokens
    authenticator: pyotp.TOTP
    recovery_codes: list[str]


async def enrolled_user(api: Api) -> Enrolled:
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
    return Enrolled(tokens, authenticator, confirmed.json()["recovery_codes"])


async def reset_password(api: Api, email: str) -> httpx.Response:
    """forgot-password → the emailed link → reset-password with NEW_PASSWORD."""
    assert (
        await api.client.post("/auth/forgot-password", json={"email": email})
    ).status_code == 202
    token = link_token(await api.mail.wait_for(email, subject=RESET_SUBJECT))
    return await api.client.post(
        "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )


async def answer(api: Api, mfa_token: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": code, "refresh_token_delivery": "body"},
    )


async def test_after_a_reset_signing_in_still_asks_for_the_second_factor(api: Api) -> None:
    user = await enrolled_user(api)
    email = user.tokens.email

    reset = await reset_password(api, email)
    assert reset.status_code == 200, reset.text
    assert "access_token" not in reset.json()
    assert "refresh_token" not in reset.text

    assert_problem(await api.login(email, PASSWORD), 401, "invalid_credentials")
    login = await api.login(email, NEW_PASSWORD)
    challenge = assert_problem(login, 403, "mfa_required")
    assert "access_token" not in login.json()

    by_recovery_code = await answer(api, challenge["mfa_token"], user.recovery_codes[0])
    assert by_recovery_code.status_code == 200, by_recovery_code.text
    access = by_recovery_code.json()["access_token"]
    status = await api.client.get("/auth/mfa", headers=bearer(access))
    assert status.json() == {"totp_enabled": True, "recovery_codes_remaining": 9}
    assert (await api.me(access)).json()["mfa_enabled"] is True

    # the same authenticator app still works
    again = assert_problem(await api.login(email, NEW_PASSWORD), 403, "mfa_required")
    await fresh_step()
    by_code = await answer(api, again["mfa_token"], user.authenticator.now())
    assert by_code.status_code == 200, by_code.text


async def test_a_reset_voids_a_challenge_opened_with_the_old_password(api: Api) -> None:
    user = await enrolled_user(api)
    email = user.tokens.email
    before = assert_problem(await api.login(email, PASSWORD), 403, "mfa_required")

    assert (await reset_password(api, email)).status_code == 200

    await fresh_step()
    assert_problem(
        await answer(api, before["mfa_token"], user.authenticator.now()), 401, "invalid_mfa_token"
    )
    assert_problem(
        await answer(api, before["mfa_token"], user.recovery_codes[0]), 401, "invalid_mfa_token"
    )
    # nothing was spent: the recovery code still works on a challenge of the new password
    after = assert_problem(await api.login(email, NEW_PASSWORD), 403, "mfa_required")
    signed_in = await answer(api, after["mfa_token"], user.recovery_codes[0])
    assert signed_in.status_code == 200, signed_in.text


async def test_the_session_that_enrolled_ends_with_the_reset(api: Api) -> None:
    user = await enrolled_user(api)
    assert (await reset_password(api, user.tokens.email)).status_code == 200

    assert_problem(await api.me(user.tokens.access), 401, "invalid_token")
    # and so it cannot turn MFA off behind the new password's back
    disable = await api.client.post(
        "/auth/mfa/totp/disable",
        json={"password": NEW_PASSWORD, "code": user.recovery_codes[0]},
        headers=bearer(user.tokens.access),
    )
    assert_problem(disable, 401, "invalid_token")
