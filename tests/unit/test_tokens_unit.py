"""Refresh tokens (MAC, parsing, deterministic successors, key rotation) and the
claims and header of access tokens."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authapi import tokens as tokens_module
from authapi.errors import AccessTokenExpired, InvalidAccessToken
from authapi.keys import KeyMaterial, Keyring, configured_key
from authapi.settings import Settings
from authapi.tokens import AccessTokens, RefreshTokens, token_hash
from tests.conftest import recorded

KEY_1 = b"1" * 32
KEY_2 = b"2" * 32
ISSUER = "https://auth.example.com"
AUDIENCE = "authapi-test"


def flip(text: str, index: int) -> str:
    """The same text with one character changed."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


class TestRefreshTokens:
    def test_first_token_parses_back_to_its_session(self) -> None:
        tokens = RefreshTokens([KEY_1])
        session_id = str(uuid.uuid4())
        token = tokens.first(session_id)
        parsed = tokens.parse(token.value)
        assert parsed == token
        assert parsed is not None
        assert parsed.session_id == session_id
        assert token.value.split(".")[0] == session_id
        assert token.hash == token_hash(token.value)

    @pytest.mark.requirement("ASVS-7.2.2")
    def test_first_tokens_are_unique(self) -> None:
        tokens = RefreshTokens([KEY_1])
        session_id = str(uuid.uuid4())
        assert tokens.first(session_id).value != tokens.first(session_id).value

    @pytest.mark.requirement("RFC6749-10.4")
    def test_tampered_mac_is_rejected(self) -> None:
        tokens = RefreshTokens([KEY_1])
        value = tokens.first(str(uuid.uuid4())).value
        session_id, secret, mac = value.split(".")
        assert tokens.parse(f"{session_id}.{secret}.{flip(mac, 0)}") is None
        assert tokens.parse(f"{session_id}.{secret}.") is None

    @pytest.mark.requirement("RFC6749-10.4")
    def test_tampered_secret_is_rejected(self) -> None:
        tokens = RefreshTokens([KEY_1])
        session_id, secret, mac = tokens.first(str(uuid.uuid4())).value.split(".")
        assert tokens.parse(f"{session_id}.{flip(secret, 3)}.{mac}") is None

    @pytest.mark.requirement("ASVS-2.2.3")
    def test_another_session_id_with_the_same_secret_and_mac_is_rejected(self) -> None:
        tokens = RefreshTokens([KEY_1])
        _, secret, mac = tokens.first(str(uuid.uuid4())).value.split(".")
        assert tokens.parse(f"{uuid.uuid4()}.{secret}.{mac}") is None

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "no-dots-at-all",
            "two.parts",
            "a.b.c.d",
            "not-a-uuid.secret.mac",
            "é.é.é",
            f"{uuid.uuid4()}.{'s' * 300}.mac",
        ],
        ids=["empty", "one-part", "two-parts", "four-parts", "non-uuid", "non-ascii", "too-long"],
    )
    def test_malformed_tokens_are_rejected(self, value: str) -> None:
        assert RefreshTokens([KEY_1]).parse(value) is None

    def test_token_made_under_another_key_is_rejected(self) -> None:
        value = RefreshTokens([KEY_2]).first(str(uuid.uuid4())).value
        assert RefreshTokens([KEY_1]).parse(value) is None

    def test_successor_is_deterministic_and_bound_to_the_session(self) -> None:
        tokens = RefreshTokens([KEY_1])
        parent = tokens.first(str(uuid.uuid4()))
        successor = tokens.successor(parent)
        assert successor == tokens.successor(parent)
        # another instance with the same keys derives the same successor
        assert RefreshTokens([KEY_1]).successor(parent) == successor
        assert successor.value != parent.value
        assert successor.session_id == parent.session_id
        assert tokens.parse(successor.value) == successor
        assert tokens.successor(successor) not in (parent, successor)

    def test_successor_depends_on_the_parent(self) -> None:
        tokens = RefreshTokens([KEY_1])
        session_id = str(uuid.uuid4())
        first, second = tokens.first(session_id), tokens.first(session_id)
        assert tokens.successor(first) != tokens.successor(second)

    def test_second_key_is_still_accepted_for_the_mac(self) -> None:
        old = RefreshTokens([KEY_1]).first(str(uuid.uuid4()))
        rotated = RefreshTokens([KEY_2, KEY_1])
        assert rotated.parse(old.value) == old

    def test_first_key_signs_new_tokens_and_successors(self) -> None:
        rotated = RefreshTokens([KEY_2, KEY_1])
        new = rotated.first(str(uuid.uuid4()))
        assert RefreshTokens([KEY_2]).parse(new.value) == new
        assert RefreshTokens([KEY_1]).parse(new.value) is None

        old = RefreshTokens([KEY_1]).first(str(uuid.uuid4()))
        successor = rotated.successor(old)
        assert RefreshTokens([KEY_2]).parse(successor.value) == successor
        # derived under the new key: differs from what the old key would derive (STALE)
        assert successor != RefreshTokens([KEY_1]).successor(old)


@pytest.fixture
async def keyring(tmp_path: Path) -> Keyring:
    """A keyring holding one ES256 key, configured from a PEM file as an operator would."""
    pem = tmp_path / "signing-key.pem"
    pem.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    material = configured_key(Settings(signing_key_file=pem, jwt_algorithm="ES256"))
    assert material is not None

    async def load() -> list[KeyMaterial]:
        return [material]

    ring = Keyring(algorithm="ES256", load=load, reload_seconds=60)
    await ring.reload()
    return ring


@pytest.fixture
def access_tokens(keyring: Keyring) -> AccessTokens:
    return AccessTokens(
        keyring,
        issuer=ISSUER,
        audience=AUDIENCE,
        client_id="authapi-client",
        ttl_seconds=900,
        leeway_seconds=10,
    )


class TestAccessTokens:
    @pytest.mark.requirement("ASVS-7.2.2", "RFC9068-2.1", "RFC9068-2.2")
    async def test_claims_and_header(self, access_tokens: AccessTokens, keyring: Keyring) -> None:
        before = int(time.time())
        issued = await access_tokens.issue(user_id="user-1", session_id="session-1")

        header = jwt.get_unverified_header(issued.token)
        assert header == {"alg": "ES256", "typ": "at+jwt", "kid": keyring.signer.kid}
        claims = jwt.decode(
            issued.token,
            keyring.signer.verifying_key,  # type: ignore[arg-type]
            algorithms=["ES256"],
            audience=AUDIENCE,
            issuer=ISSUER,
        )
        assert set(claims) == {"iss", "aud", "sub", "client_id", "exp", "iat", "nbf", "jti", "sid"}
        assert claims["iss"] == ISSUER
        assert claims["aud"] == AUDIENCE
        assert claims["sub"] == "user-1"
        assert claims["sid"] == "session-1"
        assert claims["client_id"] == "authapi-client"
        assert before <= claims["iat"] == claims["nbf"] <= int(time.time())
        assert claims["exp"] == claims["iat"] + 900
        assert issued.expires_in == 900
        assert issued.claims == claims

    @pytest.mark.requirement("ASVS-7.2.2")
    async def test_each_token_has_its_own_jti(self, access_tokens: AccessTokens) -> None:
        first = await access_tokens.issue(user_id="u", session_id="s")
        second = await access_tokens.issue(user_id="u", session_id="s")
        assert first.claims["jti"] != second.claims["jti"]

    async def test_issued_token_verifies(self, access_tokens: AccessTokens) -> None:
        issued = await access_tokens.issue(user_id="user-1", session_id="session-1")
        assert await access_tokens.verify(issued.token) == issued.claims

    @pytest.mark.requirement("RFC8725-3.11")
    async def test_token_of_another_type_is_rejected(
        self, access_tokens: AccessTokens, keyring: Keyring
    ) -> None:
        issued = await access_tokens.issue(user_id="user-1", session_id="session-1")
        resigned = jwt.encode(
            dict(issued.claims),
            keyring.signer.signing_key,  # type: ignore[arg-type]
            algorithm="ES256",
            headers={"kid": keyring.signer.kid, "typ": "JWT"},
        )
        with pytest.raises(InvalidAccessToken):
            await access_tokens.verify(resigned)

    async def test_expired_token_is_token_expired(
        self, access_tokens: AccessTokens, keyring: Keyring
    ) -> None:
        now = int(time.time())
        claims = {
            **(await access_tokens.issue(user_id="u", session_id="s")).claims,
            "iat": now - 1000,
            "nbf": now - 1000,
            "exp": now - 60,
        }
        token = jwt.encode(
            claims,
            keyring.signer.signing_key,  # type: ignore[arg-type]
            algorithm="ES256",
            headers={"kid": keyring.signer.kid, "typ": "at+jwt"},
        )
        with pytest.raises(AccessTokenExpired):
            await access_tokens.verify(token)

    @pytest.mark.parametrize(
        "change",
        [{"aud": "someone-else"}, {"iss": "https://evil.example.com"}, {"jti": None}],
        ids=["audience", "issuer", "no-jti"],
    )
    @pytest.mark.requirement("RFC8725-3.9")
    async def test_wrong_claims_are_rejected(
        self, access_tokens: AccessTokens, keyring: Keyring, change: dict[str, Any]
    ) -> None:
        claims: dict[str, Any] = {
            **(await access_tokens.issue(user_id="u", session_id="s")).claims,
            **change,
        }
        claims = {name: value for name, value in claims.items() if value is not None}
        token = jwt.encode(
            claims,
            keyring.signer.signing_key,  # type: ignore[arg-type]
            algorithm="ES256",
            headers={"kid": keyring.signer.kid, "typ": "at+jwt"},
        )
        with pytest.raises(InvalidAccessToken) as caught:
            await access_tokens.verify(token)
        assert caught.value.code == "invalid_token"

    async def test_token_signed_by_a_key_not_in_the_keyring_is_rejected(
        self, access_tokens: AccessTokens, keyring: Keyring
    ) -> None:
        claims = (await access_tokens.issue(user_id="u", session_id="s")).claims
        token = jwt.encode(
            dict(claims),
            ec.generate_private_key(ec.SECP256R1()),
            algorithm="ES256",
            headers={"kid": keyring.signer.kid, "typ": "at+jwt"},
        )
        with pytest.raises(InvalidAccessToken):
            await access_tokens.verify(token)


@pytest.mark.requirement("ASVS-7.2.3", "RFC6749-10.10", "NIST-63B-5.1-a")
def test_a_session_secret_is_256_bits_from_the_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refresh token minted at sign-in carries 32 bytes from `secrets` (its successors
    are keyed derivations of it), sealed by a MAC."""
    drawn = recorded(monkeypatch, tokens_module.secrets, "token_bytes")
    token = RefreshTokens([b"k" * 32]).first(str(uuid.uuid4()))
    _session, secret, _mac = token.value.split(".")
    assert [len(sample) for sample in drawn] == [32]
    assert base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4)) == drawn[0]
