"""Request and response bodies.

Every request model forbids unknown fields, and every string goes through
`Text`, which refuses control characters (NUL included: PostgreSQL cannot store
it, and no legitimate email, password or token contains one). Emails are
normalised (NFKC, trimmed, lower-case) before validation, so lookups and the
uniqueness constraint see one spelling per address.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from authapi.errors import Problem

MAX_EMAIL_LENGTH = 254


def reject_control_characters(value: str) -> str:
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise ValueError("control characters are not allowed")
    return value


def normalize_email(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # let the str type produce the error
    value = reject_control_characters(unicodedata.normalize("NFKC", value).strip().lower())
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValueError(f"an email address has at most {MAX_EMAIL_LENGTH} characters")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


Text = Annotated[str, AfterValidator(reject_control_characters)]
EmailAddress = Annotated[
    str,
    BeforeValidator(normalize_email),
    Field(
        max_length=MAX_EMAIL_LENGTH,
        examples=["ada@example.com"],
        json_schema_extra={"format": "email"},
    ),
]
Password = Annotated[
    Text, Field(min_length=1, max_length=4096, examples=["correct horse battery staple"])
]
# A token the client was given (a refresh token, an mfa_token, an emailed link's): any
# string. Whatever is not a live token of its kind is that endpoint's own 400/401
# (`invalid_refresh_token`, …), never a 422, so a client's "start again" path works
# whatever it sends; the body-size limit bounds its length.
PresentedToken: TypeAlias = str
# what a signed-in user sends to confirm a change to their account
CurrentPassword = Annotated[
    Password | None,
    Field(
        description="The current password. An account without one (made through a provider, "
        "or with passkeys only) leaves it out and must have signed in within the last 5 minutes."
    ),
]
Delivery = Literal["cookie", "body"]
# how a sign-in's refresh token travels (authapi.api.delivery)
DeliveryChoice = Annotated[
    Delivery,
    Field(description="`cookie` (browsers: httpOnly cookie) or `body` (native apps)."),
]
IN_A_COOKIE: Delivery = "cookie"
IN_THE_BODY: Delivery = "body"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(Request):
    email: EmailAddress
    password: Password


class VerifyEmailRequest(Request):
    token: PresentedToken = Field(description="The `token` parameter of the emailed link.")


class ResendVerificationRequest(Request):
    email: EmailAddress


class ForgotPasswordRequest(Request):
    email: EmailAddress


class ResetPasswordRequest(Request):
    token: PresentedToken = Field(description="The `token` parameter of the emailed link.")
    new_password: Password


class ChangePasswordRequest(Request):
    current_password: Password
    new_password: Password


class ChangeEmailRequest(Request):
    password: CurrentPassword = None
    new_email: EmailAddress


class DeleteAccountRequest(Request):
    password: CurrentPassword = None


class LoginRequest(Request):
    email: EmailAddress
    password: Password
    refresh_token_delivery: DeliveryChoice = IN_A_COOKIE


MfaCode = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=64,
        description="Six digits from the authenticator app, or one recovery code.",
        examples=["123456"],
    ),
]


class MfaLoginRequest(Request):
    mfa_token: PresentedToken = Field(description="From the 403 `mfa_required` answer.")
    code: MfaCode
    refresh_token_delivery: DeliveryChoice = IN_A_COOKIE


class TotpSetupRequest(Request):
    password: CurrentPassword = None


class TotpConfirmRequest(Request):
    code: Annotated[
        Text,
        Field(
            min_length=1,
            max_length=64,
            description="Six digits from the authenticator app.",
            examples=["123456"],
        ),
    ]


class TotpDisableRequest(Request):
    password: CurrentPassword = None
    code: MfaCode


class RecoveryCodesRequest(Request):
    code: MfaCode


class LinkIdentityRequest(Request):
    provider: str = Field(max_length=32, examples=["google"])
    password: CurrentPassword = None
    redirect_to: Text | None = Field(
        default=None,
        max_length=2048,
        description="Where the browser lands afterwards: an AUTHAPI_ALLOWED_REDIRECTS address "
        "(default: the first).",
    )


# WebAuthn Level 3's JSON forms (base64url): py_webauthn parses and checks them
WebAuthnJSON: TypeAlias = dict[str, Any]
PasskeyName = Annotated[Text, Field(min_length=1, max_length=64, examples=["MacBook Touch ID"])]


class PasskeyRegistrationOptionsRequest(Request):
    password: CurrentPassword = None


class PasskeyRegistrationRequest(Request):
    credential: WebAuthnJSON = Field(
        description="`RegistrationResponseJSON`: the `PublicKeyCredential` from "
        "`navigator.credentials.create()`, as its `toJSON()` gives it."
    )
    name: PasskeyName | None = Field(
        default=None,
        description='How the list shows it (default: the device, e.g. "Chrome on macOS").',
    )


class PasskeySignInOptionsRequest(Request):
    email: EmailAddress | None = Field(
        default=None,
        description="Email-first sign-in: only this account's passkeys are offered. Leave it "
        "out for a discoverable sign-in (the browser lists the passkeys it has).",
    )
    mfa_token: PresentedToken | None = Field(
        default=None,
        description="A passkey as the second step of a sign-in: the `mfa_token` of the 403 "
        "`mfa_required` answer (this spends one of its attempts).",
    )


class PasskeySignInRequest(Request):
    credential: WebAuthnJSON = Field(
        description="`AuthenticationResponseJSON`: the `PublicKeyCredential` from "
        "`navigator.credentials.get()`, as its `toJSON()` gives it."
    )
    mfa_token: PresentedToken | None = Field(
        default=None, description="The same `mfa_token` as the options request, if it had one."
    )
    refresh_token_delivery: DeliveryChoice = IN_A_COOKIE


class RenamePasskeyRequest(Request):
    name: PasskeyName


class NativeSignInRequest(Request):
    id_token: PresentedToken = Field(
        description="The id_token the provider's SDK gave the app (Sign in with Apple, "
        "Google Sign-In)."
    )
    nonce: Text | None = Field(
        default=None,
        max_length=512,
        description="The raw nonce the app gave the SDK; the token carries its SHA-256 (hex).",
    )
    refresh_token_delivery: DeliveryChoice = IN_THE_BODY  # the apps' call


class ProviderNotification(BaseModel):
    """Apple's notification body (its own shape: extra fields are ignored)."""

    payload: str = Field(max_length=16384, description="A JWT the provider signs.")


class RefreshRequest(Request):
    refresh_token: PresentedToken | None = Field(
        default=None,
        description="Native apps send the token here; browsers send the cookie instead.",
    )


class LogoutRequest(Request):
    refresh_token: PresentedToken | None = None


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int = Field(description="Seconds until the access token expires.", examples=[900])
    refresh_token: str | None = Field(default=None, description="Only with body delivery.")


class IntrospectionRequest(BaseModel):
    """RFC 7662 §2.1, form-encoded."""

    token: str | None = Field(default=None, description="An access token or a refresh token.")
    token_type_hint: str | None = Field(
        default=None, description="Ignored: either kind of token is recognised by its form."
    )


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2. Only `active` when the token is not live."""

    active: bool
    token_type: Literal["access_token", "refresh_token"] | None = None
    sub: str | None = Field(default=None, description="The user id.")
    sid: str | None = Field(default=None, description="The session id.")
    iat: int | None = None
    exp: int | None = None
    nbf: int | None = None
    iss: str | None = None
    aud: str | None = None
    client_id: str | None = None
    jti: str | None = None


class Message(BaseModel):
    detail: str


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    email_verified: bool
    mfa_enabled: bool
    has_password: bool = Field(
        description="False for accounts made through a provider until a password is set "
        "(POST /auth/forgot-password)."
    )
    created_at: datetime


class TotpSetupOut(BaseModel):
    secret: str = Field(
        description="Base32 secret, for entering by hand when the QR code cannot be scanned."
    )
    otpauth_uri: str = Field(
        description="The `otpauth://totp/…` URI (Key URI Format): what the QR code holds.",
        examples=["otpauth://totp/authapi:ada%40example.com?secret=…&issuer=authapi"],
    )
    qr_code: str = Field(
        description="The URI as a QR code: an SVG `data:` URI, usable as an `<img src>`."
    )


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="Ten single-use codes, shown only now; each signs in once instead of a "
        "TOTP code.",
        examples=[["7kqm-2x9p-4hzt-b3wd"]],
    )


class MfaStatusOut(BaseModel):
    totp_enabled: bool
    recovery_codes_remaining: int


class EventOut(BaseModel):
    id: int
    type: str = Field(examples=["login_succeeded"])
    created_at: datetime
    session_id: uuid.UUID | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any] | None = Field(
        description="E.g. the sign-in `method`, a failure's `reason`, a `provider`."
    )


class EventPage(BaseModel):
    events: list[EventOut]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime = Field(description="When the session ends unless it is used again.")
    ip: str | None
    user_agent: str | None
    current: bool = Field(description="The session of the access token making this request.")


class IdentityOut(BaseModel):
    id: uuid.UUID
    provider: str = Field(examples=["google"])
    email: str | None = Field(description="The address the provider gave at the last sign-in.")
    created_at: datetime
    last_used_at: datetime | None


class PasskeyOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(
        description="Synced to a passkey provider (iCloud Keychain, Google Password Manager, "
        "…) and so usable on the owner's other devices."
    )


class PasskeyList(BaseModel):
    passkeys: list[PasskeyOut]


class IdentityList(BaseModel):
    identities: list[IdentityOut]


class ProviderOut(BaseModel):
    name: str = Field(description="The `{provider}` of `/auth/oauth/{provider}/authorize`.")
    display_name: str = Field(description="What a sign-in button says, e.g. `Google`.")


class ProviderList(BaseModel):
    providers: list[ProviderOut]


class AuthorizationUrl(BaseModel):
    authorization_url: str = Field(
        description="Send the browser here (a top-level navigation) to finish linking."
    )


class SessionList(BaseModel):
    sessions: list[SessionOut]


class Health(BaseModel):
    status: Literal["ok"]


CheckResult = Literal["ok", "unavailable"]


class Readiness(BaseModel):
    status: Literal["ok"]
    checks: dict[str, CheckResult]


class Unready(Problem):
    """503 from /readyz: a problem naming the failed dependencies."""

    checks: dict[str, CheckResult]


class JWKS(BaseModel):
    keys: list[dict[str, Any]]


class ServerMetadata(BaseModel):
    """RFC 8414 authorization server metadata."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    grant_types_supported: list[str]
    response_types_supported: list[str] = Field(
        description="`none`: this service has no authorization endpoint of its own (RFC 8414 "
        "requires the member; `none` is the registered value that promises no credential)."
    )
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    service_documentation: str
