"""`/auth/*`: registration, sign-in, tokens, sessions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse

from authapi.api import delivery
from authapi.api.cookies import NO_STORE, missing_cookie_detail
from authapi.api.delivery import RefreshToEnd, take_away, token_response
from authapi.api.deps import (
    FORM_BODY_REQUIRED,
    FORM_ENCODED_HINT,
    FORM_URLENCODED,
    Accounts,
    CurrentPrincipal,
    Mfa,
    OidcSignIns,
    OptionalPrincipal,
    Refreshes,
    Sessions,
    SettingsDep,
    form_encoded,
    request_client,
)
from authapi.api.direct import (
    INTROSPECTION_SECURITY,
    direct_route,
    documented_body,
    form_parameter,
    json_body,
)
from authapi.errors import (
    BEARER_ERRORS,
    BODY_ERRORS,
    AccountDisabled,
    CsrfFailed,
    EmailNotVerified,
    EmailTaken,
    InvalidAuthorizationCode,
    InvalidCredentials,
    InvalidEmailToken,
    InvalidMfaCode,
    InvalidMfaToken,
    InvalidRefreshToken,
    MfaRequired,
    OAuthError,
    PayloadTooLarge,
    RateLimited,
    RefreshTokenReused,
    ServiceUnavailable,
    SessionNotFound,
    ValidationFailed,
    WeakPassword,
    oauth_problems,
    problems,
)
from authapi.resources import Resources
from authapi.schemas import (
    ForgotPasswordRequest,
    IntrospectionRequest,
    IntrospectionResponse,
    LoginRequest,
    Message,
    MfaLoginRequest,
    RefreshRequest,
    RegisterRequest,
    ResendVerificationRequest,
    ResetPasswordRequest,
    SessionList,
    SessionOut,
    TokenResponse,
    VerifyEmailRequest,
    normalize_email,
    reject_control_characters,
)
from authapi.services import wiring
from authapi.services.signin import second_factor_passed, sign_in_with_password

router = APIRouter(prefix="/auth", tags=["auth"])

REGISTER_ACCEPTED = (
    "If this address can be registered, we have sent an email to it. "
    "Follow the link in it to confirm the address."
)
RESEND_ACCEPTED = "If this address has an unconfirmed account, we have sent a new link to it."
FORGOT_ACCEPTED = "If this address has an account, we have sent a link to reset its password."
INTROSPECTION_EXAMPLES = {
    "live_access_token": {
        "summary": "A live access token",
        "value": {
            "active": True,
            "token_type": "access_token",
            "sub": "0b9f6c1e-6a43-4e55-9d3c-2f1f7c9c2a10",
            "sid": "5d0c8f3a-1e7b-4c52-a0a4-7b6c1f8e9d21",
            "exp": 1765012200,
            "iat": 1765011300,
            "nbf": 1765011300,
            "iss": "https://auth.example.com",
            "aud": "authapi",
            "client_id": "authapi",
            "jti": "3f1c9a7e5b2d4c60a8e1f4b7d9c2e5a0",
        },
    },
    "not_live": {
        "summary": "Expired, revoked, rotated, unknown or malformed: nothing more is said",
        "value": {"active": False},
    },
}
TOKEN_RESPONSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {"model": TokenResponse, "description": "Tokens (`Cache-Control: no-store`)."}
}


@router.post(
    "/register",
    operation_id="register",
    status_code=202,
    response_model=Message,
    responses=problems(WeakPassword, RateLimited, *BODY_ERRORS),
    summary="Create an account",
)
async def register(body: RegisterRequest, accounts: Accounts) -> Message:
    """Always 202 with the same body, whether or not the address has an account.
    A new address gets a verification link; an existing one gets a notice."""
    await accounts.register(body.email, body.password)
    return Message(detail=REGISTER_ACCEPTED)


@router.post(
    "/verify-email",
    operation_id="verify_email",
    response_model=Message,
    responses=problems(InvalidEmailToken, EmailTaken, *BODY_ERRORS),
    summary="Confirm an email address",
)
async def verify_email(body: VerifyEmailRequest, accounts: Accounts) -> Message:
    await accounts.verify_email(body.token)
    return Message(detail="Your email address is confirmed.")


@router.post(
    "/verify-email/resend",
    operation_id="resend_verification_email",
    status_code=202,
    response_model=Message,
    responses=problems(RateLimited, *BODY_ERRORS),
    summary="Send a new verification link",
)
async def resend_verification(body: ResendVerificationRequest, accounts: Accounts) -> Message:
    """Always 202 with the same body (or 429 when throttled, the same for every address)."""
    await accounts.resend_verification(body.email)
    return Message(detail=RESEND_ACCEPTED)


@router.post(
    "/forgot-password",
    operation_id="forgot_password",
    status_code=202,
    response_model=Message,
    responses=problems(RateLimited, *BODY_ERRORS),
    summary="Email a password-reset link",
)
async def forgot_password(body: ForgotPasswordRequest, accounts: Accounts) -> Message:
    """Always 202 with the same body, in the same time, whether or not the address has an
    account (429 when throttled, the same for every address). The link is built from
    AUTHAPI_PUBLIC_URL and works once, for an hour; a newer link voids older ones."""
    await accounts.request_password_reset(body.email)
    return Message(detail=FORGOT_ACCEPTED)


@router.post(
    "/reset-password",
    operation_id="reset_password",
    response_model=Message,
    responses=problems(InvalidEmailToken, WeakPassword, *BODY_ERRORS),
    summary="Set a new password with a reset link",
)
async def reset_password(body: ResetPasswordRequest, accounts: Accounts) -> Message:
    """Signs out every session; two-factor authentication stays as it was."""
    await accounts.reset_password(body.token, body.new_password)
    return Message(detail="Your password has been reset. Sign in with the new one.")


@router.post(
    "/login",
    operation_id="login",
    responses={
        **TOKEN_RESPONSE_DOC,
        **problems(
            InvalidCredentials,
            EmailNotVerified,
            AccountDisabled,
            MfaRequired,
            RateLimited,
            *BODY_ERRORS,
        ),
    },
    summary="Sign in with email and password",
)
async def login(
    body: LoginRequest, accounts: Accounts, mfa: Mfa, sessions: Sessions, settings: SettingsDep
) -> JSONResponse:
    """Browsers get the refresh token as an httpOnly cookie (`refresh_token_delivery: "cookie"`,
    the default); native apps ask for it in the body. With two-factor authentication on,
    the answer is 403 `mfa_required` with an `mfa_token` for `/auth/login/mfa`.
    Attempts are throttled per IP, per address and per both (429 with `Retry-After`,
    the same for every address, whatever the password)."""
    tokens = await sign_in_with_password(
        accounts, mfa, sessions, email=body.email, password=body.password
    )
    return token_response(tokens, delivery=body.refresh_token_delivery, settings=settings)


@router.post(
    "/login/mfa",
    operation_id="complete_mfa",
    responses={
        **TOKEN_RESPONSE_DOC,
        **problems(InvalidMfaToken, InvalidMfaCode, AccountDisabled, RateLimited, *BODY_ERRORS),
    },
    summary="Complete a sign-in with a second factor",
)
async def login_mfa(
    body: MfaLoginRequest, mfa: Mfa, sessions: Sessions, settings: SettingsDep
) -> JSONResponse:
    """Takes the `mfa_token` of a 403 `mfa_required` answer and a code from the
    authenticator app (or a recovery code). A wrong code spends one of the challenge's
    attempts (401 `invalid_mfa_code`); when they are used up, or the challenge has
    expired, the answer is 401 `invalid_mfa_token` and the sign-in starts again."""
    tokens = await second_factor_passed(mfa, sessions, mfa_token=body.mfa_token, code=body.code)
    return token_response(tokens, delivery=body.refresh_token_delivery, settings=settings)


@router.post(
    "/token",
    operation_id="oauth_token",
    dependencies=[Depends(form_encoded)],
    openapi_extra=FORM_BODY_REQUIRED,
    responses={
        **TOKEN_RESPONSE_DOC,
        **oauth_problems(
            (400, "invalid_request", "The grant_type parameter is missing."),
            (400, "invalid_request", FORM_ENCODED_HINT),
            (400, "invalid_grant", "The email or password is incorrect.", "invalid_credentials"),
            (400, "invalid_grant", InvalidRefreshToken.default_detail, "invalid_refresh_token"),
            (
                400,
                "invalid_grant",
                InvalidAuthorizationCode.default_detail,
                "invalid_authorization_code",
            ),
            (
                400,
                "unsupported_grant_type",
                "Use grant_type=password, refresh_token or authorization_code.",
            ),
            (403, "mfa_required", MfaRequired.default_detail),
        ),
        **problems(PayloadTooLarge, RateLimited, ServiceUnavailable),
    },
    summary="OAuth 2.0 token endpoint (password, refresh_token and authorization_code grants)",
)
async def token(
    accounts: Accounts,
    mfa: Mfa,
    sessions: Sessions,
    oidc: OidcSignIns,
    refresher: Refreshes,
    settings: SettingsDep,
    grant_type: Annotated[str | None, Form()] = None,
    username: Annotated[str | None, Form(description="Your email address.")] = None,
    password: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form(description="Ignored: tokens carry no scopes.")] = None,
    client_id: Annotated[
        str | None, Form(description="Ignored: first-party public client.")
    ] = None,
    code: Annotated[
        str | None, Form(description="authorization_code: the code a native app was sent.")
    ] = None,
    code_verifier: Annotated[
        str | None, Form(description="authorization_code: the verifier of its code_challenge.")
    ] = None,
    redirect_uri: Annotated[
        str | None, Form(description="authorization_code: the `redirect_to` it was sent to.")
    ] = None,
) -> JSONResponse:
    """RFC 6749 §4.3 and §6, form-encoded, answered in the §5.1/§5.2 shapes. This is
    what the Authorize button of these docs uses. The refresh token is always in the body.
    `authorization_code` (§4.1.3 with RFC 7636) exchanges a native app's code from a
    provider sign-in in the system browser (see `/auth/oauth/{provider}/authorize`).
    With two-factor authentication on, the password grant answers 403
    `{"error": "mfa_required", "mfa_token": …}`; complete it at `/auth/login/mfa`."""
    try:
        if grant_type == "password":
            email, secret = _required(username, "username"), _required(password, "password")
            try:
                email = normalize_email(email)
            except ValueError:
                raise InvalidCredentials() from None
            tokens = await sign_in_with_password(
                accounts, mfa, sessions, email=email, password=secret
            )
        elif grant_type == "refresh_token":
            if not refresh_token:
                raise OAuthError("invalid_request", "The refresh_token parameter is missing.")
            tokens = await refresher.refresh(refresh_token)  # anything but ours: invalid_grant
        elif grant_type == "authorization_code":
            tokens = await oidc.exchange_code(
                _required(code, "code"),
                verifier=_required(code_verifier, "code_verifier"),
                redirect_uri=_required(redirect_uri, "redirect_uri"),
            )
        elif grant_type is None:
            raise OAuthError("invalid_request", "The grant_type parameter is missing.")
        else:
            raise OAuthError(
                "unsupported_grant_type",
                "Use grant_type=password, refresh_token or authorization_code.",
            )
    except (
        InvalidCredentials,
        InvalidRefreshToken,
        InvalidAuthorizationCode,
        EmailNotVerified,
        AccountDisabled,
    ) as exc:
        raise OAuthError.invalid_grant(exc) from None
    except MfaRequired as exc:
        raise OAuthError.mfa_required(exc) from None
    return token_response(tokens, delivery="body", settings=settings)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise OAuthError("invalid_request", f"The {name} parameter is missing.")
    try:
        return reject_control_characters(value)
    except ValueError:
        raise OAuthError("invalid_request", f"The {name} parameter is malformed.") from None


@direct_route(
    router,
    "/refresh",
    method="POST",
    operation_id="refresh",
    responses={
        **TOKEN_RESPONSE_DOC,
        **problems(InvalidRefreshToken, RefreshTokenReused, CsrfFailed, RateLimited, *BODY_ERRORS),
    },
    summary="Rotate the refresh token",
    openapi_extra=documented_body(RefreshRequest, "application/json", required=False),
)
async def refresh(request: Request) -> JSONResponse:
    """From the cookie (browsers; needs `X-Requested-With`) or `{refresh_token}` (native apps).
    Concurrent refreshes with one token converge on one successor; replaying an older
    token revokes the session (`refresh_token_reused`)."""
    # a hot path (authapi.api.direct): the parts are taken here
    resources: Resources = request.app.state.resources
    settings = resources.settings
    body = await json_body(request, RefreshRequest)
    presented = delivery.read(request, settings, body.refresh_token if body else None)
    if presented.token is None:
        raise InvalidRefreshToken(missing_cookie_detail(request, settings))
    refresher = wiring.refresher(resources, lambda: request_client(request, settings))
    tokens = await refresher.refresh(presented.token)
    return token_response(tokens, delivery=presented.delivery, settings=settings)


@router.post(
    "/logout",
    operation_id="logout",
    status_code=204,
    response_class=Response,
    responses=problems(CsrfFailed, *BODY_ERRORS),
    summary="End this session",
)
async def logout(
    presented: RefreshToEnd, principal: OptionalPrincipal, sessions: Sessions, settings: SettingsDep
) -> Response:
    """Ends the session named by the refresh cookie, `{refresh_token}`, or the bearer
    access token; clears the cookie. Idempotent: 204 even if nothing was live."""
    await sessions.logout(
        refresh_token=presented.token, access_session_id=principal.session_id if principal else None
    )
    response = Response(status_code=204, headers=NO_STORE)
    take_away(response, settings)
    return response


@router.post(
    "/logout-all",
    operation_id="logout_everywhere",
    status_code=204,
    response_class=Response,
    responses=problems(*BEARER_ERRORS),
    summary="End every session of this account",
)
async def logout_all(
    principal: CurrentPrincipal, sessions: Sessions, settings: SettingsDep
) -> Response:
    await sessions.end_all(principal.user_id)
    response = Response(status_code=204, headers=NO_STORE)
    take_away(response, settings)
    return response


@router.get(
    "/sessions",
    operation_id="list_sessions",
    response_model=SessionList,
    responses=problems(*BEARER_ERRORS),
    summary="List this account's active sessions",
)
async def list_sessions(principal: CurrentPrincipal, sessions: Sessions) -> SessionList:
    views = await sessions.list_active(principal.user_id, current_session_id=principal.session_id)
    return SessionList(
        sessions=[SessionOut.model_validate(view, from_attributes=True) for view in views]
    )


@router.delete(
    "/sessions/{session_id}",
    operation_id="revoke_session",
    status_code=204,
    response_class=Response,
    responses=problems(*BEARER_ERRORS, SessionNotFound, ValidationFailed, ServiceUnavailable),
    summary="End one of this account's sessions",
)
async def revoke_session(
    session_id: uuid.UUID, principal: CurrentPrincipal, sessions: Sessions
) -> Response:
    await sessions.revoke_own(principal.user_id, session_id)
    return Response(status_code=204)


@direct_route(
    router,
    "/introspect",
    method="POST",
    operation_id="introspect_token",
    openapi_extra={
        **documented_body(IntrospectionRequest, FORM_URLENCODED, required=True),
        **INTROSPECTION_SECURITY,
    },
    response_model=IntrospectionResponse,
    response_model_exclude_none=True,
    responses={
        200: {"content": {"application/json": {"examples": INTROSPECTION_EXAMPLES}}},
        **oauth_problems(
            (400, "invalid_request", "The token parameter is missing."),
            (400, "invalid_request", FORM_ENCODED_HINT),
            (401, "invalid_client", OAuthError.invalid_client().description),
        ),
        **problems(PayloadTooLarge, ServiceUnavailable),
    },
    summary="OAuth 2.0 token introspection (RFC 7662), for resource servers",
)
async def introspect(request: Request) -> JSONResponse:
    """`{"active": false}` for anything that is not live now (expired, revoked, rotated,
    unknown, malformed); otherwise the token's claims. Revocation shows at once."""
    # a hot path (authapi.api.direct): the client's header and the form are read here
    introspection = wiring.introspection(request.app.state.resources)
    introspection.authenticate(request.headers.get("authorization"))  # before all else
    token = await form_parameter(request, "token")
    if token is None:  # `token=` (empty) is a token, and not active
        raise OAuthError("invalid_request", "The token parameter is missing.")
    return JSONResponse(await introspection.introspect(token), headers=NO_STORE)


@router.post(
    "/revoke",
    operation_id="revoke_token",
    dependencies=[Depends(form_encoded)],
    openapi_extra=FORM_BODY_REQUIRED,
    response_class=Response,
    responses={
        200: {"description": "Revoked, or nothing to revoke."},
        **oauth_problems(
            (400, "invalid_request", "The token parameter is missing."),
            (400, "invalid_request", FORM_ENCODED_HINT),
        ),
        **problems(PayloadTooLarge, ServiceUnavailable),
    },
    summary="OAuth 2.0 token revocation (RFC 7009)",
)
async def revoke(
    sessions: Sessions,
    token: Annotated[str | None, Form(description="A refresh token or an access token.")] = None,
    token_type_hint: Annotated[
        str | None, Form(description="Ignored: either kind of token is recognised by its form.")
    ] = None,
) -> Response:
    """Ends the session of a refresh token or of an access token. Answers 200 for
    unknown and invalid tokens too, as RFC 7009 §2.2 asks."""
    await sessions.revoke_token(_required(token, "token"))
    return Response(status_code=200, headers=NO_STORE)
