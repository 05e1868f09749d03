"""Who is calling: the client IP and user agent, as recorded on sessions and events.

The IP is the socket peer, unless the peer is one of AUTHAPI_TRUSTED_PROXIES:
then `X-Forwarded-For` is read from the right, skipping trusted hops, and the
first untrusted address is the client. uvicorn's own proxy-header handling is
switched off (`authapi serve` passes `proxy_headers=False`), so nothing else
decides this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from authapi.settings import IPNetwork

MAX_USER_AGENT = 512


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[IPNetwork]
) -> bool:
    return any(address in network for network in proxies)


def client_ip(connection: HTTPConnection, trusted_proxies: Sequence[IPNetwork]) -> str | None:
    peer = connection.client.host if connection.client else None
    address = _parse_ip(peer) if peer else None
    if address is None or not _trusted(address, trusted_proxies):
        return str(address) if address else None
    hops = [
        hop for header in connection.headers.getlist("x-forwarded-for") for hop in header.split(",")
    ]
    for hop in reversed(hops):
        hop_address = _parse_ip(hop)
        if hop_address is None:
            return str(address)  # garbage in the chain: trust only what we saw ourselves
        if not _trusted(hop_address, trusted_proxies):
            return str(hop_address)
        address = hop_address
    return str(address)


def client_info(connection: HTTPConnection, trusted_proxies: Sequence[IPNetwork]) -> ClientInfo:
    agent = connection.headers.get("user-agent")
    return ClientInfo(
        ip=client_ip(connection, trusted_proxies),
        user_agent=agent[:MAX_USER_AGENT] if agent else None,
    )
