"""Accounts: registration, email verification, resend, re-registration and /users/me,
on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from authapi.models import User
from tests.conftest import (
    APP_URL,
    PASSWORD,
    Api,
    assert_problem,
    body_of,
    link_token,
    unique_email,
)

OTHER_PASSWORD = "a different passphrase entirely"
THIRD_PASSWORD = "the password the mailbox chose"
CONFIRM = "Confirm"


async def verify(api: Api, token: str) -> httpx.Response:
    return await api.client.post("/auth/verify-email", json={"token": token})


async def settled(api: Api) -> None:
    """Wait until every email the app has queued has been delivered."""
    await api.settle()


def confirmations(api: Api, email: str) -> int:
    return len([m for m in api.mail.to(email) if CONFIRM in str(m["Subject"])])


async def users_with(api: Api, email: str) -> int:
    async with api.app.state.resources.sessionmaker() as db:
        count: int = await db.scalar(select(func.count()).where(User.email == email))
        return count


class TestRegister:
    async def test_register_sends_a_verification_link_under_the_public_url(self, api: Api) -> None:
        email = unique_email()
        response = await api.register(email)
        assert response.status_code == 202
        assert set(response.json()) == {"detail"}

        message = await api.mail.wait_for(email, subject=CONFIRM)
        token = link_token(message)
        assert f"{APP_URL}/verify-email?token={token}" in body_of(message)
        assert len(token) >= 22  # at least 128 bits in URL-safe base64
        assert (await verify(api, token)).status_code == 200
        me = await api.me((await api.signed_in(email)).access)
        assert me.json()["email_verified"] is True

    async def test_verification_link_works_once(self, api: Api) -> None:
        email = unique_email()
        await api.register(email)
        token = link_token(await api.mail.wait_for(email, subject=CONFIRM))
        assert (await verify(api, token)).status_code == 200
        assert_problem(await verify(api, token), 400, "invalid_token")

    async def test_unknown_verification_token_is_400(self, api: Api) -> None:
        assert_problem(await verify(api, "x" * 43), 400, "invalid_token")

    async def test_email_is_normalised(self, api: Api) -> None:
        email = unique_email()
        assert (await api.register(f"  {email.upper()} ")).status_code == 202
        token = link_token(await api.mail.wait_for(email, subject=CONFIRM))
        assert (await verify(api, token)).status_code == 200
        assert (await api.login(email)).status_code == 200
        assert await users_with(api, email) == 1


class TestLoginBeforeVerification:
    @pytest.mark.requirement("ASVS-2.3.1")
    async def test_right_password_before_verifying_is_403_email_not_verified(
        self, api: Api
    ) -> None:
        email = unique_email()
        await api.register(email)
        assert_problem(await api.login(email), 403, "email_not_verified")

    async def test_wrong_password_before_verifying_is_401_like_any_other(self, api: Api) -> None:
        email = unique_email()
        await api.register(email)
        wrong = await api.login(email, "wrong password for sure")
        unknown = await api.login(unique_email(), "wrong password for sure")
        assert_problem(wrong, 401, "invalid_credentials")
        assert wrong.json() == unknown.json()

    async def test_unverified_account_can_sign_in_when_verification_is_not_required(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(require_verified_email=False) as api:
            email = unique_email()
            assert (await api.register(email)).status_code == 202
            login = await api.login(email)
            assert login.status_code == 200, login.text
            me = await api.me(login.json()["access_token"])
            assert me.json()["email_verified"] is False


class TestResend:
    async def test_resend_sends_a_new_link_and_voids_the_old_one(self, api: Api) -> None:
        email = unique_email()
        await api.register(email)
        old = link_token(await api.mail.wait_for(email, subject=CONFIRM))

        response = await api.client.post("/auth/verify-email/resend", json={"email": email})

        assert response.status_code == 202
        new = link_token(await api.mail.wait_for(email, subject=CONFIRM, count=2))
        assert new != old
        assert_problem(await verify(api, old), 400, "invalid_token")
        assert (await verify(api, new)).status_code == 200
        assert (await api.login(email)).status_code == 200

    async def test_resend_answers_the_same_for_unknown_and_verified_addresses(
        self, api: Api
    ) -> None:
        verified = await api.create_user()
        unverified = unique_email()
        await api.register(unverified)
        answers = [
            await api.client.post("/auth/verify-email/resend", json={"email": address})
            for address in (unique_email(), verified, unverified)
        ]
        assert [a.status_code for a in answers] == [202, 202, 202]
        assert answers[0].json() == answers[1].json() == answers[2].json()
        await settled(api)
        assert confirmations(api, verified) == 1  # verified: nothing new is sent
        assert confirmations(api, unverified) == 2


class TestRegisterExisting:
    async def test_existing_verified_address_gets_a_notice_and_nothing_changes(
        self, api: Api
    ) -> None:
        email = await api.create_user()
        fresh = await api.register(unique_email(), OTHER_PASSWORD)

        again = await api.register(email, OTHER_PASSWORD)

        assert again.status_code == 202
        assert again.json() == fresh.json()
        notice = await api.mail.wait_for(email, subject="Someone tried")
        assert "token=" not in body_of(notice)
        await settled(api)
        assert confirmations(api, email) == 1
        assert await users_with(api, email) == 1
        assert (await api.login(email, PASSWORD)).status_code == 200
        assert_problem(await api.login(email, OTHER_PASSWORD), 401, "invalid_credentials")

    async def test_reregistering_an_unverified_address_keeps_neither_password(
        self, api: Api
    ) -> None:
        email = unique_email()
        await api.register(email, PASSWORD)
        first_link = link_token(await api.mail.wait_for(email, subject=CONFIRM))

        assert (await api.register(email, OTHER_PASSWORD)).status_code == 202

        choice = await api.mail.wait_for(email, subject="Choose a password")
        assert "/reset-password?token=" in body_of(choice)
        assert_problem(await verify(api, first_link), 400, "invalid_token")
        for password in (PASSWORD, OTHER_PASSWORD):
            assert_problem(await api.login(email, password), 401, "invalid_credentials")
        chosen = await api.client.post(
            "/auth/reset-password",
            json={"token": link_token(choice), "new_password": THIRD_PASSWORD},
        )
        assert chosen.status_code == 200, chosen.text
        assert (await api.login(email, THIRD_PASSWORD)).status_code == 200
        assert await users_with(api, email) == 1

    async def test_resend_after_a_second_registration_sends_the_password_choice(
        self, api: Api
    ) -> None:
        email = unique_email()
        await api.register(email, PASSWORD)
        await api.register(email, OTHER_PASSWORD)
        await api.mail.wait_for(email, subject="Choose a password")

        resent = await api.client.post("/auth/verify-email/resend", json={"email": email})

        assert resent.status_code == 202
        await api.mail.wait_for(email, subject="Choose a password", count=2)
        await settled(api)
        assert confirmations(api, email) == 1  # the first registration's only


class TestMe:
    async def test_me_returns_the_account(self, api: Api) -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        tokens = await api.signed_in()

        response = await api.me(tokens.access)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {
            "id",
            "email",
            "email_verified",
            "mfa_enabled",
            "has_password",
            "created_at",
        }
        assert body["has_password"] is True
        assert uuid.UUID(body["id"])
        assert body["email"] == tokens.email
        assert body["email_verified"] is True
        assert body["mfa_enabled"] is False
        created = datetime.fromisoformat(body["created_at"])
        assert created.tzinfo is not None
        assert before <= created <= datetime.now(UTC)

    async def test_me_without_a_token_is_401_not_authenticated(self, api: Api) -> None:
        response = await api.client.get("/users/me")
        assert_problem(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_me_with_a_garbage_token_is_401_invalid_token(self, api: Api) -> None:
        response = await api.client.get("/users/me", headers={"Authorization": "Bearer x.y.z"})
        assert_problem(response, 401, "invalid_token")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
