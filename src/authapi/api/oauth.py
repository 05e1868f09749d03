"""`/auth/oauth/{provider}/*`: sign in with an OpenID Connect provider: browser redirects, and
native apps' id_tokens.

The flow is in authapi.services.oidc_signin; this module turns its outcomes
into redirects and cookies.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Form, Path, Query
from fastapi.responses import JSONResponse, RedirectResponse

from authapi.api.auth import TOKEN_RESPONSE_DOC
from authapi.api.cookies import (
    NO_STORE,
    OAUTH_COOKIE,
    clear_oauth_cookie,
    set_oauth_cookie,
)
from authapi.api.delivery import give, token_response
from authapi.api.deps import OidcSignIns, ResourcesDep, SettingsDep
from authapi.errors import (
    BODY_ERRORS,
    AccountDisabled,
    AccountExists,
    EmailNotVerified,
    IdTokenRefused,
    InvalidCodeChallenge,
    InvalidCredentials,
    InvalidNotification,
    InvalidOAuthState,
    MfaRequired,
    ProviderUnavailable,
    RateLimited,
    RedirectNotAllowed,
    UnknownProvider,
    ValidationFailed,
    problems,
)
from authapi.redirects import with_outcome
from authapi.schemas import (
    Message,
    NativeSignInRequest,
    ProviderList,
    ProviderNotification,
    ProviderOut,
)
from authapi.services.oidc_signin import AppRequest, Finished

router = APIRouter(prefix="/auth/oauth", tags=["sign-in with a provider"])

ProviderName = Annotated[
    str, Path(max_length=32, description="A configured provider, e.g. `google`.")
]
QueryValue = Annotated[str | None, Query(max_length=2048)]
FormValue = Annotated[str | None, Form(max_length=2048)]


@router.get(
    "/providers",
    operation_id="list_providers",
    response_model=ProviderList,
    summary="The providers one can sign in with",
)
async def providers(resources: ResourcesDep) -> ProviderList:
    """Public: what a sign-in page shows as buttons, in the configured order."""
    return ProviderList(
        providers=[
            ProviderOut(name=name, display_name=client.config.label)
            for name, client in resources.identity_providers.items()
        ]
    )


@router.post(
    "/{provider}/id-token",
    operation_id="sign_in_with_id_token",
    responses={
        **TOKEN_RESPONSE_DOC,
        **problems(
            IdTokenRefused,
            EmailNotVerified,
            AccountExists,
            AccountDisabled,
            InvalidCredentials,
            MfaRequired,
            UnknownProvider,
            RateLimited,
            ProviderUnavailable,
            *BODY_ERRORS,
        ),
    },
    summary="Sign in with a provider's id_token (native apps)",
)
async def id_token_sign_in(
    provider: ProviderName, body: NativeSignInRequest, oidc: OidcSignIns, settings: SettingsDep
) -> JSONResponse:
    """For mobile apps that signed in with the platform's SDK (Sign in with Apple, Google
    Sign-In): the id_token is checked as the browser flow's callback checks one, with the
    provider's `audiences` (the apps' client ids) accepted, and works once. Send the raw
    `nonce` the app gave the SDK: the token must carry its SHA-256 (hex). Then the same
    account matching, second step (403 `mfa_required`) and session as the browser flow;
    the refresh token comes in the body. Throttled per IP with the provider sign-ins."""
    tokens = await oidc.native(provider, id_token=body.id_token, nonce=body.nonce)
    return token_response(tokens, delivery=body.refresh_token_delivery, settings=settings)


@router.get(
    "/{provider}/authorize",
    operation_id="start_provider_sign_in",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the provider's sign-in page; sets the `authapi_oauth` cookie."},
        **problems(
            UnknownProvider,
            RedirectNotAllowed,
            InvalidCodeChallenge,
            RateLimited,
            ValidationFailed,
            ProviderUnavailable,
        ),
    },
    summary="Start signing in with an OpenID provider",
)
async def authorize(
    provider: ProviderName,
    oidc: OidcSignIns,
    settings: SettingsDep,
    redirect_to: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="Where the browser lands afterwards: an address listed in "
            "AUTHAPI_ALLOWED_REDIRECTS (default: the first), or a native app's listed "
            "redirect (`com.example.app:/callback`, with `code_challenge`).",
        ),
    ] = None,
    code_challenge: Annotated[
        str | None,
        Query(
            max_length=128,
            description="A native app's PKCE challenge (RFC 7636, S256): the sign-in ends "
            "at `redirect_to?code=…` for `POST /auth/token` instead of in a session here.",
        ),
    ] = None,
    code_challenge_method: Annotated[
        str | None, Query(max_length=16, description="`S256` (the only one accepted).")
    ] = None,
    state: Annotated[
        str | None,
        Query(max_length=512, description="A native app's own state, handed back with the code."),
    ] = None,
) -> RedirectResponse:
    """Open this in the browser (a link or `window.location`, not `fetch`). It redirects to
    the provider with `state`, `nonce` and PKCE (S256); the provider sends the browser back
    to `/auth/oauth/{provider}/callback`, which redirects to `redirect_to`.

    Native apps (RFC 8252) open it in the system browser with their own `code_challenge`:
    the callback then sends the browser to `redirect_to?code=…&state=…`, a one-time code
    (AUTHAPI_OIDC_CODE_TTL_SECONDS) the app exchanges at `POST /auth/token`
    (`grant_type=authorization_code`, `code_verifier`, `redirect_uri`) for tokens in the
    body; no session and no cookie stay in the system browser. A private-use scheme
    redirect without a code challenge is 400 `invalid_code_challenge`."""
    app = (
        None
        if code_challenge is None and code_challenge_method is None
        else AppRequest(code_challenge, code_challenge_method, state)
    )
    started = await oidc.begin(provider, redirect_to=redirect_to, app=app)
    response = RedirectResponse(started.authorization_url, status_code=302, headers=NO_STORE)
    set_oauth_cookie(response, settings, started.browser_secret)
    return response


@router.get(
    "/{provider}/callback",
    operation_id="finish_provider_sign_in",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {
            "description": "To the `redirect_to` given at the start. Signed in: the refresh "
            "cookie is set, and the page calls `POST /auth/refresh`. Otherwise the address "
            "gets `?error=<code>`: `mfa_required` (with `#mfa_token=…&expires_in=…` for "
            "`POST /auth/login/mfa`), `access_denied`, `provider_error`, `invalid_id_token`, "
            "`email_not_verified`, `account_exists` (sign in with the password and link the "
            "provider from the account), `account_disabled`, `sign_in_interrupted` (the account "
            "changed meanwhile: start again), `identity_in_use` or `not_signed_in` (linking). "
            "After linking: `?linked=<provider>`. A native app's sign-in (started with "
            "`code_challenge`): `?code=…&state=…`."
        },
        **problems(InvalidOAuthState, ValidationFailed),
    },
    summary="The provider's redirect back (not called by applications)",
)
async def callback(
    provider: ProviderName,
    oidc: OidcSignIns,
    settings: SettingsDep,
    state: QueryValue = None,
    code: QueryValue = None,
    error: QueryValue = None,
    iss: QueryValue = None,
    browser_secret: Annotated[str | None, Cookie(alias=OAUTH_COOKIE, max_length=128)] = None,
) -> RedirectResponse:
    """400 `invalid_oauth_state` when the sign-in was not started in this browser, has
    expired (AUTHAPI_OIDC_STATE_TTL_SECONDS) or was already completed."""
    finished = await oidc.finish(
        provider, state=state, browser_secret=browser_secret, code=code, error=error, issuer=iss
    )
    response = RedirectResponse(_destination(finished), status_code=302, headers=NO_STORE)
    clear_oauth_cookie(response, settings)
    if finished.tokens is not None:
        give(response, finished.tokens, settings)
    return response


@router.post(
    "/{provider}/callback",
    operation_id="finish_provider_sign_in_form_post",
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "To the same callback as a GET, with the form's fields."},
        **problems(ValidationFailed),
    },
    summary="The provider's form_post back (not called by applications)",
)
async def form_post_callback(
    provider: ProviderName,
    state: FormValue = None,
    code: FormValue = None,
    error: FormValue = None,
    iss: FormValue = None,
    user: FormValue = None,
) -> RedirectResponse:
    """A provider with `response_mode: form_post` (Sign in with Apple) POSTs its answer
    from its own site, a cross-site request on which the `authapi_oauth` cookie
    (SameSite=Lax) is not sent. This answers with a 303 to the GET callback on this
    site, a top-level navigation on which the cookie is sent, so the state is bound to
    the browser exactly as in the query mode. `user` (the name Apple sends on the
    first sign-in) is read and dropped: authapi keeps no names."""
    del user
    fields = {"state": state, "code": code, "error": error, "iss": iss}
    query = urlencode({name: value for name, value in fields.items() if value is not None})
    target = f"/auth/oauth/{provider}/callback" + (f"?{query}" if query else "")
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


@router.post(
    "/{provider}/notifications",
    operation_id="receive_provider_notification",
    response_model=Message,
    responses=problems(InvalidNotification, UnknownProvider, ProviderUnavailable, *BODY_ERRORS),
    summary="The provider's server-to-server notifications (Sign in with Apple)",
)
async def provider_notification(
    provider: ProviderName, body: ProviderNotification, oidc: OidcSignIns
) -> Message:
    """Configure this address as Apple's "Server-to-Server Notification Endpoint". A
    `consent-revoked` or `account-delete` notification for a linked account ends its
    sessions and removes the link (consent revoked on the account's last way in keeps the
    link); others are recorded. Each notification is acted on once. 404 for a provider
    without notifications."""
    outcome = await oidc.notification(provider, body.payload)
    return Message(detail=outcome or "no account is linked to this subject")


def _destination(finished: Finished) -> str:
    if finished.failure is not None:
        return with_outcome(finished.redirect_to, query={"error": finished.failure.value})
    if finished.mfa is not None:
        # the fragment never reaches a server log or a Referer header
        return with_outcome(
            finished.redirect_to,
            query={"error": finished.mfa.code},
            fragment={
                "mfa_token": finished.mfa.extra["mfa_token"],
                "expires_in": str(finished.mfa.extra["expires_in"]),
            },
        )
    if finished.linked is not None:
        return with_outcome(finished.redirect_to, query={"linked": finished.linked})
    if finished.code is not None:
        answer = {"code": finished.code}
        if finished.state is not None:
            answer["state"] = finished.state
        return with_outcome(finished.redirect_to, query=answer)
    return finished.redirect_to
