"""Password sign-in, shared by `/auth/login` and the OAuth password grant."""

from __future__ import annotations

from authapi.services.accounts import AccountService
from authapi.services.sessions import IssuedTokens, SessionService


async def sign_in_with_password(
    accounts: AccountService, sessions: SessionService, *, email: str, password: str
) -> IssuedTokens:
    """Raises: InvalidCredentials, EmailNotVerified."""
    user = await accounts.authenticate(email, password)
    return await sessions.start(user, method="password")
