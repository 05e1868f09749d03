"""TOTP (RFC 6238): secrets, codes, enrolment URIs and QR codes.

SHA-1, 30-second steps, 6 digits, and a window of one step either side for
clock drift: the parameters every authenticator app supports. A code must be
exactly six ASCII digits (`^[0-9]{6}$`) before anything else looks at it:
pyotp NFKC-normalises its input, so it would take full-width digits (U+FF11…) for
ASCII ones. `matching_steps` says which time steps a code is valid for; refusing a
step that was already used (replay) is the caller's job, done atomically in the
database (authapi.services.mfa).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, as RFC 4226 §4 recommends for HMAC-SHA-1
DRIFT_STEPS = 1

# `re` on str: [0-9] is the ten ASCII digits only (\d would take any Unicode digit),
# and \Z does not let a trailing newline through as $ would.
_CODE = re.compile(r"\A[0-9]{6}\Z")


def new_secret() -> str:
    """A fresh random secret in base32 (32 characters, no padding), as apps expect it."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def time_step(now: float) -> int:
    return int(now // STEP_SECONDS)


def code_at(secret: str, step: int, *, digits: int = DIGITS) -> str:
    """The code of `secret` for time step `step` (RFC 6238: HOTP with the step as counter)."""
    return pyotp.HOTP(secret, digits=digits).at(step)


def is_totp_code(code: str) -> bool:
    return _CODE.match(code) is not None


def matching_steps(secret: str, code: str, *, now: float) -> list[int]:
    """The time steps within the drift window for which `code` is valid, oldest first."""
    if not is_totp_code(code):
        return []
    current = time_step(now)
    return [
        step
        for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1)
        if hmac.compare_digest(code_at(secret, step), code)
    ]


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The `otpauth://totp/…` URI an authenticator app imports (Key URI Format)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_code_data_uri(uri: str) -> str:
    """The URI as a QR code: an SVG `data:` URI an `<img src>` can show as it is."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=4, border=4))
