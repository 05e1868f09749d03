"""Public keys (JWKS) and RFC 8414 authorization-server metadata.

Every URL here is under AUTHAPI_PUBLIC_URL, the API's own base. There is no
`/.well-known/openid-configuration`: OpenID Connect Discovery describes a provider
that issues id_tokens and has an authorization and a userinfo endpoint, and this
service has none of them, so that document could only lie (README, "Discovery").
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from authapi.api.deps import ResourcesDep
from authapi.errors import ServiceUnavailable, problems
from authapi.keys import JWKS_MAX_AGE_SECONDS
from authapi.schemas import JWKS, ServerMetadata

router = APIRouter(prefix="/.well-known", tags=["discovery"])

# A rotated key is published JWKS_MAX_AGE_SECONDS (plus a margin) before it signs,
# and retired keys stay published while their tokens live (see keys.py).
JWKS_CACHE = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
METADATA_CACHE = "public, max-age=3600"


@router.get(
    "/jwks.json",
    operation_id="get_jwks",
    response_model=JWKS,
    responses=problems(ServiceUnavailable),
    summary="Public signing keys (RFC 7517)",
)
async def jwks(resources: ResourcesDep, response: Response) -> JWKS:
    """Every key whose tokens may still be valid. Empty with HS256 (nothing public to publish)."""
    await resources.keyring.refresh_if_stale()
    response.headers["Cache-Control"] = JWKS_CACHE
    return JWKS.model_validate(resources.keyring.jwks())


@router.get(
    "/oauth-authorization-server",
    operation_id="get_authorization_server_metadata",
    response_model=ServerMetadata,
    response_model_exclude_none=True,
    summary="Authorization server metadata (RFC 8414)",
)
async def metadata(resources: ResourcesDep, response: Response) -> ServerMetadata:
    settings = resources.settings
    base = settings.public_url
    response.headers["Cache-Control"] = METADATA_CACHE
    return ServerMetadata(
        issuer=settings.effective_issuer,
        token_endpoint=f"{base}/auth/token",
        jwks_uri=f"{base}/.well-known/jwks.json",
        revocation_endpoint=f"{base}/auth/revoke",
        introspection_endpoint=f"{base}/auth/introspect",
        grant_types_supported=["password", "refresh_token"],
        response_types_supported=["none"],
        # a first-party public client: nothing to authenticate it with
        token_endpoint_auth_methods_supported=["none"],
        revocation_endpoint_auth_methods_supported=["none"],
        # resource servers listed in AUTHAPI_INTROSPECTION_CLIENTS, with HTTP Basic
        introspection_endpoint_auth_methods_supported=["client_secret_basic"],
        service_documentation=f"{base}/docs",
        access_token_signing_alg_values_supported=[settings.jwt_algorithm],
    )
