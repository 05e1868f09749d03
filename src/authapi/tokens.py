"""Access tokens (RFC 9068 JWTs) and opaque refresh tokens.

Access tokens: header `typ: at+jwt` and `kid`; claims iss, aud, sub, client_id,
exp, iat, nbf, jti, sid. Verification pins everything: exactly one algorithm
(the configured one), the key chosen by `kid` from our own keyring (so `jku`,
`x5u` and `jwk` headers are never looked at), iss, aud, the required claims,
and the token type (refresh tokens are not JWTs at all; MFA challenges and ID
tokens carry another `typ`). PyJWT >= 2.13 rejects unknown `crit` headers.

Refresh tokens: `<sid>.<secret>.<mac>`. The MAC (HMAC-SHA256 under a key derived
from AUTHAPI_ENCRYPTION_KEYS) lets us tell a token we issued from a forged one
carrying someone's session id, so garbage cannot trigger reuse detection and
revoke a victim's session. A successor's secret is an HMAC of its parent: a
replay of the parent within the grace window yields the very same successor
without the server ever storing a token (the store keeps SHA-256 hashes only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import jwt

from authapi.errors import AccessTokenExpired, InvalidAccessToken
from authapi.keys import Keyring

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "sub", "iss", "aud", "jti", "sid"]
VERIFIED_CACHE_SIZE = 10_000


class AccessClaims(TypedDict):
    iss: str
    aud: str
    sub: str
    client_id: str
    exp: int
    iat: int
    nbf: int
    jti: str
    sid: str


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_in: int
    claims: AccessClaims


class AccessTokens:
    def __init__(
        self,
        keyring: Keyring,
        *,
        issuer: str,
        audience: str,
        client_id: str,
        ttl_seconds: int,
        leeway_seconds: int,
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._client_id = client_id
        self._ttl = ttl_seconds
        self._leeway = leeway_seconds
        self._jwt = jwt.PyJWT(options={"require": REQUIRED_CLAIMS})
        # Tokens that passed full verification, exactly as presented. Only exact
        # strings hit, so a malleated variant is verified afresh; revocation is
        # checked per request on `sid` in the store, never here.
        self._verified: dict[str, AccessClaims] = {}

    async def issue(self, *, user_id: str, session_id: str) -> IssuedAccessToken:
        await self._keyring.refresh_if_stale()  # pick up a key rotated by another instance
        now = int(time.time())
        claims: AccessClaims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "client_id": self._client_id,
            "exp": now + self._ttl,
            "iat": now,
            "nbf": now,
            "jti": uuid.uuid4().hex,
            "sid": session_id,
        }
        signer = self._keyring.signer
        token = jwt.encode(
            cast(dict[str, Any], claims),
            signer.signing_key,  # type: ignore[arg-type]
            algorithm=signer.algorithm,
            headers={"kid": signer.kid, "typ": ACCESS_TOKEN_TYPE},
        )
        return IssuedAccessToken(token=token, expires_in=self._ttl, claims=claims)

    async def verify(self, token: str) -> AccessClaims:
        """Check signature, type and claims.

        Raises:
            AccessTokenExpired: a valid token past its `exp`.
            InvalidAccessToken: anything else wrong with it.
        """
        claims = self._verified.get(token)
        if claims is not None:
            if claims["exp"] <= time.time() - self._leeway:
                raise AccessTokenExpired()
            return claims
        claims = await self._verify_fully(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = claims
        return claims

    async def _verify_fully(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidAccessToken("The access token is malformed.") from None
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
            raise InvalidAccessToken("The token is not an access token.")
        if header.get("alg") != self._keyring.algorithm:
            raise InvalidAccessToken("The token is signed with an unexpected algorithm.")
        kid = header.get("kid")
        key = await self._keyring.verifying_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidAccessToken("The token is signed with an unknown key.")
        # still published after a change of AUTHAPI_JWT_ALGORITHM, but it cannot verify
        # this algorithm (and PyJWT would raise a TypeError on the mismatched key)
        if key.algorithm != self._keyring.algorithm:
            raise InvalidAccessToken("The token is signed with an unexpected algorithm.")
        try:
            claims = self._jwt.decode(
                token,
                key.verifying_key,  # type: ignore[arg-type]
                algorithms=[self._keyring.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError:
            raise AccessTokenExpired() from None
        except jwt.InvalidTokenError:
            raise InvalidAccessToken() from None
        if not all(isinstance(claims.get(name), str) for name in ("sub", "sid", "jti")):
            raise InvalidAccessToken()
        return cast(AccessClaims, claims)


def subject_id(claims: AccessClaims) -> uuid.UUID:
    """The user an access token was issued to. Raises: InvalidAccessToken."""
    try:
        return uuid.UUID(claims["sub"])
    except ValueError:
        raise InvalidAccessToken() from None


def session_ended() -> InvalidAccessToken:
    """The refusal of a good access token whose session is no longer live."""
    return InvalidAccessToken("The session of this access token has ended.")


# --- refresh tokens ----------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """What we store instead of a token: its SHA-256, hex (of any string a client sends,
    lone surrogates included)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret_token() -> tuple[str, str]:
    """A one-time secret (256 bits, URL-safe) and the hash to store instead of it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


@dataclass(frozen=True)
class RefreshToken:
    session_id: str
    value: str

    @property
    def hash(self) -> str:
        return token_hash(self.value)


class RefreshTokens:
    """Mints, checks and derives refresh tokens. Keys: first current, all accepted."""

    def __init__(self, mac_keys: list[bytes]) -> None:
        self._keys = mac_keys

    def _mac(self, key: bytes, body: str) -> str:
        # hmac.digest: OpenSSL's one-shot HMAC, several times faster than an hmac.new object
        return _b64(hmac.digest(key, body.encode("ascii"), "sha256")[:16])

    def _seal(self, session_id: str, secret: str) -> RefreshToken:
        body = f"{session_id}.{secret}"
        return RefreshToken(session_id=session_id, value=f"{body}.{self._mac(self._keys[0], body)}")

    def first(self, session_id: str) -> RefreshToken:
        return self._seal(session_id, _b64(secrets.token_bytes(32)))

    def successor(self, parent: RefreshToken) -> RefreshToken:
        secret = hmac.digest(self._keys[0], b"successor/" + parent.value.encode("ascii"), "sha256")
        return self._seal(parent.session_id, _b64(secret))

    def parse(self, value: str) -> RefreshToken | None:
        """The token if we issued it, else None (checked in constant time)."""
        parts = value.split(".")
        if len(parts) != 3 or len(value) > 200 or not value.isascii():
            return None
        session_id, secret, mac = parts
        try:
            session_id = str(uuid.UUID(hex=session_id))
        except ValueError:
            return None
        body = f"{parts[0]}.{secret}"
        if not any(hmac.compare_digest(self._mac(key, body), mac) for key in self._keys):
            return None
        return RefreshToken(session_id=session_id, value=value)
