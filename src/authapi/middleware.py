"""Pure ASGI middleware: security headers on every response, HEAD on GET routes, the
answer to an unexpected error, the body size limit, and the cross-site notice.

`Cache-Control: no-store` unless a route chose its own (JWKS and metadata are
cacheable): almost everything this service says is about a user or carries a
token. nosniff, no referrer, no framing; HSTS when the public URL is https. An
HTML page without a policy of its own (the API docs; the account pages bring a
stricter one) gets a Content-Security-Policy that allows scripts and
styles from this origin only, plus, by their SHA-256, the inline scripts of that
very page, so nothing injected into it could run. `SecurityHeaders` wraps CORS
and the size limit, so CORS answers and early 413s carry the headers too.

`LastResort`, just inside it, answers an exception that nothing handled (a bug) as
a problem+json 500, logged once with the request id: the app then returns
normally, so the server keeps the connection open, and the answer carries the
same headers and `X-Request-ID` (added further out) as any other.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authapi.errors import AuthError, PayloadTooLarge, problem_response
from authapi.logs import route_of

log = logging.getLogger("authapi.errors")
log_sites = logging.getLogger("authapi.sites")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


# two years, the value hstspreload.org asks for; subdomains of the service's own host only
HSTS = "max-age=63072000; includeSubDomains"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.I | re.S)


def page_policy(page: bytes) -> str:
    """The Content-Security-Policy of an HTML page: this origin, and its own inline scripts.

    (Swagger UI sets style attributes from its scripts, hence styles' 'unsafe-inline': a
    style cannot run code.)"""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return PAGE_POLICY.format(scripts=hashes)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page_start: Message | None = None  # an HTML answer, held until its body is whole
        page: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal page_start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "no-store")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                html = headers.get("content-type", "").startswith("text/html")
                if html and "content-security-policy" not in headers:  # else the route chose
                    page_start = message
                    return
            elif page_start is not None and message["type"] == "http.response.body":
                page.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(page)
                MutableHeaders(scope=page_start)["Content-Security-Policy"] = page_policy(body)
                await send(page_start)
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LastResort:
    """A problem+json 500 for an exception that escapes the app (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], route_of(scope))
            if started:
                raise  # the answer has begun: the server can only cut the connection
            await problem_response(AuthError())(scope, receive, send)


class HeadAsGet:
    """Answer HEAD on every GET route, as HTTP asks: the GET's status and headers, no body.

    FastAPI routes list HEAD only when declared; this runs the GET and drops its body.
    The method is switched back on the same scope afterwards, so the access line and the
    metrics (outside this layer) still say HEAD.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        scope["method"] = "GET"
        try:
            await self.app(scope, receive, send_without_body)
        finally:
            scope["method"] = "HEAD"


class BodySizeLimit:
    """Refuse bodies above `max_bytes` with a 413 problem, before they are parsed.

    A declared Content-Length above the limit is answered without reading the
    body; a streamed body is counted and cut off at the limit (FastAPI passes the
    HTTPException raised from `receive` on to our handler).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await problem_response(PayloadTooLarge())(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status_code=413)
            return message

        await self.app(scope, receive_within_limit, send)


class CrossSiteNotice:
    """Warns once per origin when a page on another site than the API calls `/auth`.

    Such a page can sign in, but the browser withholds the refresh cookie from it
    (see sites.py), so each refresh then fails as `invalid_refresh_token`. Added
    only when AUTHAPI_ALLOWED_ORIGINS lists such an origin.
    """

    def __init__(self, app: ASGIApp, *, origins: frozenset[str], api_url: str) -> None:
        self.app = app
        self._unannounced = set(origins)
        self._api_url = api_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._unannounced and scope["path"].startswith("/auth"):
            origin = (Headers(scope=scope).get("origin") or "").lower()
            if origin in self._unannounced:
                self._unannounced.discard(origin)
                log_sites.warning(
                    "a page at %s calls this API at %s, which is another site: browsers "
                    "withhold the refresh cookie from it, so its refreshes fail with "
                    "invalid_refresh_token. Serve the app and the API on one site, or proxy "
                    "the API through the app's server (README: In a browser)",
                    origin,
                    self._api_url,
                )
        await self.app(scope, receive, send)
