"""Secrets at rest and server-side MAC keys, from `AUTHAPI_ENCRYPTION_KEYS`.

The first key encrypts, every key decrypts (cryptography's MultiFernet), so keys
rotate by prepending a new one; an old key must stay listed while anything it
encrypted is still stored (signing keys, queued emails). The same keys, run through
HKDF with a purpose label, give the HMAC keys other modules need (refresh-token
MACs): one configuration value protects every server-side secret.

Without configured keys, the embedded default generates one and keeps it in the
data directory (the app warns about this at start).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authapi.settings import Settings

GENERATED_KEY_FILE = "encryption.key"


class DecryptionFailed(Exception):
    """Ciphertext that none of the configured keys opens."""


class Encryptor:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self._raw_keys = [base64.urlsafe_b64decode(key) for key in keys]
        self._derived: dict[str, list[bytes]] = {}

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, ciphertext: str) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            raise DecryptionFailed from None

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext, encrypted under the first key (for `authapi reencrypt`)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise DecryptionFailed from None

    def derived_keys(self, purpose: str) -> list[bytes]:
        """One 32-byte key per encryption key, first one current; distinct per purpose.
        Derived once per purpose: callers may ask on every request."""
        derived = self._derived.get(purpose)
        if derived is None:
            derived = self._derived[purpose] = [
                HKDF(
                    algorithm=hashes.SHA256(),
                    length=32,
                    salt=None,
                    info=f"authapi/{purpose}".encode(),
                ).derive(raw)
                for raw in self._raw_keys
            ]
        return derived


def load_encryption_keys(settings: Settings) -> list[bytes]:
    """The configured keys, or the embedded default's generated key (created on first use)."""
    if settings.encryption_keys:
        return [key.get_secret_value().encode("ascii") for key in settings.encryption_keys]
    return [_generated_key(settings.data_dir / GENERATED_KEY_FILE)]


def _generated_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two workers starting at once agree on whichever key was written first
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key
