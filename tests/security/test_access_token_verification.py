"""Access-token verification pins everything (SPEC "Tokens"): exactly one algorithm,
our own keys chosen by `kid` (never `jwk`/`jku`/`x5u` from the header), iss, aud,
the required claims, the token type and `crit`. Bad bearers get 401 `invalid_token`
(expired ones `token_expired`) with an RFC 6750 `WWW-Authenticate` challenge.

Attacker tokens are built by hand here (header, claims and signature chosen
freely); `test_a_token_forged_with_the_servers_key_is_accepted` shows the
builder makes tokens the server accepts, so every refusal below is the check
under test, not a broken builder.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm

from authapi.db import migrate_sync
from authapi.keys import public_jwk
from tests.conftest import Api, bearer, free_port, in_thread, temporary_postgres

CHALLENGE = 'Bearer realm="authapi"'
Signer = Callable[[bytes], bytes]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Signer | None) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = sign(signing_input.encode("ascii")) if sign is not None else b""
    return f"{signing_input}.{b64url(signature)}"


def es256(key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def hs256(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


@dataclass
class Victim:
    """A signed-in user of `api`, and what an attacker could learn about the server."""

    api: Api
    access_token: str
    refresh_token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    server_sign: Signer

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    async def me(self, token: str) -> httpx.Response:
        return await self.api.client.get("/users/me", headers=bearer(token))


@pytest.fixture
async def victim(api: Api) -> Victim:
    tokens = await api.signed_in()
    signer = api.app.state.resources.keyring.signer
    assert signer.algorithm == "ES256"
    return Victim(
        api=api,
        access_token=tokens.access,
        refresh_token=tokens.refresh,
        header=jwt.get_unverified_header(tokens.access),
        claims=jwt.decode(tokens.access, options={"verify_signature": False}),
        server_sign=es256(signer.signing_key),
    )


def assert_rejected(response: httpx.Response, code: str = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(f'{CHALLENGE}, error="invalid_token"'), challenge


def attacker_key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, public_jwk(key.public_key(), "ES256")


class TestControl:
    @pytest.mark.requirement("ASVS-10.3.2", "ASVS-10.3.3", "RFC6750-2.1", "RFC9068-2.1")
    async def test_the_issued_token_is_accepted(self, victim: Victim) -> None:
        assert victim.header == {"alg": "ES256", "kid": victim.kid, "typ": "at+jwt"}
        response = await victim.me(victim.access_token)
        assert response.status_code == 200
        assert response.json()["id"] == victim.claims["sub"]

    async def test_a_token_forged_with_the_servers_key_is_accepted(self, victim: Victim) -> None:
        token = forge(victim.header, victim.claims, victim.server_sign)
        assert (await victim.me(token)).status_code == 200

    @pytest.mark.requirement("RFC6750-3-a")
    async def test_missing_bearer_is_401_not_authenticated_with_a_bare_challenge(
        self, victim: Victim
    ) -> None:
        for headers in ({}, {"Authorization": f"Basic {b64url(b'a:b')}"}):
            response = await victim.api.client.get("/users/me", headers=headers)
            assert response.status_code == 401
            assert response.json()["code"] == "not_authenticated"
            assert response.headers["www-authenticate"] == CHALLENGE


class TestAlgorithm:
    @pytest.mark.requirement("ASVS-9.1.2", "RFC8725-3.1", "RFC9068-4")
    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
    async def test_alg_none_is_rejected(self, victim: Victim, alg: str) -> None:
        header = {**victim.header, "alg": alg}
        assert_rejected(await victim.me(forge(header, victim.claims, None)))
        # nor with the original signature left in place
        original_signature = victim.access_token.rsplit(".", 1)[1]
        token = forge(header, victim.claims, None) + original_signature
        assert_rejected(await victim.me(token))

    @pytest.mark.requirement("ASVS-9.1.2", "RFC8725-3.1")
    async def test_hs256_keyed_with_the_servers_public_key_is_rejected(
        self, victim: Victim
    ) -> None:
        public_key = victim.api.app.state.resources.keyring.signer.verifying_key
        served = (await victim.api.client.get("/.well-known/jwks.json")).json()["keys"][0]
        pem = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        der = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        confused_secrets = [
            pem,
            pem.strip(),
            der,
            json.dumps(served).encode(),
            json.dumps(served, separators=(",", ":")).encode(),
            json.dumps(served, sort_keys=True).encode(),
            ECAlgorithm.to_jwk(public_key).encode(),
            json.dumps({"keys": [served]}).encode(),
            victim.kid.encode(),
        ]
        header = {**victim.header, "alg": "HS256"}
        for secret in confused_secrets:
            assert_rejected(await victim.me(forge(header, victim.claims, hs256(secret))))

    @pytest.mark.requirement("ASVS-9.1.2", "RFC8725-3.1")
    async def test_another_asymmetric_algorithm_with_the_servers_kid_is_rejected(
        self, victim: Victim
    ) -> None:
        p384 = ec.generate_private_key(ec.SECP384R1())

        def es384(data: bytes) -> bytes:
            r, s = decode_dss_signature(p384.sign(data, ec.ECDSA(hashes.SHA384())))
            return r.to_bytes(48, "big") + s.to_bytes(48, "big")

        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

        def rs256(data: bytes) -> bytes:
            return rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

        for alg, sign in (("ES384", es384), ("RS256", rs256)):
            header = {**victim.header, "alg": alg}
            assert_rejected(await victim.me(forge(header, victim.claims, sign)))


class TestKeySelection:
    @pytest.mark.requirement("ASVS-9.1.1", "RFC8725-3.8")
    async def test_another_es256_key_with_the_servers_kid_is_rejected(self, victim: Victim) -> None:
        key, _ = attacker_key()
        assert_rejected(await victim.me(forge(victim.header, victim.claims, es256(key))))

    @pytest.mark.requirement("ASVS-9.1.3", "RFC8725-3.10")
    async def test_embedded_jwk_header_is_ignored(self, victim: Victim) -> None:
        key, jwk = attacker_key()
        for kid in (jwk["kid"], victim.kid, None):
            header = {"alg": "ES256", "typ": "at+jwt", "jwk": jwk}
            if kid is not None:
                header["kid"] = kid
            assert_rejected(await victim.me(forge(header, victim.claims, es256(key))))

    @pytest.mark.requirement("ASVS-9.1.3", "RFC8725-3.10")
    async def test_jku_and_x5u_headers_are_never_fetched(self, victim: Victim) -> None:
        key, jwk = attacker_key()
        fetched: list[bytes] = []

        async def attacker_site(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            fetched.append(await reader.read(1024))
            body = json.dumps({"keys": [jwk]}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
            writer.close()

        port = free_port()
        server = await asyncio.start_server(attacker_site, "127.0.0.1", port)
        try:
            url = f"http://127.0.0.1:{port}/jwks.json"
            for member in ("jku", "x5u"):
                for kid in (jwk["kid"], victim.kid):
                    header = {"alg": "ES256", "typ": "at+jwt", "kid": kid, member: url}
                    assert_rejected(await victim.me(forge(header, victim.claims, es256(key))))
        finally:
            server.close()
            await server.wait_closed()
        assert fetched == []

    @pytest.mark.requirement("ASVS-9.1.3", "RFC8725-3.10")
    async def test_unknown_or_missing_kid_is_rejected(self, victim: Victim) -> None:
        key, jwk = attacker_key()
        header = {**victim.header, "kid": jwk["kid"]}
        assert_rejected(await victim.me(forge(header, victim.claims, es256(key))))
        without_kid = {name: value for name, value in victim.header.items() if name != "kid"}
        assert_rejected(await victim.me(forge(without_kid, victim.claims, victim.server_sign)))

    @pytest.mark.requirement("ASVS-7.2.1", "ASVS-9.1.1")
    async def test_tampered_claims_under_the_original_signature_are_rejected(
        self, victim: Victim
    ) -> None:
        other = await victim.api.signed_in()
        other_sub = jwt.decode(other.access, options={"verify_signature": False})["sub"]
        claims = {**victim.claims, "sub": other_sub, "exp": victim.claims["exp"] + 3600}
        head, _, signature = victim.access_token.split(".")
        assert_rejected(await victim.me(f"{head}.{segment(claims)}.{signature}"))
        # and a signature that was cut or altered
        assert_rejected(await victim.me(f"{head}.{victim.access_token.split('.')[1]}."))
        flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
        assert_rejected(await victim.me(f"{head}.{victim.access_token.split('.')[1]}.{flipped}"))


class TestTokenType:
    @pytest.mark.requirement("ASVS-9.2.2", "RFC8725-3.12")
    async def test_refresh_token_used_as_bearer_is_rejected(self, victim: Victim) -> None:
        assert_rejected(await victim.me(victim.refresh_token))

    @pytest.mark.requirement("ASVS-9.2.2", "RFC8725-3.11", "RFC9068-4")
    @pytest.mark.parametrize("typ", ["JWT", None, "mfa+jwt", "id_token", "at+jwt+x", 1])
    async def test_wrong_or_missing_typ_is_rejected(self, victim: Victim, typ: Any) -> None:
        header = {name: value for name, value in victim.header.items() if name != "typ"}
        if typ is not None:
            header["typ"] = typ
        assert_rejected(await victim.me(forge(header, victim.claims, victim.server_sign)))

    async def test_unknown_crit_header_is_rejected(self, victim: Victim) -> None:
        header = {**victim.header, "crit": ["urn:example:unknown"], "urn:example:unknown": True}
        assert_rejected(await victim.me(forge(header, victim.claims, victim.server_sign)))


class TestClaims:
    @pytest.mark.requirement("ASVS-10.3.3", "RFC8725-3.8", "RFC9068-4")
    async def test_wrong_issuer_is_rejected(self, victim: Victim) -> None:
        for iss in ("https://evil.example", victim.claims["iss"] + "/", None, 1):
            claims = {**victim.claims, "iss": iss}
            assert_rejected(await victim.me(forge(victim.header, claims, victim.server_sign)))

    @pytest.mark.requirement(
        "ASVS-10.3.1", "ASVS-9.2.3", "RFC6750-5.3-a", "RFC8725-3.9", "RFC9068-4"
    )
    async def test_wrong_audience_is_rejected(self, victim: Victim) -> None:
        for aud in ("another-service", ["another-service"], "", None):
            claims = {**victim.claims, "aud": aud}
            assert_rejected(await victim.me(forge(victim.header, claims, victim.server_sign)))

    @pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "sub", "iss", "aud", "jti", "sid"])
    async def test_missing_required_claim_is_rejected(self, victim: Victim, claim: str) -> None:
        claims = {name: value for name, value in victim.claims.items() if name != claim}
        assert_rejected(await victim.me(forge(victim.header, claims, victim.server_sign)))

    @pytest.mark.parametrize("claim", ["sub", "jti", "sid"])
    async def test_non_string_identifier_claim_is_rejected(
        self, victim: Victim, claim: str
    ) -> None:
        claims = {**victim.claims, claim: 12345}
        assert_rejected(await victim.me(forge(victim.header, claims, victim.server_sign)))

    @pytest.mark.requirement("ASVS-10.3.2", "ASVS-7.2.1")
    async def test_unknown_session_id_is_rejected(self, victim: Victim) -> None:
        claims = {**victim.claims, "sid": "00000000-0000-4000-8000-000000000000"}
        assert_rejected(await victim.me(forge(victim.header, claims, victim.server_sign)))

    @pytest.mark.requirement("ASVS-9.2.1")
    async def test_not_yet_valid_token_is_rejected(self, victim: Victim) -> None:
        now = int(time.time())
        claims = {**victim.claims, "nbf": now + 600, "iat": now}
        assert_rejected(await victim.me(forge(victim.header, claims, victim.server_sign)))


class TestExpiry:
    @pytest.mark.requirement("ASVS-9.2.1", "RFC6750-3-a", "RFC9068-4", "RFC9457-3")
    async def test_expired_token_is_401_token_expired_with_a_challenge(
        self, victim: Victim
    ) -> None:
        now = int(time.time())
        claims = {**victim.claims, "iat": now - 1000, "nbf": now - 1000, "exp": now - 60}
        response = await victim.me(forge(victim.header, claims, victim.server_sign))
        assert_rejected(response, code="token_expired")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    @pytest.mark.requirement("ASVS-9.2.1")
    async def test_expiry_allows_only_the_configured_leeway(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(access_token_ttl_seconds=10, clock_leeway_seconds=0) as api:
            tokens = await api.signed_in()
            header = jwt.get_unverified_header(tokens.access)
            claims = jwt.decode(tokens.access, options={"verify_signature": False})
            assert claims["exp"] - claims["iat"] == 10
            sign = es256(api.app.state.resources.keyring.signer.signing_key)
            now = int(time.time())
            expired = {**claims, "iat": now - 20, "nbf": now - 20, "exp": now - 2}
            response = await api.client.get(
                "/users/me", headers=bearer(forge(header, expired, sign))
            )
            assert_rejected(response, code="token_expired")

        async with make_api(clock_leeway_seconds=30) as api:
            tokens = await api.signed_in()
            header = jwt.get_unverified_header(tokens.access)
            claims = jwt.decode(tokens.access, options={"verify_signature": False})
            sign = es256(api.app.state.resources.keyring.signer.signing_key)
            now = int(time.time())
            within = {**claims, "iat": now - 100, "nbf": now - 100, "exp": now - 5}
            response = await api.client.get(
                "/users/me", headers=bearer(forge(header, within, sign))
            )
            assert response.status_code == 200, response.text


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A migrated database of the test's own (the signing keys of the shared one stay)."""
    if backend == "production":
        with temporary_postgres("alg") as database:
            yield database.url
        return
    url = f"sqlite+aiosqlite:///{directory / 'keys.db'}"
    in_thread(migrate_sync, url)
    yield url


@pytest.mark.requirement("ASVS-16.5.3")
async def test_a_token_naming_a_key_of_another_algorithm_is_401(
    make_api: Callable[..., Any], backend: str, tmp_path: Path
) -> None:
    """After AUTHAPI_JWT_ALGORITHM changes, the old key stays published. A token whose
    header names the configured algorithm and the old key's kid was a 500 (PyJWT's
    TypeError on the mismatched key); it is a bad bearer like any other (issue 12,
    item 12)."""
    with fresh_database(backend, tmp_path) as url:
        async with make_api(database_url=url, jwt_algorithm="RS256") as before:
            old_token = (await before.signed_in()).access
        old_header = jwt.get_unverified_header(old_token)
        claims = jwt.decode(old_token, options={"verify_signature": False})

        async with make_api(database_url=url) as api:  # ES256 now
            assert old_header["kid"] in {key["kid"] for key in (await jwks(api))["keys"]}
            attacker_key = ec.generate_private_key(ec.SECP256R1())
            forged = forge({**old_header, "alg": "ES256"}, claims, es256(attacker_key))
            for token in (forged, old_token):
                response = await api.me(token)
                assert response.status_code == 401, response.text
                assert response.json()["code"] == "invalid_token"
                assert response.headers["www-authenticate"].startswith(CHALLENGE)


async def jwks(api: Api) -> dict[str, Any]:
    response = await api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
