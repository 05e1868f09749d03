"""What integrators use, against a live server: the libraries people verify and call with.

- Authlib validates the RFC 8414 metadata, and its OAuth 2.0 client signs in
  (password grant), refreshes, revokes and introspects as any OAuth client would;
- Node's `jose` (`createRemoteJWKSet`, `jwtVerify` with `typ: at+jwt`, issuer and
  audience) and joserfc verify an access token from the JWKS, and refuse a tampered one.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from joserfc import jwt as joserfc_jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from tests.conftest import PASSWORD, PUBLIC_URL, SmtpServer
from tests.live.conftest import LiveServer, client_address, create_verified_user

pytestmark = pytest.mark.live

NODE_DIR = Path(__file__).resolve().parents[1] / "oidc_provider"
INTROSPECTOR = ("resource-server", secrets.token_urlsafe(24))


@pytest.fixture
def server(production_server: Any) -> LiveServer:
    client_id, secret = INTROSPECTOR
    live: LiveServer = production_server(AUTHAPI_INTROSPECTION_CLIENTS=f"{client_id}:{secret}")
    return live


@pytest.fixture
async def user(server: LiveServer, smtp_server: SmtpServer) -> str:
    async with server.client() as client:
        return await create_verified_user(client, smtp_server)


def oauth_client(server: LiveServer, **kwargs: Any) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(headers={"X-Forwarded-For": client_address()}, timeout=10, **kwargs)


def tampered(token: str) -> str:
    """The same token saying another `sub`, its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "00000000-0000-0000-0000-000000000000"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.requirement("RFC8414-2-d", "RFC8414-2-f")
async def test_authlib_validates_the_metadata(server: LiveServer) -> None:
    async with server.client() as client:
        response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    document = response.json()
    AuthorizationServerMetadata(document).validate()  # raises on the first fault
    assert document["issuer"] == PUBLIC_URL
    for member in ("token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"):
        assert document[member].startswith(f"{PUBLIC_URL}/"), member


@pytest.mark.requirement("RFC6749-5.1", "RFC6749-6", "RFC7009-2", "RFC7662-2.2-a")
async def test_authlib_oauth_client_signs_in_refreshes_revokes_and_introspects(
    server: LiveServer, user: str
) -> None:
    client_id, secret = INTROSPECTOR
    async with (
        oauth_client(server, client_id="authapi", token_endpoint_auth_method="none") as app,
        oauth_client(
            server,
            client_id=client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_basic",
        ) as resource_server,
    ):
        token = await app.fetch_token(
            f"{server.base}/auth/token", grant_type="password", username=user, password=PASSWORD
        )
        assert token["token_type"].lower() == "bearer"
        assert token["refresh_token"]

        refreshed = await app.refresh_token(
            f"{server.base}/auth/token", refresh_token=token["refresh_token"]
        )
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert refreshed["access_token"] != token["access_token"]

        async def active(access_token: str) -> bool:
            response = await resource_server.introspect_token(
                f"{server.base}/auth/introspect", token=access_token
            )
            assert response.status_code == 200, response.text
            return bool(response.json()["active"])

        assert await active(refreshed["access_token"])
        revoked = await app.revoke_token(
            f"{server.base}/auth/revoke",
            token=refreshed["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        assert not await active(refreshed["access_token"])  # the session is over


def verify_with_node_jose(server: LiveServer, tokens: list[str]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is a test dependency (tests/oidc_provider)"
    result = subprocess.run(
        [node, str(NODE_DIR / "jose_verify.mjs")],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "JWKS_URL": f"{server.base}/.well-known/jwks.json",
            "ISSUER": PUBLIC_URL,
            "AUDIENCE": "authapi",
            "TOKENS": json.dumps(tokens),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    verdicts: list[dict[str, Any]] = json.loads(result.stdout)
    return verdicts


async def access_token(server: LiveServer, user: str) -> str:
    async with server.client() as client:
        response = await client.post(
            "/auth/login",
            json={"email": user, "password": PASSWORD, "refresh_token_delivery": "body"},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.mark.requirement("RFC9068-2.1", "RFC8725-3.11", "ASVS-9.1.1")
async def test_node_jose_verifies_an_access_token_and_refuses_a_tampered_one(
    server: LiveServer, user: str
) -> None:
    token = await access_token(server, user)
    good, forged = verify_with_node_jose(server, [token, tampered(token)])
    assert good["ok"], good
    assert good["header"]["typ"] == "at+jwt"
    assert good["payload"]["iss"] == PUBLIC_URL
    assert not forged["ok"]
    assert forged["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"


@pytest.mark.requirement("RFC9068-2.1", "ASVS-9.1.1")
async def test_joserfc_verifies_an_access_token_and_refuses_a_tampered_one(
    server: LiveServer, user: str
) -> None:
    token = await access_token(server, user)
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
        keys = KeySet.import_key_set((await client.get("/.well-known/jwks.json")).json())
    decoded = joserfc_jwt.decode(token, keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": PUBLIC_URL},
        aud={"essential": True, "value": "authapi"},
        sub={"essential": True},
        exp={"essential": True},
    ).validate(decoded.claims)
    with pytest.raises(BadSignatureError):
        joserfc_jwt.decode(tampered(token), keys, algorithms=["ES256"])
