"""Password hashing (bcrypt off the event loop) and the password policy.

Hashing: every byte counts. bcrypt reads at most 72 bytes (and bcrypt >= 5
raises above that), so the password is first normalised (NFKC, as NIST SP
800-63B asks) and pre-hashed with HMAC-SHA256 under a fixed, application-specific
key; bcrypt then hashes the 44-byte base64 digest. The fixed key keeps the
pre-hash from matching unsalted SHA-256 dumps of other sites ("hash shucking").
bcrypt runs in a thread pool of `hash_workers` threads (one per core by
default): the event loop never waits on it, and at most that many hashes run
at once. The hashing threads run at a lower scheduling priority (10 nicer, on
Linux, where threads have their own): during a storm of sign-ins they still
take every core the event loops leave idle, but a loop with a request to
answer gets its core at once instead of a share of it beside bcrypt.

Policy (NIST SP 800-63B rev 4): a minimum length in characters, a maximum in
bytes, no composition rules, and refusal of common, repetitive or email-derived
passwords, each with its own `reason`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import sys
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import bcrypt

from authapi import metrics
from authapi.errors import WeakPassword

PREHASH_KEY = b"authapi/bcrypt-prehash/v1"
_BCRYPT_COST = re.compile(r"^\$2[aby]\$(\d\d)\$")
_REPEATED_UNIT = re.compile(r"(.{1,8}?)\1+", re.DOTALL)


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _prehash(password: str) -> bytes:
    digest = hmac.new(PREHASH_KEY, normalize(password).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def _hash_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def _verify_sync(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:
        return False  # a malformed stored hash never matches


HASHING_NICENESS = 10


def _lower_priority() -> None:
    """Lower this (hashing) thread's priority; a no-op where threads cannot have their own."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):  # e.g. a sandbox that forbids it
            thread = threading.get_native_id()
            niceness = os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
            os.setpriority(os.PRIO_PROCESS, thread, min(niceness, 19))


class PasswordHasher:
    """bcrypt with a bounded thread pool and a real dummy hash for unknown users."""

    def __init__(self, *, rounds: int, workers: int) -> None:
        self.rounds = rounds
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="bcrypt", initializer=_lower_priority
        )
        self._dummy_hash: str | None = None

    async def start(self) -> None:
        # A real hash at the configured cost: verifying against it costs what a
        # real account costs, so unknown emails take as long as known ones.
        self._dummy_hash = await self.hash(secrets.token_urlsafe(32))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        hashed: str = await metrics.timed_hash(
            "hash", lambda: loop.run_in_executor(self._executor, _hash_sync, password, self.rounds)
        )
        return hashed

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check `password`; with `hashed=None` check against the dummy hash and return False."""
        loop = asyncio.get_running_loop()
        if hashed is None:
            assert self._dummy_hash is not None, "PasswordHasher.start() was not awaited"
            dummy = self._dummy_hash
            await metrics.timed_hash(
                "verify",
                lambda: loop.run_in_executor(self._executor, _verify_sync, password, dummy),
            )
            return False
        valid: bool = await metrics.timed_hash(
            "verify", lambda: loop.run_in_executor(self._executor, _verify_sync, password, hashed)
        )
        return valid

    def needs_rehash(self, hashed: str) -> bool:
        match = _BCRYPT_COST.match(hashed)
        return match is None or int(match.group(1)) != self.rounds


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from real leaks.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


class PasswordPolicy:
    def __init__(self, *, min_length: int, max_bytes: int) -> None:
        self.min_length = min_length
        self.max_bytes = max_bytes

    def check(self, password: str, *, email: str) -> None:
        """Accept a new password or explain why not.

        Raises:
            WeakPassword: with `reason` one of password_too_short, password_too_long,
                password_common, password_repetitive, password_contains_email.
        """
        normalized = normalize(password)
        if len(normalized) < self.min_length:
            raise WeakPassword(
                f"Use at least {self.min_length} characters; "
                "a passphrase of several words works well.",
                reason="password_too_short",
            )
        if len(normalized.encode("utf-8")) > self.max_bytes:
            raise WeakPassword(
                f"Use at most {self.max_bytes} bytes (UTF-8).", reason="password_too_long"
            )
        folded = normalized.casefold()
        if folded in _common_passwords() or folded.strip() in _common_passwords():
            raise WeakPassword(
                "This password is one of the most commonly used; choose another.",
                reason="password_common",
            )
        if _REPEATED_UNIT.fullmatch(folded):
            raise WeakPassword(
                "This password is a short pattern repeated; choose another.",
                reason="password_repetitive",
            )
        local_part = email.split("@", 1)[0].casefold()
        if folded == email.casefold() or (len(local_part) >= 4 and local_part in folded):
            raise WeakPassword(
                "The password must not contain your email address.",
                reason="password_contains_email",
            )
