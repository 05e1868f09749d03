"""Shared steps of the two-factor tests: pyotp plays the authenticator app.

TOTP codes depend on the clock (30 s steps, ±1 step accepted, each step accepted
once per account and only after the last one accepted). `wait_for_fresh_step`
makes sure a few seconds are left in the current step, so that codes taken as
`now`, `-30 s` or `+30 s` name the steps they are meant to. Enrolment
(`enable_totp`, `mfa_user`) confirms with the current step's code by default,
which spends `now`: sign in with `next_code` then. With `confirm_offset=-STEP` it
confirms with the previous step's code instead, leaving `now` free.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
from sqlalchemy import select

from authapi.models import User
from tests.conftest import PASSWORD, Api, Tokens, assert_problem, bearer

STEP = 30  # seconds per TOTP time step
MARGIN_SECONDS = 3.0  # what `wait_for_fresh_step` leaves of the current step, at least


# --- the authenticator app ------------------------------------------------------------
async def wait_for_fresh_step(min_remaining: float = MARGIN_SECONDS) -> None:
    """Wait, if need be, until at least `min_remaining` seconds are left in this step."""
    remaining = STEP - time.time() % STEP
    if remaining < min_remaining:
        await asyncio.sleep(remaining + 0.05)


def code_in(app: pyotp.TOTP, seconds: float) -> str:
    """The app's code for the time `seconds` from now (negative: in the past)."""
    return app.at(time.time() + seconds)


def next_code(app: pyotp.TOTP) -> str:
    """The code of the next step: within the ±1 step window, and later than `now`."""
    return code_in(app, STEP)


def wrong_code(app: pyotp.TOTP) -> str:
    """Six digits that are no code of the app anywhere near now."""
    near = {code_in(app, seconds) for seconds in range(-3 * STEP, 4 * STEP, STEP)}
    return next(code for code in (f"{n:06d}" for n in range(100)) if code not in near)


# --- enrolment ------------------------------------------------------------------------
@dataclass(frozen=True)
class MfaUser:
    """An account with TOTP on, signed in by the session that turned it on (still valid)."""

    tokens: Tokens
    app: pyotp.TOTP  # the authenticator app holding the enrolled secret
    codes: list[str]  # the ten recovery codes handed out when confirming

    @property
    def email(self) -> str:
        return self.tokens.email


async def start_setup(api: Api, access: str, password: str | None = PASSWORD) -> pyotp.TOTP:
    """POST /auth/mfa/totp/setup with the password (None: an account without one);
    returns an authenticator app with the pending secret."""
    response = await api.client.post(
        "/auth/mfa/totp/setup", json={"password": password}, headers=bearer(access)
    )
    assert response.status_code == 200, response.text
    return pyotp.TOTP(response.json()["secret"])


async def confirm(api: Api, access: str, code: str) -> httpx.Response:
    """POST /auth/mfa/totp/confirm with `code`, as it is answered."""
    return await api.client.post(
        "/auth/mfa/totp/confirm", json={"code": code}, headers=bearer(access)
    )


async def enable_totp(
    api: Api, tokens: Tokens, *, confirm_offset: int = 0, password: str | None = PASSWORD
) -> MfaUser:
    """Enrol an authenticator app for the signed-in user (setup, then confirm).

    Confirms with the code `confirm_offset` seconds from now: 0 spends the current
    step; `-STEP` spends the previous one (after waiting for a fresh step, so that
    it is the previous one) and leaves the current step free for the test.
    """
    app = await start_setup(api, tokens.access, password)
    if confirm_offset:
        await wait_for_fresh_step()
    response = await confirm(api, tokens.access, code_in(app, confirm_offset))
    assert response.status_code == 200, response.text
    return MfaUser(tokens, app, response.json()["recovery_codes"])


async def mfa_user(api: Api, *, confirm_offset: int = 0) -> MfaUser:
    """A new account with TOTP on (see `enable_totp` for `confirm_offset`)."""
    return await enable_totp(api, await api.signed_in(), confirm_offset=confirm_offset)


# --- signing in with a second factor ----------------------------------------------------
async def challenge(api: Api, email: str, password: str = PASSWORD) -> str:
    """Sign in with the password; returns the `mfa_token` of the 403 `mfa_required`."""
    body = assert_problem(await api.login(email, password), 403, "mfa_required")
    mfa_token: str = body["mfa_token"]
    return mfa_token


async def submit(api: Api, mfa_token: str, code: str, *, delivery: str = "body") -> httpx.Response:
    """POST /auth/login/mfa: the second step of a sign-in, as it is answered."""
    return await api.client.post(
        "/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": code, "refresh_token_delivery": delivery},
    )


async def signed_in_with_mfa(api: Api, email: str, code: str) -> Tokens:
    """A new session from both steps of a sign-in (the password, then `code`)."""
    response = await submit(api, await challenge(api, email), code)
    assert response.status_code == 200, response.text
    body = response.json()
    return Tokens(email=email, access=body["access_token"], refresh=body["refresh_token"])


# --- managing MFA -------------------------------------------------------------------------
async def mfa_status(api: Api, access: str) -> dict[str, Any]:
    """GET /auth/mfa: {totp_enabled, recovery_codes_remaining}."""
    response = await api.client.get("/auth/mfa", headers=bearer(access))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def disable_totp(
    api: Api, access: str, code: str, *, password: str = PASSWORD
) -> httpx.Response:
    """POST /auth/mfa/totp/disable with the password and `code`, as it is answered."""
    return await api.client.post(
        "/auth/mfa/totp/disable",
        json={"password": password, "code": code},
        headers=bearer(access),
    )


async def regenerate_codes(api: Api, access: str, code: str) -> httpx.Response:
    """POST /auth/mfa/recovery-codes with `code`, as it is answered."""
    return await api.client.post(
        "/auth/mfa/recovery-codes", json={"code": code}, headers=bearer(access)
    )


async def user_id_of(api: Api, email: str) -> uuid.UUID:
    """The id of the account with this email, read from the database."""
    async with api.app.state.resources.sessionmaker() as db:
        user_id = await db.scalar(select(User.id).where(User.email == email))
    assert isinstance(user_id, uuid.UUID)
    return user_id
