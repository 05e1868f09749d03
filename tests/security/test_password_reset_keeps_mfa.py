"""A password reset does not remove the second factor (SPEC "Security properties": "A
password reset does not remove MFA").

Whoever controls the mailbox can set a new password, but signing in still asks for
a code: TOTP stays on, the same secret and the same recovery codes keep working,
the reset itself hands out no session, and a challenge opened with the old
password is void. Enrolment confirms with the previous step's code, so the current
step's code is free to sign in with.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD, Api, assert_problem, link_token
from tests.mfa import (
    STEP,
    challenge,
    disable_totp,
    mfa_status,
    mfa_user,
    submit,
    wait_for_fresh_step,
)

NEW_PASSWORD = "a brand new passphrase for this account"
RESET_SUBJECT = "Reset your password"


async def reset_password(api: Api, email: str) -> httpx.Response:
    """forgot-password → the emailed link → reset-password with NEW_PASSWORD."""
    assert (
        await api.client.post("/auth/forgot-password", json={"email": email})
    ).status_code == 202
    token = link_token(await api.mail.wait_for(email, subject=RESET_SUBJECT))
    return await api.client.post(
        "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )


@pytest.mark.requirement("ASVS-6.4.3")
async def test_after_a_reset_signing_in_still_asks_for_the_second_factor(api: Api) -> None:
    user = await mfa_user(api, confirm_offset=-STEP)
    email = user.email

    reset = await reset_password(api, email)
    assert reset.status_code == 200, reset.text
    assert "access_token" not in reset.json()
    assert "refresh_token" not in reset.text

    assert_problem(await api.login(email, PASSWORD), 401, "invalid_credentials")
    login = await api.login(email, NEW_PASSWORD)
    problem = assert_problem(login, 403, "mfa_required")
    assert "access_token" not in login.json()

    by_recovery_code = await submit(api, problem["mfa_token"], user.codes[0])
    assert by_recovery_code.status_code == 200, by_recovery_code.text
    access = by_recovery_code.json()["access_token"]
    status = await mfa_status(api, access)
    assert status == {"totp_enabled": True, "recovery_codes_remaining": 9}
    assert (await api.me(access)).json()["mfa_enabled"] is True

    # the same authenticator app still works
    again = await challenge(api, email, NEW_PASSWORD)
    await wait_for_fresh_step()
    by_code = await submit(api, again, user.app.now())
    assert by_code.status_code == 200, by_code.text


async def test_a_reset_voids_a_challenge_opened_with_the_old_password(api: Api) -> None:
    user = await mfa_user(api, confirm_offset=-STEP)
    email = user.email
    before = await challenge(api, email, PASSWORD)

    assert (await reset_password(api, email)).status_code == 200

    await wait_for_fresh_step()
    assert_problem(await submit(api, before, user.app.now()), 401, "invalid_mfa_token")
    assert_problem(await submit(api, before, user.codes[0]), 401, "invalid_mfa_token")
    # nothing was spent: the recovery code still works on a challenge of the new password
    after = await challenge(api, email, NEW_PASSWORD)
    signed_in = await submit(api, after, user.codes[0])
    assert signed_in.status_code == 200, signed_in.text


async def test_the_session_that_enrolled_ends_with_the_reset(api: Api) -> None:
    user = await mfa_user(api, confirm_offset=-STEP)
    assert (await reset_password(api, user.email)).status_code == 200

    assert_problem(await api.me(user.tokens.access), 401, "invalid_token")
    # and so it cannot turn MFA off behind the new password's back
    disable = await disable_totp(api, user.tokens.access, user.codes[0], password=NEW_PASSWORD)
    assert_problem(disable, 401, "invalid_token")
