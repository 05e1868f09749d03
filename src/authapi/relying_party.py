"""Who this service is to passkeys (WebAuthn): the relying-party id and the origins
whose pages may use them.

A passkey is bound to its RP id, a domain name; a browser hands it to a page only when
the page's host is that domain or under it, and only in a secure context (https, or
http on `localhost`). So:

- AUTHAPI_WEBAUTHN_RP_ID defaults to the host of AUTHAPI_PUBLIC_URL, and
  AUTHAPI_WEBAUTHN_ORIGINS to its origin (the built-in pages). An application on
  another host of the same domain sets both: the RP id to the shared domain
  (`example.com`), the origins to every page that signs in (`https://app.example.com`).
- Set explicitly, a pair no browser would accept (an IP address as the RP id, an origin
  outside it, plain http beyond localhost) stops the start with one line.
- Derived from a public URL that cannot carry passkeys (the embedded default's
  `http://127.0.0.1:8000`), passkeys are off, and start says so.

Changing the RP id later strands every passkey registered under the old one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

LOCALHOST = "localhost"


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str  # shown by the browser when a passkey is made
    origins: tuple[str, ...]


class Unusable(ValueError):
    """Browsers would refuse passkeys for this relying party (the message says why)."""


def relying_party(
    *, public_url: str, rp_id: str | None, origins: list[str], name: str
) -> RelyingParty | None:
    """The relying party from the settings; None when passkeys are off because the
    defaults derived from the public URL cannot work (`off_reason` says why).

    Raises: Unusable, when the explicit settings name a pair no browser accepts.
    """
    derived = _derived(public_url, name)
    chosen = RelyingParty(
        id=rp_id if rp_id is not None else derived.id,
        name=name,
        origins=tuple(origin.lower().rstrip("/") for origin in origins) or derived.origins,
    )
    problem = _problem(chosen)
    if problem is None:
        return chosen
    if rp_id is None and not origins:
        return None
    raise Unusable(problem)


def off_reason(public_url: str) -> str | None:
    """Why the defaults derived from `public_url` leave passkeys off (None: they are on)."""
    return _problem(_derived(public_url, ""))


def _derived(public_url: str, name: str) -> RelyingParty:
    parts = urlsplit(public_url)
    return RelyingParty(
        id=parts.hostname or "", name=name, origins=(f"{parts.scheme}://{parts.netloc}".lower(),)
    )


def _problem(party: RelyingParty) -> str | None:
    if not _is_domain(party.id):
        return f"{party.id!r} is not a domain name (browsers refuse an IP address)"
    for origin in party.origins:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host or parts.path not in ("", "/"):
            return f"{origin!r} is not an origin like https://app.example.com"
        if host != party.id and not host.endswith(f".{party.id}"):
            return f"{origin!r} is outside the relying-party id {party.id!r}"
        if parts.scheme == "http" and not _is_localhost(host):
            return f"{origin!r} is plain http: browsers use passkeys only over https"
    return None


def _is_domain(value: str) -> bool:
    if not value or value != value.lower() or any(c in value for c in ":/ "):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return True
    return False


def _is_localhost(host: str) -> bool:
    return host == LOCALHOST or host.endswith(f".{LOCALHOST}")
