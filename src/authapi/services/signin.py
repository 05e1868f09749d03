"""Sign-in: the password step, shared by `/auth/login` and the OAuth password grant,
and the second-factor step of `/auth/login/mfa`."""

from __future__ import annotations

from authapi import metrics
from authapi.errors import AuthError
from authapi.services.accounts import AccountService
from authapi.services.mfa import MfaService
from authapi.services.sessions import IssuedTokens, SessionService


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
        metrics.LOGINS.labels("password", exc.code).inc()
        raise
    if await mfa.is_enabled(user.id):
        raise await mfa.challenge(user, method="password")
    return await sessions.start(user, method="password")


async def sign_in_with_second_factor(
    mfa: MfaService, sessions: SessionService, *, mfa_token: str, code: str
) -> IssuedTokens:
    """Raises: InvalidMfaToken, InvalidMfaCode, RateLimited."""
    passed = await mfa.complete(mfa_token, code)
    return await sessions.start(passed.user, method=passed.method)
