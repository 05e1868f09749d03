"""Sign in with Apple as a preset: its settings, its fixed endpoints (no discovery), and
the client secret the service signs (an ES256 JWT from the team's key), checked with the
public half of a test key: claims, `kid`, lifetime and renewal.

The form_post way back is tested against the suite's OpenID provider
(tests/security/test_oidc_state_is_single_use_and_bound_to_the_browser.py,
TestFormPostIsBoundToTheBrowser); Apple itself cannot be reached from here.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from authapi.client_secret import LIFETIME_SECONDS, RENEW_BEFORE_SECONDS, ClientSecretSigner
from authapi.oidc import OidcClient, ProviderRefused
from authapi.settings import APPLE_ISSUER, OidcProvider, Settings, config_error_line

CLIENT_ID = "com.example.web"  # a Services ID
TEAM_ID = "TEAM123456"
KEY_ID = "KEY7654321"


def pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def team_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def apple_settings(key: ec.EllipticCurvePrivateKey, **extra: Any) -> dict[str, Any]:
    return {
        "apple_client_id": CLIENT_ID,
        "apple_team_id": TEAM_ID,
        "apple_key_id": KEY_ID,
        "apple_private_key": pem(key),
        **extra,
    }


def apple(key: ec.EllipticCurvePrivateKey) -> OidcProvider:
    (provider,) = Settings(**apple_settings(key)).identity_providers
    return provider


class TestSettings:
    def test_the_preset_posts_its_form_back_and_knows_its_endpoints(
        self, team_key: ec.EllipticCurvePrivateKey
    ) -> None:
        provider = apple(team_key)
        assert (provider.name, provider.issuer, provider.client_id) == (
            "apple",
            APPLE_ISSUER,
            CLIENT_ID,
        )
        assert provider.response_mode == "form_post"
        assert provider.native_nonce == "required"
        assert provider.endpoints is not None
        assert provider.endpoints.token_endpoint == "https://appleid.apple.com/auth/token"
        assert "name" in provider.scopes

    def test_the_apps_bundle_ids_are_its_native_audiences(
        self, team_key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AUTHAPI_APPLE_AUDIENCES", "com.example.ios")
        (provider,) = Settings(**apple_settings(team_key)).identity_providers
        assert provider.native_audiences == [CLIENT_ID, "com.example.ios"]

    @pytest.mark.parametrize("left_out", ["apple_team_id", "apple_key_id", "apple_private_key"])
    def test_all_four_settings_or_none(
        self, team_key: ec.EllipticCurvePrivateKey, left_out: str
    ) -> None:
        values = apple_settings(team_key)
        del values[left_out]
        with pytest.raises(ValidationError) as raised:
            Settings(**values)
        line = config_error_line(raised.value)
        assert "Sign in with Apple needs all of" in line
        assert "AUTHAPI_APPLE_PRIVATE_KEY" in line

    @pytest.mark.parametrize("key", ["not a key", "rsa"], ids=["garbage", "rsa"])
    def test_a_key_that_is_not_ec_p256_fails_at_start_without_echoing_it(
        self, team_key: ec.EllipticCurvePrivateKey, key: str
    ) -> None:
        value = pem(rsa.generate_private_key(65537, 2048)) if key == "rsa" else key
        with pytest.raises(ValidationError) as raised:
            Settings(**apple_settings(team_key, apple_private_key=value))
        line = config_error_line(raised.value)
        assert "AUTHAPI_APPLE_PRIVATE_KEY" in line
        assert value not in line


class TestClientSecret:
    def test_it_is_an_es256_jwt_of_the_team_for_the_client_and_apple(
        self, team_key: ec.EllipticCurvePrivateKey
    ) -> None:
        provider = apple(team_key)
        assert provider.signed_secret is not None
        secret = ClientSecretSigner(provider.signed_secret, client_id=CLIENT_ID)()
        assert jwt.get_unverified_header(secret) == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
        claims = jwt.decode(
            secret,
            team_key.public_key(),
            algorithms=["ES256"],
            audience=APPLE_ISSUER,
            issuer=TEAM_ID,
            options={"require": ["iss", "sub", "aud", "iat", "exp"]},
        )
        assert claims["sub"] == CLIENT_ID
        assert claims["exp"] - claims["iat"] == LIFETIME_SECONDS
        assert abs(claims["iat"] - time.time()) < 5
        # six months is Apple's limit; an hour is ours
        assert LIFETIME_SECONDS <= 180 * 24 * 3600

    def test_it_is_kept_until_shortly_before_it_ends_then_signed_anew(
        self, team_key: ec.EllipticCurvePrivateKey
    ) -> None:
        provider = apple(team_key)
        assert provider.signed_secret is not None
        now = [time.time()]
        signer = ClientSecretSigner(
            provider.signed_secret, client_id=CLIENT_ID, clock=lambda: now[0]
        )
        first = signer()
        now[0] += LIFETIME_SECONDS - RENEW_BEFORE_SECONDS - 1
        assert signer() == first
        now[0] += 2
        renewed = signer()
        assert renewed != first
        renewed_claims = jwt.decode(
            renewed,
            team_key.public_key(),
            algorithms=["ES256"],
            audience=APPLE_ISSUER,
            options={"verify_exp": False, "verify_iat": False},
        )
        assert renewed_claims["iat"] == int(now[0])

    def test_an_expired_secret_does_not_verify(self, team_key: ec.EllipticCurvePrivateKey) -> None:
        provider = apple(team_key)
        assert provider.signed_secret is not None
        long_ago = time.time() - LIFETIME_SECONDS - 60
        stale = ClientSecretSigner(
            provider.signed_secret, client_id=CLIENT_ID, clock=lambda: long_ago
        )()
        with pytest.raises(jwt.ExpiredSignatureError):
            jwt.decode(stale, team_key.public_key(), algorithms=["ES256"], audience=APPLE_ISSUER)


class TestClient:
    async def test_no_discovery_form_post_and_the_signed_secret_in_the_token_request(
        self, team_key: ec.EllipticCurvePrivateKey
    ) -> None:
        seen: list[httpx.Request] = []

        def apple_answers(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            assert request.url == "https://appleid.apple.com/auth/token", request.url
            return httpx.Response(400, json={"error": "invalid_grant"})

        async with httpx.AsyncClient(transport=httpx.MockTransport(apple_answers)) as http:
            client = OidcClient(
                apple(team_key), http, cache_seconds=60, leeway_seconds=10, max_age_seconds=600
            )
            url = await client.authorization_url(
                redirect_uri="https://auth.example.com/auth/oauth/apple/callback",
                state="s",
                nonce="n",
                code_challenge="c" * 43,
            )
            assert url.startswith("https://appleid.apple.com/auth/authorize?")
            query = parse_qs(urlsplit(url).query)
            assert query["response_mode"] == ["form_post"]
            assert query["client_id"] == [CLIENT_ID]
            with pytest.raises(ProviderRefused, match="invalid_grant"):
                await client.exchange(code="x", redirect_uri="https://a/cb", code_verifier="v")
        (token_request,) = seen  # the token endpoint only: no discovery document was fetched
        form = parse_qs(token_request.content.decode())
        assert form["client_id"] == [CLIENT_ID]
        assert "authorization" not in token_request.headers
        claims = jwt.decode(
            form["client_secret"][0],
            team_key.public_key(),
            algorithms=["ES256"],
            audience=APPLE_ISSUER,
        )
        assert (claims["iss"], claims["sub"]) == (TEAM_ID, CLIENT_ID)
