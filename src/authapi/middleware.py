"""Pure ASGI middleware: `Edge` (the request id, metrics and access line, HEAD on GET
routes, security headers on every response, the answer to an unexpected error), the
body size limit, and the cross-site notice.

`Cache-Control: no-store` unless a route chose its own (JWKS and metadata are
cacheable): almost everything this service says is about a user or carries a
token. nosniff, no referrer, no framing; HSTS when the public URL is https. An
HTML page without a policy of its own (the API docs; the account pages bring a
stricter one) gets a Content-Security-Policy that allows scripts and
styles from this origin only, plus, by their SHA-256, the inline scripts of that
very page, so nothing injected into it could run. `Edge` wraps CORS and the size
limit, so CORS answers and early 413s carry the headers too.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authapi import metrics
from authapi.errors import AuthError, PayloadTooLarge, problem_response
from authapi.logs import (
    REQUEST_ID_HEADER,
    accepted_request_id,
    log_access,
    request_id_var,
    route_of,
)
from authapi.settings import IPNetwork

log = logging.getLogger("authapi.errors")
log_sites = logging.getLogger("authapi.sites")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_LENGTH = b"content-length"

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


class Edge:
    """The outermost layer: what every HTTP request gets on its way in and out.

    In the order it applies them, outermost first (they were five layers; one costs
    less on every request):

    1. the request id (`X-Request-ID`, authapi.logs), in `request_id_var` and echoed;
       when the request ends, its metrics and its access line;
    2. HEAD answered on every GET route, as HTTP asks: the GET runs and its body is
       dropped (FastAPI routes list HEAD only when declared); the method says HEAD
       again before the access line and the metrics;
    3. the security headers and an HTML page's Content-Security-Policy (see the
       module docstring): the page's start is held until its body is whole;
    4. the last resort: an exception that escapes the app (a bug) is logged once and
       answered as a problem+json 500 through 1 to 3, so it carries the same headers,
       and the app returns normally, so the server keeps the connection open.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        https: bool,
        trusted_proxies: Sequence[IPNetwork] = (),
        proxy_header: str = "x-forwarded-for",
    ) -> None:
        self.app = app
        self.https = https
        self.trusted_proxies = trusted_proxies
        self.proxy_header = proxy_header
        defaults = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
        if https:
            defaults["Strict-Transport-Security"] = HSTS
        self._defaults = [
            (name.lower().encode(), value.encode()) for name, value in defaults.items()
        ]

    def _add_headers(self, message: Message, request_id: str) -> bool:
        """The request id, and each default header the route did not set, on a response's
        start; True for an HTML page without a Content-Security-Policy of its own.

        On the raw header list (ASGI names are lower case): MutableHeaders looks each name
        up afresh, a cost on every response."""
        headers = [pair for pair in message.get("headers", ()) if pair[0] != _REQUEST_ID]
        names = {name for name, _ in headers}
        headers.extend(pair for pair in self._defaults if pair[0] not in names)
        headers.append((_REQUEST_ID, request_id.encode("latin-1")))
        message["headers"] = headers
        content_type = next((value for name, value in headers if name == b"content-type"), b"")
        return content_type.startswith(b"text/html") and b"content-security-policy" not in names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_id = next((value for name, value in scope["headers"] if name == _REQUEST_ID), None)
        request_id = accepted_request_id(None if sent_id is None else sent_id.decode("latin-1"))
        context = request_id_var.set(request_id)
        started = time.perf_counter()
        head = scope["method"] == "HEAD"
        status: int | None = None  # until a response starts
        page_start: Message | None = None  # an HTML answer, held until its body is whole
        page: list[bytes] = []

        async def send_at_edge(message: Message) -> None:
            nonlocal status, page_start
            if message["type"] == "http.response.start":
                status = message["status"]
                if self._add_headers(message, request_id):  # else the route chose its policy
                    page_start = message
                    return
            elif message["type"] == "http.response.body":
                if page_start is not None:
                    page.append(message.get("body", b""))
                    if message.get("more_body", False):
                        return
                    body = b"".join(page)
                    policy = page_policy(body)
                    MutableHeaders(scope=page_start)["Content-Security-Policy"] = policy
                    await send(page_start)
                    message = {"type": "http.response.body", "body": body}
                if head:
                    message = {**message, "body": b""}
            await send(message)

        if head:
            scope["method"] = "GET"
        try:
            try:
                await self.app(scope, receive, send_at_edge)
            except Exception:
                log.exception("unhandled error on %s %s", scope["method"], route_of(scope))
                if status is not None:
                    raise  # the answer has begun: the server can only cut the connection
                await problem_response(AuthError())(scope, receive, send_at_edge)
        finally:
            if head:
                scope["method"] = "HEAD"
            seconds = time.perf_counter() - started
            metrics.observe_request(scope, status or 500, seconds)
            log_access(
                scope,
                request_id,
                status or 500,
                seconds,
                trusted_proxies=self.trusted_proxies,
                proxy_header=self.proxy_header,
            )
            request_id_var.reset(context)


class BodySizeLimit:
    """Refuse bodies above `max_bytes` with a 413 problem, before they are parsed.

    A declared Content-Length above the limit is answered without reading the
    body, and one within it is all there is (the server frames the body by it); a body
    of no declared length (chunked, HTTP/2) is counted and cut off at the limit
    (FastAPI passes the HTTPException raised from `receive` on to our handler).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # on the raw list: a Headers object costs more than this whole layer otherwise
        declared = next((value for name, value in scope["headers"] if name == _LENGTH), None)
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await problem_response(PayloadTooLarge())(scope, receive, send)
            else:
                await self.app(scope, receive, send)
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
