"""The emails this service sends. Links are built from AUTHAPI_PUBLIC_URL only,
never from request headers, and carry nothing secret except their one token."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from authapi.mail import Email

VERIFY_EMAIL_PATH = "/verify-email"


def link(public_url: str, path: str, token: str) -> str:
    return f"{public_url}{path}?{urlencode({'token': token})}"


def verification(to: str, *, url: str, valid_hours: int) -> Email:
    return Email(
        to=to,
        subject="Confirm your email address",
        text=(
            "Welcome! Confirm your email address by opening this link:\n\n"
            f"{url}\n\n"
            f"The link works once and expires in {valid_hours} hours. "
            "If you did not create an account, ignore this email.\n"
        ),
    )


def already_registered(to: str, *, public_url: str) -> Email:
    return Email(
        to=to,
        subject="Someone tried to sign up with your email address",
        text=(
            "Someone (perhaps you) tried to create an account with this email address, "
            "but you already have one.\n\n"
            f'Sign in at {public_url}. If you forgot your password, use "Forgot password" there.\n'
            "If this was not you, you can ignore this email: nothing has changed.\n"
        ),
    )


def refresh_token_reused(
    to: str, *, started: datetime, ip: str | None, user_agent: str | None
) -> Email:
    return Email(
        to=to,
        subject="We signed out one of your sessions",
        text=(
            "A sign-in token of one of your sessions was used twice, which can mean it was "
            "copied. We have signed that session out to be safe.\n\n"
            f"Session started: {started:%Y-%m-%d %H:%M} UTC\n"
            f"Device: {user_agent or 'unknown'}\n"
            f"IP address: {ip or 'unknown'}\n\n"
            "If you do not recognise this, change your password.\n"
        ),
    )
