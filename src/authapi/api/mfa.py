"""`/auth/mfa/*`: enrolling an authenticator app, turning it off, recovery codes.

The sign-in step that takes a code is `/auth/login/mfa` (api/auth.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from authapi.api.cookies import NO_STORE
from authapi.api.deps import CurrentPrincipal, Mfa
from authapi.errors import (
    BEARER_ERRORS,
    BODY_ERRORS,
    InvalidCredentials,
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaSetupRequired,
    RateLimited,
    ReauthenticationRequired,
    problems,
)
from authapi.schemas import (
    MfaStatusOut,
    RecoveryCodesOut,
    RecoveryCodesRequest,
    TotpConfirmRequest,
    TotpDisableRequest,
    TotpSetupOut,
    TotpSetupRequest,
)

router = APIRouter(prefix="/auth/mfa", tags=["two-factor authentication"])


@router.get(
    "",
    operation_id="get_mfa_status",
    response_model=MfaStatusOut,
    responses=problems(*BEARER_ERRORS),
    summary="Two-factor status of this account",
)
async def mfa_status(principal: CurrentPrincipal, mfa: Mfa) -> MfaStatusOut:
    status = await mfa.status(principal.user_id)
    return MfaStatusOut(
        totp_enabled=status.totp_enabled,
        recovery_codes_remaining=status.recovery_codes_remaining,
    )


@router.post(
    "/totp/setup",
    operation_id="start_totp_setup",
    response_model=TotpSetupOut,
    responses=problems(
        InvalidCredentials,
        ReauthenticationRequired,
        MfaAlreadyEnabled,
        RateLimited,
        *BEARER_ERRORS,
        *BODY_ERRORS,
    ),
    summary="Start enrolling an authenticator app",
)
async def totp_setup(
    principal: CurrentPrincipal, mfa: Mfa, response: Response, body: TotpSetupRequest | None = None
) -> TotpSetupOut:
    """Needs the password (an account without one: a sign-in in the last 5 minutes), so
    that an access token alone cannot enrol someone else's authenticator. Answers a
    fresh secret, its `otpauth://` URI and a QR code. Nothing changes for sign-in
    until `/auth/mfa/totp/confirm` gets a code from the app; calling this again
    replaces a secret not yet confirmed. `Cache-Control: no-store`."""
    enrolment = await mfa.begin_setup(
        principal.user_id,
        password=body.password if body else None,
        session_id=principal.session_id,
    )
    response.headers.update(NO_STORE)
    return TotpSetupOut(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_code=enrolment.qr_code
    )


@router.post(
    "/totp/confirm",
    operation_id="confirm_totp_setup",
    response_model=RecoveryCodesOut,
    responses=problems(
        InvalidMfaCode,
        MfaAlreadyEnabled,
        MfaSetupRequired,
        RateLimited,
        *BEARER_ERRORS,
        *BODY_ERRORS,
    ),
    summary="Turn two-factor authentication on",
)
async def totp_confirm(
    body: TotpConfirmRequest, principal: CurrentPrincipal, mfa: Mfa, response: Response
) -> RecoveryCodesOut:
    """Checks a code from the app against the pending secret and turns TOTP on.
    Returns ten recovery codes, shown only this once. The account's other sessions
    are signed out and the owner is emailed."""
    codes = await mfa.confirm(principal.user_id, body.code, session_id=principal.session_id)
    response.headers.update(NO_STORE)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/totp/disable",
    operation_id="disable_totp",
    status_code=204,
    response_class=Response,
    responses=problems(
        InvalidCredentials,
        ReauthenticationRequired,
        InvalidMfaCode,
        MfaNotEnabled,
        RateLimited,
        *BEARER_ERRORS,
        *BODY_ERRORS,
    ),
    summary="Turn two-factor authentication off",
)
async def totp_disable(body: TotpDisableRequest, principal: CurrentPrincipal, mfa: Mfa) -> Response:
    """Needs the password (an account without one: a sign-in in the last 5 minutes) and a
    TOTP code or a recovery code. Removes the secret and
    the recovery codes, signs out the other sessions and emails the owner."""
    await mfa.disable(
        principal.user_id,
        password=body.password,
        code=body.code,
        session_id=principal.session_id,
    )
    return Response(status_code=204)


@router.post(
    "/recovery-codes",
    operation_id="regenerate_recovery_codes",
    response_model=RecoveryCodesOut,
    responses=problems(InvalidMfaCode, MfaNotEnabled, RateLimited, *BEARER_ERRORS, *BODY_ERRORS),
    summary="Replace the recovery codes",
)
async def regenerate_recovery_codes(
    body: RecoveryCodesRequest, principal: CurrentPrincipal, mfa: Mfa, response: Response
) -> RecoveryCodesOut:
    """Ten new codes for a TOTP code (or a recovery code); every old code stops working."""
    codes = await mfa.regenerate_recovery_codes(
        principal.user_id, body.code, session_id=principal.session_id
    )
    response.headers.update(NO_STORE)
    return RecoveryCodesOut(recovery_codes=codes)
