"""Same-site, as browsers decide it for cookies.

A SameSite cookie travels only between pages and APIs of one *site*: the
scheme plus the registrable domain, which the Public Suffix List defines (so
`app.example.com` and `auth.example.com` are one site, `a.github.io` and
`b.github.io` are two). Ports do not count; an IP address or `localhost` is a
site of its own, so `localhost:5173` and `127.0.0.1:8000` are two sites.
Browsers withhold this service's refresh cookie (SameSite=Strict) from a page
on another site, and most block it as a third-party cookie besides.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list bundled with the package: nothing is fetched


def site_of(url: str) -> tuple[str, str]:
    """(scheme, registrable domain) of a URL or an origin."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return parts.scheme, _suffixes().privatesuffix(host) or host
    return parts.scheme, host


def same_site(first: str, second: str) -> bool:
    return site_of(first) == site_of(second)
