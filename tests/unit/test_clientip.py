"""Client IP: the socket peer, unless the peer is a trusted proxy; then the
right-most untrusted hop of X-Forwarded-For (or of Forwarded, when configured)."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.requests import Request

from authapi.clientip import MAX_USER_AGENT, client_info, client_ip, network_of
from authapi.settings import IPNetwork

PROXIES: list[IPNetwork] = [
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("2001:db8:ffff::/48"),
]


def request(peer: str | None, *headers: tuple[str, str]) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": (peer, 50000) if peer is not None else None,
    }
    return Request(scope)


def xff(value: str) -> tuple[str, str]:
    return ("X-Forwarded-For", value)


class TestUntrustedPeer:
    def test_peer_is_the_client_without_trusted_proxies(self) -> None:
        assert client_ip(request("203.0.113.9"), []) == "203.0.113.9"

    @pytest.mark.requirement("RFC9700-4.13")
    def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(self) -> None:
        spoofed = request("203.0.113.9", xff("198.51.100.1"))
        assert client_ip(spoofed, PROXIES) == "203.0.113.9"
        assert client_ip(spoofed, []) == "203.0.113.9"

    def test_ipv6_peer(self) -> None:
        assert client_ip(request("2001:db8::1"), PROXIES) == "2001:db8::1"

    def test_no_peer_is_none(self) -> None:
        assert client_ip(request(None, xff("198.51.100.1")), PROXIES) is None


class TestTrustedProxy:
    def test_right_most_untrusted_hop_is_the_client(self) -> None:
        assert client_ip(request("10.0.0.1", xff("198.51.100.1")), PROXIES) == "198.51.100.1"

    @pytest.mark.requirement("RFC9700-4.13")
    def test_forged_left_hops_are_not_believed(self) -> None:
        # the client sent "192.0.2.66" itself; our proxy appended the real address
        chain = request("10.0.0.1", xff("192.0.2.66, 198.51.100.1"))
        assert client_ip(chain, PROXIES) == "198.51.100.1"

    def test_trusted_hops_are_skipped(self) -> None:
        chain = request("10.0.0.1", xff("192.0.2.66, 198.51.100.1, 10.0.0.7, 10.0.0.8"))
        assert client_ip(chain, PROXIES) == "198.51.100.1"

    def test_several_headers_are_one_chain(self) -> None:
        chain = request("10.0.0.1", xff("192.0.2.66"), xff("198.51.100.1, 10.0.0.7"))
        assert client_ip(chain, PROXIES) == "198.51.100.1"

    def test_ipv6_hops(self) -> None:
        chain = request("2001:db8:ffff::1", xff("2001:db8:1::5, 2001:db8:ffff::2"))
        assert client_ip(chain, PROXIES) == "2001:db8:1::5"

    def test_without_the_header_the_proxy_is_the_client(self) -> None:
        assert client_ip(request("10.0.0.1"), PROXIES) == "10.0.0.1"

    def test_all_hops_trusted_gives_the_left_most_trusted_hop(self) -> None:
        assert client_ip(request("10.0.0.1", xff("10.0.0.5, 10.0.0.6")), PROXIES) == "10.0.0.5"

    @pytest.mark.parametrize(
        "chain",
        ["198.51.100.1, not-an-ip", "garbage", "198.51.100.1, 999.1.1.1", "198.51.100.1, "],
        ids=["word", "only-garbage", "bad-octet", "empty-hop"],
    )
    def test_garbage_hop_falls_back_to_what_we_saw_ourselves(self, chain: str) -> None:
        assert client_ip(request("10.0.0.1", xff(chain)), PROXIES) == "10.0.0.1"

    def test_garbage_left_of_the_client_is_never_reached(self) -> None:
        chain = request("10.0.0.1", xff("not-an-ip, 198.51.100.1"))
        assert client_ip(chain, PROXIES) == "198.51.100.1"

    def test_garbage_behind_a_trusted_hop_gives_that_trusted_hop(self) -> None:
        chain = request("10.0.0.1", xff("junk, 10.0.0.9"))
        assert client_ip(chain, PROXIES) == "10.0.0.9"

    def test_address_is_normalised(self) -> None:
        chain = request("10.0.0.1", xff(" 2001:DB8:0:0::1 "))
        assert client_ip(chain, PROXIES) == "2001:db8::1"


def forwarded(value: str) -> tuple[str, str]:
    return ("Forwarded", value)


class TestForwardedHeader:
    """RFC 7239 `Forwarded`, read only when AUTHAPI_PROXY_HEADER=forwarded."""

    def test_right_most_untrusted_for_is_the_client(self) -> None:
        chain = request("10.0.0.1", forwarded("for=192.0.2.66, for=198.51.100.1;proto=https"))
        assert client_ip(chain, PROXIES, "forwarded") == "198.51.100.1"

    def test_quoted_ipv6_with_port_and_ipv4_with_port(self) -> None:
        v6 = request("10.0.0.1", forwarded('for="[2001:db8:1::5]:4711";by=10.0.0.1'))
        assert client_ip(v6, PROXIES, "forwarded") == "2001:db8:1::5"
        v4 = request("10.0.0.1", forwarded('For="198.51.100.1:8080"'))
        assert client_ip(v4, PROXIES, "forwarded") == "198.51.100.1"

    def test_trusted_hops_are_skipped(self) -> None:
        chain = request("10.0.0.1", forwarded("for=198.51.100.1, for=10.0.0.7"))
        assert client_ip(chain, PROXIES, "forwarded") == "198.51.100.1"

    @pytest.mark.parametrize("value", ["for=unknown", "for=_hidden", "proto=https", "for="])
    def test_obfuscated_or_missing_node_falls_back_to_the_proxy(self, value: str) -> None:
        assert client_ip(request("10.0.0.1", forwarded(value)), PROXIES, "forwarded") == "10.0.0.1"

    def test_only_the_configured_header_is_read(self) -> None:
        # the proxy appends to X-Forwarded-For; a client-written Forwarded must not count
        both = request("10.0.0.1", forwarded("for=192.0.2.66"), xff("198.51.100.1"))
        assert client_ip(both, PROXIES) == "198.51.100.1"
        assert client_ip(both, PROXIES, "x-forwarded-for") == "198.51.100.1"
        only_xff = request("10.0.0.1", xff("198.51.100.1"))
        assert client_ip(only_xff, PROXIES, "forwarded") == "10.0.0.1"

    def test_untrusted_peer_ignores_forwarded(self) -> None:
        spoofed = request("203.0.113.9", forwarded("for=198.51.100.1"))
        assert client_ip(spoofed, PROXIES, "forwarded") == "203.0.113.9"


class TestClientInfo:
    def test_user_agent_is_kept_and_truncated(self) -> None:
        info = client_info(
            request("203.0.113.9", ("User-Agent", "x" * 1000)),
            [],
            "x-forwarded-for",
            ipv6_prefix=64,
        )
        assert info.ip == "203.0.113.9"
        assert info.user_agent == "x" * MAX_USER_AGENT

    def test_missing_user_agent_is_none(self) -> None:
        info = client_info(request("203.0.113.9"), [], "x-forwarded-for", ipv6_prefix=64)
        assert info.user_agent is None

    def test_the_budget_key_of_an_ipv6_client_is_its_network(self) -> None:
        info = client_info(request("2001:db8:1:2::c"), [], "x-forwarded-for", ipv6_prefix=64)
        assert info.ip == "2001:db8:1:2::c"  # recorded as it is
        assert info.network == "2001:db8:1:2::/64"


class TestNetworkOf:
    @pytest.mark.parametrize(
        ("ip", "prefix", "network"),
        [
            ("203.0.113.9", 64, "203.0.113.9"),
            ("2001:db8:1:2::1", 64, "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"),
            ("2001:db8:1:2::1", 48, "2001:db8:1::/48"),
            ("2001:db8:1:2::1", 128, "2001:db8:1:2::1/128"),
            ("::ffff:198.51.100.7", 64, "198.51.100.7"),  # an IPv4 client on a dual stack
            (None, 64, None),
            ("not an address", 64, None),
        ],
    )
    def test_network_of(self, ip: str | None, prefix: int, network: str | None) -> None:
        assert network_of(ip, prefix) == network

    def test_every_address_of_a_64_shares_one_key(self) -> None:
        keys = {network_of(f"2001:db8:1:2::{n:x}", 64) for n in range(1, 13)}
        assert keys == {"2001:db8:1:2::/64"}
        assert network_of("2001:db8:1:3::1", 64) not in keys
