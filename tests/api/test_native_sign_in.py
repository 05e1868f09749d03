"""Native apps signing in with the provider SDK's id_token: `POST /auth/oauth/{provider}/id-token`.

The id_tokens are real: the suite's OpenID provider issues them to its native client
(public, PKCE) through its own authorization and token endpoints, as Google's and
Apple's SDKs get them; the provider puts the email claims into the id_token, as those
do. The app posts the raw nonce; the token carries its SHA-256 (hex).

SPEC (native apps): new, returning and two-factor accounts; refused: another audience,
a wrong or raw nonce, no nonce where one is required, expired, replayed and foreign-key
tokens; the tokens come in the body.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from authapi.models import Identity, SecurityEvent
from tests.conftest import Api, Tokens, assert_problem, unique_email
from tests.mfa import enable_totp, next_code, submit
from tests.oidc import NATIVE_CLIENT_ID, OidcProvider, native_id_token, oidc_settings, sha256_hex


def native_settings(provider: OidcProvider, **entry: Any) -> dict[str, Any]:
    """An app whose provider "local" accepts the native client's tokens."""
    settings = oidc_settings(provider)
    settings["oidc_providers"][0] = {
        **settings["oidc_providers"][0],
        "audiences": [NATIVE_CLIENT_ID],
        **entry,
    }
    return settings


@pytest.fixture
async def app(
    make_api: Callable[..., Any], oidc_provider_claims_in_id_token: OidcProvider
) -> AsyncIterator[Api]:
    async with make_api(**native_settings(oidc_provider_claims_in_id_token)) as api:
        yield api


@pytest.fixture
def provider(oidc_provider_claims_in_id_token: OidcProvider) -> OidcProvider:
    return oidc_provider_claims_in_id_token


def person(provider: OidcProvider, *, verified: bool = True) -> tuple[str, str]:
    """A new account at the provider: (sub, email)."""
    sub, email = f"sub-{secrets.token_hex(6)}", unique_email("native")
    provider.set_user(sub, email=email, email_verified=verified, name="Ada")
    return sub, email


async def token_for(provider: OidcProvider, sub: str) -> tuple[str, str]:
    """(id_token, raw nonce): what the app holds after the SDK's sign-in."""
    nonce = secrets.token_urlsafe(16)
    return await native_id_token(provider, sub=sub, token_nonce=sha256_hex(nonce)), nonce


async def post(
    api: Api, id_token: str, nonce: str | None, provider: str = "local"
) -> httpx.Response:
    body = {"id_token": id_token} if nonce is None else {"id_token": id_token, "nonce": nonce}
    return await api.client.post(f"/auth/oauth/{provider}/id-token", json=body)


def tokens_of(email: str, response: httpx.Response) -> Tokens:
    assert response.status_code == 200, response.text
    body = response.json()
    return Tokens(email=email, access=body["access_token"], refresh=body["refresh_token"])


class TestSignIn:
    async def test_a_new_account_gets_its_tokens_in_the_body(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, email = person(provider)
        response = await post(app, *await token_for(provider, sub))
        tokens = tokens_of(email, response)
        assert "set-cookie" not in response.headers
        me = (await app.me(tokens.access)).json()
        assert me["email"] == email
        assert me["email_verified"] is True
        assert me["has_password"] is False
        async with app.app.state.resources.sessionmaker() as db:
            identity = await db.scalar(select(Identity).where(Identity.subject == sub))
            events = list(
                await db.scalars(
                    select(SecurityEvent.type).where(SecurityEvent.user_id == identity.user_id)
                )
            )
        assert identity is not None
        assert identity.provider == "local"
        assert events[:2] == ["user_registered", "identity_linked"]
        assert "login_succeeded" in events

    async def test_a_returning_account_is_the_same_account(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, email = person(provider)
        first = tokens_of(email, await post(app, *await token_for(provider, sub)))
        again = tokens_of(email, await post(app, *await token_for(provider, sub)))
        first_me, again_me = (
            (await app.me(first.access)).json(),
            (await app.me(again.access)).json(),
        )
        assert first_me["id"] == again_me["id"]
        assert (await app.refresh(again.refresh)).status_code == 200

    async def test_an_account_with_two_factor_authentication_gets_the_second_step(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, email = person(provider)
        tokens = tokens_of(email, await post(app, *await token_for(provider, sub)))
        user = await enable_totp(app, tokens, password=None)
        response = await post(app, *await token_for(provider, sub))
        problem = assert_problem(response, 403, "mfa_required")
        completed = await submit(app, problem["mfa_token"], next_code(user.app))
        assert completed.status_code == 200, completed.text
        assert "refresh_token" in completed.json()

    async def test_email_verified_as_the_string_true_counts_and_a_relay_address_is_an_address(
        self, app: Api, provider: OidcProvider
    ) -> None:
        """As Apple sends them: `"email_verified": "true"`, and a private-relay address."""
        sub = f"sub-{secrets.token_hex(6)}"
        email = f"{secrets.token_hex(5)}@privaterelay.appleid.com"
        provider.set_user(sub, email=email, email_verified="true", is_private_email="true")
        tokens = tokens_of(email, await post(app, *await token_for(provider, sub)))
        me = (await app.me(tokens.access)).json()
        assert me["email"] == email
        assert me["email_verified"] is True

    async def test_an_unverified_address_makes_no_account(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, _ = person(provider, verified=False)
        response = await post(app, *await token_for(provider, sub))
        assert_problem(response, 403, "email_not_verified")

    async def test_an_address_of_an_unverified_account_is_account_exists(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, email = person(provider)
        await app.create_unverified_user(email)
        assert_problem(await post(app, *await token_for(provider, sub)), 409, "account_exists")

    async def test_the_cookie_delivery_can_be_asked_for(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, _ = person(provider)
        id_token, nonce = await token_for(provider, sub)
        response = await app.client.post(
            "/auth/oauth/local/id-token",
            json={"id_token": id_token, "nonce": nonce, "refresh_token_delivery": "cookie"},
        )
        assert response.status_code == 200, response.text
        assert "refresh_token" not in response.json()
        assert app.settings.refresh_cookie_name in response.cookies

    async def test_an_unknown_provider_is_404(self, app: Api) -> None:
        assert_problem(await post(app, "x.y.z", None, provider="nope"), 404, "unknown_provider")


class TestRefusals:
    async def test_a_token_for_an_audience_the_provider_does_not_list_is_refused(
        self, make_api: Callable[..., Any], provider: OidcProvider
    ) -> None:
        sub, _ = person(provider)
        async with make_api(**oidc_settings(provider)) as without_the_app:
            response = await post(without_the_app, *await token_for(provider, sub))
        assert_problem(response, 401, "invalid_id_token")

    async def test_a_wrong_nonce_is_refused(self, app: Api, provider: OidcProvider) -> None:
        sub, _ = person(provider)
        id_token, _ = await token_for(provider, sub)
        assert_problem(await post(app, id_token, "another nonce"), 401, "invalid_id_token")

    async def test_a_token_carrying_the_raw_nonce_is_refused(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, _ = person(provider)
        raw = secrets.token_urlsafe(16)
        id_token = await native_id_token(provider, sub=sub, token_nonce=raw)
        assert_problem(await post(app, id_token, raw), 401, "invalid_id_token")

    async def test_a_token_without_a_nonce_when_the_app_sent_one_is_refused(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, _ = person(provider)
        id_token = await native_id_token(provider, sub=sub, token_nonce=None)
        assert_problem(await post(app, id_token, "the app's nonce"), 401, "invalid_id_token")

    async def test_no_nonce_from_the_app_is_refused_where_the_provider_requires_one(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, _ = person(provider)
        id_token, _ = await token_for(provider, sub)
        assert_problem(await post(app, id_token, None), 401, "invalid_id_token")

    async def test_where_an_sdk_sets_its_own_nonce_the_app_may_send_none(
        self, make_api: Callable[..., Any], provider: OidcProvider
    ) -> None:
        sub, email = person(provider)
        id_token = await native_id_token(provider, sub=sub, token_nonce="chosen-by-the-sdk")
        async with make_api(**native_settings(provider, native_nonce="optional")) as api:
            tokens_of(email, await post(api, id_token, None))

    async def test_an_expired_token_is_refused(self, app: Api, provider: OidcProvider) -> None:
        sub, _ = person(provider)
        provider.tamper_next({"exp": int(time.time()) - 60, "iat": int(time.time()) - 120})
        id_token, nonce = await token_for(provider, sub)
        assert_problem(await post(app, id_token, nonce), 401, "invalid_id_token")

    async def test_a_replayed_token_is_refused(self, app: Api, provider: OidcProvider) -> None:
        sub, email = person(provider)
        id_token, nonce = await token_for(provider, sub)
        tokens_of(email, await post(app, id_token, nonce))
        assert_problem(await post(app, id_token, nonce), 401, "invalid_id_token")

    async def test_a_token_signed_with_a_foreign_key_is_refused(
        self, app: Api, provider: OidcProvider
    ) -> None:
        sub, _ = person(provider)
        provider.tamper_next(sign_with="foreign")
        id_token, nonce = await token_for(provider, sub)
        assert_problem(await post(app, id_token, nonce), 401, "invalid_id_token")

    async def test_garbage_is_refused_and_recorded(self, app: Api) -> None:
        assert_problem(await post(app, "not.a.token", "n"), 401, "invalid_id_token")
        async with app.app.state.resources.sessionmaker() as db:
            details = await db.scalar(
                select(SecurityEvent.details)
                .where(SecurityEvent.type == "login_failed")
                .order_by(SecurityEvent.id.desc())
            )
        assert details == {"method": "oidc:local", "reason": "invalid_id_token"}


async def test_a_disabled_account_is_refused(app: Api, provider: OidcProvider) -> None:
    from authapi.services.admin import AdminService

    sub, email = person(provider)
    tokens_of(email, await post(app, *await token_for(provider, sub)))
    resources = app.app.state.resources
    async with resources.sessionmaker.begin() as db:
        await AdminService(db, resources).disable(email)
    assert_problem(await post(app, *await token_for(provider, sub)), 403, "account_disabled")
