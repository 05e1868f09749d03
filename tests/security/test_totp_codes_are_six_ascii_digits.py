"""A TOTP code is exactly six ASCII digits (SPEC "Security properties": codes must match
`^[0-9]{6}$` exactly, no full-width or other Unicode digits).

pyotp NFKC-normalises what it compares, so full-width digits (U+FF10…U+FF19) or
mathematical bold ones (U+1D7CE…) would pass for ASCII digits if they reached it;
Python's `int()` and `\\d` also take Arabic-Indic and Devanagari digits. Every
spelling here is built from the code that is valid right now, so only the spelling
is wrong; each is refused, and the valid code still works afterwards (on the same
challenge, or confirming the same pending secret).

A trailing newline is a control character, which every string field refuses at
the schema (422 `validation_error`, SPEC "NUL bytes and other control characters in
any string field get 422"); every other spelling is a wrong code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pyotp
import pytest

from tests.conftest import Api, assert_problem, bearer

STEP_SECONDS = 30
MARGIN_SECONDS = 3.0
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def digits_from(zero: int) -> Callable[[str], str]:
    """The code written with the ten digits that start at code point `zero`."""
    return lambda code: "".join(chr(zero + int(digit)) for digit in code)


# case: (spelling of the valid code, expected status, expected problem code)
MALFORMED: dict[str, tuple[Callable[[str], str], int, str]] = {
    "full-width digits": (digits_from(0xFF10), 401, "invalid_mfa_code"),
    "arabic-indic digits": (digits_from(0x0660), 401, "invalid_mfa_code"),
    "extended arabic-indic digits": (digits_from(0x06F0), 401, "invalid_mfa_code"),
    "devanagari digits": (digits_from(0x0966), 401, "invalid_mfa_code"),
    "mathematical bold digits": (digits_from(0x1D7CE), 401, "invalid_mfa_code"),
    "superscript digits": (
        lambda code: "".join(SUPERSCRIPTS[int(digit)] for digit in code),
        401,
        "invalid_mfa_code",
    ),
    "leading space": (lambda code: f" {code}", 401, "invalid_mfa_code"),
    "trailing space": (lambda code: f"{code} ", 401, "invalid_mfa_code"),
    "newline suffix": (lambda code: f"{code}\n", 422, "validation_error"),
    "seven digits": (lambda code: f"{code}0", 401, "invalid_mfa_code"),
    "five digits": (lambda code: code[:5], 401, "invalid_mfa_code"),
    "with a hyphen": (lambda code: f"{code[:3]}-{code[3:]}", 401, "invalid_mfa_code"),
    "negative sign": (lambda code: f"-{code}", 401, "invalid_mfa_code"),
}
CASES = list(MALFORMED)


async def fresh_step() -> None:
    """Wait (a few seconds at most) until at least MARGIN_SECONDS remain in this step."""
    remaining = STEP_SECONDS - time.time() % STEP_SECONDS
    if remaining < MARGIN_SECONDS:
        await asyncio.sleep(remaining + 0.05)


async def setup_totp(api: Api, access: str) -> pyotp.TOTP:
    setup = await api.client.post("/auth/mfa/totp/setup", headers=bearer(access))
    assert setup.status_code == 200, setup.text
    return pyotp.TOTP(setup.json()["secret"])


async def confirm(api: Api, access: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/mfa/totp/confirm", json={"code": code}, headers=bearer(access)
    )


async def answer(api: Api, mfa_token: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": code, "refresh_token_delivery": "body"},
    )


def malformed(case: str, valid: str) -> tuple[str, int, str]:
    spell, status, problem = MALFORMED[case]
    spelling = spell(valid)
    assert spelling != valid
    return spelling, status, problem


@pytest.mark.parametrize("case", CASES, ids=CASES)
async def test_sign_in_refuses_the_code_spelled_otherwise(api: Api, case: str) -> None:
    tokens = await api.signed_in()
    authenticator = await setup_totp(api, tokens.access)
    await fresh_step()
    # confirm with the previous step, so the current one is free for signing in
    confirmed = await confirm(api, tokens.access, authenticator.at(time.time() - STEP_SECONDS))
    assert confirmed.status_code == 200, confirmed.text
    login = assert_problem(await api.login(tokens.email), 403, "mfa_required")
    await fresh_step()
    valid = authenticator.now()
    spelling, status, problem = malformed(case, valid)

    assert_problem(await answer(api, login["mfa_token"], spelling), status, problem)

    signed_in = await answer(api, login["mfa_token"], valid)  # the same challenge
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize("case", CASES, ids=CASES)
async def test_confirmation_refuses_the_code_spelled_otherwise(api: Api, case: str) -> None:
    tokens = await api.signed_in()
    authenticator = await setup_totp(api, tokens.access)
    await fresh_step()
    valid = authenticator.now()
    spelling, status, problem = malformed(case, valid)

    assert_problem(await confirm(api, tokens.access, spelling), status, problem)

    status_now = await api.client.get("/auth/mfa", headers=bearer(tokens.access))
    assert status_now.json() == {"totp_enabled": False, "recovery_codes_remaining": 0}
    assert (await api.me(tokens.access)).json()["mfa_enabled"] is False
    assert (await api.login(tokens.email)).status_code == 200  # no second factor asked
    assert (await confirm(api, tokens.access, valid)).status_code == 200
