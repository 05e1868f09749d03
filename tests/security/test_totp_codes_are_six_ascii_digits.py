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

from collections.abc import Callable

import pytest

from tests.conftest import Api, assert_problem
from tests.mfa import (
    STEP,
    challenge,
    confirm,
    mfa_status,
    mfa_user,
    start_setup,
    submit,
    wait_for_fresh_step,
)

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


def malformed(case: str, valid: str) -> tuple[str, int, str]:
    spell, status, problem = MALFORMED[case]
    spelling = spell(valid)
    assert spelling != valid
    return spelling, status, problem


@pytest.mark.requirement("ASVS-2.2.1")
@pytest.mark.parametrize("case", CASES, ids=CASES)
async def test_sign_in_refuses_the_code_spelled_otherwise(api: Api, case: str) -> None:
    # confirmed with the previous step, so the current one is free for signing in
    user = await mfa_user(api, confirm_offset=-STEP)
    mfa_token = await challenge(api, user.email)
    await wait_for_fresh_step()
    valid = user.app.now()
    spelling, status, problem = malformed(case, valid)

    assert_problem(await submit(api, mfa_token, spelling), status, problem)

    signed_in = await submit(api, mfa_token, valid)  # the same challenge
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize("case", CASES, ids=CASES)
async def test_confirmation_refuses_the_code_spelled_otherwise(api: Api, case: str) -> None:
    tokens = await api.signed_in()
    authenticator = await start_setup(api, tokens.access)
    await wait_for_fresh_step()
    valid = authenticator.now()
    spelling, status, problem = malformed(case, valid)

    assert_problem(await confirm(api, tokens.access, spelling), status, problem)

    assert await mfa_status(api, tokens.access) == {
        "totp_enabled": False,
        "recovery_codes_remaining": 0,
    }
    assert (await api.me(tokens.access)).json()["mfa_enabled"] is False
    assert (await api.login(tokens.email)).status_code == 200  # no second factor asked
    assert (await confirm(api, tokens.access, valid)).status_code == 200
