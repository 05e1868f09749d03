"""Where a browser may be sent back to after signing in with a provider: an allow-list.

A redirect target is accepted only when it parses the same way in every browser
and lands on a listed address. So anything a browser might read differently
from Python is refused before comparing: relative and scheme-relative forms
(`//evil.example`, `/\\evil.example`), user-info (`https://app@evil.example`),
backslashes, whitespace and control characters, and dot segments. Then the
scheme, host and port must equal an entry's, and the path must equal the
entry's path or, when the entry ends with `/`, lie under it. A query is kept
(the SPA's own parameters); a fragment is refused, because authapi puts its
own answer (the `mfa_token`) there.

A native app's private-use scheme (RFC 8252 §7.1: reverse-domain, with a dot, as
`com.example.app:/callback`, no authority) is accepted when an entry names it
with the same path rule; its flow must carry a PKCE code challenge
(authapi.services.oidc_signin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 8252 §7.1: an app's own scheme is a reversed domain name, so it has a dot
_PRIVATE_SCHEME = re.compile(r"\A[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+\Z")


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str


def _parse(url: str) -> _Target | None:
    if _UNSAFE.search(url) or _UNSAFE.search(unquote(url)):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if parts.fragment or "#" in url:
        return None
    path = parts.path or "/"
    if any(segment in (".", "..") for segment in unquote(path).split("/")):
        return None
    if is_private_scheme(url):
        if parts.netloc or not path.startswith("/") or path.startswith("//"):
            return None
        return _Target(scheme=scheme, host="", port=0, path=path)
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return _Target(
        scheme=scheme,
        host=parts.hostname.lower(),
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        path=path,
    )


def is_private_scheme(url: str) -> bool:
    """Whether `url` is a native app's private-use scheme (`com.example.app:/…`)."""
    scheme, colon, _ = url.partition(":")
    return bool(colon) and _PRIVATE_SCHEME.match(scheme.lower()) is not None


class RedirectAllowList:
    def __init__(self, entries: list[str]) -> None:
        self.entries = entries
        targets = [_parse(entry) for entry in entries]
        invalid = [entry for entry, target in zip(entries, targets, strict=True) if not target]
        if invalid:
            raise ValueError(f"not a redirect address: {invalid[0]!r}")
        self._targets = [target for target in targets if target is not None]

    @property
    def default(self) -> str | None:
        return self.entries[0] if self.entries else None

    def allows(self, url: str) -> bool:
        if len(url) > 2048:
            return False
        target = _parse(url)
        if target is None:
            return False
        return any(_under(target, entry) for entry in self._targets)


def _under(target: _Target, entry: _Target) -> bool:
    if (target.scheme, target.host, target.port) != (entry.scheme, entry.host, entry.port):
        return False
    if entry.path.endswith("/"):
        return target.path.startswith(entry.path)
    return target.path == entry.path


def with_outcome(url: str, *, query: dict[str, str], fragment: dict[str, str] | None = None) -> str:
    """`url` with parameters appended to its query and, optionally, a fragment."""
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    if fragment:
        url += "#" + urlencode(fragment)
    return url
