"""Domain errors and their one rendering: RFC 9457 problem+json with a stable `code`.

Services raise these; `install_error_handlers` renders every one of them, plus
FastAPI's validation errors and Starlette's HTTP errors, the same way. No route
builds an error body by hand, and no error body ever echoes the input.

    AuthError                       500 internal_error
    ├── MalformedRequest            400 malformed_request
    ├── InvalidEmailToken           400 invalid_token
    ├── InvalidPasskeyChallenge     400 invalid_passkey_challenge
    ├── PasskeyRefused              400 passkey_refused
    ├── InvalidCodeChallenge        400 invalid_code_challenge
    ├── InvalidAuthorizationCode    400 invalid_authorization_code
    ├── InvalidNotification         400 invalid_notification
    ├── RedirectNotAllowed          400 redirect_not_allowed
    ├── InvalidOAuthState           400 invalid_oauth_state
    ├── NotAuthenticated            401 not_authenticated      (bearer routes)
    ├── InvalidAccessToken          401 invalid_token          (bearer routes)
    │   └── AccessTokenExpired      401 token_expired          (bearer routes)
    ├── ReauthenticationRequired    401 reauthentication_required
    ├── InvalidCredentials          401 invalid_credentials
    ├── InvalidRefreshToken         401 invalid_refresh_token
    │   └── RefreshTokenReused      401 refresh_token_reused
    ├── InvalidMfaToken             401 invalid_mfa_token
    ├── InvalidMfaCode              401 invalid_mfa_code
    ├── InvalidPasskey              401 invalid_passkey
    ├── IdTokenRefused              401 invalid_id_token
    ├── EmailNotVerified            403 email_not_verified
    ├── MfaRequired                 403 mfa_required           (carries the mfa_token)
    ├── AccountDisabled             403 account_disabled
    ├── CsrfFailed                  403 csrf_failed
    ├── NotFound                    404 not_found
    │   ├── SessionNotFound         404 session_not_found
    │   ├── UnknownProvider         404 unknown_provider
    │   ├── IdentityNotFound        404 identity_not_found
    │   ├── PasskeyNotFound         404 passkey_not_found
    │   └── PasskeysOff             404 passkeys_off
    ├── MethodNotAllowed            405 method_not_allowed
    ├── AccountExists               409 account_exists
    ├── PasskeyExists               409 passkey_exists
    ├── LastSignInMethod            409 last_sign_in_method
    ├── EmailTaken                  409 email_taken
    ├── MfaAlreadyEnabled           409 mfa_already_enabled
    ├── MfaNotEnabled               409 mfa_not_enabled
    ├── MfaSetupRequired            409 mfa_setup_required
    ├── PayloadTooLarge             413 payload_too_large
    ├── UnsupportedMediaType        415 unsupported_media_type
    ├── ValidationFailed            422 validation_error
    │   └── WeakPassword            422 weak_password
    ├── RateLimited                 429 rate_limited           (Retry-After)
    └── ServiceUnavailable          503 service_unavailable
        └── ProviderUnavailable     503 provider_unavailable

(tests/unit/test_error_tree.py draws this tree from the classes and compares.)

`/auth/token` and `/auth/revoke` speak RFC 6749 §5.2 instead: `OAuthError`
carries the OAuth `error` and renders `{error, error_description, code}`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

log = logging.getLogger("authapi.errors")

PROBLEM_JSON = "application/problem+json"
BEARER_REALM = 'Bearer realm="authapi"'


class AuthError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    default_detail: ClassVar[str] = "Something went wrong on our side."
    # fields beyond the Problem ones, for the OpenAPI example
    example_extra: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.default_detail
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            **self.extra,
        }


class MalformedRequest(AuthError):
    status, code, title = 400, "malformed_request", "Malformed request"
    default_detail = "The request body could not be read."


class InvalidEmailToken(AuthError):
    status, code, title = 400, "invalid_token", "Invalid or expired link"
    default_detail = "This link is invalid, expired or was already used."


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """RFC 6750 §3 `WWW-Authenticate` value; no error code when credentials were absent."""
    if error is None:
        return BEARER_REALM
    header = f'{BEARER_REALM}, error="{error}"'
    if description:
        header += f', error_description="{description}"'
    return header


class NotAuthenticated(AuthError):
    status, code, title = 401, "not_authenticated", "Authentication required"
    default_detail = "Send an access token in the Authorization header."


class InvalidAccessToken(AuthError):
    status, code, title = 401, "invalid_token", "Invalid access token"
    default_detail = "The access token is invalid or its session has ended."

    def __init__(self, detail: str | None = None) -> None:
        detail = detail or self.default_detail
        super().__init__(
            detail, headers={"WWW-Authenticate": bearer_challenge("invalid_token", detail)}
        )


class ReauthenticationRequired(AuthError):
    """RFC 9470 step-up: the session is too old for this change to an account without a
    password (which cannot confirm it with one)."""

    status, code, title = 401, "reauthentication_required", "Sign in again"
    default_detail = (
        "This account has no password: sign in again (through your provider) and repeat "
        "the request within 5 minutes."
    )

    def __init__(self, *, max_age: int) -> None:
        super().__init__(
            headers={
                "WWW-Authenticate": f'{BEARER_REALM}, error="insufficient_user_authentication", '
                f'error_description="A more recent sign-in is needed", max_age={max_age}'
            }
        )


class AccessTokenExpired(InvalidAccessToken):
    code, title = "token_expired", "Access token expired"
    default_detail = "The access token has expired; refresh it."


class InvalidCredentials(AuthError):
    status, code, title = 401, "invalid_credentials", "Invalid credentials"
    default_detail = "The email or password is incorrect."


class InvalidRefreshToken(AuthError):
    status, code, title = 401, "invalid_refresh_token", "Invalid refresh token"
    default_detail = "The refresh token is invalid, expired or revoked; sign in again."


class RefreshTokenReused(InvalidRefreshToken):
    code, title = "refresh_token_reused", "Refresh token reused"
    default_detail = (
        "This refresh token was already used. The session has been revoked for safety; "
        "sign in again."
    )


class InvalidMfaToken(AuthError):
    status, code, title = 401, "invalid_mfa_token", "Sign-in challenge invalid"
    default_detail = (
        "This sign-in challenge is invalid, expired, already used or out of attempts; "
        "sign in again."
    )


class InvalidMfaCode(AuthError):
    status, code, title = 401, "invalid_mfa_code", "Invalid code"
    default_detail = "The code is wrong, expired or was already used."


class EmailNotVerified(AuthError):
    status, code, title = 403, "email_not_verified", "Email not verified"
    default_detail = "Verify your email address before signing in; we can resend the link."


class MfaRequired(AuthError):
    status, code, title = 403, "mfa_required", "Second factor required"
    default_detail = (
        "The password is right; now send a code from the authenticator app (or a recovery "
        "code) with this mfa_token to /auth/login/mfa."
    )

    def __init__(self, *, mfa_token: str, expires_in: int) -> None:
        # the challenge token is a secret: no cache may keep this answer
        super().__init__(
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
            mfa_token=mfa_token,
            expires_in=expires_in,
        )


class AccountDisabled(AuthError):
    status, code, title = 403, "account_disabled", "Account disabled"
    default_detail = "This account has been disabled; contact the operator of this service."


class CsrfFailed(AuthError):
    status, code, title = 403, "csrf_failed", "Cross-site request refused"
    default_detail = (
        "Requests authenticated by the refresh cookie need the X-Requested-With header "
        "and, when Origin is sent, an allowed origin."
    )


class NotFound(AuthError):
    status, code, title = 404, "not_found", "Not found"
    default_detail = "Nothing is here."


class SessionNotFound(NotFound):
    code, title = "session_not_found", "Session not found"
    default_detail = "You have no active session with this id."


class UnknownProvider(NotFound):
    code, title = "unknown_provider", "Unknown sign-in provider"
    default_detail = "No OpenID provider of that name is configured."


class IdentityNotFound(NotFound):
    code, title = "identity_not_found", "Linked sign-in not found"
    default_detail = "Your account has no linked sign-in with this id."


class PasskeyNotFound(NotFound):
    code, title = "passkey_not_found", "Passkey not found"
    default_detail = "Your account has no passkey with this id."


class PasskeysOff(NotFound):
    code, title = "passkeys_off", "Passkeys are off"
    default_detail = (
        "This service has no relying-party id for passkeys: its public address is an IP "
        "address or plain http (set AUTHAPI_WEBAUTHN_RP_ID and AUTHAPI_WEBAUTHN_ORIGINS)."
    )


class InvalidPasskeyChallenge(AuthError):
    status, code, title = 400, "invalid_passkey_challenge", "Passkey request expired"
    default_detail = (
        "This passkey request was not started in this browser, has expired or was already "
        "used; ask for new options and try again."
    )


class PasskeyRefused(AuthError):
    status, code, title = 400, "passkey_refused", "Passkey not accepted"
    default_detail = (
        "The new passkey could not be verified (wrong site, no user verification, or a "
        "malformed credential)."
    )


class InvalidPasskey(AuthError):
    status, code, title = 401, "invalid_passkey", "Passkey not accepted"
    default_detail = "This passkey could not sign you in."


class InvalidCodeChallenge(AuthError):
    status, code, title = 400, "invalid_code_challenge", "PKCE code challenge needed"
    default_detail = (
        "A native app's redirect needs code_challenge (43 to 128 characters, base64url of "
        "the SHA-256 of your code_verifier) with code_challenge_method=S256."
    )


class InvalidAuthorizationCode(AuthError):
    status, code, title = 400, "invalid_authorization_code", "Authorization code not accepted"
    default_detail = (
        "This code is unknown, expired or already used, or the code_verifier or "
        "redirect_uri does not match the sign-in it came from; sign in again."
    )


class InvalidNotification(AuthError):
    status, code, title = 400, "invalid_notification", "Notification not accepted"
    default_detail = "This notification is not signed by the provider for this service."


class IdTokenRefused(AuthError):
    status, code, title = 401, "invalid_id_token", "id_token not accepted"
    default_detail = (
        "This id_token is not for this service, has expired, was already used, or does not "
        "carry the SHA-256 of the nonce sent with it; get a new one from the provider's SDK."
    )


class AccountExists(AuthError):
    status, code, title = 409, "account_exists", "Account exists"
    default_detail = (
        "An account with this email address exists: sign in to it, then link the provider "
        "from the account."
    )


class PasskeyExists(AuthError):
    status, code, title = 409, "passkey_exists", "Passkey already registered"
    default_detail = "This passkey is already registered."


class RedirectNotAllowed(AuthError):
    status, code, title = 400, "redirect_not_allowed", "Redirect address not allowed"
    default_detail = (
        "redirect_to must be an absolute https address listed in AUTHAPI_ALLOWED_REDIRECTS."
    )


class InvalidOAuthState(AuthError):
    status, code, title = 400, "invalid_oauth_state", "Sign-in could not be completed"
    default_detail = (
        "This sign-in was not started in this browser, has expired or was already "
        "completed; start again."
    )


class LastSignInMethod(AuthError):
    status, code, title = 409, "last_sign_in_method", "Last way to sign in"
    default_detail = (
        "This is the only way to sign in to your account; set a password (through "
        "forgot-password), add a passkey or link another provider first."
    )


class MethodNotAllowed(AuthError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"
    default_detail = "This endpoint does not accept that method."


class PayloadTooLarge(AuthError):
    status, code, title = 413, "payload_too_large", "Request body too large"
    default_detail = "The request body is larger than this service accepts."


class UnsupportedMediaType(AuthError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"
    default_detail = "Send the body as application/json."


class ValidationFailed(AuthError):
    status, code, title = 422, "validation_error", "Invalid request"
    default_detail = "Some fields are missing or invalid."


class WeakPassword(ValidationFailed):
    code, title = "weak_password", "Password not accepted"


class EmailTaken(AuthError):
    status, code, title = 409, "email_taken", "Email address in use"
    default_detail = "Another account uses this address now; the change was not made."


class MfaAlreadyEnabled(AuthError):
    status, code, title = 409, "mfa_already_enabled", "Two-factor authentication already on"
    default_detail = "Two-factor authentication is already on; turn it off first to re-enrol."


class MfaNotEnabled(AuthError):
    status, code, title = 409, "mfa_not_enabled", "Two-factor authentication is off"
    default_detail = "Two-factor authentication is not on for this account."


class MfaSetupRequired(AuthError):
    status, code, title = 409, "mfa_setup_required", "No authenticator being set up"
    default_detail = "Start with POST /auth/mfa/totp/setup, then confirm with a code."


class RateLimited(AuthError):
    status, code, title = 429, "rate_limited", "Too many requests"
    default_detail = "Too many requests; wait for the time given in Retry-After."

    def __init__(self, *, retry_after: int) -> None:
        # the wait is in the header only: the body is the same for every caller
        super().__init__(headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(AuthError):
    status, code, title = 503, "service_unavailable", "Service unavailable"
    default_detail = "A backing service is unavailable; try again shortly."

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, headers={"Retry-After": "5"}, **extra)


class ProviderUnavailable(ServiceUnavailable):
    code, title = "provider_unavailable", "Sign-in provider unavailable"
    default_detail = "The sign-in provider cannot be reached; try again shortly."


class OAuthError(Exception):
    """An RFC 6749 §5.2 error for the form-encoded OAuth endpoints."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        code: str | None = None,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.error = error
        self.description = description
        self.code = code or error
        self.status = status
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(description)

    @classmethod
    def invalid_client(cls) -> OAuthError:
        """RFC 6749 §5.2: client authentication failed; §2.3.1 Basic is the scheme."""
        return cls(
            "invalid_client",
            "Authenticate with HTTP Basic as a client listed in AUTHAPI_INTROSPECTION_CLIENTS.",
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="authapi"'},
        )

    @classmethod
    def invalid_grant(cls, exc: AuthError) -> OAuthError:
        """A refused grant (RFC 6749 §5.2), keeping our `code` for the reason."""
        return cls("invalid_grant", exc.detail, code=exc.code)

    @classmethod
    def mfa_required(cls, exc: MfaRequired) -> OAuthError:
        """The password grant's answer when a second factor is due (as Auth0 answers it)."""
        return cls("mfa_required", exc.detail, status=403, **exc.extra)


# --- OpenAPI ---------------------------------------------------------------
class Problem(BaseModel):
    """RFC 9457 problem details with a stable machine-readable `code`."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Invalid credentials"])
    status: int = Field(examples=[401])
    code: str = Field(examples=["invalid_credentials"])
    detail: str = Field(examples=["The email or password is incorrect."])


class MfaChallengeFields(BaseModel):
    """What an `mfa_required` answer adds, in problem and OAuth shape alike."""

    mfa_token: str | None = Field(
        default=None,
        description="With `mfa_required` (403) only: send it to /auth/login/mfa with a code.",
    )
    expires_in: int | None = Field(
        default=None, description="With `mfa_required` only: seconds the mfa_token lives."
    )


class OAuthProblem(MfaChallengeFields):
    """RFC 6749 §5.2 error response (plus our stable `code`)."""

    error: str = Field(description="The RFC 6749 §5.2 error code.")
    error_description: str
    code: str = Field(description="This service's stable code: `error`, or the refusal's reason.")


class MfaChallengeProblem(Problem, MfaChallengeFields):
    """A problem that may start a second-factor step (`code: mfa_required`)."""


# errors whose body carries more than the Problem fields
_MODELS: dict[type[AuthError], type[Problem]] = {MfaRequired: MfaChallengeProblem}


# What any route may answer because of what it takes, declared once for every router:
# a bearer token (missing, invalid or expired; the store unreachable), or a body
# (unparseable, invalid, too large; the database unreachable).
BEARER_ERRORS: tuple[type[AuthError], ...] = (
    NotAuthenticated,
    InvalidAccessToken,
    ServiceUnavailable,
)
BODY_ERRORS: tuple[type[AuthError], ...] = (
    MalformedRequest,
    ValidationFailed,
    PayloadTooLarge,
    ServiceUnavailable,
)


def problems(*errors: type[AuthError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: every listed error under its status, with examples."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = responses.setdefault(
            error.status,
            {
                "model": Problem,
                "description": error.title,
                "content": {PROBLEM_JSON: {"examples": {}}},
            },
        )
        if error in _MODELS:
            entry["model"] = _MODELS[error]
        if error.title not in entry["description"].split(" / "):
            entry["description"] += f" / {error.title}"
        entry["content"][PROBLEM_JSON]["examples"][error.code] = {
            "summary": error.title,
            "value": {
                "type": "about:blank",
                "title": error.title,
                "status": error.status,
                "code": error.code,
                "detail": error.default_detail,
                **error.example_extra,
            },
        }
    return responses


def oauth_problems(
    *entries: tuple[int, str, str] | tuple[int, str, str, str],
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for RFC 6749 §5.2 errors: (status, error, an example
    description[, the example's `code` when it is not the error itself])."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status, error, description, *code in entries:
        entry = responses.setdefault(
            status,
            {
                "model": OAuthProblem,
                "description": error,
                "content": {"application/json": {"examples": {}}},
            },
        )
        if error not in entry["description"]:
            entry["description"] += f", {error}"
        examples = entry["content"]["application/json"]["examples"]
        example = {"error": error, "error_description": description, "code": (code or [error])[0]}
        examples[f"{error}_{len(examples)}" if error in examples else error] = {
            "summary": description,
            "value": example,
        }
    return responses


# --- rendering ---------------------------------------------------------------
def problem_response(exc: AuthError) -> Response:
    headers = exc.headers
    if exc.status == 401 and "WWW-Authenticate" not in headers:
        # RFC 7235: every 401 names the scheme to authenticate with
        headers = {**headers, "WWW-Authenticate": bearer_challenge()}
    return JSONResponse(
        exc.body(), status_code=exc.status, headers=headers, media_type=PROBLEM_JSON
    )


def _generic_http_problem(status: int, detail: str) -> Response:
    body = {
        "type": "about:blank",
        "title": detail,
        "status": status,
        "code": "http_error",
        "detail": detail,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def oauth_error_response(exc: OAuthError) -> Response:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description, "code": exc.code, **exc.extra},
        status_code=exc.status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers},
    )


def _validation_problem(exc: RequestValidationError) -> AuthError:
    errors = []
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            return MalformedRequest("The request body is not valid JSON.")
        # Only the location and the message: the rejected input may be a password.
        errors.append(
            {"loc": [str(part) for part in item.get("loc", ())], "msg": str(item.get("msg", ""))}
        )
    return ValidationFailed(errors=errors)


_HTTP_ERRORS: dict[int, type[AuthError]] = {
    400: MalformedRequest,  # FastAPI: a body it could not decode (not UTF-8, too deeply nested)
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


HTTP_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path, asked of the routes themselves (routers
    are nested, and Starlette names only the first route's); HEAD wherever GET is."""
    methods = {
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")  # authapi.middleware.Edge
    return sorted(methods)


# Connection-level failures of PostgreSQL/SQLite or Redis (OSError covers refused
# and timed-out sockets); data errors such as IntegrityError are not among them.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> Response:
        return problem_response(exc)

    @app.exception_handler(OAuthError)
    async def _oauth_error(request: Request, exc: OAuthError) -> Response:
        return oauth_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(_validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        error_class = _HTTP_ERRORS.get(exc.status_code)
        if error_class is None:
            return _generic_http_problem(exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(error_class(headers=headers))

    for error_type in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_type, _unavailable)

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        # A connection lost in the middle of a statement (the server restarted, a proxy
        # or pg_terminate_backend closed it) surfaces as whatever the driver was doing
        # (asyncpg: "cannot switch to state 12", "connection was closed in the middle of
        # operation"); SQLAlchemy marks it, discards the connection and the pool's older
        # ones, and the next request gets a fresh one.
        if exc.connection_invalidated:
            return await _unavailable(request, exc)
        raise exc  # a real fault: answered 500 and logged by authapi.middleware.Edge

    # Anything else that escapes is answered (500, with the request id) and logged once by
    # authapi.middleware.Edge, so the connection stays open for the next request.


async def _unavailable(request: Request, exc: Exception) -> Response:
    # The exception text can carry a connection URL: log its type only, with its module,
    # which tells the services apart (sqlalchemy.exc.TimeoutError: the pool was exhausted;
    # builtins.TimeoutError: a PostgreSQL connect; redis.exceptions.TimeoutError: Redis).
    kind = type(exc)
    log.error("backing service unavailable: %s.%s", kind.__module__, kind.__qualname__)
    return problem_response(ServiceUnavailable())
