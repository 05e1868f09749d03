"""The emails this service sends. Links are built from AUTHAPI_APP_URL (by default the
built-in pages at AUTHAPI_PUBLIC_URL/account) only, never from request headers, and
carry nothing secret except their one token."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode

from authapi.mail import Email

# pages of the application at AUTHAPI_APP_URL that take `?token=` and POST it back
VERIFY_EMAIL_PATH = "/verify-email"
RESET_PASSWORD_PATH = "/reset-password"  # noqa: S105 (a path)


_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/[0-9][0-9A-Za-z._-]*")
_COMMENT = re.compile(r"\([A-Za-z0-9 ._;,:+-]*\)")
_DOMAIN_LIKE = re.compile(r"[A-Za-z]\.[A-Za-z]")
DEVICE_MAX_LENGTH = 120


def describe_device(user_agent: str | None) -> str:
    """The User-Agent, reduced to product tokens and platform comments.

    The header is the client's to choose; anything that could read as a link or
    a domain (an attacker's "device name") is dropped before it reaches an email.
    """
    if not user_agent:
        return "unknown device"
    kept = [
        part
        for part in re.findall(r"\([^)]*\)|\S+", user_agent)
        if (_PRODUCT.fullmatch(part) or _COMMENT.fullmatch(part)) and not _DOMAIN_LIKE.search(part)
    ]
    described = " ".join(kept)[:DEVICE_MAX_LENGTH].strip()
    return described or "unknown device"


def link(app_url: str, path: str, token: str) -> str:
    return f"{app_url}{path}?{urlencode({'token': token})}"


def verification(to: str, *, url: str, valid_hours: int) -> Email:
    return Email(
        to=to,
        link=url,
        subject="Confirm your email address",
        text=(
            "Welcome! Confirm your email address by opening this link:\n\n"
            f"{url}\n\n"
            f"The link works once and expires in {valid_hours} hours. "
            "If you did not create an account, ignore this email.\n"
        ),
    )


def finish_registration(to: str, *, url: str, valid_minutes: int) -> Email:
    return Email(
        to=to,
        link=url,
        subject="Choose a password to finish signing up",
        text=(
            "This address was registered more than once before it was confirmed, so no "
            "password chosen so far is kept. To finish creating your account, choose its "
            "password here (this also confirms the address):\n\n"
            f"{url}\n\n"
            f"The link works once and expires in {valid_minutes} minutes. Earlier "
            "confirmation links no longer work. If you did not create an account, ignore "
            "this email.\n"
        ),
    )


def already_registered(to: str, *, app_url: str) -> Email:
    return Email(
        to=to,
        link=app_url,
        subject="Someone tried to sign up with your email address",
        text=(
            "Someone (perhaps you) tried to create an account with this email address, "
            "but you already have one. Sign in here:\n\n"
            f"{app_url}\n\n"
            'If you forgot your password, use "Forgot password" there. If this was not you, '
            "you can ignore this email: nothing has changed.\n"
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
            f"Device: {describe_device(user_agent)}\n"
            f"IP address: {ip or 'unknown'}\n\n"
            "If you do not recognise this, change your password.\n"
        ),
    )


IF_NOT_YOU = "If this was not you, reset your password now and review your sessions.\n"


def password_reset_link(to: str, *, url: str, valid_minutes: int) -> Email:
    return Email(
        to=to,
        link=url,
        subject="Reset your password",
        text=(
            "Someone (hopefully you) asked to reset the password of your account. "
            "Choose a new password here:\n\n"
            f"{url}\n\n"
            f"The link works once and expires in {valid_minutes} minutes. If you did not ask "
            "for this, ignore this email: your password stays as it is.\n"
        ),
    )


def password_was_reset(to: str) -> Email:
    return Email(
        to=to,
        subject="Your password was reset",
        text=(
            "The password of your account was just reset with a link sent to this address, "
            "and every session was signed out.\n\n" + IF_NOT_YOU
        ),
    )


def password_changed(to: str) -> Email:
    return Email(
        to=to,
        subject="Your password was changed",
        text=(
            "The password of your account was just changed. Your other sessions were "
            "signed out.\n\n" + IF_NOT_YOU
        ),
    )


def email_change_confirmation(to: str, *, url: str, valid_hours: int) -> Email:
    return Email(
        to=to,
        link=url,
        subject="Confirm your new email address",
        text=(
            "Confirm that this is the new address of your account by opening this link:\n\n"
            f"{url}\n\n"
            f"The link works once and expires in {valid_hours} hours. Until then the account "
            "keeps its old address. If you did not ask for this, ignore this email.\n"
        ),
    )


def email_change_requested(to: str, *, new_email: str) -> Email:
    return Email(
        to=to,
        subject="A change of your email address was requested",
        text=(
            f"Someone signed in to your account asked to change its address to {new_email}. "
            "Nothing changes until the link sent to that address is used.\n\n" + IF_NOT_YOU
        ),
    )


def email_change_refused(to: str) -> Email:
    return Email(
        to=to,
        subject="Someone tried to move an account to your email address",
        text=(
            "Someone tried to change the address of an account to this one, but this address "
            "already has an account, so nothing was changed. You do not need to do anything.\n"
        ),
    )


def email_changed(to: str, *, new_email: str) -> Email:
    return Email(
        to=to,
        subject="Your email address was changed",
        text=(
            f"The address of your account was changed to {new_email}; this address will no "
            "longer receive its emails.\n\n" + IF_NOT_YOU
        ),
    )


def account_deleted(to: str) -> Email:
    return Email(
        to=to,
        subject="Your account was deleted",
        text=(
            "Your account and everything it held were deleted, and every session was signed "
            "out. If this was not you, contact us: someone had your password.\n"
        ),
    )


def mfa_enabled(to: str) -> Email:
    return Email(
        to=to,
        subject="Two-factor authentication is on",
        text=(
            "Two-factor authentication was just turned on for your account: signing in now "
            "takes a code from your authenticator app as well as your password. Your other "
            "sessions were signed out. Keep your recovery codes somewhere safe.\n\n" + IF_NOT_YOU
        ),
    )


def mfa_disabled(to: str) -> Email:
    return Email(
        to=to,
        subject="Two-factor authentication is off",
        text=(
            "Two-factor authentication was just turned off for your account: signing in takes "
            "only your password now. Your other sessions were signed out.\n\n" + IF_NOT_YOU
        ),
    )


def mfa_reset(to: str) -> Email:
    return Email(
        to=to,
        subject="Two-factor authentication was reset",
        text=(
            "An administrator turned two-factor authentication off for your account, as "
            "asked when the authenticator app and the recovery codes were lost. Every "
            "session was signed out; sign in with your password and turn it on again.\n\n"
            "If you did not ask for this, reset your password now and contact us.\n"
        ),
    )


def recovery_codes_regenerated(to: str) -> Email:
    return Email(
        to=to,
        subject="New recovery codes",
        text=(
            "New recovery codes were just made for your account; the old ones no longer "
            "work.\n\n" + IF_NOT_YOU
        ),
    )


def recovery_code_used(to: str, *, remaining: int) -> Email:
    return Email(
        to=to,
        subject="A recovery code was used to sign in",
        text=(
            "Someone signed in to your account with one of your recovery codes. "
            f"You have {remaining} unused {'code' if remaining == 1 else 'codes'} left; "
            "you can make new ones from your account settings.\n\n" + IF_NOT_YOU
        ),
    )


def identity_linked(to: str, *, provider: str) -> Email:
    return Email(
        to=to,
        subject=f"{provider} sign-in was added to your account",
        text=(
            f"You can now sign in to your account with {provider}. "
            "You can remove it from your account settings.\n\n" + IF_NOT_YOU
        ),
    )


def identity_unlinked(to: str, *, provider: str) -> Email:
    return Email(
        to=to,
        subject=f"{provider} sign-in was removed from your account",
        text=(f"Signing in to your account with {provider} no longer works.\n\n" + IF_NOT_YOU),
    )


def passkey_added(to: str, *, name: str) -> Email:
    return Email(
        to=to,
        subject="A passkey was added to your account",
        text=(
            f'You can now sign in to your account with the passkey "{name}". '
            "You can remove it from your account settings.\n\n" + IF_NOT_YOU
        ),
    )


def passkey_removed(to: str, *, name: str) -> Email:
    return Email(
        to=to,
        subject="A passkey was removed from your account",
        text=(f'The passkey "{name}" no longer signs in to your account.\n\n' + IF_NOT_YOU),
    )


def passkey_refused(to: str, *, name: str) -> Email:
    return Email(
        to=to,
        subject="A sign-in with your passkey was refused",
        text=(
            f'Someone tried to sign in with your passkey "{name}", but the device\'s '
            "signature counter was behind the one we had seen: the passkey may have been "
            "copied. If you did not expect this, remove the passkey from your account "
            "settings and sign out your other sessions.\n\n" + IF_NOT_YOU
        ),
    )
