"""The provider's id_token is verified (SPEC security property: "id_token signature, iss,
aud, exp checked against the provider's JWKS"; and the nonce).

Through the real flow: the provider of tests/oidc.py issues a genuine id_token and
`tamper_next` rewrites that one token on its way out of the token endpoint (claims changed
and re-signed with the provider's own key, or signed with a foreign key). Everything else
in the flow is genuine, so the refusal can only come from the app's id_token checks: the
browser lands on REDIRECT?error=invalid_id_token with no session, no account and no linked
identity. A control test re-signs a token without changing it and signs in, so the
tampering path itself is not what gets refused.

Directly on `authapi.oidc.OidcClient`: a flood of made-up `kid`s costs the provider at
most one JWKS request per refetch interval, and `alg: none` or HS256 tokens are refused
before any key is looked up, even when the discovery document announces those algorithms.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from authapi.models import Identity, User
from authapi.oidc import InvalidIdToken, OidcClient
from authapi.settings import OidcProvider as ProviderConfig
from tests.conftest import Api, assert_problem, unique_email
from tests.oidc import OTHER_CLIENT_ID, REDIRECT, OidcBrowser, OidcProvider

REFRESH_COOKIE = "authapi_refresh"
XRW = {"X-Requested-With": "XMLHttpRequest"}
REFUSED = f"{REDIRECT}?error=invalid_id_token"
HOUR = 3600


@pytest.fixture
def app(oidc_api: Api) -> Api:
    """An app with the run's provider as "local" (conftest's oidc_api)."""
    return oidc_api


def new_provider_user(provider: OidcProvider) -> tuple[str, str]:
    """A new account at the provider with a verified address: (sub, email)."""
    sub, email = f"idtoken-{uuid.uuid4().hex}", unique_email("idtoken")
    provider.set_user(sub, email=email, email_verified=True, name="Grace")
    return sub, email


async def identities_of(api: Api, sub: str) -> int:
    async with api.app.state.resources.sessionmaker() as db:
        count = await db.scalar(
            select(func.count()).select_from(Identity).where(Identity.subject == sub)
        )
    return int(count or 0)


async def account_exists(api: Api, email: str) -> bool:
    async with api.app.state.resources.sessionmaker() as db:
        return await db.scalar(select(User.id).where(User.email == email)) is not None


def refresh_cookie_set(response: httpx.Response) -> bool:
    return any(
        header.startswith(f"{REFRESH_COOKIE}=")
        for header in response.headers.get_list("set-cookie")
    )


def tampered_claims(provider: OidcProvider) -> dict[str, Callable[[], dict[str, Any]]]:
    """Case name → the claims merged into the id_token (None removes a claim)."""
    now = lambda: int(time.time())  # noqa: E731 (evaluated when the case runs)
    return {
        "wrong-aud": lambda: {"aud": "someone-else"},
        "aud-list-without-azp": lambda: {"aud": [provider.client_id, "someone-else"], "azp": None},
        "azp-of-another-client": lambda: {"azp": OTHER_CLIENT_ID},
        "aud-of-another-client-of-the-provider": lambda: {"aud": OTHER_CLIENT_ID},
        "wrong-iss": lambda: {"iss": "https://evil.example"},
        "iss-with-trailing-slash": lambda: {"iss": provider.issuer + "/"},
        "wrong-nonce": lambda: {"nonce": secrets.token_urlsafe(32)},
        "missing-nonce": lambda: {"nonce": None},
        "expired": lambda: {"exp": now() - HOUR, "iat": now() - HOUR - 60},
        "iat-two-hours-ago": lambda: {"iat": now() - 2 * HOUR, "exp": now() + 600},
        "missing-exp": lambda: {"exp": None},
        "missing-iat": lambda: {"iat": None},
        "sub-of-someone-else": lambda: {"sub": f"idtoken-{uuid.uuid4().hex}"},
    }


# what the app's log says about each refusal: it proves which check fired
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # (id, claims case or "", tamper options, expected log fragment)
    ("wrong-aud", "wrong-aud", {}, "InvalidAudienceError"),
    ("aud-list-without-azp", "aud-list-without-azp", {}, "azp is not our client id"),
    ("azp-of-another-client", "azp-of-another-client", {}, "azp is not our client id"),
    ("aud-of-other-client", "aud-of-another-client-of-the-provider", {}, "InvalidAudienceError"),
    ("wrong-iss", "wrong-iss", {}, "InvalidIssuerError"),
    ("iss-with-trailing-slash", "iss-with-trailing-slash", {}, "InvalidIssuerError"),
    ("wrong-nonce", "wrong-nonce", {}, "nonce does not match"),
    ("missing-nonce", "missing-nonce", {}, "nonce does not match"),
    ("expired", "expired", {}, "ExpiredSignatureError"),
    ("iat-two-hours-ago", "iat-two-hours-ago", {}, "iat is older than the sign-in"),
    ("missing-exp", "missing-exp", {}, "MissingRequiredClaimError"),
    ("missing-iat", "missing-iat", {}, "MissingRequiredClaimError"),
    ("sub-differs-from-userinfo", "sub-of-someone-else", {}, "userinfo sub differs"),
    ("foreign-key-provider-kid", "", {"sign_with": "foreign"}, "InvalidSignatureError"),
    (
        "foreign-key-unknown-kid",
        "",
        {"sign_with": "foreign", "kid": "made-up"},
        "no key with kid 'made-up'",
    ),
]


@pytest.mark.parametrize(
    ("claims_case", "options", "logged"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
@pytest.mark.requirement(
    "ASVS-10.5.1",
    "ASVS-10.5.4",
    "ASVS-16.3.3",
    "ASVS-16.3.4",
    "ASVS-6.8.2",
    "ASVS-9.1.1",
    "ASVS-9.2.3",
    "RFC8725-3.8",
    "RFC8725-3.9",
    "RFC9700-2.1.1",
)
async def test_tampered_id_token_is_refused(
    app: Api,
    oidc_provider: OidcProvider,
    caplog: pytest.LogCaptureFixture,
    claims_case: str,
    options: dict[str, Any],
    logged: str,
) -> None:
    sub, email = new_provider_user(oidc_provider)
    claims = tampered_claims(oidc_provider)[claims_case]() if claims_case else {}
    tokens_before = oidc_provider.request_counts().get("/token", 0)
    browser = OidcBrowser(app.client)

    with caplog.at_level(logging.WARNING, logger="authapi.oidc"):
        oidc_provider.tamper_next(claims, **options)
        response = await browser.sign_in(sub=sub)

    assert oidc_provider.request_counts().get("/token", 0) == tokens_before + 1, (
        "the flow did not reach the token endpoint (the tampering is still pending)"
    )
    assert response.status_code == 302, response.text
    assert response.headers["location"] == REFUSED
    assert not refresh_cookie_set(response), response.headers
    assert_problem(
        await app.client.post("/auth/refresh", headers=XRW), 401, "invalid_refresh_token"
    )
    assert await identities_of(app, sub) == 0, "an identity was linked from a refused id_token"
    assert not await account_exists(app, email), "an account was created from a refused id_token"
    assert "id_token refused" in caplog.text, caplog.text
    assert logged in caplog.text, caplog.text


@pytest.mark.requirement("ASVS-10.5.4", "ASVS-6.8.2")
async def test_untampered_re_signed_id_token_signs_in(
    app: Api, oidc_provider: OidcProvider
) -> None:
    """Control: the same path with nothing changed (re-signed by the provider's own key under
    its kid) is accepted, so the refusals above are about what was changed."""
    sub, email = new_provider_user(oidc_provider)
    tokens_before = oidc_provider.request_counts().get("/token", 0)

    oidc_provider.tamper_next({})
    response = await OidcBrowser(app.client).sign_in(sub=sub)

    assert oidc_provider.request_counts().get("/token", 0) == tokens_before + 1
    assert response.status_code == 302, response.text
    assert response.headers["location"] == REDIRECT
    assert refresh_cookie_set(response)
    refreshed = await app.client.post("/auth/refresh", headers=XRW)
    assert refreshed.status_code == 200, refreshed.text
    assert await identities_of(app, sub) == 1
    assert await account_exists(app, email)


# --- OidcClient directly -------------------------------------------------------------------
NONCE = "the-nonce-of-this-sign-in"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def id_token(
    provider: OidcProvider,
    key: Any,
    *,
    kid: str | None,
    algorithm: str = "RS256",
    **claims: Any,
) -> str:
    """An id_token that passes every claim check (iss, aud, exp, iat, nonce, sub)."""
    now = int(time.time())
    payload = {
        "iss": provider.issuer,
        "sub": "direct-client",
        "aud": provider.client_id,
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        **claims,
    }
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def provider_key(provider: OidcProvider) -> Any:
    return jwt.PyJWK(provider.private_jwk).key


def client_for(
    provider: OidcProvider, http: httpx.AsyncClient, clock: Callable[[], float] = time.time
) -> OidcClient:
    """An OidcClient as the app builds it (refetch interval: the default)."""
    return OidcClient(
        ProviderConfig(**provider.provider_setting("local")),
        http,
        cache_seconds=3600,
        leeway_seconds=10,
        max_age_seconds=600,
        clock=clock,
    )


def jwks_fetches(provider: OidcProvider) -> int:
    return provider.request_counts().get("/jwks", 0)


async def refused_all(client: OidcClient, tokens: list[str]) -> list[str]:
    """Verify the tokens concurrently; every one must raise InvalidIdToken. Their messages."""
    results = await asyncio.gather(
        *(client.verify_id_token(token, nonce=NONCE) for token in tokens), return_exceptions=True
    )
    unexpected = [result for result in results if not isinstance(result, InvalidIdToken)]
    assert not unexpected, f"not refused as InvalidIdToken: {unexpected[:3]}"
    return [str(result) for result in results]


@pytest.mark.requirement("RFC8725-3.10")
async def test_flood_of_unknown_kids_costs_at_most_one_jwks_request_per_interval(
    oidc_provider: OidcProvider,
) -> None:
    """A made-up kid may mean the provider rotated its keys, so the client looks again, but
    at most once per refetch interval (60 s by default): 50 tokens with random kids, signed
    with a key that is not the provider's, cause one JWKS request, not 50."""
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    clock = FakeClock()

    def flood() -> list[str]:
        return [id_token(oidc_provider, foreign, kid=secrets.token_hex(8)) for _ in range(50)]

    async with httpx.AsyncClient(timeout=5) as http:
        client = client_for(oidc_provider, http, clock)
        before = jwks_fetches(oidc_provider)

        messages = await refused_all(client, flood())
        assert all(message.startswith("no key with kid") for message in messages), messages[:3]
        first_wave = jwks_fetches(oidc_provider) - before
        assert first_wave <= 1, f"{first_wave} JWKS requests for 50 unknown kids"

        # within the interval: no more requests at all
        clock.now += 59
        await refused_all(client, flood())
        assert jwks_fetches(oidc_provider) - before == first_wave

        # once the interval has passed, one look again is allowed (one, for 50 tokens)
        clock.now += 2
        await refused_all(client, flood())
        assert jwks_fetches(oidc_provider) - before == first_wave + 1

        # control: the provider's own key is still found and accepted
        genuine = id_token(
            oidc_provider, provider_key(oidc_provider), kid=oidc_provider.private_jwk["kid"]
        )
        claims = await client.verify_id_token(genuine, nonce=NONCE)
        assert claims["sub"] == "direct-client"
        assert jwks_fetches(oidc_provider) - before == first_wave + 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_keyed_with(secret: bytes, payload: dict[str, Any], kid: str) -> str:
    """HS256 by hand (PyJWT refuses a PEM as an HMAC secret, rightly)."""
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        + "."
        + _b64(json.dumps(payload).encode())
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.mark.requirement("ASVS-6.8.2", "ASVS-9.1.2", "RFC8725-3.1")
async def test_alg_none_and_hs256_are_refused_without_a_key_lookup(
    oidc_provider: OidcProvider,
) -> None:
    """`alg: none`, HS256 signed with our client secret (which the provider also knows), and
    HS256 keyed with the provider's public key (the classic algorithm confusion) are refused
    on their header alone: no JWKS request. The discovery document here even announces
    "none" and "HS256" (a proxy adds them), and the app still only accepts asymmetric
    algorithms."""
    kid = oidc_provider.private_jwk["kid"]
    now = int(time.time())
    claims = {
        "iss": oidc_provider.issuer,
        "sub": "direct-client",
        "aud": oidc_provider.client_id,
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
    }
    public_pem = (
        provider_key(oidc_provider)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    forged = {
        "none": jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        "none-unsigned-with-signature": jwt.encode(
            claims, None, algorithm="none", headers={"kid": kid}
        )
        + "c2lnbmF0dXJl",
        "hs256-client-secret": jwt.encode(
            claims, oidc_provider.client_secret, algorithm="HS256", headers={"kid": kid}
        ),
        "hs256-provider-public-key": hs256_keyed_with(public_pem, claims, kid),
    }

    async with httpx.AsyncClient(timeout=5) as upstream:

        async def announce_weak_algorithms(request: httpx.Request) -> httpx.Response:
            answer = await upstream.get(str(request.url), headers={"Accept": "application/json"})
            if request.url.path != "/.well-known/openid-configuration":
                return httpx.Response(answer.status_code, content=answer.content)
            document = answer.json()
            document["id_token_signing_alg_values_supported"] += ["none", "HS256"]
            return httpx.Response(200, json=document)

        transport = httpx.MockTransport(announce_weak_algorithms)
        async with httpx.AsyncClient(transport=transport) as http:
            client = client_for(oidc_provider, http)
            metadata = await client.metadata()
            assert metadata.signing_algorithms == {"RS256"}
            before = jwks_fetches(oidc_provider)

            for name, token in forged.items():
                with pytest.raises(InvalidIdToken, match="algorithm") as refused:
                    await client.verify_id_token(token, nonce=NONCE)
                assert "is not accepted" in str(refused.value), name
            assert jwks_fetches(oidc_provider) == before, "a JWKS request for a forged alg"

            # control: the same claims signed properly pass through this very client
            genuine = id_token(oidc_provider, provider_key(oidc_provider), kid=kid)
            assert (await client.verify_id_token(genuine, nonce=NONCE))["sub"] == "direct-client"
            assert jwks_fetches(oidc_provider) == before + 1
