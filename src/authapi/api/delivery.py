"""Where the refresh token travels: the one seam every route goes through to read it
from a request, to give a new one, and to take the browser's copy away.

- "cookie" (browsers): the HttpOnly refresh cookie (authapi.api.cookies); a request it
  authenticates must pass the CSRF rule there.
- "body" (native apps and servers): `refresh_token` in the JSON, both ways.

A token in the body wins over a cookie sent along, and a refresh answers the way its
token came: a browser never finds a refresh token in a body, an app never gets a cookie
it cannot use. Sign-ins choose with `refresh_token_delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from authapi.api.cookies import (
    NO_STORE,
    check_csrf,
    clear_refresh_cookie,
    set_refresh_cookie,
)
from authapi.api.deps import SettingsDep
from authapi.schemas import Delivery, LogoutRequest, TokenResponse
from authapi.services.sessions import IssuedTokens
from authapi.settings import Settings


@dataclass(frozen=True)
class PresentedRefresh:
    token: str | None
    delivery: Delivery  # how it came, and so how its successor goes


def read(request: Request, settings: Settings, body_token: str | None) -> PresentedRefresh:
    """The refresh token a request presents. Raises: CsrfFailed (a cookie without the
    CSRF header, or from an origin that is not allowed)."""
    if body_token is not None:
        return PresentedRefresh(token=body_token, delivery="body")
    cookie = request.cookies.get(settings.refresh_cookie_name)
    if cookie is None:
        return PresentedRefresh(token=None, delivery="body")
    check_csrf(request, settings)
    return PresentedRefresh(token=cookie, delivery="cookie")


async def refresh_for_logout(
    request: Request, settings: SettingsDep, body: LogoutRequest | None = None
) -> PresentedRefresh:
    return read(request, settings, body.refresh_token if body else None)


RefreshToEnd = Annotated[PresentedRefresh, Depends(refresh_for_logout)]


def give(response: Response, tokens: IssuedTokens, settings: Settings) -> None:
    """Hand a browser its new refresh token (the cookie), e.g. on a redirect."""
    set_refresh_cookie(response, settings, tokens.refresh.value, tokens.refresh_expires_at)


def token_response(tokens: IssuedTokens, *, delivery: Delivery, settings: Settings) -> JSONResponse:
    """The tokens of a sign-in or a refresh, the refresh token delivered as asked."""
    body = TokenResponse(
        access_token=tokens.access.token,
        expires_in=tokens.access.expires_in,
        refresh_token=tokens.refresh.value if delivery == "body" else None,
    )
    response = JSONResponse(body.model_dump(exclude_none=True), headers=NO_STORE)
    if delivery == "cookie":
        give(response, tokens, settings)
    return response


def take_away(response: Response, settings: Settings) -> None:
    """The session ended: the browser's copy goes (harmless for an app, which has none)."""
    clear_refresh_cookie(response, settings)
