"""Password hashing (every byte counts, no 500 on long input, rehash on cost change)
and the password policy's reasons."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator

import bcrypt
import pytest

from authapi.errors import WeakPassword
from authapi.passwords import HASHING_NICENESS, PasswordHasher, PasswordPolicy

EMAIL = "ada.lovelace@example.com"


@pytest.fixture
async def hasher() -> AsyncIterator[PasswordHasher]:
    instance = PasswordHasher(rounds=4, workers=2)
    await instance.start()
    yield instance
    instance.close()


class TestHashing:
    @pytest.mark.skipif(sys.platform != "linux", reason="threads have their own priority on Linux")
    async def test_hashing_threads_run_at_a_lower_priority_than_the_event_loop(
        self, hasher: PasswordHasher
    ) -> None:
        """So a sign-in storm does not take the loop's core from requests that wait on it
        (issue 18: /users/me p99 during a storm)."""
        loop = asyncio.get_running_loop()
        here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        hashing = await loop.run_in_executor(
            hasher._executor, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
        assert hashing == min(here + HASHING_NICENESS, 19)

    async def test_right_password_verifies_and_wrong_one_does_not(
        self, hasher: PasswordHasher
    ) -> None:
        hashed = await hasher.hash("correct horse battery staple")
        assert hashed.startswith("$2b$04$")
        assert await hasher.verify("correct horse battery staple", hashed) is True
        assert await hasher.verify("correct horse battery stapler", hashed) is False

    @pytest.mark.requirement("ASVS-6.2.8", "NIST-63B-3.1.1.2-d")
    async def test_passwords_equal_in_their_first_72_bytes_are_different(
        self, hasher: PasswordHasher
    ) -> None:
        prefix = "a" * 72
        hashed = await hasher.hash(prefix + "first")
        assert await hasher.verify(prefix + "first", hashed) is True
        assert await hasher.verify(prefix + "second", hashed) is False
        assert await hasher.verify(prefix, hashed) is False

    async def test_multibyte_passwords_past_72_bytes_count_every_byte(
        self, hasher: PasswordHasher
    ) -> None:
        # 37 x "é" is 74 bytes: bcrypt alone would compare only the first 72
        hashed = await hasher.hash("é" * 37)
        assert await hasher.verify("é" * 37, hashed) is True
        assert await hasher.verify("é" * 36 + "e", hashed) is False

    async def test_very_long_password_hashes_and_verifies_without_error(
        self, hasher: PasswordHasher
    ) -> None:
        long_password = "long passphrase " * 256  # 4096 bytes
        hashed = await hasher.hash(long_password)
        assert await hasher.verify(long_password, hashed) is True
        assert await hasher.verify(long_password + "!", hashed) is False

    async def test_bcrypt_alone_would_refuse_what_the_hasher_accepts(self) -> None:
        # the reason for the pre-hash: bcrypt >= 5 raises above 72 bytes
        with pytest.raises(ValueError, match="72"):
            bcrypt.hashpw(b"x" * 73, bcrypt.gensalt(4))

    async def test_unicode_normalisation_makes_equivalent_spellings_equal(
        self, hasher: PasswordHasher
    ) -> None:
        composed = "caf\u00e9 au lait, s'il vous plait"
        decomposed = "cafe\u0301 au lait, s'il vous plait"
        assert await hasher.verify(decomposed, await hasher.hash(composed)) is True

    async def test_unknown_user_check_runs_and_is_false(self, hasher: PasswordHasher) -> None:
        assert await hasher.verify("anything at all here", None) is False

    async def test_malformed_stored_hash_never_matches(self, hasher: PasswordHasher) -> None:
        assert await hasher.verify("whatever password", "not a bcrypt hash") is False

    async def test_needs_rehash_when_the_cost_differs(self, hasher: PasswordHasher) -> None:
        hashed = await hasher.hash("correct horse battery staple")
        assert hasher.needs_rehash(hashed) is False
        stronger = PasswordHasher(rounds=5, workers=1)
        try:
            assert stronger.needs_rehash(hashed) is True
            assert stronger.needs_rehash(await stronger.hash("other password here")) is False
        finally:
            stronger.close()

    def test_needs_rehash_for_something_that_is_not_bcrypt(self, hasher: PasswordHasher) -> None:
        assert hasher.needs_rehash("$argon2id$v=19$m=65536,t=3,p=4$abc$def") is True
        assert hasher.needs_rehash("") is True


def reason(policy: PasswordPolicy, password: str, email: str = EMAIL) -> str:
    with pytest.raises(WeakPassword) as caught:
        policy.check(password, email=email)
    assert caught.value.code == "weak_password"
    assert caught.value.status == 422
    assert caught.value.detail
    assert password not in caught.value.detail
    value: str = caught.value.extra["reason"]
    return value


class TestPolicy:
    policy = PasswordPolicy(min_length=15, max_bytes=256)

    def test_short_password(self) -> None:
        assert reason(self.policy, "fourteen chars") == "password_too_short"

    @pytest.mark.requirement("NIST-63B-3.1.1.2-a")
    def test_length_counts_characters_not_bytes(self) -> None:
        accented = "àáâãäåæçèéêëìíî"  # 15 characters, 30 bytes
        self.policy.check(accented, email=EMAIL)
        assert reason(self.policy, accented[:14]) == "password_too_short"

    def test_long_password_in_bytes(self) -> None:
        ideographs = "".join(chr(0x4E00 + i) for i in range(86))  # 3 bytes each
        assert reason(self.policy, ideographs) == "password_too_long"  # 258 bytes
        self.policy.check(ideographs[:85], email=EMAIL)  # 255 bytes: within the limit

    @pytest.mark.requirement("NIST-63B-3.1.1.2-e")
    def test_common_password(self) -> None:
        assert reason(self.policy, "1qaz2wsx3edc4rfv") == "password_common"
        assert reason(PasswordPolicy(min_length=8, max_bytes=256), "Password") == (
            "password_common"
        )

    def test_repetitive_password(self) -> None:
        assert reason(self.policy, "abcabcabcabcabcabc") == "password_repetitive"
        assert reason(self.policy, "zzzzzzzzzzzzzzzzzzzz") == "password_repetitive"

    def test_password_built_from_the_email(self) -> None:
        assert reason(self.policy, "ada.lovelace-is-my-password") == "password_contains_email"
        assert reason(self.policy, EMAIL.upper()) == "password_contains_email"

    @pytest.mark.parametrize(
        "password",
        [
            "correct horse battery staple",
            "alllowercasebutlongenough",
            "日本語のパスフレーズはとても長いです",
            "ü" * 10 + "ß" * 10 + " whatever",
        ],
    )
    @pytest.mark.requirement("ASVS-6.2.5", "NIST-63B-3.1.1.2-b")
    def test_long_passphrases_need_no_composition_rules(self, password: str) -> None:
        self.policy.check(password, email=EMAIL)

    @pytest.mark.requirement("ASVS-6.2.9")
    def test_64_unicode_characters_are_allowed_by_default_limits(self) -> None:
        emoji = "".join(chr(0x1F600 + i) for i in range(64))  # 64 characters, 256 bytes
        PasswordPolicy(min_length=15, max_bytes=1024).check(emoji, email=EMAIL)
