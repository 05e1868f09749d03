"""TOTP (authapi.totp): RFC 6238 test vectors, the drift window, the strict code
format, fresh secrets, the enrolment URI and the QR code."""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Callable

import pyotp
import pytest

from authapi import recovery_codes, totp
from tests.conftest import recorded

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890"
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode("ascii")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_700_000_015.0  # 15 s into a step: every offset below stays in its intended step
# the same ten digits from other Unicode blocks (U+FF10…, U+0660…)
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + n) for n in range(10)))
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + n) for n in range(10)))


class TestRfc6238Vectors:
    @pytest.mark.parametrize(
        ("unix_time", "expected"),
        [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ],
    )
    @pytest.mark.requirement("RFC6238-4")
    def test_sha1_vector(self, unix_time: int, expected: str) -> None:
        assert totp.code_at(RFC_SECRET, unix_time // 30, digits=8) == expected

    @pytest.mark.requirement("ASVS-6.5.5", "NIST-63B-3.1.4.1", "RFC6238-4")
    def test_time_step_is_thirty_seconds(self) -> None:
        assert totp.time_step(59) == 1
        assert totp.time_step(60) == 2
        assert totp.time_step(1111111109) == 0x23523EC

    def test_six_digit_code_is_the_last_six_of_the_truncation(self) -> None:
        # RFC 4226 dynamic truncation mod 10^6: the 6-digit code is the 8-digit one's tail
        assert totp.code_at(RFC_SECRET, 59 // 30) == "287082"


class TestMatchingSteps:
    @pytest.fixture
    def secret(self) -> str:
        # fixed, so the codes of the steps around NOW are known to differ from each other
        return SECRET

    def code(self, secret: str, offset_steps: int) -> str:
        return totp.code_at(secret, totp.time_step(NOW) + offset_steps)

    @pytest.mark.requirement("RFC6238-5.2-a")
    @pytest.mark.parametrize("offset", [-1, 0, 1])
    def test_one_step_of_drift_either_way_is_accepted(self, secret: str, offset: int) -> None:
        assert totp.matching_steps(secret, self.code(secret, offset), now=NOW) == [
            totp.time_step(NOW) + offset
        ]

    @pytest.mark.requirement("ASVS-6.5.5", "RFC6238-5.2-a")
    @pytest.mark.parametrize("offset", [-3, -2, 2, 3])
    def test_two_steps_or_more_away_is_refused(self, secret: str, offset: int) -> None:
        code = self.code(secret, offset)
        assert code not in {self.code(secret, near) for near in (-1, 0, 1)}
        assert totp.matching_steps(secret, code, now=NOW) == []

    @pytest.mark.requirement("ASVS-6.5.5")
    def test_the_window_follows_the_clock(self, secret: str) -> None:
        code = self.code(secret, 0)
        assert totp.matching_steps(secret, code, now=NOW + 30) == [totp.time_step(NOW)]
        assert totp.matching_steps(secret, code, now=NOW + 60) == []

    def test_full_width_digits_are_refused_though_pyotp_accepts_them(self, secret: str) -> None:
        code = self.code(secret, 0)
        full_width = code.translate(FULL_WIDTH)
        # pyotp NFKC-normalises: this is the trap authapi.totp guards against
        assert pyotp.TOTP(secret).verify(full_width, for_time=NOW) is True
        assert totp.matching_steps(secret, full_width, now=NOW) == []
        assert totp.matching_steps(secret, code, now=NOW) == [totp.time_step(NOW)]

    def test_arabic_indic_digits_are_refused(self, secret: str) -> None:
        code = self.code(secret, 0)
        assert totp.matching_steps(secret, code.translate(ARABIC_INDIC), now=NOW) == []

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda c: c + "\n",
            lambda c: " " + c,
            lambda c: c[:3] + " " + c[3:],
            lambda c: c + "0",
            lambda c: c[:5],
        ],
        ids=["trailing-newline", "leading-space", "inner-space", "seven-digits", "five-digits"],
    )
    def test_near_misses_of_the_right_code_are_refused(
        self, secret: str, mangle: Callable[[str], str]
    ) -> None:
        code = self.code(secret, 0)
        assert totp.matching_steps(secret, mangle(code), now=NOW) == []

    def test_a_wrong_code_matches_nothing(self, secret: str) -> None:
        window = {self.code(secret, offset) for offset in (-1, 0, 1)}
        wrong = next(f"{n:06d}" for n in range(10) if f"{n:06d}" not in window)
        assert totp.matching_steps(secret, wrong, now=NOW) == []


class TestIsTotpCode:
    @pytest.mark.parametrize("code", ["123456", "000000", "999999"])
    def test_six_ascii_digits_are_a_code(self, code: str) -> None:
        assert totp.is_totp_code(code) is True

    @pytest.mark.parametrize(
        "code",
        [
            "",
            "12345",
            "1234567",
            "123456\n",
            "\n123456",
            " 123456",
            "123456 ",
            "123 456",
            "12345a",
            "abcdef",
            "+12345",
            "-12345",
            "123456".translate(FULL_WIDTH),
            "012345".translate(ARABIC_INDIC),
            "12345\N{FULLWIDTH DIGIT SIX}",
            "123456\x00",
        ],
    )
    def test_anything_else_is_not(self, code: str) -> None:
        assert totp.is_totp_code(code) is False


class TestNewSecret:
    @pytest.mark.requirement("NIST-63B-3.1.4.1")
    def test_secret_is_32_base32_characters_of_160_bits(self) -> None:
        secret = totp.new_secret()
        assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
        assert len(base64.b32decode(secret)) == 20

    @pytest.mark.requirement("RFC6238-3")
    def test_secrets_are_random(self) -> None:
        secrets = {totp.new_secret() for _ in range(200)}
        assert len(secrets) == 200
        # every base32 position varies: not a counter or a fixed prefix
        for position in range(32):
            assert len({secret[position] for secret in secrets}) > 8

    def test_pyotp_accepts_the_secret(self) -> None:
        secret = totp.new_secret()
        assert pyotp.TOTP(secret).at(NOW) == totp.code_at(secret, totp.time_step(NOW))


class TestProvisioningUri:
    def test_uri_names_the_issuer_and_the_account(self) -> None:
        secret = totp.new_secret()
        uri = totp.provisioning_uri(secret, account="ada@example.com", issuer="Example Co")
        parsed = urllib.parse.urlsplit(uri)
        assert parsed.scheme == "otpauth"
        assert parsed.netloc == "totp"
        assert urllib.parse.unquote(parsed.path) == "/Example Co:ada@example.com"
        query = urllib.parse.parse_qs(parsed.query)
        assert query["secret"] == [secret]
        assert query["issuer"] == ["Example Co"]

    @pytest.mark.requirement("RFC6238-4")
    def test_an_authenticator_app_reads_the_uri_back(self) -> None:
        secret = totp.new_secret()
        uri = totp.provisioning_uri(secret, account="ada@example.com", issuer="Example Co")
        app = pyotp.parse_uri(uri)
        assert isinstance(app, pyotp.TOTP)
        assert app.secret == secret
        assert app.issuer == "Example Co"
        assert app.name == "ada@example.com"
        assert app.digits == 6
        assert app.interval == 30
        assert app.at(NOW) == totp.code_at(secret, totp.time_step(NOW))


class TestQrCode:
    def test_qr_code_is_an_svg_data_uri(self) -> None:
        uri = totp.provisioning_uri(totp.new_secret(), account="ada@example.com", issuer="X")
        data_uri = totp.qr_code_data_uri(uri)
        header, _, payload = data_uri.partition(",")
        assert header.startswith("data:image/svg+xml")
        document = urllib.parse.unquote(payload)
        assert document.startswith("<svg ")
        assert "xmlns='http://www.w3.org/2000/svg'" in document or (
            'xmlns="http://www.w3.org/2000/svg"' in document
        )
        assert document.rstrip().endswith("</svg>")
        # nothing an <img src> would run
        assert "<script" not in document.lower()

    def test_different_uris_give_different_codes(self) -> None:
        first = totp.provisioning_uri(totp.new_secret(), account="a@example.com", issuer="X")
        second = totp.provisioning_uri(totp.new_secret(), account="a@example.com", issuer="X")
        assert totp.qr_code_data_uri(first) != totp.qr_code_data_uri(second)


@pytest.mark.requirement("ASVS-6.5.3")
def test_seeds_and_recovery_codes_come_from_the_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TOTP seed is 160 bits from `secrets`; each recovery code's 16 characters are drawn
    with `secrets.choice` from a 32-letter alphabet (80 bits)."""
    seeds = recorded(monkeypatch, totp.secrets, "token_bytes")
    assert base64.b32decode(totp.new_secret()) == seeds[0]
    assert len(seeds[0]) * 8 == 160

    drawn = recorded(monkeypatch, recovery_codes.secrets, "choice")
    (code,) = recovery_codes.new_codes(1)
    assert code.replace("-", "") == "".join(drawn)
    assert len(set(recovery_codes.ALPHABET)) ** len(drawn) >= 2**80
