"""Recovery codes: single-use second factors for a lost authenticator.

Ten codes of 16 characters from Crockford's base32 alphabet (80 random bits
each), shown once as `xxxx-xxxx-xxxx-xxxx`. Only a SHA-256 of the user id and
the normalised code is stored: 80 bits cannot be searched offline, so the hash
needs no key, and rotating the encryption keys never invalidates a code. Input
is forgiving where it is unambiguous (case, hyphens, spaces, O for 0, I and L for
1) and strict otherwise: anything but ASCII is refused.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

COUNT = 10
LENGTH = 16
GROUP = 4
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o, u
_LOOKALIKES = str.maketrans({"o": "0", "i": "1", "l": "1", "-": None, " ": None})
MAX_INPUT_LENGTH = 40


def new_codes(count: int = COUNT) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        codes.append("-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP)))
    return codes


def normalize(text: str) -> str | None:
    """The code in canonical form (16 lower-case characters), or None if it cannot be one."""
    if len(text) > MAX_INPUT_LENGTH or not text.isascii():
        return None
    code = text.strip().lower().translate(_LOOKALIKES)
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def code_hash(user_id: uuid.UUID, code: str) -> str:
    """What is stored for a normalised code: bound to its user, so equal codes hash apart."""
    return hashlib.sha256(f"{user_id}:{code}".encode("ascii")).hexdigest()


def stored_hash(user_id: uuid.UUID, typed: str) -> str | None:
    """What is stored for a code as shown or typed; None if it cannot be a code."""
    code = normalize(typed)
    return None if code is None else code_hash(user_id, code)
