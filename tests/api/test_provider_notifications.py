"""A provider's server-to-server notifications (Sign in with Apple's): `consent-revoked` and
`account-delete` end the linked account's sessions and remove the link; they are signed
by the provider (checked against its real JWKS), for our client id, and acted on once.

The suite's OpenID provider stands in for Apple: its entry says `notifications: true`,
and the notifications are signed with its own key, as Apple signs them with Apple's.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select, update

from authapi.models import Identity, SecurityEvent, User
from tests.conftest import Api, assert_problem
from tests.oidc import OidcBrowser, OidcProvider, oidc_settings

REFRESH_HEADERS = {"X-Requested-With": "test"}


@pytest.fixture
async def app(make_api: Callable[..., Any], oidc_provider: OidcProvider) -> AsyncIterator[Api]:
    settings = oidc_settings(oidc_provider)
    settings["oidc_providers"][0] = {**settings["oidc_providers"][0], "notifications": True}
    async with make_api(**settings) as api:
        yield api


def notification(
    provider: OidcProvider, kind: str, sub: str, *, key: Any = None, audience: str | None = None
) -> str:
    """What Apple posts as `payload`: a JWT with the event as a JSON string."""
    jwk = provider.private_jwk
    signing_key = key or RSAAlgorithm.from_jwk(json.dumps(jwk))
    claims = {
        "iss": provider.issuer,
        "aud": audience or provider.client_id,
        "iat": int(time.time()),
        "jti": secrets.token_hex(8),
        "events": json.dumps({"type": kind, "sub": sub, "event_time": int(time.time() * 1000)}),
    }
    return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": jwk["kid"]})


async def notify(api: Api, payload: str, provider: str = "local") -> httpx.Response:
    return await api.client.post(f"/auth/oauth/{provider}/notifications", json={"payload": payload})


async def signed_in_through_the_provider(api: Api, provider: OidcProvider) -> str:
    """A new account made by a provider sign-in, signed in (the refresh cookie): its sub."""
    sub = f"sub-{secrets.token_hex(6)}"
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    response = await OidcBrowser(api.client).sign_in(sub=sub)
    assert response.status_code == 302, response.text
    assert (await api.client.post("/auth/refresh", headers=REFRESH_HEADERS)).status_code == 200
    return sub


async def identity_of(api: Api, sub: str) -> Identity | None:
    async with api.app.state.resources.sessionmaker() as db:
        return await db.scalar(select(Identity).where(Identity.subject == sub))


async def assert_signed_out(api: Api) -> None:
    refreshed = await api.client.post("/auth/refresh", headers=REFRESH_HEADERS)
    assert_problem(refreshed, 401, "invalid_refresh_token")


async def test_account_delete_signs_out_and_unlinks(app: Api, oidc_provider: OidcProvider) -> None:
    sub = await signed_in_through_the_provider(app, oidc_provider)
    identity = await identity_of(app, sub)
    assert identity is not None
    response = await notify(app, notification(oidc_provider, "account-delete", sub))
    assert response.status_code == 200, response.text
    assert response.json()["detail"] == "signed out and unlinked"
    await assert_signed_out(app)
    assert await identity_of(app, sub) is None
    async with app.app.state.resources.sessionmaker() as db:
        details = await db.scalar(
            select(SecurityEvent.details).where(
                SecurityEvent.user_id == identity.user_id,
                SecurityEvent.type == "provider_notified",
            )
        )
    assert details == {
        "provider": "local",
        "notification": "account-delete",
        "outcome": "signed out and unlinked",
    }


async def test_consent_revoked_on_the_last_way_in_signs_out_and_keeps_the_link(
    app: Api, oidc_provider: OidcProvider
) -> None:
    sub = await signed_in_through_the_provider(app, oidc_provider)
    response = await notify(app, notification(oidc_provider, "consent-revoked", sub))
    assert response.json()["detail"] == "signed out"
    await assert_signed_out(app)
    assert await identity_of(app, sub) is not None


async def test_consent_revoked_with_another_way_in_unlinks(
    app: Api, oidc_provider: OidcProvider
) -> None:
    sub = await signed_in_through_the_provider(app, oidc_provider)
    identity = await identity_of(app, sub)
    assert identity is not None
    async with app.app.state.resources.sessionmaker() as db:
        await db.execute(
            update(User).where(User.id == identity.user_id).values(password_hash="a password")
        )
        await db.commit()
    response = await notify(app, notification(oidc_provider, "consent-revoked", sub))
    assert response.json()["detail"] == "signed out and unlinked"
    assert await identity_of(app, sub) is None


async def test_other_notifications_are_recorded_and_each_is_acted_on_once(
    app: Api, oidc_provider: OidcProvider
) -> None:
    sub = await signed_in_through_the_provider(app, oidc_provider)
    payload = notification(oidc_provider, "email-disabled", sub)
    assert (await notify(app, payload)).json()["detail"] == "recorded"
    assert (await notify(app, payload)).json()["detail"] == "already handled"
    assert (await app.client.post("/auth/refresh", headers=REFRESH_HEADERS)).status_code == 200


async def test_an_unknown_subject_changes_nothing(app: Api, oidc_provider: OidcProvider) -> None:
    response = await notify(app, notification(oidc_provider, "account-delete", "nobody"))
    assert response.status_code == 200
    assert response.json()["detail"] == "no account is linked to this subject"


@pytest.mark.parametrize("forgery", ["foreign-key", "other-audience", "garbage", "no-events"])
async def test_a_notification_not_signed_by_the_provider_for_us_is_refused(
    app: Api, oidc_provider: OidcProvider, forgery: str
) -> None:
    sub = await signed_in_through_the_provider(app, oidc_provider)
    if forgery == "foreign-key":
        payload = notification(
            oidc_provider, "account-delete", sub, key=rsa.generate_private_key(65537, 2048)
        )
    elif forgery == "other-audience":
        payload = notification(oidc_provider, "account-delete", sub, audience="someone-else")
    elif forgery == "garbage":
        payload = "not.a.jwt"
    else:
        jwk = oidc_provider.private_jwk
        claims = {
            "iss": oidc_provider.issuer,
            "aud": oidc_provider.client_id,
            "iat": int(time.time()),
        }
        payload = jwt.encode(
            claims,
            RSAAlgorithm.from_jwk(json.dumps(jwk)),
            algorithm="RS256",
            headers={"kid": jwk["kid"]},
        )
    assert_problem(await notify(app, payload), 400, "invalid_notification")
    assert await identity_of(app, sub) is not None
    assert (await app.client.post("/auth/refresh", headers=REFRESH_HEADERS)).status_code == 200


async def test_a_provider_without_notifications_has_no_such_endpoint(
    make_api: Callable[..., Any], oidc_provider: OidcProvider
) -> None:
    async with make_api(**oidc_settings(oidc_provider)) as api:
        response = await notify(api, notification(oidc_provider, "account-delete", "x"))
    assert_problem(response, 404, "unknown_provider")
