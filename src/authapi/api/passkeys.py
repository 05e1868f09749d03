"""Passkeys: `/auth/passkeys/*` (the ceremonies) and `/users/me/passkeys` (the list).

The work is in authapi.services.passkeys; the sign-in seam in authapi.services.signin.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Response
from fastapi.responses import JSONResponse

from authapi.api.auth import TOKEN_RESPONSE_DOC
from authapi.api.cookies import (
    NO_STORE,
    PASSKEY_COOKIE,
    clear_passkey_cookie,
    set_passkey_cookie,
)
from authapi.api.delivery import token_response
from authapi.api.deps import CurrentPrincipal, Mfa, Passkeys, Sessions, SettingsDep
from authapi.errors import (
    BEARER_ERRORS,
    BODY_ERRORS,
    AccountDisabled,
    InvalidCredentials,
    InvalidMfaToken,
    InvalidPasskey,
    InvalidPasskeyChallenge,
    LastSignInMethod,
    PasskeyExists,
    PasskeyNotFound,
    PasskeyRefused,
    PasskeysOff,
    RateLimited,
    ReauthenticationRequired,
    ValidationFailed,
    problems,
)
from authapi.schemas import (
    PasskeyList,
    PasskeyOut,
    PasskeyRegistrationOptionsRequest,
    PasskeyRegistrationRequest,
    PasskeySignInOptionsRequest,
    PasskeySignInRequest,
    RenamePasskeyRequest,
)
from authapi.services.signin import passkey_options, sign_in_with_passkey

router = APIRouter(tags=["passkeys"])

BrowserSecret = Annotated[str | None, Cookie(alias=PASSKEY_COOKIE, max_length=128)]


def _options_doc(kind: str, parse: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": f"`{kind}` (WebAuthn Level 3, binary fields in base64url): the "
            f"browser's `PublicKeyCredential.{parse}()` turns it into `publicKey`.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }


@router.post(
    "/auth/passkeys/registration/options",
    operation_id="passkey_registration_options",
    responses={
        **_options_doc("PublicKeyCredentialCreationOptionsJSON", "parseCreationOptionsFromJSON"),
        **problems(
            InvalidCredentials,
            ReauthenticationRequired,
            PasskeysOff,
            RateLimited,
            *BEARER_ERRORS,
            *BODY_ERRORS,
        ),
    },
    summary="Start adding a passkey",
)
async def registration_options(
    body: PasskeyRegistrationOptionsRequest, principal: CurrentPrincipal, passkeys: Passkeys
) -> JSONResponse:
    """Needs the password (an account without one: a sign-in in the last 5 minutes), as
    every change to how one signs in does. The options ask for a discoverable credential
    with user verification, and list the account's passkeys so the same authenticator is
    not registered twice. Answer with `POST /auth/passkeys/registration` from the same
    session, within AUTHAPI_PASSKEY_CHALLENGE_TTL_SECONDS."""
    options = await passkeys.registration_options(
        principal.user_id, password=body.password, session_id=principal.session_id
    )
    return JSONResponse(options, headers=NO_STORE)


@router.post(
    "/auth/passkeys/registration",
    operation_id="register_passkey",
    status_code=201,
    response_model=PasskeyOut,
    responses=problems(
        InvalidPasskeyChallenge,
        PasskeyRefused,
        PasskeyExists,
        PasskeysOff,
        *BEARER_ERRORS,
        *BODY_ERRORS,
    ),
    summary="Add a passkey",
)
async def register(
    body: PasskeyRegistrationRequest, principal: CurrentPrincipal, passkeys: Passkeys
) -> PasskeyOut:
    """400 `invalid_passkey_challenge` when the options were not asked for by this session,
    have expired or were used; 400 `passkey_refused` when the credential is not for this
    service's origin and relying-party id or was made without user verification. The
    account's owner gets an email."""
    passkey = await passkeys.register(
        principal.user_id,
        session_id=principal.session_id,
        credential=body.credential,
        name=body.name,
    )
    return PasskeyOut.model_validate(passkey, from_attributes=True)


@router.post(
    "/auth/passkeys/authentication/options",
    operation_id="passkey_sign_in_options",
    responses={
        **_options_doc("PublicKeyCredentialRequestOptionsJSON", "parseRequestOptionsFromJSON"),
        **problems(InvalidMfaToken, AccountDisabled, PasskeysOff, RateLimited, *BODY_ERRORS),
    },
    summary="Start signing in with a passkey",
)
async def sign_in_options(
    body: PasskeySignInOptionsRequest, passkeys: Passkeys, mfa: Mfa, settings: SettingsDep
) -> JSONResponse:
    """Public. `{}` for a discoverable sign-in (the browser offers every passkey it has for
    this service, also as autofill with `mediation: "conditional"`), `{"email": …}` to
    offer only that account's, `{"mfa_token": …}` for the second step of a sign-in. Sets
    the `authapi_passkey` cookie that binds the challenge to this browser: call it and the
    answer with `credentials: "include"`."""
    started = await passkey_options(passkeys, mfa, email=body.email, mfa_token=body.mfa_token)
    response = JSONResponse(started.options, headers=NO_STORE)
    set_passkey_cookie(response, settings, started.browser_secret)
    return response


@router.post(
    "/auth/passkeys/authentication",
    operation_id="sign_in_with_passkey",
    responses={
        **TOKEN_RESPONSE_DOC,
        **problems(
            InvalidPasskeyChallenge,
            InvalidPasskey,
            InvalidMfaToken,
            InvalidCredentials,
            AccountDisabled,
            PasskeysOff,
            RateLimited,
            *BODY_ERRORS,
        ),
    },
    summary="Sign in with a passkey",
)
async def sign_in(
    body: PasskeySignInRequest,
    passkeys: Passkeys,
    mfa: Mfa,
    sessions: Sessions,
    settings: SettingsDep,
    browser_secret: BrowserSecret = None,
) -> JSONResponse:
    """A user-verified passkey is both factors: no `mfa_required` follows. With the
    `mfa_token` of a sign-in, it is that sign-in's second step instead of a code. 400
    `invalid_passkey_challenge` when the options were not asked for in this browser, have
    expired or were used (each answer uses them up: ask again); 401 `invalid_passkey` when
    the passkey is unknown, not the expected account's, or did not verify."""
    tokens = await sign_in_with_passkey(
        passkeys,
        mfa,
        sessions,
        credential=body.credential,
        browser_secret=browser_secret,
        mfa_token=body.mfa_token,
    )
    response = token_response(tokens, delivery=body.refresh_token_delivery, settings=settings)
    clear_passkey_cookie(response, settings)
    return response


@router.get(
    "/users/me/passkeys",
    operation_id="list_passkeys",
    response_model=PasskeyList,
    responses=problems(*BEARER_ERRORS),
    summary="The account's passkeys",
)
async def list_passkeys(principal: CurrentPrincipal, passkeys: Passkeys) -> PasskeyList:
    rows = await passkeys.of_user(principal.user_id)
    return PasskeyList(
        passkeys=[PasskeyOut.model_validate(row, from_attributes=True) for row in rows]
    )


@router.patch(
    "/users/me/passkeys/{passkey_id}",
    operation_id="rename_passkey",
    response_model=PasskeyOut,
    responses=problems(PasskeyNotFound, *BEARER_ERRORS, *BODY_ERRORS),
    summary="Rename a passkey",
)
async def rename_passkey(
    passkey_id: uuid.UUID,
    body: RenamePasskeyRequest,
    principal: CurrentPrincipal,
    passkeys: Passkeys,
) -> PasskeyOut:
    passkey = await passkeys.rename(principal.user_id, passkey_id, body.name)
    return PasskeyOut.model_validate(passkey, from_attributes=True)


@router.delete(
    "/users/me/passkeys/{passkey_id}",
    operation_id="delete_passkey",
    status_code=204,
    response_class=Response,
    responses=problems(PasskeyNotFound, LastSignInMethod, *BEARER_ERRORS, ValidationFailed),
    summary="Remove a passkey",
)
async def delete_passkey(
    passkey_id: uuid.UUID, principal: CurrentPrincipal, passkeys: Passkeys
) -> Response:
    """409 `last_sign_in_method` when it is the account's only way in (no password, no
    other passkey, no linked provider). The owner gets an email."""
    await passkeys.remove(principal.user_id, passkey_id)
    return Response(status_code=204)
