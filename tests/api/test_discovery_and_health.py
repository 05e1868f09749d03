"""JWKS, RFC 8414 metadata, health probes, and offline verification of our access
tokens with plain PyJWT against the JWKS we serve, for every signing algorithm.

Tests that count keys start the app on a database of their own (`fresh_database`):
the run's shared database collects keys from every test that starts an app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from authapi.db import migrate_sync
from tests.conftest import PUBLIC_URL, Api, in_thread, temporary_postgres

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
HS256_SECRET = "an HS256 secret of at least thirty-two bytes"
OTHER_HS256_SECRET = "another HS256 secret, also over thirty-two bytes"


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database (no signing keys yet) on the backend under test."""
    if backend == "embedded":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        in_thread(migrate_sync, url)
        yield url
        return
    with temporary_postgres("keys") as database:
        yield database.url


async def jwks_of(api: Api) -> dict[str, Any]:
    response = await api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def verify_offline(api: Api, token: str, algorithm: str) -> dict[str, Any]:
    """What a resource server does: fetch the JWKS, pick the key by kid, decode with PyJWT."""
    keyset = jwt.PyJWKSet.from_dict(await jwks_of(api))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == algorithm
    assert header["typ"] == "at+jwt"
    claims: dict[str, Any] = jwt.decode(
        token,
        keyset[header["kid"]].key,
        algorithms=[algorithm],
        audience=api.settings.audience,
        issuer=api.settings.effective_issuer,
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )
    return claims


class TestJwks:
    async def test_jwks_has_one_es256_key_and_no_private_members(
        self, make_api: Callable[..., Any], fresh_database: str
    ) -> None:
        async with make_api(database_url=fresh_database) as api:
            response = await api.client.get("/.well-known/jwks.json")

            assert response.status_code == 200
            assert "max-age=" in response.headers["cache-control"]
            assert "no-store" not in response.headers["cache-control"]
            (key,) = response.json()["keys"]
            assert key["kty"] == "EC"
            assert key["crv"] == "P-256"
            assert key["alg"] == "ES256"
            assert key["use"] == "sig"
            assert key["kid"]
            assert not PRIVATE_MEMBERS & set(key)
            tokens = await api.signed_in()
            assert jwt.get_unverified_header(tokens.access)["kid"] == key["kid"]

    async def test_jwks_publishes_the_signing_key_without_private_members(self, api: Api) -> None:
        tokens = await api.signed_in()
        keys = (await jwks_of(api))["keys"]
        kids = [key["kid"] for key in keys]
        assert len(kids) == len(set(kids))
        assert jwt.get_unverified_header(tokens.access)["kid"] in kids
        for key in keys:
            assert not PRIVATE_MEMBERS & set(key), key
            assert key["use"] == "sig"

    async def test_second_start_on_the_same_database_reuses_the_key(
        self, make_api: Callable[..., Any], fresh_database: str
    ) -> None:
        async with make_api(database_url=fresh_database) as api:
            first = await jwks_of(api)
            tokens = await api.signed_in()
        async with make_api(database_url=fresh_database) as api:
            assert await jwks_of(api) == first
            # (the embedded store lives in one process, so check the signature, not the session)
            await verify_offline(api, tokens.access, "ES256")


class TestMetadata:
    @pytest.mark.requirement(
        "RFC8414-2-a", "RFC8414-2-c", "RFC8414-2-d", "RFC8414-2-f", "RFC8414-3.2"
    )
    async def test_metadata_names_the_issuer_and_endpoints_under_the_public_url(
        self, api: Api
    ) -> None:
        response = await api.client.get("/.well-known/oauth-authorization-server")

        assert response.status_code == 200
        assert "max-age=" in response.headers["cache-control"]
        body = response.json()
        assert body["issuer"] == api.settings.effective_issuer == PUBLIC_URL
        assert body["token_endpoint"] == f"{PUBLIC_URL}/auth/token"
        assert body["jwks_uri"] == f"{PUBLIC_URL}/.well-known/jwks.json"
        assert body["revocation_endpoint"] == f"{PUBLIC_URL}/auth/revoke"
        assert body["introspection_endpoint"] == f"{PUBLIC_URL}/auth/introspect"
        assert body["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic"]
        assert body["response_types_supported"] == ["none"]
        assert set(body["grant_types_supported"]) == {"password", "refresh_token"}
        assert body["access_token_signing_alg_values_supported"] == ["ES256"]
        # RFC 8414 §3.2: members with zero elements are left out
        assert all(value != [] for value in body.values()), body
        AuthorizationServerMetadata(body).validate()

    @pytest.mark.requirement("RFC8414-2-a")
    async def test_configured_issuer_is_in_metadata_and_tokens(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            issuer="https://id.example.com/", app_url="https://app.example.com"
        ) as api:
            body = (await api.client.get("/.well-known/oauth-authorization-server")).json()
            assert body["issuer"] == "https://id.example.com"
            assert body["token_endpoint"] == f"{PUBLIC_URL}/auth/token"
            tokens = await api.signed_in()
            claims = await verify_offline(api, tokens.access, "ES256")
            assert claims["iss"] == "https://id.example.com"


class TestHealth:
    async def test_healthz_is_200(self, api: Api) -> None:
        response = await api.client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_readyz_checks_the_database_and_the_token_store(self, api: Api) -> None:
        response = await api.client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "checks": {"database": "ok", "token_store": "ok"},
        }


class TestOfflineVerification:
    @pytest.mark.requirement("RFC9068-2.2")
    async def test_es256_token_verifies_with_pyjwt_against_the_served_jwks(self, api: Api) -> None:
        tokens = await api.signed_in()
        claims = await verify_offline(api, tokens.access, "ES256")
        me = (await api.me(tokens.access)).json()
        assert claims["sub"] == me["id"]
        assert claims["sid"] == tokens.refresh.split(".", 1)[0]
        assert claims["client_id"] == api.settings.client_id

    async def test_tampered_token_fails_offline_verification(self, api: Api) -> None:
        tokens = await api.signed_in()
        header, _, signature = tokens.access.split(".")
        other = (await api.signed_in()).access.split(".")[1]
        with pytest.raises(jwt.InvalidSignatureError):
            await verify_offline(api, f"{header}.{other}.{signature}", "ES256")

    @pytest.mark.parametrize(
        ("algorithm", "kty", "crv"),
        [("EdDSA", "OKP", "Ed25519"), ("RS256", "RSA", None), ("ES256", "EC", "P-256")],
    )
    async def test_each_algorithm_gets_its_own_key_and_verifies_offline(
        self,
        make_api: Callable[..., Any],
        fresh_database: str,
        algorithm: str,
        kty: str,
        crv: str | None,
    ) -> None:
        async with make_api(database_url=fresh_database, jwt_algorithm=algorithm) as api:
            (key,) = (await jwks_of(api))["keys"]
            assert key["kty"] == kty
            assert key.get("crv") == crv
            assert key["alg"] == algorithm
            assert key["use"] == "sig"
            assert not PRIVATE_MEMBERS & set(key)
            metadata = (await api.client.get("/.well-known/oauth-authorization-server")).json()
            assert metadata["access_token_signing_alg_values_supported"] == [algorithm]

            tokens = await api.signed_in()
            assert jwt.get_unverified_header(tokens.access)["kid"] == key["kid"]
            claims = await verify_offline(api, tokens.access, algorithm)
            assert (await api.me(tokens.access)).json()["id"] == claims["sub"]

    async def test_changing_algorithm_adds_a_key_and_keeps_the_old_one_published(
        self, make_api: Callable[..., Any], fresh_database: str
    ) -> None:
        async with make_api(database_url=fresh_database) as api:
            es256_token = (await api.signed_in()).access
            es256_kid = jwt.get_unverified_header(es256_token)["kid"]
        async with make_api(database_url=fresh_database, jwt_algorithm="EdDSA") as api:
            keys = {key["kid"]: key for key in (await jwks_of(api))["keys"]}
            tokens = await api.signed_in()
            kid = jwt.get_unverified_header(tokens.access)["kid"]
            assert kid != es256_kid
            assert keys[kid]["alg"] == "EdDSA"
            # the retired ES256 key stays published while its tokens may still be valid
            assert keys[es256_kid]["alg"] == "ES256"
            await verify_offline(api, tokens.access, "EdDSA")


class TestHs256:
    @pytest.mark.requirement("RFC9068-2.1")
    async def test_hs256_publishes_no_keys_and_tokens_verify_with_the_secret(
        self, make_api: Callable[..., Any], fresh_database: str
    ) -> None:
        async with make_api(
            database_url=fresh_database, jwt_algorithm="HS256", jwt_secret=HS256_SECRET
        ) as api:
            assert await jwks_of(api) == {"keys": []}
            metadata = (await api.client.get("/.well-known/oauth-authorization-server")).json()
            assert metadata["access_token_signing_alg_values_supported"] == ["HS256"]

            tokens = await api.signed_in()
            header = jwt.get_unverified_header(tokens.access)
            assert header["alg"] == "HS256"
            assert header["typ"] == "at+jwt"
            assert header["kid"]
            claims = jwt.decode(
                tokens.access,
                HS256_SECRET.encode(),
                algorithms=["HS256"],
                audience=api.settings.audience,
                issuer=api.settings.effective_issuer,
            )
            assert (await api.me(tokens.access)).json()["id"] == claims["sub"]
            with pytest.raises(jwt.InvalidSignatureError):
                jwt.decode(
                    tokens.access,
                    OTHER_HS256_SECRET.encode(),
                    algorithms=["HS256"],
                    audience=api.settings.audience,
                )

    async def test_replacing_the_hs256_secret_still_starts_and_drops_old_tokens(
        self, make_api: Callable[..., Any], fresh_database: str
    ) -> None:
        settings = {"database_url": fresh_database, "jwt_algorithm": "HS256"}
        async with make_api(jwt_secret=HS256_SECRET, **settings) as api:
            email = await api.create_user()
            old = await api.signed_in(email)
        async with make_api(jwt_secret=OTHER_HS256_SECRET, **settings) as api:
            assert (await api.me(old.access)).status_code == 401
            new = await api.signed_in(email)
            assert (await api.me(new.access)).status_code == 200

    async def test_moving_from_hs256_to_es256_still_starts(
        self, make_api: Callable[..., Any], fresh_database: str
    ) -> None:
        async with make_api(
            database_url=fresh_database, jwt_algorithm="HS256", jwt_secret=HS256_SECRET
        ) as api:
            email = await api.create_user()
        async with make_api(database_url=fresh_database) as api:
            (key,) = (await jwks_of(api))["keys"]
            assert key["alg"] == "ES256"
            tokens = await api.signed_in(email)
            await verify_offline(api, tokens.access, "ES256")

    async def test_token_of_another_algorithm_is_rejected(
        self, make_api: Callable[..., Any], fresh_database: str
    ) -> None:
        async with make_api(database_url=fresh_database) as api:
            email = await api.create_user()
            es256_token = (await api.signed_in(email)).access
        async with make_api(
            database_url=fresh_database, jwt_algorithm="HS256", jwt_secret=HS256_SECRET
        ) as api:
            response = await api.me(es256_token)
            assert response.status_code == 401
            assert response.json()["code"] == "invalid_token"
