"""Who is calling: the client IP and user agent, as recorded on sessions and events.

The IP is the socket peer, unless the peer is one of AUTHAPI_TRUSTED_PROXIES:
then the proxy header (`X-Forwarded-For`, or RFC 7239 `Forwarded` when
AUTHAPI_PROXY_HEADER says so) is read from the right, skipping trusted hops,
and the first untrusted address is the client. Only the one configured header
is read: a proxy appends to its own header and passes the other through as the
client sent it, so reading both would let a client choose its IP. uvicorn's own
proxy-header handling is switched off (`authapi serve` passes
`proxy_headers=False`), so nothing else decides this.

Per-IP budgets count an IPv6 client by its network (AUTHAPI_RATE_LIMIT_IPV6_PREFIX,
/64 by default): a host picks any of the 2^64 addresses of its /64 at will.
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
    ip: str | None  # recorded on sessions and events
    user_agent: str | None
    network: str | None  # what per-IP budgets count: the IPv4 address, or its IPv6 prefix


def network_of(ip: str | None, ipv6_prefix: int) -> str | None:
    """The key of `ip` for per-IP budgets: an IPv4 address as it is, an IPv6 address as its
    network of `ipv6_prefix` bits (one customer usually gets a whole /64, and picks any
    address in it at will)."""
    address = _parse_ip(ip) if ip else None
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, ipv6_prefix), strict=False))
    return str(address)


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[IPNetwork]
) -> bool:
    return any(address in network for network in proxies)


def _forwarded_for(element: str) -> str:
    """The `for=` node of one RFC 7239 element, without quotes, brackets or port."""
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.strip().lower() != "for":
            continue
        node = value.strip().strip('"')
        if node.startswith("["):  # "[2001:db8::1]:4711"
            return node[1:].partition("]")[0]
        return node.partition(":")[0] if node.count(":") == 1 else node  # "192.0.2.1:80"
    return ""  # no for=: not an address, so the chain stops being trusted here


def _hops(connection: HTTPConnection, header: str) -> list[str]:
    """The addresses the proxies recorded, nearest last."""
    values = connection.headers.getlist(header)
    if header == "forwarded":
        return [_forwarded_for(element) for value in values for element in value.split(",")]
    return [hop for value in values for hop in value.split(",")]


def client_ip(
    connection: HTTPConnection,
    trusted_proxies: Sequence[IPNetwork],
    header: str = "x-forwarded-for",
) -> str | None:
    peer = connection.client.host if connection.client else None
    address = _parse_ip(peer) if peer else None
    if address is None or not _trusted(address, trusted_proxies):
        return str(address) if address else None
    for hop in reversed(_hops(connection, header)):
        hop_address = _parse_ip(hop)
        if hop_address is None:
            return str(address)  # garbage in the chain: trust only what we saw ourselves
        if not _trusted(hop_address, trusted_proxies):
            return str(hop_address)
        address = hop_address
    return str(address)


def client_info(
    connection: HTTPConnection,
    trusted_proxies: Sequence[IPNetwork],
    header: str,
    *,
    ipv6_prefix: int,
) -> ClientInfo:
    agent = connection.headers.get("user-agent")
    ip = client_ip(connection, trusted_proxies, header)
    return ClientInfo(
        ip=ip,
        user_agent=agent[:MAX_USER_AGENT] if agent else None,
        network=network_of(ip, ipv6_prefix),
    )
