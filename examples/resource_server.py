"""A resource server that trusts authapi's access tokens: the two ways to check one.

    AUTHAPI_URL=https://auth.example.com \\
    AUTHAPI_AUDIENCE=authapi \\
    INTROSPECTION_CLIENT=orders:a-long-random-secret-value \\
    uvicorn examples.resource_server:app --port 9000

- `GET /offline/whoami` verifies the JWT itself with the keys published at
  `/.well-known/jwks.json` (PyJWT's PyJWKClient caches them and refetches for a new
  `kid`): no call to authapi per request, but a revoked session's token keeps
  working here until it expires (15 minutes by default).
- `GET /online/whoami` asks authapi (`POST /auth/introspect`, RFC 7662, HTTP Basic
  as a client listed in AUTHAPI_INTROSPECTION_CLIENTS): one call per request, and a
  logout or revocation is seen at once.

Pick per endpoint: offline for the hot path, online where a revoked session must
stop at once (payments, account settings). Both answer 401 with a
`WWW-Authenticate: Bearer` challenge when the token is missing or not good.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

AUTHAPI_URL = os.environ.get("AUTHAPI_URL", "http://127.0.0.1:8000").rstrip("/")
ISSUER = os.environ.get("AUTHAPI_ISSUER", AUTHAPI_URL)
AUDIENCE = os.environ.get("AUTHAPI_AUDIENCE", "authapi")
ALGORITHMS = ["ES256", "EdDSA", "RS256"]  # whatever AUTHAPI_JWT_ALGORITHM is set to
CLIENT_ID, _, CLIENT_SECRET = os.environ.get("INTROSPECTION_CLIENT", "").partition(":")

app = FastAPI(title="example resource server")
bearer = HTTPBearer(auto_error=False)
jwks = jwt.PyJWKClient(f"{AUTHAPI_URL}/.well-known/jwks.json", cache_keys=True, lifespan=300)
introspection = httpx.AsyncClient(base_url=AUTHAPI_URL, timeout=5)

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=reason,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )


def verified_offline(credentials: Credentials) -> dict[str, Any]:
    if credentials is None:
        raise unauthorized("send an access token")
    token = credentials.credentials
    try:
        key = jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
    except jwt.PyJWTError:
        raise unauthorized("the access token is not valid") from None
    if jwt.get_unverified_header(token).get("typ", "").lower() not in (
        "at+jwt",
        "application/at+jwt",
    ):
        raise unauthorized("not an access token")
    return claims


async def verified_online(credentials: Credentials) -> dict[str, Any]:
    if credentials is None:
        raise unauthorized("send an access token")
    response = await introspection.post(
        "/auth/introspect",
        data={"token": credentials.credentials, "token_type_hint": "access_token"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    response.raise_for_status()  # 401 here means our own client credentials are wrong
    claims: dict[str, Any] = response.json()
    # a live refresh token is not an access token
    if not claims.get("active") or claims.get("token_type") != "access_token":
        raise unauthorized("the access token is not live")
    return claims


@app.get("/offline/whoami")
def whoami_offline(claims: Annotated[dict[str, Any], Depends(verified_offline)]) -> dict[str, Any]:
    return {"user": claims["sub"], "session": claims["sid"], "checked": "offline"}


@app.get("/online/whoami")
async def whoami_online(
    claims: Annotated[dict[str, Any], Depends(verified_online)],
) -> dict[str, Any]:
    return {"user": claims["sub"], "session": claims["sid"], "checked": "online"}
