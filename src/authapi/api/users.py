"""`/users/me`: the signed-in account, and changes to its credentials."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from authapi.api.cookies import NO_STORE, set_oauth_cookie
from authapi.api.delivery import take_away
from authapi.api.deps import (
    Accounts,
    CurrentPrincipal,
    DbSession,
    OidcSignIns,
    SettingsDep,
    verified_claims,
)
from authapi.api.direct import BEARER_SECURITY, bearer_token, direct_route
from authapi.errors import (
    BEARER_ERRORS,
    BODY_ERRORS,
    IdentityNotFound,
    InvalidCredentials,
    LastSignInMethod,
    ProviderUnavailable,
    RateLimited,
    ReauthenticationRequired,
    RedirectNotAllowed,
    UnknownProvider,
    ValidationFailed,
    WeakPassword,
    problems,
)
from authapi.resources import Resources
from authapi.schemas import (
    AuthorizationUrl,
    ChangeEmailRequest,
    ChangePasswordRequest,
    DeleteAccountRequest,
    EventOut,
    EventPage,
    IdentityList,
    IdentityOut,
    LinkIdentityRequest,
    Message,
    UserOut,
)
from authapi.services import events, profiles

JSON = "application/json"

router = APIRouter(prefix="/users", tags=["users"])

MAX_EVENT_ID = 2**63 - 1

EMAIL_CHANGE_ACCEPTED = (
    "We have sent a link to the new address; the change takes effect when it is used. "
    "Your current address has been told too."
)


@direct_route(
    router,
    "/me",
    method="GET",
    operation_id="get_current_user",
    response_model=UserOut,
    responses=problems(*BEARER_ERRORS),
    summary="The signed-in account",
    openapi_extra=BEARER_SECURITY,
)
async def me(request: Request) -> Response:
    # a hot path (authapi.api.direct); the body as the token store keeps it
    resources: Resources = request.app.state.resources
    claims = await verified_claims(bearer_token(request), resources)
    return Response(await profiles.current_user(resources, claims), media_type=JSON)


@router.post(
    "/me/password",
    operation_id="change_password",
    status_code=204,
    response_class=Response,
    responses=problems(InvalidCredentials, WeakPassword, *BEARER_ERRORS, *BODY_ERRORS),
    summary="Change the password",
)
async def change_password(
    body: ChangePasswordRequest, principal: CurrentPrincipal, accounts: Accounts
) -> Response:
    """Signs out every other session of the account; this one stays signed in."""
    await accounts.change_password(
        principal.user_id,
        current=body.current_password,
        new=body.new_password,
        session_id=principal.session_id,
    )
    return Response(status_code=204)


@router.post(
    "/me/email",
    operation_id="change_email",
    status_code=202,
    response_model=Message,
    responses=problems(
        InvalidCredentials, ReauthenticationRequired, RateLimited, *BEARER_ERRORS, *BODY_ERRORS
    ),
    summary="Change the email address",
)
async def change_email(
    body: ChangeEmailRequest, principal: CurrentPrincipal, accounts: Accounts
) -> Message:
    """Sends a confirmation link to the new address (confirmed through
    `POST /auth/verify-email`) and a notice to the current one; the address changes
    only when the link is used."""
    await accounts.request_email_change(
        principal.user_id,
        password=body.password,
        new_email=body.new_email,
        session_id=principal.session_id,
    )
    return Message(detail=EMAIL_CHANGE_ACCEPTED)


@router.delete(
    "/me",
    operation_id="delete_current_user",
    status_code=204,
    response_class=Response,
    responses=problems(InvalidCredentials, ReauthenticationRequired, *BEARER_ERRORS, *BODY_ERRORS),
    summary="Delete the account",
)
async def delete_account(
    body: DeleteAccountRequest,
    principal: CurrentPrincipal,
    accounts: Accounts,
    settings: SettingsDep,
) -> Response:
    """Deletes the account and ends every session, after checking the password (an
    account without one: after a sign-in in the last 5 minutes)."""
    await accounts.delete_account(
        principal.user_id, password=body.password, session_id=principal.session_id
    )
    response = Response(status_code=204)
    take_away(response, settings)
    return response


@router.get(
    "/me/identities",
    operation_id="list_identities",
    response_model=IdentityList,
    responses=problems(*BEARER_ERRORS),
    summary="Providers linked to the account",
)
async def list_identities(principal: CurrentPrincipal, oidc: OidcSignIns) -> IdentityList:
    identities = await oidc.identities(principal.user_id)
    return IdentityList(
        identities=[IdentityOut.model_validate(row, from_attributes=True) for row in identities]
    )


@router.post(
    "/me/identities",
    operation_id="link_identity",
    response_model=AuthorizationUrl,
    responses=problems(
        InvalidCredentials,
        ReauthenticationRequired,
        UnknownProvider,
        RedirectNotAllowed,
        RateLimited,
        ProviderUnavailable,
        *BEARER_ERRORS,
        *BODY_ERRORS,
    ),
    summary="Link a provider to the account",
)
async def link_identity(
    body: LinkIdentityRequest,
    principal: CurrentPrincipal,
    oidc: OidcSignIns,
    settings: SettingsDep,
) -> JSONResponse:
    """Needs the password (an account without one: a sign-in in the last 5 minutes): a
    provider account linked by whoever holds an access token would be a way in that
    outlives a password reset. Answers the provider's sign-in address and sets the
    `authapi_oauth` cookie (call it with `credentials: "include"`); navigate the
    browser there. The provider's redirect back links its account to this one and lands
    on `redirect_to?linked=<provider>`, or `?error=identity_in_use` when another account
    has it."""
    started = await oidc.begin_link(
        body.provider,
        redirect_to=body.redirect_to,
        user_id=principal.user_id,
        session_id=principal.session_id,
        password=body.password,
    )
    response = JSONResponse(
        AuthorizationUrl(authorization_url=started.authorization_url).model_dump(),
        headers=NO_STORE,
    )
    set_oauth_cookie(response, settings, started.browser_secret)
    return response


@router.delete(
    "/me/identities/{identity_id}",
    operation_id="unlink_identity",
    status_code=204,
    response_class=Response,
    responses=problems(IdentityNotFound, LastSignInMethod, *BEARER_ERRORS, ValidationFailed),
    summary="Unlink a provider from the account",
)
async def unlink_identity(
    identity_id: uuid.UUID, principal: CurrentPrincipal, oidc: OidcSignIns
) -> Response:
    """409 `last_sign_in_method` when it is the account's only way in (no password, no
    passkey, no other provider)."""
    await oidc.unlink(principal.user_id, identity_id)
    return Response(status_code=204)


@router.get(
    "/me/events",
    operation_id="list_events",
    response_model=EventPage,
    responses=problems(*BEARER_ERRORS, ValidationFailed),
    summary="The account's security events, newest first",
)
async def list_events(
    principal: CurrentPrincipal,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        int | None,
        # an event id is a BIGINT: anything larger is a 422, not a database error
        Query(ge=1, le=MAX_EVENT_ID, description="`next_before` of the previous page."),
    ] = None,
) -> EventPage:
    """Sign-ins and failures (with the method), refresh-token reuse, sign-outs, password,
    email, two-factor and provider changes, and operator actions: each with its time,
    IP and device, kept for AUTHAPI_AUDIT_RETENTION_DAYS."""
    rows = await events.recent(db, principal.user_id, limit=limit + 1, before=before)
    page = rows[:limit]
    return EventPage(
        events=[EventOut.model_validate(row, from_attributes=True) for row in page],
        next_before=page[-1].id if len(rows) > limit else None,
    )
