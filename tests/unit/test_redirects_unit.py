"""authapi.redirects: the redirect allow-list (`RedirectAllowList`) and `with_outcome`.

A target is allowed only when it parses the same way in every browser and lands on a
listed address: absolute http(s), no user-info, no backslash, no whitespace or control
characters (raw or percent-encoded), no dot segments (raw or percent-encoded), the same
scheme, host and port as an entry, and the entry's path exactly or, for an entry ending
with "/", a path under it. A query is allowed, a fragment is not.
The same corpus through the HTTP API: tests/security/test_oidc_redirects_only_to_the_allow_list.py.
"""

from __future__ import annotations

import pytest

from authapi.redirects import RedirectAllowList, is_private_scheme, with_outcome

EXACT = "https://app.example.com/signed-in"
TREE = "https://app.example.com/app/"
ALLOW = RedirectAllowList([EXACT, TREE])

# --- refused by the default list (EXACT and TREE) --------------------------------------------
FOREIGN_HOSTS = [
    "https://evil.example",
    "https://evil.example/signed-in",
    "https://app.example.com.evil.example/signed-in",
    "https://evil-app.example.com/signed-in",
    "https://example.com/signed-in",
    "https://sub.app.example.com/signed-in",
    "https://app.example.com./signed-in",  # trailing dot: another name as far as we know
    "https://\u0430pp.example.com/signed-in",  # Cyrillic a: a homograph
    "https://xn--pp-7ub.example.com/signed-in",  # the same homograph, punycode
    "https://\uff41pp.example.com/signed-in",  # fullwidth a
    "https://app.example.com\u3002evil.example/signed-in",  # ideographic full stop
    "https://app\u200b.example.com/signed-in",  # zero-width space
]
RELATIVE_AND_SCHEMELESS = [
    "//evil.example",
    "//evil.example/signed-in",
    "///evil.example/app/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example/app/",
    "/signed-in",
    "/app/page",
    "signed-in",
    "app.example.com/signed-in",
    "https:/app.example.com/app/",
    "https:app.example.com/app/",
    "https:///app.example.com/app/",
    "",
    "?x=1",
    "#x",
]
WRONG_SCHEMES = [
    "http://app.example.com/signed-in",
    "javascript:alert(1)",
    "javascript://app.example.com/signed-in%0aalert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "ftp://app.example.com/app/",
    "ws://app.example.com/app/",
    "wss://app.example.com/app/",
    "file://app.example.com/app/",
    "blob:https://app.example.com/app/x",
    "app://app.example.com/app/",
]
USER_INFO = [
    "https://app.example.com@evil.example",
    "https://app.example.com@evil.example/signed-in",
    "https://user@app.example.com/signed-in",
    "https://user:pass@app.example.com/signed-in",
    "https://@app.example.com/signed-in",
    "https://app.example.com:443@evil.example/app/",
    "https://user%40x@app.example.com/signed-in",  # encoded @ inside the user-info
    "https://app.example.com%40evil.example/signed-in",  # encoded @ in the host
    "https://evil.example%40app.example.com/signed-in",
    "https://app.example.com%2F@evil.example/app/",
]
BACKSLASHES = [
    "https://app.example.com\\@evil.example/app/",
    "https://app.example.com\\.evil.example/app/",
    "https://evil.example\\@app.example.com/app/",
    "https://app.example.com/app/\\evil",
    "https://app.example.com/app/%5Cevil",
    "https://app.example.com/app/%5c%5cevil.example",
    "https://app.example.com%5C@evil.example/app/",
    "/%5Cevil.example",
]
WHITESPACE_AND_CONTROLS = [
    "https://app.example.com/ap\tp/x",  # urlsplit drops tabs and newlines, like browsers
    "https://app.example.com/app/\nx",
    "https://app.exa\nmple.com/app/",
    "https://app.example.com/app/\r\nSet-Cookie: x=1",
    "\thttps://app.example.com/app/",
    " https://app.example.com/app/",
    "https://app.example.com/app/ ",
    "https://app.example.com/app/a b",
    "https://app.example.com/app/\x00",
    "https://app.example.com/app/\x7f",
    "https://app.example.com/app/%00",
    "https://app.example.com/app/%09x",
    "https://app.example.com/app/%0d%0aSet-Cookie:x=1",
    "https://app.example.com/app/%20",
    "java\tscript:alert(1)",
]
DOT_SEGMENTS = [
    "https://app.example.com/signed-in/../../x",
    "https://app.example.com/app/../x",
    "https://app.example.com/app/..",
    "https://app.example.com/app/./x",
    "https://app.example.com/app/.",
    "https://app.example.com/app/%2e%2e/x",
    "https://app.example.com/app/%2E%2E/x",
    "https://app.example.com/app/.%2e/x",
    "https://app.example.com/app/%2e./x",
    "https://app.example.com/app/%2e/x",
    "https://app.example.com/app/..%2fx",
    "https://app.example.com/app/x/..",
]
FRAGMENTS = [
    "https://app.example.com/signed-in#frag",
    "https://app.example.com/signed-in#",
    "https://app.example.com/app/#mfa_token=forged",
    "https://app.example.com/app/?x=1#y",
]
PATHS_OFF_THE_LIST = [
    "https://app.example.com/signed-inx",
    "https://app.example.com/signed-i",
    "https://app.example.com/signed-in/",  # an entry without "/" matches exactly
    "https://app.example.com/signed-in/x",
    "https://app.example.com/Signed-in",  # paths are case-sensitive
    "https://app.example.com/app",  # the tree's own path without its "/"
    "https://app.example.com/appx/",
    "https://app.example.com/ap",
    "https://app.example.com/",
    "https://app.example.com",
    "https://app.example.com?x=/signed-in",
    "https://app.example.com/x/app/",
    "https://app.example.com//app/",
]
PORTS = [
    "https://app.example.com:8443/app/",
    "https://app.example.com:80/signed-in",
    "https://app.example.com:444/signed-in",
    "https://app.example.com:99999/app/",  # invalid port
    "https://app.example.com:65536/app/",
    "https://app.example.com:-1/app/",
    "https://app.example.com:abc/app/",
    "https://app.example.com:443:443/app/",
    "https://app.example.com: 443/app/",
]
REFUSED = (
    FOREIGN_HOSTS
    + RELATIVE_AND_SCHEMELESS
    + WRONG_SCHEMES
    + USER_INFO
    + BACKSLASHES
    + WHITESPACE_AND_CONTROLS
    + DOT_SEGMENTS
    + FRAGMENTS
    + PATHS_OFF_THE_LIST
    + PORTS
)

ALLOWED = [
    EXACT,
    TREE,
    EXACT + "?tab=security",
    EXACT + "?",
    TREE + "page",
    TREE + "page?x=1",
    TREE + "deep/er/page?a=1&b=2",
    TREE + "page%2Fwith-encoded-slash",
    TREE + "...",  # three dots is a name, not a dot segment
    TREE + ".well-known",
    TREE + "%C3%A9t%C3%A9",
    "https://APP.EXAMPLE.COM/signed-in",  # host names are case-insensitive
    "https://App.Example.Com/app/",
    "HTTPS://app.example.com/app/",
    "https://app.example.com:443/signed-in",  # the default port, spelled out
    "https://app.example.com:/signed-in",  # an empty port is the default one (WHATWG too)
    "https://app.example.com/signed-in?next=https://evil.example",  # a query is the SPA's
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url: str) -> None:
    assert not ALLOW.allows(url)


@pytest.mark.parametrize("url", ALLOWED)
def test_allowed(url: str) -> None:
    assert ALLOW.allows(url)


class TestEntries:
    def test_entry_without_trailing_slash_matches_its_path_exactly(self) -> None:
        allow = RedirectAllowList(["https://spa.example.com/oauth/done"])
        assert allow.allows("https://spa.example.com/oauth/done")
        assert allow.allows("https://spa.example.com/oauth/done?from=google")
        for near in (
            "https://spa.example.com/oauth/done/",
            "https://spa.example.com/oauth/done/x",
            "https://spa.example.com/oauth/donex",
            "https://spa.example.com/oauth/",
            "https://spa.example.com/oauth",
            "https://spa.example.com/",
        ):
            assert not allow.allows(near), near

    def test_entry_with_trailing_slash_matches_its_tree(self) -> None:
        allow = RedirectAllowList(["https://spa.example.com/oauth/"])
        for inside in (
            "https://spa.example.com/oauth/",
            "https://spa.example.com/oauth/done",
            "https://spa.example.com/oauth/a/b/c?d=e",
        ):
            assert allow.allows(inside), inside
        for outside in (
            "https://spa.example.com/oauth",
            "https://spa.example.com/oauthx/done",
            "https://spa.example.com/",
            "https://spa.example.com/oauth/../admin",
        ):
            assert not allow.allows(outside), outside

    def test_entry_with_a_port_needs_that_port(self) -> None:
        allow = RedirectAllowList(
            ["http://localhost:5173/callback", "https://app.example.com:8443/"]
        )
        assert allow.allows("http://localhost:5173/callback")
        assert allow.allows("HTTP://LOCALHOST:5173/callback")
        assert allow.allows("https://app.example.com:8443/x")
        for other in (
            "http://localhost/callback",
            "http://localhost:80/callback",
            "http://localhost:5174/callback",
            "https://localhost:5173/callback",
            "http://127.0.0.1:5173/callback",
            "https://app.example.com/x",
            "https://app.example.com:443/x",
        ):
            assert not allow.allows(other), other

    def test_default_ports_are_the_same_address(self) -> None:
        allow = RedirectAllowList(["http://app.example.com:80/cb", "https://app.example.com/tls"])
        assert allow.allows("http://app.example.com/cb")
        assert allow.allows("http://app.example.com:80/cb")
        assert allow.allows("https://app.example.com:443/tls")
        assert not allow.allows("https://app.example.com/cb")
        assert not allow.allows("http://app.example.com:443/tls")

    def test_international_host_names(self) -> None:
        allow = RedirectAllowList(["https://bücher.example/app/"])
        assert allow.allows("https://bücher.example/app/x")
        assert allow.allows("https://BÜCHER.example/app/x")  # upper-case, still one host
        assert not allow.allows("https://bucher.example/app/x")
        assert not allow.allows("https://b\u0443cher.example/app/x")  # Cyrillic u

    def test_entry_host_in_upper_case_matches_lower_case(self) -> None:
        allow = RedirectAllowList(["HTTPS://APP.EXAMPLE.COM/App/"])
        assert allow.allows("https://app.example.com/App/x")
        assert not allow.allows("https://app.example.com/app/x")  # the path keeps its case

    def test_any_entry_may_match(self) -> None:
        allow = RedirectAllowList(["https://one.example/a", "https://two.example/b/"])
        assert allow.allows("https://one.example/a")
        assert allow.allows("https://two.example/b/c")
        assert not allow.allows("https://one.example/b/c")
        assert not allow.allows("https://two.example/a")

    @pytest.mark.parametrize(
        "entry",
        [
            "/signed-in",
            "//app.example.com/signed-in",
            "app.example.com/signed-in",
            "javascript:alert(1)",
            "ftp://app.example.com/",
            "https://app.example.com/x#fragment",
            "https://user@app.example.com/",
            "https://app.example.com/a/../b",
            "https://app.example.com/a b",
            "https://app.example.com:99999/",
            "https://app.example.com\\x/",
            "",
        ],
    )
    def test_invalid_entry_is_a_configuration_error(self, entry: str) -> None:
        with pytest.raises(ValueError, match="not a redirect address"):
            RedirectAllowList([EXACT, entry])

    def test_default_is_the_first_entry(self) -> None:
        assert ALLOW.default == EXACT
        assert RedirectAllowList([TREE, EXACT]).default == TREE

    def test_empty_list_allows_nothing_and_has_no_default(self) -> None:
        empty = RedirectAllowList([])
        assert empty.default is None
        assert not empty.allows(EXACT)


class TestNativeAppSchemes:
    """RFC 8252 §7.1: a private-use scheme is a reversed domain name (it has a dot)."""

    APP = RedirectAllowList(["com.example.app:/oauth/callback", "com.example.app:/tree/"])

    @pytest.mark.parametrize(
        "url",
        [
            "com.example.app:/oauth/callback",
            "com.example.app:/oauth/callback?x=1",
            "COM.Example.App:/oauth/callback",
            "com.example.app:/tree/deeper",
        ],
    )
    def test_a_listed_scheme_and_path_are_allowed(self, url: str) -> None:
        assert self.APP.allows(url)

    @pytest.mark.parametrize(
        "url",
        [
            "com.example.app:/oauth/other",
            "com.example.evil:/oauth/callback",
            "com.example.app://oauth/callback",  # an authority: not the listed form
            "com.example.app:oauth/callback",
            "com.example.app:/oauth/callback#fragment",
            "com.example.app:/tree/../oauth",
            "exampleapp:/oauth/callback",  # no dot: not a reversed domain
        ],
    )
    def test_anything_else_is_refused(self, url: str) -> None:
        assert not self.APP.allows(url)

    def test_a_scheme_without_a_dot_is_no_entry(self) -> None:
        with pytest.raises(ValueError, match="not a redirect address"):
            RedirectAllowList(["myapp:/callback"])

    def test_private_schemes_are_told_apart(self) -> None:
        assert is_private_scheme("com.example.app:/x")
        assert not is_private_scheme("https://app.example.com/")
        assert not is_private_scheme("javascript:alert(1)")


class TestLength:
    def test_target_of_2048_characters_is_allowed(self) -> None:
        url = TREE + "a" * (2048 - len(TREE))
        assert len(url) == 2048
        assert ALLOW.allows(url)

    def test_longer_target_is_refused(self) -> None:
        url = TREE + "a" * (2049 - len(TREE))
        assert not ALLOW.allows(url)
        assert not ALLOW.allows(TREE + "?" + "x" * 100_000)


class TestWithOutcome:
    def test_query_is_started(self) -> None:
        assert with_outcome(EXACT, query={"error": "access_denied"}) == (
            f"{EXACT}?error=access_denied"
        )

    def test_query_is_appended_to_the_targets_own(self) -> None:
        assert with_outcome(f"{TREE}page?x=1", query={"linked": "google"}) == (
            f"{TREE}page?x=1&linked=google"
        )

    def test_values_are_encoded(self) -> None:
        url = with_outcome(EXACT, query={"error": "a&b=c#d e/?"})
        assert url == f"{EXACT}?error=a%26b%3Dc%23d+e%2F%3F"
        assert "#" not in url

    def test_fragment_after_the_query(self) -> None:
        url = with_outcome(
            f"{EXACT}?x=1",
            query={"error": "mfa_required"},
            fragment={"mfa_token": "tok.en-_", "expires_in": "300"},
        )
        assert url == f"{EXACT}?x=1&error=mfa_required#mfa_token=tok.en-_&expires_in=300"

    def test_fragment_values_are_encoded(self) -> None:
        url = with_outcome(EXACT, query={}, fragment={"mfa_token": "a#b&c=d"})
        assert url == f"{EXACT}#mfa_token=a%23b%26c%3Dd"

    def test_nothing_to_add_leaves_the_target_unchanged(self) -> None:
        assert with_outcome(EXACT, query={}) == EXACT
        assert with_outcome(f"{TREE}page?x=1", query={}, fragment={}) == f"{TREE}page?x=1"

    def test_outcome_of_an_allowed_target_is_still_on_the_list(self) -> None:
        for target in (EXACT, f"{TREE}page?x=1"):
            assert ALLOW.allows(with_outcome(target, query={"error": "account_exists"}))
