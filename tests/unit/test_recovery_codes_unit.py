"""Recovery codes (authapi.recovery_codes): fresh codes, forgiving-but-strict input,
and hashes bound to their user."""

from __future__ import annotations

import re
import uuid

import pytest

from authapi import recovery_codes

CODE_FORMAT = re.compile(r"[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}")
CANONICAL = "7kqm2x9p4hztb3wd"
SHOWN = "7kqm-2x9p-4hzt-b3wd"


class TestNewCodes:
    @pytest.mark.requirement("ASVS-6.5.4", "NIST-63B-3.1.2.1")
    def test_ten_distinct_codes_of_the_shown_format(self) -> None:
        codes = recovery_codes.new_codes()
        assert len(codes) == 10
        assert len(set(codes)) == 10
        for code in codes:
            assert CODE_FORMAT.fullmatch(code), code

    @pytest.mark.requirement("ASVS-6.5.4", "NIST-63B-3.1.2.1")
    def test_codes_use_only_crockford_base32(self) -> None:
        characters = set("".join(recovery_codes.new_codes(200)).replace("-", ""))
        assert characters <= set(recovery_codes.ALPHABET)
        assert not characters & set("ilou")
        # 3,200 random characters from 32: every one of them shows up
        assert characters == set(recovery_codes.ALPHABET)

    @pytest.mark.requirement("ASVS-6.5.4", "NIST-63B-3.1.2.1")
    def test_codes_are_random(self) -> None:
        batches = [tuple(recovery_codes.new_codes()) for _ in range(50)]
        assert len({code for batch in batches for code in batch}) == 500

    def test_a_new_code_normalises_to_itself_without_hyphens(self) -> None:
        for code in recovery_codes.new_codes():
            assert recovery_codes.normalize(code) == code.replace("-", "")


class TestNormalize:
    @pytest.mark.parametrize(
        "typed",
        [
            SHOWN,
            SHOWN.upper(),
            CANONICAL,
            CANONICAL.upper(),
            "7kqm 2x9p 4hzt b3wd",
            "  7kqm-2x9p-4hzt-b3wd  ",
            "7KqM-2x9P-4hZt-B3wD",
            "7kqm2x9p-4hztb3wd",
        ],
    )
    def test_case_hyphens_and_spaces_do_not_matter(self, typed: str) -> None:
        assert recovery_codes.normalize(typed) == CANONICAL

    @pytest.mark.parametrize(
        ("typed", "expected"),
        [
            ("0o0O-1iIl-L111-abcd", "000011111111abcd"),
            ("oooo-oooo-oooo-oooo", "0" * 16),
            ("IIII-LLLL-iiii-llll", "1" * 16),
        ],
    )
    def test_lookalike_letters_read_as_digits(self, typed: str, expected: str) -> None:
        assert recovery_codes.normalize(typed) == expected

    @pytest.mark.parametrize(
        "typed",
        [
            # full-width: NFKC would make it the code
            "".join(chr(ord(c) + 0xFEE0) if c != "-" else c for c in "7kqm-2x9p-4hzt-b3wd"),
            "7kqm-2x9p-4hzt-b3w\N{FULLWIDTH LATIN SMALL LETTER D}",
            "7kqm-2x9p-4hzt-b3w\N{ARABIC-INDIC DIGIT ONE}",
            "7kqm\N{EN DASH}2x9p\N{EN DASH}4hzt\N{EN DASH}b3wd",
            "7kqm\N{NO-BREAK SPACE}2x9p4hztb3wd",
            # these two would pass the rest of the checks: the Kelvin sign lower-cases to
            # ASCII "k", and str.strip() removes Unicode spaces
            "7\N{KELVIN SIGN}qm-2x9p-4hzt-b3wd",
            "\N{IDEOGRAPHIC SPACE}7kqm-2x9p-4hzt-b3wd",
        ],
    )
    def test_non_ascii_is_refused(self, typed: str) -> None:
        assert recovery_codes.normalize(typed) is None

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "7kqm-2x9p-4hzt-b3w",  # 15 characters
            "7kqm-2x9p-4hzt-b3wdd",  # 17 characters
            "7kqm",
            "-" * 16,
            "7kqm-2x9p-4hzt-b3wd-7kqm-2x9p-4hzt-b3wd-",  # over the input limit
            " " * 30 + CANONICAL,  # would be fine after stripping, but too long to consider
        ],
    )
    def test_wrong_length_is_refused(self, typed: str) -> None:
        assert recovery_codes.normalize(typed) is None

    @pytest.mark.parametrize(
        "typed",
        [
            "7kqm-2x9p-4hzt-b3wu",  # u: not in Crockford's alphabet
            "7kqm-2x9p-4hzt-b3w!",
            "7kqm_2x9p_4hzt_b3wd",
            "7kqm.2x9p.4hzt.b3wd",
            "7kqm-2x9p-4hzt\nb3wd",
            "7kqm-2x9p-4hzt-b3w\x00",
            "7kqm\t2x9p\t4hzt\tb3wd",
        ],
    )
    def test_characters_outside_the_alphabet_are_refused(self, typed: str) -> None:
        assert recovery_codes.normalize(typed) is None


class TestCodeHash:
    def test_hash_is_sha256_hex(self) -> None:
        digest = recovery_codes.code_hash(uuid.uuid4(), CANONICAL)
        assert re.fullmatch(r"[0-9a-f]{64}", digest)

    def test_hash_is_stable(self) -> None:
        user_id = uuid.uuid4()
        assert recovery_codes.code_hash(user_id, CANONICAL) == recovery_codes.code_hash(
            user_id, CANONICAL
        )

    def test_the_same_code_hashes_differently_for_another_user(self) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        assert recovery_codes.code_hash(first, CANONICAL) != recovery_codes.code_hash(
            second, CANONICAL
        )

    def test_different_codes_hash_differently(self) -> None:
        user_id = uuid.uuid4()
        assert recovery_codes.code_hash(user_id, CANONICAL) != recovery_codes.code_hash(
            user_id, "7kqm2x9p4hztb3we"
        )


def test_stored_hash_is_the_hash_of_the_normalised_code_or_none() -> None:
    user = uuid.uuid4()
    (shown,) = recovery_codes.new_codes(1)
    expected = recovery_codes.code_hash(user, shown.replace("-", ""))
    assert recovery_codes.stored_hash(user, shown) == expected
    assert recovery_codes.stored_hash(user, f" {shown.upper()} ") == expected
    assert recovery_codes.stored_hash(user, "not a code") is None
