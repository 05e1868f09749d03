"""An external identity links to an existing account by email only when both sides have
verified the address (SPEC security property), and afterwards it is matched by the
provider's (issuer, subject) alone.

Why both sides: a provider that did not verify the address would hand the account to
whoever typed it in at that provider; an account whose own address is unverified may have
been registered by someone else than the address's owner (pre-account takeover: the
attacker registers the victim's address with a password, and waits for the victim to sign
in with the provider). Either way nothing is linked: an address the provider did not
verify lands on ?error=email_not_verified whether or not an account has it (one answer,
so the provider sign-in tells no one which addresses have accounts; issue 12, item 7), an
unverified local account on ?error=account_exists, and the owner can sign in with the
password and link the provider from the account.

All through the real flow against the provider of tests/oidc.py, whose id_token carries
only `sub` (email and email_verified come from its userinfo endpoint); the string
"false" case is repeated with the provider that puts them into the id_token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from authapi.models import Identity, User
from tests.conftest import Api, assert_problem, bearer, unique_email
from tests.oidc import REDIRECT, OidcBrowser, OidcProvider, oidc_settings

XRW = {"X-Requested-With": "XMLHttpRequest"}
REFRESH_COOKIE = "authapi_refresh"


@pytest.fixture
def app(oidc_api: Api) -> Api:
    """An app with the run's provider as "local" (conftest's oidc_api)."""
    return oidc_api


def new_sub() -> str:
    return f"linking-{uuid.uuid4().hex}"


async def user_id(api: Api, email: str) -> uuid.UUID | None:
    async with api.app.state.resources.sessionmaker() as db:
        found = await db.scalar(select(User.id).where(User.email == email))
    return found


async def identity_owner(api: Api, sub: str) -> uuid.UUID | None:
    """The user the identity (the provider's sub) is linked to, if any."""
    async with api.app.state.resources.sessionmaker() as db:
        rows = list(await db.scalars(select(Identity).where(Identity.subject == sub)))
    assert len(rows) <= 1
    return rows[0].user_id if rows else None


async def signed_in_user(api: Api, response: httpx.Response) -> uuid.UUID:
    """The account a successful callback signed the browser in to."""
    assert response.status_code == 302, response.text
    assert response.headers["location"] == REDIRECT
    refreshed = await api.client.post("/auth/refresh", headers=XRW)
    assert refreshed.status_code == 200, refreshed.text
    me = await api.client.get("/users/me", headers=bearer(refreshed.json()["access_token"]))
    assert me.status_code == 200, me.text
    api.client.cookies.clear()  # signed out of the browser for the next step
    return uuid.UUID(me.json()["id"])


async def assert_refused(api: Api, response: httpx.Response, error: str) -> None:
    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"{REDIRECT}?error={error}"
    assert not any(
        header.startswith(f"{REFRESH_COOKIE}=")
        for header in response.headers.get_list("set-cookie")
    ), response.headers
    refreshed = await api.client.post("/auth/refresh", headers=XRW)
    assert_problem(refreshed, 401, "invalid_refresh_token")


class TestExistingAccount:
    async def test_verified_on_both_sides_links_to_the_existing_account(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        email = await app.create_user()
        owner = await user_id(app, email)
        sub = new_sub()
        oidc_provider.set_user(sub, email=email, email_verified=True)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        assert await signed_in_user(app, response) == owner
        assert await identity_owner(app, sub) == owner
        await app.mail.wait_for(email, subject="sign-in was added to your account")

    @pytest.mark.parametrize(
        "provider_claims",
        [
            {"email_verified": False},
            {"email_verified": "false"},
            {"email_verified": "False"},
            {"email_verified": 0},
            {},  # email_verified not said at all
        ],
        ids=["false", "string-false", "string-False", "zero", "absent"],
    )
    async def test_unverified_at_the_provider_is_email_not_verified(
        self, app: Api, oidc_provider: OidcProvider, provider_claims: dict[str, Any]
    ) -> None:
        """Anyone can type the victim's address in at a provider that does not verify it."""
        email = await app.create_user()
        sub = new_sub()
        oidc_provider.set_user(sub, email=email, **provider_claims)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        await assert_refused(app, response, "email_not_verified")
        assert await identity_owner(app, sub) is None

    async def test_an_unverified_provider_address_gets_one_answer_known_or_not(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        known, unknown = await app.create_user(), unique_email("nobody")
        answers = []
        for email in (known, unknown):
            sub = new_sub()
            oidc_provider.set_user(sub, email=email, email_verified=False)
            answers.append(await OidcBrowser(app.client).sign_in(sub=sub))

        assert answers[0].status_code == answers[1].status_code == 302
        assert answers[0].headers["location"] == answers[1].headers["location"]
        await assert_refused(app, answers[0], "email_not_verified")

    async def test_unverified_locally_is_account_exists(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """Pre-account takeover: an attacker registered the victim's address (never
        confirmed it); the victim then signs in with a provider that verified the address.
        Linking would let the attacker's password into the victim's provider sign-in."""
        email = await app.create_unverified_user()
        sub = new_sub()
        oidc_provider.set_user(sub, email=email, email_verified=True)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        await assert_refused(app, response, "account_exists")
        assert await identity_owner(app, sub) is None
        async with app.app.state.resources.sessionmaker() as db:
            user = await db.scalar(select(User).where(User.email == email))
        assert user is not None
        assert not user.email_verified, "the local address became verified"

    async def test_address_differing_only_in_case_is_the_same_account(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """The provider's address is normalised like a login's, so the rule cannot be
        side-stepped by spelling: the unverified variant is still refused."""
        email = await app.create_user()
        owner = await user_id(app, email)
        shouting = new_sub()
        oidc_provider.set_user(shouting, email=email.upper(), email_verified=False)
        await assert_refused(
            app, await OidcBrowser(app.client).sign_in(sub=shouting), "email_not_verified"
        )

        verified = new_sub()
        oidc_provider.set_user(verified, email=email.upper(), email_verified=True)
        response = await OidcBrowser(app.client).sign_in(sub=verified)
        assert await signed_in_user(app, response) == owner


class TestNewAccount:
    async def test_verified_address_creates_an_account(
        self, app: Api, oidc_provider: OidcProvider
    ) -> None:
        """Control for the refusals below: the same flow with a verified address succeeds."""
        email, sub = unique_email("linking"), new_sub()
        oidc_provider.set_user(sub, email=email, email_verified=True)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        created = await signed_in_user(app, response)
        assert await user_id(app, email) == created
        assert await identity_owner(app, sub) == created

    @pytest.mark.parametrize(
        "provider_claims",
        [
            {"email_verified": "false"},
            {"email_verified": False},
            {},
        ],
        ids=["string-false", "false", "absent"],
    )
    async def test_unverified_address_creates_nothing(
        self, app: Api, oidc_provider: OidcProvider, provider_claims: dict[str, Any]
    ) -> None:
        email, sub = unique_email("linking"), new_sub()
        oidc_provider.set_user(sub, email=email, **provider_claims)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        await assert_refused(app, response, "email_not_verified")
        assert await user_id(app, email) is None
        assert await identity_owner(app, sub) is None

    @pytest.mark.parametrize(
        "provider_claims",
        [{}, {"email_verified": True}, {"email": "", "email_verified": True}],
        ids=["nothing", "verified-but-no-address", "empty-address"],
    )
    async def test_no_address_at_the_provider_creates_nothing(
        self, app: Api, oidc_provider: OidcProvider, provider_claims: dict[str, Any]
    ) -> None:
        sub = new_sub()
        oidc_provider.set_user(sub, **provider_claims)

        response = await OidcBrowser(app.client).sign_in(sub=sub)

        await assert_refused(app, response, "email_not_verified")
        assert await identity_owner(app, sub) is None


async def test_string_false_in_the_id_token_is_not_verified(
    make_api: Callable[..., Any], oidc_provider_claims_in_id_token: OidcProvider
) -> None:
    """The same rule when the claims come in the id_token (as Google sends them)."""
    provider = oidc_provider_claims_in_id_token
    async with make_api(**oidc_settings(provider)) as api:
        email = await api.create_user()
        sub = new_sub()
        provider.set_user(sub, email=email, email_verified="false")
        refused = await OidcBrowser(api.client).sign_in(sub=sub)
        await assert_refused(api, refused, "email_not_verified")

        newcomer, other = unique_email("linking"), new_sub()
        provider.set_user(other, email=newcomer, email_verified="false")
        await assert_refused(
            api, await OidcBrowser(api.client).sign_in(sub=other), "email_not_verified"
        )
        assert await user_id(api, newcomer) is None

        # control: a real true from this provider links
        linked = new_sub()
        provider.set_user(linked, email=email, email_verified=True)
        response = await OidcBrowser(api.client).sign_in(sub=linked)
        assert await signed_in_user(api, response) == await user_id(api, email)


@pytest.mark.requirement("ASVS-10.5.2")
async def test_identity_is_matched_by_subject_not_by_a_later_address(
    app: Api, oidc_provider: OidcProvider
) -> None:
    """No takeover by changing the address at the provider: once linked, the identity
    signs in to its own account, even when the provider later reports (verified) the
    address of another existing account."""
    first_email, second_email = await app.create_user(), await app.create_user()
    first, second = await user_id(app, first_email), await user_id(app, second_email)
    sub = new_sub()
    oidc_provider.set_user(sub, email=first_email, email_verified=True)
    assert await signed_in_user(app, await OidcBrowser(app.client).sign_in(sub=sub)) == first

    oidc_provider.set_user(sub, email=second_email, email_verified=True)
    response = await OidcBrowser(app.client).sign_in(sub=sub)

    assert await signed_in_user(app, response) == first, "signed in to the other account"
    assert await identity_owner(app, sub) == first
    async with app.app.state.resources.sessionmaker() as db:
        links = list(await db.scalars(select(Identity).where(Identity.user_id == second)))
    assert links == [], "an identity was linked to the account whose address was reported"
