"""JWT signing keys: generation, storage, rotation, and the in-memory keyring.

Keys live in the database so every instance finds the same ones: private parts
encrypted with `AUTHAPI_ENCRYPTION_KEYS`, public parts as JWKs. A key configured
from a file (`AUTHAPI_SIGNING_KEY_FILE`) or a secret (`AUTHAPI_JWT_SECRET`) is
used as is; only its public JWK is recorded, so it stays published after the
file is replaced. With nothing configured, the first start generates a key.

Rotation publishes the next key before it signs anything: `authapi keys rotate`
adds a key that activates after the JWKS cache lifetime (plus a margin), so
every verifier that honours the cache headers holds the new key before it meets
a token signed with it. The previous key retires at that moment instead of
being deleted: it signs nothing more but stays published and trusted until every
token it signed has expired (access-token lifetime + clock leeway + one reload
interval, since instances pick up changes within `AUTHAPI_KEYS_RELOAD_SECONDS`,
or at once when they meet an unknown `kid`). `--activate-in 0` switches at once,
for a compromised key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authapi.encryption import DecryptionFailed, Encryptor
from authapi.models import SigningKey, utcnow
from authapi.settings import Settings

log = logging.getLogger("authapi.keys")

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
# what PyJWT takes to sign or verify: a key object, or the shared secret for HS256
JwtKey: TypeAlias = PrivateKey | PublicKey | bytes

RSA_BITS = 2048
ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)  # activation time of a key given in the configuration
# Verifiers may cache the JWKS this long (its Cache-Control max-age); a rotated key is
# published at least this long (plus a margin) before it signs anything.
JWKS_MAX_AGE_SECONDS = 300
ACTIVATION_DELAY_SECONDS = JWKS_MAX_AGE_SECONDS + 60
KEYS_LOCK_ID = 0x6175_7468  # "auth": the advisory lock serialising key generation
UNKNOWN_KID_COOLDOWN_SECONDS = 5.0


class KeyConfigError(Exception):
    """Keys that cannot be used as configured (reported as one line at start)."""


@dataclass(frozen=True)
class KeyMaterial:
    kid: str
    algorithm: str
    activates_at: datetime  # signs from then on (published before, so verifiers have it)
    retired_at: datetime | None  # signs nothing from then on; still trusted for a while
    verifying_key: JwtKey
    signing_key: JwtKey | None = None
    public_jwk: dict[str, Any] | None = None  # None for HS256: nothing to publish

    def signs_at(self, moment: datetime) -> bool:
        return (
            self.signing_key is not None
            and self.activates_at <= moment
            and (self.retired_at is None or moment < self.retired_at)
        )


# --- generation and encoding ---------------------------------------------------
def generate_private_key(algorithm: str) -> PrivateKey | bytes:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if algorithm == "HS256":
        return secrets.token_bytes(32)
    raise KeyConfigError(f"unsupported algorithm {algorithm}")


def _check_key_type(key: PrivateKey, algorithm: str) -> None:
    fits = (
        (
            algorithm == "ES256"
            and isinstance(key, ec.EllipticCurvePrivateKey)
            and key.curve.name == "secp256r1"
        )
        or (algorithm == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey))
        or (
            algorithm == "RS256" and isinstance(key, rsa.RSAPrivateKey) and key.key_size >= RSA_BITS
        )
    )
    if not fits:
        raise KeyConfigError(
            f"the configured signing key does not fit {algorithm} "
            "(ES256: EC P-256, EdDSA: Ed25519, RS256: RSA >= 2048 bits)"
        )


def public_jwk(public_key: PublicKey, algorithm: str) -> dict[str, Any]:
    """The RFC 7517 JWK of a public key, with its RFC 7638 thumbprint as `kid`."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
        members: tuple[str, ...] = ("crv", "kty", "x", "y")
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
        members = ("crv", "kty", "x")
    else:
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
        members = ("e", "kty", "n")
    canonical = json.dumps(
        {name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True
    )
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    return {
        **{name: jwk[name] for name in members},
        "kid": thumbprint.decode(),
        "alg": algorithm,
        "use": "sig",
    }


def _secret_kid(secret: bytes) -> str:
    # derived, so every instance with the same secret agrees; reveals nothing usable
    return (
        base64.urlsafe_b64encode(hashlib.sha256(b"authapi/hs256-kid/" + secret).digest()[:16])
        .rstrip(b"=")
        .decode()
    )


def _material(
    *,
    key: PrivateKey | bytes,
    algorithm: str,
    activates_at: datetime,
    retired_at: datetime | None = None,
    can_sign: bool = True,
) -> KeyMaterial:
    if isinstance(key, bytes):
        return KeyMaterial(
            kid=_secret_kid(key),
            algorithm=algorithm,
            activates_at=activates_at,
            retired_at=retired_at,
            verifying_key=key,
            signing_key=key if can_sign else None,
        )
    jwk = public_jwk(key.public_key(), algorithm)
    return KeyMaterial(
        kid=jwk["kid"],
        algorithm=algorithm,
        activates_at=activates_at,
        retired_at=retired_at,
        verifying_key=key.public_key(),
        signing_key=key if can_sign else None,
        public_jwk=jwk,
    )


def _serialize_private(key: PrivateKey | bytes) -> bytes:
    if isinstance(key, bytes):
        return key
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _deserialize_private(data: bytes, algorithm: str) -> PrivateKey | bytes:
    if algorithm == "HS256":
        return data
    key = serialization.load_pem_private_key(data, password=None)
    assert isinstance(
        key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)
    )
    return key


def configured_key(settings: Settings) -> KeyMaterial | None:
    """The signing key given in the configuration, if any."""
    if settings.jwt_secret is not None:
        return _material(
            key=settings.jwt_secret.get_secret_value().encode(),
            algorithm="HS256",
            activates_at=ALWAYS,
        )
    if settings.signing_key_file is None:
        return None
    try:
        key = serialization.load_pem_private_key(
            settings.signing_key_file.read_bytes(), password=None
        )
    except (ValueError, TypeError, OSError) as exc:
        raise KeyConfigError(
            f"cannot read AUTHAPI_SIGNING_KEY_FILE: {type(exc).__name__}"
        ) from None
    if not isinstance(
        key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)
    ):
        raise KeyConfigError("AUTHAPI_SIGNING_KEY_FILE is not an EC, Ed25519 or RSA private key")
    _check_key_type(key, settings.jwt_algorithm)
    return _material(key=key, algorithm=settings.jwt_algorithm, activates_at=ALWAYS)


# --- the database side ------------------------------------------------------------
class KeyRepository:
    """Reads and writes `signing_keys`; builds `KeyMaterial` for the keyring."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        encryptor: Encryptor,
        settings: Settings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._encryptor = encryptor
        self._algorithm = settings.jwt_algorithm
        # An instance may go on signing with a retired key until its next reload,
        # so trust lasts one reload interval longer than the last token's lifetime.
        self._trust_after_retire = timedelta(
            seconds=settings.access_token_ttl_seconds
            + settings.clock_leeway_seconds
            + settings.keys_reload_seconds
        )
        self._configured = configured_key(settings)

    @property
    def trust_after_retire_seconds(self) -> int:
        return int(self._trust_after_retire.total_seconds())

    async def ensure_signing_key(self) -> None:
        """Make sure one usable signing key exists (generating one on first start)."""
        async with self._sessionmaker.begin() as db:
            if db.get_bind().dialect.name == "postgresql":
                # instances starting together: one generates, the others find its key
                await db.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": KEYS_LOCK_ID})
            if self._configured is not None:
                await self._record_configured(db, self._configured)
                return
            now = utcnow()
            usable = await db.scalar(
                select(SigningKey.kid)
                .where(
                    SigningKey.algorithm == self._algorithm,
                    SigningKey.private_key.is_not(None),
                    SigningKey.activates_at <= now,
                    SigningKey.retired_at.is_(None) | (SigningKey.retired_at > now),
                )
                .limit(1)
            )
            if usable is None:
                log.warning("no signing key found: generating a new %s key", self._algorithm)
                await self._add_generated(db, activates_at=now)

    async def rotate(self, *, activate_in_seconds: float) -> KeyMaterial:
        """Publish a new signing key now; it takes over signing after `activate_in_seconds`.

        Publishing first gives verifiers time to fetch the new key before they meet
        tokens signed with it; 0 switches at once (for a compromised key).
        """
        if self._configured is not None:
            raise KeyConfigError(
                "the signing key comes from the configuration; rotate it by replacing "
                "AUTHAPI_SIGNING_KEY_FILE / AUTHAPI_JWT_SECRET"
            )
        async with self._sessionmaker.begin() as db:
            activates_at = utcnow() + timedelta(seconds=activate_in_seconds)
            return await self._add_generated(db, activates_at=activates_at)

    async def load(self) -> list[KeyMaterial]:
        """Every key that is published: pending, signing, and recently retired ones."""
        cutoff = utcnow() - self._trust_after_retire
        async with self._sessionmaker() as db:
            rows = (
                await db.scalars(
                    select(SigningKey).where(
                        SigningKey.retired_at.is_(None) | (SigningKey.retired_at > cutoff)
                    )
                )
            ).all()
        configured_kid = self._configured.kid if self._configured else None
        keys = [
            self._from_row(row)
            for row in rows
            # a replaced AUTHAPI_JWT_SECRET left a row with nothing to verify with
            if row.kid != configured_kid and (row.private_key or row.public_jwk)
        ]
        if self._configured is not None:
            keys.append(self._configured)
        return keys

    async def all_rows(self) -> list[SigningKey]:
        async with self._sessionmaker() as db:
            return list(
                (await db.scalars(select(SigningKey).order_by(SigningKey.activates_at))).all()
            )

    def status(self, row: SigningKey) -> str:
        """pending, signing, published (retired, still trusted) or expired."""
        now = utcnow()
        if row.activates_at > now:
            return "pending"
        if row.retired_at is None or row.retired_at > now:
            return "signing"
        return "published" if row.retired_at > now - self._trust_after_retire else "expired"

    async def _add_generated(self, db: AsyncSession, *, activates_at: datetime) -> KeyMaterial:
        material = _material(
            key=generate_private_key(self._algorithm),
            algorithm=self._algorithm,
            activates_at=activates_at,
        )
        assert material.signing_key is not None
        await self._retire_all_but(db, material.kid, activates_at)
        db.add(
            SigningKey(
                kid=material.kid,
                algorithm=material.algorithm,
                private_key=self._encryptor.encrypt(_serialize_private(material.signing_key)),  # type: ignore[arg-type]
                public_jwk=material.public_jwk,
                created_at=utcnow(),
                activates_at=activates_at,
            )
        )
        return material

    async def _record_configured(self, db: AsyncSession, material: KeyMaterial) -> None:
        now = utcnow()
        await self._retire_all_but(db, material.kid, now)
        existing = await db.get(SigningKey, material.kid)
        if existing is None:
            db.add(
                SigningKey(
                    kid=material.kid,
                    algorithm=material.algorithm,
                    private_key=None,
                    public_jwk=material.public_jwk,
                    created_at=now,
                    activates_at=now,
                )
            )
        elif existing.retired_at is not None:
            existing.retired_at = None

    async def _retire_all_but(self, db: AsyncSession, kid: str, at: datetime) -> None:
        """Every other key stops signing at `at` (keys already retiring earlier keep their time)."""
        await db.execute(
            update(SigningKey)
            .where(
                SigningKey.kid != kid,
                SigningKey.retired_at.is_(None) | (SigningKey.retired_at > at),
            )
            .values(retired_at=at)
        )

    def _from_row(self, row: SigningKey) -> KeyMaterial:
        can_sign = (
            row.algorithm == self._algorithm
            and row.private_key is not None
            and (row.retired_at is None or row.retired_at > utcnow())
        )
        if row.algorithm == "HS256" or can_sign:
            if row.private_key is None:
                raise KeyConfigError(f"signing key {row.kid} has no stored secret")
            try:
                private = _deserialize_private(
                    self._encryptor.decrypt(row.private_key), row.algorithm
                )
            except DecryptionFailed:
                raise KeyConfigError(
                    f"signing key {row.kid} cannot be decrypted with AUTHAPI_ENCRYPTION_KEYS "
                    "(were the keys replaced instead of rotated?)"
                ) from None
            material = _material(
                key=private,
                algorithm=row.algorithm,
                activates_at=row.activates_at,
                retired_at=row.retired_at,
                can_sign=can_sign,
            )
            if material.kid != row.kid:
                raise KeyConfigError(f"signing key {row.kid} does not match its stored kid")
            return material
        assert row.public_jwk is not None
        verifying = PyJWK(row.public_jwk, algorithm=row.algorithm).key
        return KeyMaterial(
            kid=row.kid,
            algorithm=row.algorithm,
            activates_at=row.activates_at,
            retired_at=row.retired_at,
            verifying_key=verifying,
            public_jwk=row.public_jwk,
        )


# --- the in-memory keyring ---------------------------------------------------------
class Keyring:
    """The trusted keys of this process, reloaded from the database now and then."""

    def __init__(
        self,
        *,
        algorithm: str,
        load: Callable[[], Awaitable[list[KeyMaterial]]],
        reload_seconds: float,
    ) -> None:
        self.algorithm = algorithm
        self._load = load
        self._reload_seconds = reload_seconds
        self._by_kid: dict[str, KeyMaterial] = {}
        self._signers: list[KeyMaterial] = []  # newest activation first
        self._loaded_at = float("-inf")
        self._jwks: dict[str, Any] = {"keys": []}

    async def reload(self) -> None:
        keys = await self._load()
        self._signers = sorted(
            (
                key
                for key in keys
                if key.signing_key is not None and key.algorithm == self.algorithm
            ),
            # ties broken by kid, so every instance picks the same key
            key=lambda key: (key.activates_at, key.kid),
            reverse=True,
        )
        if not any(key.signs_at(utcnow()) for key in self._signers):
            raise KeyConfigError(f"no usable {self.algorithm} signing key")
        self._by_kid = {key.kid: key for key in keys}
        newest_first = sorted(keys, key=lambda key: (key.activates_at, key.kid), reverse=True)
        self._jwks = {"keys": [key.public_jwk for key in newest_first if key.public_jwk]}
        self._loaded_at = time.monotonic()

    async def refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at >= self._reload_seconds:
            await self.reload()

    @property
    def signer(self) -> KeyMaterial:
        """The key to sign with now: the newest one whose activation time has come."""
        now = utcnow()
        for key in self._signers:
            if key.signs_at(now):
                return key
        # every loaded key retired since the last reload: keep the newest until the
        # next reload (it stays trusted for a reload interval after retirement)
        assert self._signers, "Keyring.reload() was not awaited"
        return self._signers[0]

    async def verifying_key(self, kid: str) -> KeyMaterial | None:
        key = self._by_kid.get(kid)
        if key is None and time.monotonic() - self._loaded_at >= UNKNOWN_KID_COOLDOWN_SECONDS:
            # A kid we have not seen may be a key another instance just created;
            # the cooldown keeps a flood of random kids from becoming a flood of queries.
            await self.reload()
            key = self._by_kid.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        return self._jwks
