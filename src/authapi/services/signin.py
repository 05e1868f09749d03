"""Sign-in, one seam for every way in: a first factor passed, then either a session or
a second-factor challenge.

    password ─────────┐
    provider ─────────┼─> first_factor_passed ─┬─> MfaRequired (a challenge)
    passkey ──────────┘                        └─> session (a passkey: always)
    challenge + totp | recovery_code | passkey ─> second step ─> session

A method is labelled the same everywhere (security events' `method`, the
`authapi_logins_total` metric, the challenge that remembers what was passed):
`password`, `oidc:<provider>`, `passkey`, and a first factor plus the second, as
`password+totp`, `password+passkey` or `oidc:google+recovery_code`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from authapi import metrics
from authapi.errors import AuthError
from authapi.models import User
from authapi.services.accounts import AccountService
from authapi.services.mfa import MfaService
from authapi.services.passkeys import PasskeyService, SignInOptions
from authapi.services.sessions import IssuedTokens, SessionService


class SignInMethod(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 (a method name)
    PROVIDER = "oidc"
    PASSKEY = "passkey"
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True)
class FirstFactor:
    """How a sign-in proved who it is before any second factor."""

    method: SignInMethod
    provider: str | None = None  # the provider's name, for PROVIDER

    @property
    def label(self) -> str:
        if self.method is SignInMethod.PROVIDER:
            return f"{self.method.value}:{self.provider}"
        return self.method.value

    @property
    def is_second_factor_too(self) -> bool:
        """A user-verified passkey is phishing-resistant and multi-factor by itself."""
        return self.method is SignInMethod.PASSKEY


PASSWORD = FirstFactor(SignInMethod.PASSWORD)
PASSKEY = FirstFactor(SignInMethod.PASSKEY)


def provider_factor(name: str) -> FirstFactor:
    return FirstFactor(SignInMethod.PROVIDER, provider=name)


async def first_factor_passed(
    user: User, factor: FirstFactor, *, mfa: MfaService, sessions: SessionService
) -> IssuedTokens:
    """The session of a user who passed `factor`, unless their account asks for a second
    factor that `factor` is not.

    Raises:
        MfaRequired: the second step is due; it carries the challenge.
        InvalidCredentials, AccountDisabled: the account changed since `factor` passed.
    """
    await second_factor_due(user, factor, mfa=mfa)
    return await sessions.start(user, method=factor.label)


async def second_factor_due(user: User, factor: FirstFactor, *, mfa: MfaService) -> None:
    """Raises MfaRequired (with its challenge) when the account asks for a second factor
    that `factor` is not; a session may start after `factor` alone otherwise."""
    if not factor.is_second_factor_too and await mfa.is_enabled(user.id):
        raise await mfa.challenge(user, method=factor.label)


async def sign_in_with_password(
    accounts: AccountService,
    mfa: MfaService,
    sessions: SessionService,
    *,
    email: str,
    password: str,
) -> IssuedTokens:
    """Raises: InvalidCredentials, EmailNotVerified, AccountDisabled, RateLimited,
    MfaRequired (with the challenge)."""
    try:
        user = await accounts.authenticate(email, password)
    except AuthError as exc:
        metrics.LOGINS.labels(PASSWORD.label, exc.code).inc()
        raise
    return await first_factor_passed(user, PASSWORD, mfa=mfa, sessions=sessions)


async def second_factor_passed(
    mfa: MfaService, sessions: SessionService, *, mfa_token: str, code: str
) -> IssuedTokens:
    """Raises: InvalidMfaToken, InvalidMfaCode, AccountDisabled, RateLimited."""
    passed = await mfa.complete(mfa_token, code)
    return await sessions.start(passed.user, method=passed.method)


async def passkey_options(
    passkeys: PasskeyService, mfa: MfaService, *, email: str | None, mfa_token: str | None
) -> SignInOptions:
    """Options for a passkey sign-in: discoverable, email-first, or the second step of the
    sign-in that `mfa_token` stands for. Raises: PasskeysOff, RateLimited, InvalidMfaToken,
    AccountDisabled."""
    user = await mfa.challenged_user(mfa_token) if mfa_token is not None else None
    return await passkeys.sign_in_options(email=email, user=user)


async def sign_in_with_passkey(
    passkeys: PasskeyService,
    mfa: MfaService,
    sessions: SessionService,
    *,
    credential: dict[str, Any],
    browser_secret: str | None,
    mfa_token: str | None,
) -> IssuedTokens:
    """A passkey as the first factor (and so the second too), or as the second step after
    another first factor (`mfa_token`).

    Raises: PasskeysOff, RateLimited, InvalidPasskeyChallenge, InvalidPasskey,
    InvalidMfaToken, InvalidCredentials, AccountDisabled.
    """
    if mfa_token is None:
        user = await passkeys.verify(credential, browser_secret=browser_secret)
        return await first_factor_passed(user, PASSKEY, mfa=mfa, sessions=sessions)

    async def passkey_of(user: User) -> str:
        await passkeys.verify(credential, browser_secret=browser_secret, expected_user=user.id)
        return SignInMethod.PASSKEY.value

    passed = await mfa.complete_with(mfa_token, passkey_of)
    return await sessions.start(passed.user, method=passed.method)
