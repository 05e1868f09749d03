"""The cookies: the refresh cookie, the CSRF rule for requests it authenticates, and the
OpenID sign-in cookie. Which routes use the refresh cookie, and when the token goes in
the body instead, is authapi.api.delivery's.

Cookie: HttpOnly; Secure (unless turned off for plain-http development);
SameSite=Strict; Path=/auth, so it only travels to the endpoints that use it.

The OpenID sign-in cookie (`authapi_oauth`) binds a sign-in's state to the
browser that started it: HttpOnly, Path=/auth/oauth, as long as the state
lives, and SameSite=Lax, because the provider's redirect back to the callback
is a cross-site navigation, on which a Strict cookie would not be sent.

The passkey cookie (`authapi_passkey`) binds a passkey sign-in's challenge to the
browser that asked for it: HttpOnly, SameSite=Strict (the options and the answer are
both this site's own requests), Path=/auth/passkeys, as long as the challenge lives.

CSRF: a request authenticated by the cookie (refresh, logout) must carry
`X-Requested-With` (any value: a cross-site page cannot add it without a CORS
preflight, which only allowed origins pass) and, when the browser sends
`Origin`, an allowed origin. A request that brings its token in the body needs
neither: a cross-site page cannot know the token.
"""

from __future__ import annotations

import time
from typing import Literal

from fastapi import Request, Response

from authapi.errors import CsrfFailed
from authapi.settings import Settings

COOKIE_PATH = "/auth"
OAUTH_COOKIE = "authapi_oauth"
OAUTH_COOKIE_PATH = "/auth/oauth"
PASSKEY_COOKIE = "authapi_passkey"
PASSKEY_COOKIE_PATH = "/auth/passkeys"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def check_csrf(request: Request, settings: Settings) -> None:
    """Raises: CsrfFailed."""
    if "x-requested-with" not in request.headers:
        raise CsrfFailed()
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() not in settings.csrf_allowed_origins:
        raise CsrfFailed()


def missing_cookie_detail(request: Request, settings: Settings) -> str:
    """What a refresh without any token is told: why, when the page is on another site."""
    origin = (request.headers.get("origin") or "").lower()
    if origin in settings.cross_site_origins:
        return (
            f"No refresh cookie came with this request: {origin} is another site than this "
            "API, and browsers withhold the cookie from it. Serve the app and the API on one "
            "site, or proxy the API through the app's server."
        )
    return 'Send the refresh cookie or {"refresh_token": …}.'


# every cookie here is HttpOnly, and Secure unless the public URL is plain http
SameSite = Literal["strict", "lax"]


def _set(
    response: Response,
    settings: Settings,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str,
    samesite: SameSite,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=settings.effective_cookie_secure,
        httponly=True,
        samesite=samesite,
    )


def _clear(
    response: Response, settings: Settings, name: str, *, path: str, samesite: SameSite
) -> None:
    response.delete_cookie(
        name, path=path, secure=settings.effective_cookie_secure, httponly=True, samesite=samesite
    )


def set_refresh_cookie(
    response: Response, settings: Settings, token: str, expires_at: float
) -> None:
    max_age = max(0, int(expires_at - time.time()))
    _set(
        response,
        settings,
        settings.refresh_cookie_name,
        token,
        max_age=max_age,
        path=COOKIE_PATH,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, settings: Settings) -> None:
    _clear(response, settings, settings.refresh_cookie_name, path=COOKIE_PATH, samesite="strict")


def set_oauth_cookie(response: Response, settings: Settings, browser_secret: str) -> None:
    max_age = settings.oidc_state_ttl_seconds
    _set(
        response,
        settings,
        OAUTH_COOKIE,
        browser_secret,
        max_age=max_age,
        path=OAUTH_COOKIE_PATH,
        samesite="lax",
    )


def clear_oauth_cookie(response: Response, settings: Settings) -> None:
    _clear(response, settings, OAUTH_COOKIE, path=OAUTH_COOKIE_PATH, samesite="lax")


def set_passkey_cookie(response: Response, settings: Settings, browser_secret: str) -> None:
    max_age = settings.passkey_challenge_ttl_seconds
    _set(
        response,
        settings,
        PASSKEY_COOKIE,
        browser_secret,
        max_age=max_age,
        path=PASSKEY_COOKIE_PATH,
        samesite="strict",
    )


def clear_passkey_cookie(response: Response, settings: Settings) -> None:
    _clear(response, settings, PASSKEY_COOKIE, path=PASSKEY_COOKIE_PATH, samesite="strict")
