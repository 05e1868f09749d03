"""Dependencies as named types: resources, the request's transaction, the caller.

`DbSession` commits before the response is sent (`scope="function"`), and rolls
back when the handler raises, so a response never claims a change that was not
stored. Every dependency is `async def`: FastAPI runs plain `def` dependencies
in a thread pool, a thread hop each, which on the hot paths cost more than the
work itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.http import HTTPBase
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.clientip import ClientInfo, client_info
from authapi.db import keeps_on_error
from authapi.errors import AuthError, NotAuthenticated, OAuthError
from authapi.resources import Resources
from authapi.services import profiles
from authapi.services.accounts import AccountService
from authapi.services.mfa import MfaService
from authapi.services.oidc_signin import OidcSignIn
from authapi.services.passkeys import PasskeyService
from authapi.services.sessions import Refresher, SessionService
from authapi.services.wiring import TransactionServices, refresher
from authapi.settings import Settings
from authapi.tokens import AccessClaims, session_ended, subject_id

# Declares the OAuth2 password flow in OpenAPI, which is what makes the
# Authorize button of /docs post username/password to /auth/token.
bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/token",
    auto_error=False,
    description=(
        "Sign in with your email as username; the access token goes in `Authorization: Bearer`."
    ),
)


async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings(resources: ResourcesDep) -> Settings:
    return resources.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_db(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the route answers, rolled back when
    it fails, unless a service asked to keep what it recorded (`keep_on_error`). The
    profiles it changed are forgotten before the answer (authapi.services.profiles)."""
    async with resources.sessionmaker() as db:
        try:
            yield db
        except Exception:
            if keeps_on_error(db):
                await db.commit()
                await profiles.forget_changed(db, resources.store)
            raise
        await db.commit()
        await profiles.forget_changed(db, resources.store)


DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]


def request_client(request: Request, settings: Settings) -> ClientInfo:
    """Who sent the request (its address behind the trusted proxies, its user agent)."""
    return client_info(
        request,
        settings.trusted_proxies,
        settings.proxy_header,
        ipv6_prefix=settings.rate_limit_ipv6_prefix,
    )


async def get_client(request: Request, settings: SettingsDep) -> ClientInfo:
    return request_client(request, settings)


Client = Annotated[ClientInfo, Depends(get_client)]


async def get_services(
    db: DbSession, resources: ResourcesDep, client: Client
) -> TransactionServices:
    """The request's services, over its transaction (built once per request)."""
    return TransactionServices(db, resources, client)


RequestServices = Annotated[TransactionServices, Depends(get_services)]


async def get_accounts(services: RequestServices) -> AccountService:
    return services.accounts


async def get_sessions(services: RequestServices) -> SessionService:
    return services.sessions


async def get_mfa(services: RequestServices) -> MfaService:
    return services.mfa


async def get_oidc(services: RequestServices) -> OidcSignIn:
    return services.oidc


async def get_passkeys(services: RequestServices) -> PasskeyService:
    return services.passkeys


async def get_refresher(resources: ResourcesDep, client: Client) -> Refresher:
    return refresher(resources, lambda: client)


Accounts = Annotated[AccountService, Depends(get_accounts)]
Sessions = Annotated[SessionService, Depends(get_sessions)]
Mfa = Annotated[MfaService, Depends(get_mfa)]
Refreshes = Annotated[Refresher, Depends(get_refresher)]
OidcSignIns = Annotated[OidcSignIn, Depends(get_oidc)]
Passkeys = Annotated[PasskeyService, Depends(get_passkeys)]


@dataclass(frozen=True)
class Principal:
    """The caller of a bearer-protected route: a verified token of a live session."""

    user_id: uuid.UUID
    session_id: str
    claims: AccessClaims


async def verified_claims(token: str | None, resources: Resources) -> AccessClaims:
    """The claims of a good access token (its session is not checked here).

    Raises: NotAuthenticated (no token), InvalidAccessToken."""
    if token is None:
        raise NotAuthenticated()
    return await resources.access_tokens.verify(token)


async def get_principal(
    token: Annotated[str | None, Depends(bearer_scheme)], resources: ResourcesDep
) -> Principal:
    claims = await verified_claims(token, resources)
    user_id = subject_id(claims)
    if not await resources.store.is_active(claims["sid"]):
        raise session_ended()
    return Principal(user_id=user_id, session_id=claims["sid"], claims=claims)


async def get_optional_principal(
    token: Annotated[str | None, Depends(bearer_scheme)], resources: ResourcesDep
) -> Principal | None:
    try:
        return await get_principal(token, resources)
    except AuthError:
        return None


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


# --- the form-encoded OAuth endpoints (token, introspection, revocation) ----------
FORM_URLENCODED = "application/x-www-form-urlencoded"
FORM_MEDIA_TYPES = frozenset({FORM_URLENCODED, "multipart/form-data"})
FORM_ENCODED_HINT = (
    "Send the parameters form-encoded (Content-Type: application/x-www-form-urlencoded), "
    "as OAuth 2.0 asks; this request's body was not."
)
# FastAPI marks a form body required only when one field is; these check their own
# parameters (to answer in RFC 6749's shape), so the document says it instead
FORM_BODY_REQUIRED = {"requestBody": {"required": True}}


async def form_encoded(request: Request) -> None:
    """A JSON body would otherwise read as "the grant_type parameter is missing".

    Raises: OAuthError (400 invalid_request, saying what to send).
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in FORM_MEDIA_TYPES:
        raise OAuthError("invalid_request", FORM_ENCODED_HINT)


class _ClientCredentials(HTTPBase):
    """HTTP Basic as the OpenAPI document's security scheme of introspection.

    The header itself is checked by `Introspection.authenticate` (RFC 6749 §2.3.1
    form-encoding, failures as 401 `invalid_client`), so this hands it over as is:
    FastAPI's own `HTTPBasic` would answer a malformed one in its own shape.
    """

    def __init__(self) -> None:
        super().__init__(
            scheme="basic",
            scheme_name="introspectionClient",
            description="A client id and secret from AUTHAPI_INTROSPECTION_CLIENTS.",
            auto_error=False,
        )

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        return request.headers.get("authorization")


introspection_client = _ClientCredentials()
