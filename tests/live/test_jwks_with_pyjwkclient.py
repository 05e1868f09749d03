"""Another service verifies our access tokens offline, with PyJWT's own JWKS client.

It knows only the JWKS URL, the issuer and the audience. Across `authapi keys
rotate` it keeps verifying old tokens (the retired key stays published) and new
ones: the new key is published before it signs, so a verifier whose cache is
younger than the activation delay already holds it.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.conftest import PUBLIC_URL, PostgresDatabase, RedisSpace, SmtpServer, bearer
from tests.live.conftest import (
    LiveServer,
    ServerPool,
    create_verified_user,
    login,
    production_env,
    run_cli,
)

pytestmark = pytest.mark.live


@pytest.fixture
def server(
    servers: ServerPool,
    own_postgres: PostgresDatabase,
    redis_space: RedisSpace,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> LiveServer:
    env = production_env(
        database=own_postgres,
        redis_space=redis_space,
        smtp_server=smtp_server,
        data_dir=tmp_path / "data",
        # pick up a key rotated by the CLI on the next token issued
        AUTHAPI_KEYS_RELOAD_SECONDS="0",
    )
    return servers.start(env)


def verify_as_another_service(client: jwt.PyJWKClient, token: str) -> dict[str, Any]:
    signing_key = client.get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256"],
        audience="authapi",
        issuer=PUBLIC_URL,
        options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
    )
    return claims


def kid_of(token: str) -> str:
    kid = jwt.get_unverified_header(token)["kid"]
    assert isinstance(kid, str)
    return kid


async def test_tokens_verify_with_pyjwkclient_across_a_key_rotation(
    server: LiveServer, smtp_server: SmtpServer
) -> None:
    jwks_url = f"{server.base}/.well-known/jwks.json"
    # caches the key set for 2 s, less than the activation delay used below, as a verifier
    # honouring the JWKS max-age holds it for less than the default delay
    verifier = jwt.PyJWKClient(jwks_url, lifespan=2)
    async with server.client() as client:
        email = await create_verified_user(client, smtp_server)
        old_token = (await login(client, email))["access_token"]
        me = (await client.get("/users/me", headers=bearer(old_token))).json()
        header = jwt.get_unverified_header(old_token)
        assert header["alg"] == "ES256"
        assert header["typ"] == "at+jwt"
        claims = await asyncio.to_thread(verify_as_another_service, verifier, old_token)
        assert claims["sub"] == me["id"]
        assert claims["iss"] == PUBLIC_URL
        assert claims["aud"] == "authapi"
        old_kid = kid_of(old_token)

        rotated = await asyncio.to_thread(
            run_cli, "keys", "rotate", "--activate-in", "3", env=server.env, cwd=server.cwd
        )
        activates = time.monotonic() + 3
        assert rotated.returncode == 0, rotated.stderr
        printed = re.search(r"new signing key (\S+) \(ES256\) published", rotated.stdout)
        assert printed, rotated.stdout
        new_kid = printed.group(1)
        assert new_kid != old_kid

        # published at once, but not signing yet: verifiers get time to fetch it
        published = {
            key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]
        }
        assert published == {old_kid, new_kid}
        assert kid_of((await login(client, email))["access_token"]) == old_kid
        assert await key_statuses(server) == {old_kid: "signing", new_kid: "pending"}

        await asyncio.sleep(max(0.0, activates - time.monotonic()) + 0.3)
        new_token = (await login(client, email))["access_token"]
        assert kid_of(new_token) == new_kid
        # the same verifier, which has never been told about the rotation
        new_claims = await asyncio.to_thread(verify_as_another_service, verifier, new_token)
        assert new_claims["sub"] == me["id"]

        # tokens signed before the rotation stay valid until they expire
        old_claims = await asyncio.to_thread(verify_as_another_service, verifier, old_token)
        assert old_claims["jti"] == claims["jti"]
        published = {
            key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]
        }
        assert published == {old_kid, new_kid}
        still = await client.get("/users/me", headers=bearer(old_token))
        assert still.status_code == 200, still.text
        assert still.json()["email"] == email

    assert await key_statuses(server) == {old_kid: "published", new_kid: "signing"}


async def key_statuses(server: LiveServer) -> dict[str, str]:
    listed = await asyncio.to_thread(run_cli, "keys", "list", env=server.env, cwd=server.cwd)
    assert listed.returncode == 0, listed.stderr
    return {line.split()[0]: line.split()[-1] for line in listed.stdout.splitlines()[1:] if line}
