"""Signing-key basics: RFC 7638 thumbprints as `kid`, public JWKs without private
members, key generation per algorithm, and keys configured from a file or secret."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import RSAAlgorithm

from authapi.keys import KeyConfigError, configured_key, generate_private_key, public_jwk
from authapi.settings import Settings

# RFC 7638 §3.1: the example RSA key and its SHA-256 JWK thumbprint
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJEC"
    "PebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvzq"
    "Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_KID = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def thumbprint(jwk: dict[str, Any], members: tuple[str, ...]) -> str:
    """RFC 7638 §3: SHA-256 of the required members, sorted, no whitespace."""
    canonical = json.dumps({name: jwk[name] for name in sorted(members)}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pem_file(path: Path, key: Any) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


class TestThumbprint:
    def test_rfc7638_example_key_gets_the_rfc_thumbprint_as_kid(self) -> None:
        key = RSAAlgorithm.from_jwk({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})
        assert isinstance(key, rsa.RSAPublicKey)
        jwk = public_jwk(key, "RS256")
        assert jwk["kid"] == RFC7638_KID
        assert jwk["n"] == RFC7638_N
        assert jwk["e"] == "AQAB"

    def test_ec_kid_is_the_thumbprint_of_crv_kty_x_y(self) -> None:
        jwk = public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), "ES256")
        assert jwk["kid"] == thumbprint(jwk, ("crv", "kty", "x", "y"))
        assert jwk["crv"] == "P-256"

    def test_okp_kid_is_the_thumbprint_of_crv_kty_x(self) -> None:
        jwk = public_jwk(ed25519.Ed25519PrivateKey.generate().public_key(), "EdDSA")
        assert jwk["kid"] == thumbprint(jwk, ("crv", "kty", "x"))
        assert jwk["crv"] == "Ed25519"

    def test_kid_is_stable_for_a_key_and_differs_between_keys(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        other = ec.generate_private_key(ec.SECP256R1()).public_key()
        assert public_jwk(key, "ES256")["kid"] == public_jwk(key, "ES256")["kid"]
        assert public_jwk(key, "ES256")["kid"] != public_jwk(other, "ES256")["kid"]


class TestPublicJwk:
    @pytest.mark.parametrize(
        ("algorithm", "members"),
        [
            ("ES256", {"kty", "crv", "x", "y"}),
            ("EdDSA", {"kty", "crv", "x"}),
            ("RS256", {"kty", "n", "e"}),
        ],
    )
    def test_jwk_has_only_public_members_plus_kid_alg_use(
        self, algorithm: str, members: set[str]
    ) -> None:
        private = generate_private_key(algorithm)
        assert not isinstance(private, bytes)
        jwk = public_jwk(private.public_key(), algorithm)
        assert set(jwk) == members | {"kid", "alg", "use"}
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["alg"] == algorithm
        assert jwk["use"] == "sig"


class TestGenerate:
    def test_each_algorithm_gets_its_key_type(self) -> None:
        es256 = generate_private_key("ES256")
        assert isinstance(es256, ec.EllipticCurvePrivateKey)
        assert es256.curve.name == "secp256r1"
        assert isinstance(generate_private_key("EdDSA"), ed25519.Ed25519PrivateKey)
        rs256 = generate_private_key("RS256")
        assert isinstance(rs256, rsa.RSAPrivateKey)
        assert rs256.key_size >= 2048
        secret = generate_private_key("HS256")
        assert isinstance(secret, bytes)
        assert len(secret) >= 32

    def test_unknown_algorithm_is_a_config_error(self) -> None:
        with pytest.raises(KeyConfigError):
            generate_private_key("none")


class TestConfiguredKey:
    def test_nothing_configured_means_generated_keys(self) -> None:
        assert configured_key(Settings()) is None

    def test_key_file_of_the_right_type_is_used(self, tmp_path: Path) -> None:
        private = ec.generate_private_key(ec.SECP256R1())
        path = pem_file(tmp_path / "key.pem", private)
        material = configured_key(Settings(signing_key_file=path, jwt_algorithm="ES256"))
        assert material is not None
        assert material.algorithm == "ES256"
        assert material.public_jwk is not None
        assert material.kid == public_jwk(private.public_key(), "ES256")["kid"]
        assert material.signing_key is not None

    @pytest.mark.parametrize(
        ("algorithm", "make_key"),
        [
            ("ES256", ed25519.Ed25519PrivateKey.generate),
            ("ES256", lambda: ec.generate_private_key(ec.SECP384R1())),
            ("EdDSA", lambda: ec.generate_private_key(ec.SECP256R1())),
            ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505
        ],
        ids=["ed25519-for-es256", "p384-for-es256", "ec-for-eddsa", "rsa1024-for-rs256"],
    )
    def test_key_file_that_does_not_fit_the_algorithm_is_refused(
        self, tmp_path: Path, algorithm: str, make_key: Any
    ) -> None:
        path = pem_file(tmp_path / "key.pem", make_key())
        with pytest.raises(KeyConfigError, match=algorithm):
            configured_key(Settings(signing_key_file=path, jwt_algorithm=algorithm))

    def test_unreadable_key_file_is_one_line_without_its_content(self, tmp_path: Path) -> None:
        path = tmp_path / "key.pem"
        path.write_text(
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----\n"
        )
        with pytest.raises(KeyConfigError) as caught:
            configured_key(Settings(signing_key_file=path))
        message = str(caught.value)
        assert "AUTHAPI_SIGNING_KEY_FILE" in message
        assert "\n" not in message
        assert "c2VjcmV0LXN0dWZm" not in message

    def test_hs256_secret_gets_a_derived_kid_and_nothing_to_publish(self) -> None:
        secret = "an HS256 secret of at least thirty-two bytes"
        material = configured_key(Settings(jwt_algorithm="HS256", jwt_secret=secret))
        again = configured_key(Settings(jwt_algorithm="HS256", jwt_secret=secret))
        other = configured_key(Settings(jwt_algorithm="HS256", jwt_secret=secret + "!"))
        assert material is not None
        assert again is not None
        assert other is not None
        assert material.public_jwk is None
        assert material.kid == again.kid != other.kid
        assert secret not in material.kid
        assert material.signing_key == secret.encode()
