"""Token introspection (RFC 7662) for resource servers that prefer asking to verifying.

Callers authenticate with HTTP Basic as a client of AUTHAPI_INTROSPECTION_CLIENTS
(secrets compared in constant time, an unknown id costs the same comparison).
A token is live when authapi would accept it itself, asked of the same store:

- an access token: signature, `exp`, `iss` and `aud` as `/users/me` checks them,
  and its session is live (so logout and revocation show at once);
- a refresh token: its MAC is ours and it is the session's current token (a
  token already rotated away is not live: presenting it would revoke the session).

Anything else (expired, revoked, rotated, unknown, malformed, another issuer's)
is exactly `{"active": false}`: a dead token's claims are never told.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any
from urllib.parse import unquote_plus

from authapi.errors import AuthError, OAuthError
from authapi.resources import TokenKit
from authapi.settings import Settings
from authapi.tokens import token_hash

INACTIVE: dict[str, Any] = {"active": False}
MAX_TOKEN_CHARS = 4096
# compared against when the client id is unknown, so timing does not tell ids apart
_DUMMY_SECRET = "x" * 32


class Introspection:
    def __init__(self, *, settings: Settings, tokens: TokenKit) -> None:
        self._settings = settings
        self._tokens = tokens

    def authenticate(self, authorization: str | None) -> str:
        """The calling client's id.

        Raises: OAuthError (401 invalid_client, with a Basic challenge).
        """
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise OAuthError.invalid_client()
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError.invalid_client() from None
        raw_id, separator, raw_secret = decoded.partition(":")
        # RFC 6749 §2.3.1: both parts are form-encoded before the Basic encoding
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        expected = self._settings.introspection_credentials.get(client_id)
        matches = hmac.compare_digest(
            secret.encode("utf-8"), (expected or _DUMMY_SECRET).encode("utf-8")
        )
        if not separator or expected is None or not matches:
            raise OAuthError.invalid_client()
        return client_id

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 §2.2 response for `token`.

        Raises: ServiceUnavailable (the store cannot be asked: no answer is better than a
        wrong one).
        """
        if not token or len(token) > MAX_TOKEN_CHARS:
            return INACTIVE
        refresh = self._tokens.refresh.parse(token)
        if refresh is not None:
            return await self._refresh_token(refresh.session_id, token)
        return await self._access_token(token)

    async def _refresh_token(self, session_id: str, token: str) -> dict[str, Any]:
        live = await self._tokens.store.describe(session_id)
        if live is None or not hmac.compare_digest(live.current_hash, token_hash(token)):
            return INACTIVE
        return {
            "active": True,
            "token_type": "refresh_token",
            "sub": live.user_id,
            "sid": session_id,
            "iat": int(live.issued_at),
            "exp": int(live.expires_at),
            "iss": self._settings.effective_issuer,
            "aud": self._settings.audience,
            "client_id": self._settings.client_id,
        }

    async def _access_token(self, token: str) -> dict[str, Any]:
        try:
            claims = await self._tokens.access.verify(token)
        except AuthError:
            return INACTIVE
        if not await self._tokens.store.is_active(claims["sid"]):
            return INACTIVE
        return {
            "active": True,
            "token_type": "access_token",
            "sub": claims["sub"],
            "sid": claims["sid"],
            "iat": claims["iat"],
            "exp": claims["exp"],
            "nbf": claims["nbf"],
            "iss": claims["iss"],
            "aud": claims["aud"],
            "client_id": claims["client_id"],
            "jti": claims["jti"],
        }
