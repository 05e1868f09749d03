"""`/users/me`: the signed-in account, and changes to its credentials."""

from __future__ import annotations

from fastapi import APIRouter, Response

from authapi.api.cookies import clear_refresh_cookie
from authapi.api.deps import Accounts, CurrentPrincipal, ResourcesDep, SettingsDep
from authapi.errors import (
    InvalidAccessToken,
    InvalidCredentials,
    MalformedRequest,
    NotAuthenticated,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
    WeakPassword,
    problems,
)
from authapi.schemas import (
    ChangeEmailRequest,
    ChangePasswordRequest,
    DeleteAccountRequest,
    Message,
    UserOut,
)
from authapi.services.accounts import read_profile

router = APIRouter(prefix="/users", tags=["users"])

BEARER_ERRORS = (NotAuthenticated, InvalidAccessToken, ServiceUnavailable)
BODY_ERRORS = (MalformedRequest, ValidationFailed, PayloadTooLarge)
EMAIL_CHANGE_ACCEPTED = (
    "We have sent a link to the new address; the change takes effect when it is used. "
    "Your current address has been told too."
)


@router.get(
    "/me",
    response_model=UserOut,
    responses=problems(*BEARER_ERRORS),
    summary="The signed-in account",
)
async def me(principal: CurrentPrincipal, resources: ResourcesDep) -> UserOut:
    profile = await read_profile(resources.reader, principal.user_id)
    return UserOut(
        id=profile.id,
        email=profile.email,
        email_verified=profile.email_verified,
        mfa_enabled=profile.mfa_enabled,
        created_at=profile.created_at,
    )


@router.post(
    "/me/password",
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
    status_code=202,
    response_model=Message,
    responses=problems(InvalidCredentials, RateLimited, *BEARER_ERRORS, *BODY_ERRORS),
    summary="Change the email address",
)
async def change_email(
    body: ChangeEmailRequest, principal: CurrentPrincipal, accounts: Accounts
) -> Message:
    """Sends a confirmation link to the new address (confirmed through
    `POST /auth/verify-email`) and a notice to the current one; the address changes
    only when the link is used."""
    await accounts.request_email_change(
        principal.user_id, password=body.password, new_email=body.new_email
    )
    return Message(detail=EMAIL_CHANGE_ACCEPTED)


@router.delete(
    "/me",
    status_code=204,
    response_class=Response,
    responses=problems(InvalidCredentials, *BEARER_ERRORS, *BODY_ERRORS),
    summary="Delete the account",
)
async def delete_account(
    body: DeleteAccountRequest,
    principal: CurrentPrincipal,
    accounts: Accounts,
    settings: SettingsDep,
) -> Response:
    """Deletes the account and ends every session, after checking the password."""
    await accounts.delete_account(principal.user_id, password=body.password)
    response = Response(status_code=204)
    clear_refresh_cookie(response, settings)
    return response
