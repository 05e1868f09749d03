"""Credential changes of a signed-in user, on both backends: password, email address,
deleting the account.

SPEC/issue 3: `POST /users/me/password` revokes the other sessions and keeps the
caller's; `POST /users/me/email` sends a confirmation link to the new address and a
notice to the old one, and the address changes only when the link is used (it
revokes no session); `DELETE /users/me` (password required) deletes the account
and every session, with a security event. A wrong current password is 401
`invalid_credentials` and changes nothing.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select

from authapi.models import EmailToken, SecurityEvent, User, UserSession
from tests.conftest import (
    APP_URL,
    PASSWORD,
    Api,
    Tokens,
    assert_problem,
    bearer,
    body_of,
    link_token,
    unique_email,
)

NEW_PASSWORD = "a brand new passphrase for this account"
WRONG_PASSWORD = "certainly not the password"
PASSWORD_CHANGED = "Your password was changed"
CONFIRM_NEW_ADDRESS = "Confirm your new email address"
CHANGE_REQUESTED = "A change of your email address was requested"
CHANGE_REFUSED = "Someone tried to move an account to your email address"
EMAIL_CHANGED = "Your email address was changed"
ACCOUNT_DELETED = "Your account was deleted"


async def change_password(
    api: Api, access: str, *, current: str = PASSWORD, new: str = NEW_PASSWORD
) -> httpx.Response:
    return await api.client.post(
        "/users/me/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(access),
    )


async def change_email(
    api: Api, access: str, new_email: str, *, password: str = PASSWORD
) -> httpx.Response:
    return await api.client.post(
        "/users/me/email",
        json={"password": password, "new_email": new_email},
        headers=bearer(access),
    )


async def delete_account(
    api: Api, access: str | None, *, password: str = PASSWORD
) -> httpx.Response:
    return await api.client.request(
        "DELETE",
        "/users/me",
        json={"password": password},
        headers=bearer(access) if access is not None else None,
    )


async def verify(api: Api, token: str) -> httpx.Response:
    return await api.client.post("/auth/verify-email", json={"token": token})


async def assert_session_live(api: Api, tokens: Tokens) -> Tokens:
    """The session works: its access token on /users/me and its refresh token (rotated)."""
    assert (await api.me(tokens.access)).status_code == 200
    refreshed = await api.refresh(tokens.refresh)
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    return Tokens(email=tokens.email, access=body["access_token"], refresh=body["refresh_token"])


async def assert_session_ended(api: Api, tokens: Tokens) -> None:
    assert_problem(await api.me(tokens.access), 401, "invalid_token")
    assert_problem(await api.refresh(tokens.refresh), 401, "invalid_refresh_token")


def subjects_to(api: Api, address: str) -> list[str]:
    return [str(message["Subject"]) for message in api.mail.to(address)]


async def two_sessions(api: Api) -> tuple[Tokens, Tokens]:
    """A new verified user signed in twice (this device, another device)."""
    current = await api.signed_in()
    return current, await api.signed_in(current.email)


async def user_id(api: Api, access: str) -> uuid.UUID:
    return uuid.UUID((await api.me(access)).json()["id"])


class TestChangePassword:
    @pytest.mark.requirement("ASVS-6.2.2", "ASVS-6.2.3", "ASVS-7.4.3", "RFC9700-4.14.2")
    async def test_change_keeps_this_session_and_ends_the_others(self, api: Api) -> None:
        current, other = await two_sessions(api)
        response = await change_password(api, current.access)
        assert response.status_code == 204, response.text

        await assert_session_live(api, current)
        await assert_session_ended(api, other)
        assert_problem(await api.login(current.email, PASSWORD), 401, "invalid_credentials")
        assert (await api.login(current.email, NEW_PASSWORD)).status_code == 200

        notice = await api.mail.wait_for(current.email, subject=PASSWORD_CHANGED)
        assert "?token=" not in body_of(notice)

    @pytest.mark.requirement("ASVS-6.2.3", "NIST-63B-5.1.2")
    async def test_wrong_current_password_is_401_and_changes_nothing(self, api: Api) -> None:
        current, other = await two_sessions(api)
        response = await change_password(api, current.access, current=WRONG_PASSWORD)
        assert_problem(response, 401, "invalid_credentials")

        await assert_session_live(api, current)
        await assert_session_live(api, other)
        assert (await api.login(current.email, PASSWORD)).status_code == 200
        assert_problem(await api.login(current.email, NEW_PASSWORD), 401, "invalid_credentials")
        await api.settle()
        assert PASSWORD_CHANGED not in subjects_to(api, current.email)

    @pytest.mark.requirement("ASVS-6.2.1")
    async def test_weak_new_password_is_422_and_changes_nothing(self, api: Api) -> None:
        current, other = await two_sessions(api)
        response = await change_password(api, current.access, new="too short")
        assert_problem(response, 422, "weak_password")

        await assert_session_live(api, other)
        assert (await api.login(current.email, PASSWORD)).status_code == 200
        await api.settle()
        assert PASSWORD_CHANGED not in subjects_to(api, current.email)

    async def test_change_without_a_bearer_is_401(self, api: Api) -> None:
        response = await api.client.post(
            "/users/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert_problem(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")


class TestChangeEmail:
    async def test_address_changes_only_when_the_link_is_used(self, api: Api) -> None:
        current, other = await two_sessions(api)
        old, new = current.email, unique_email("moved")

        response = await change_email(api, current.access, new)
        assert response.status_code == 202, response.text
        assert set(response.json()) == {"detail"}

        confirmation = await api.mail.wait_for(new, subject=CONFIRM_NEW_ADDRESS)
        token = link_token(confirmation)
        assert f"{APP_URL}/verify-email?token={token}" in body_of(confirmation)
        requested = await api.mail.wait_for(old, subject=CHANGE_REQUESTED)
        assert new in body_of(requested)
        assert "?token=" not in body_of(requested)

        # nothing has changed yet
        assert (await api.me(current.access)).json()["email"] == old
        assert (await api.login(old)).status_code == 200
        assert_problem(await api.login(new), 401, "invalid_credentials")

        confirmed = await verify(api, token)
        assert confirmed.status_code == 200, confirmed.text

        me = (await api.me(current.access)).json()
        assert me["email"] == new
        assert me["email_verified"] is True
        assert (await api.login(new)).status_code == 200
        assert_problem(await api.login(old), 401, "invalid_credentials")
        changed = await api.mail.wait_for(old, subject=EMAIL_CHANGED)
        assert new in body_of(changed)
        # the link worked once
        assert_problem(await verify(api, token), 400, "invalid_token")

        # it revokes no session: both devices stay signed in
        await assert_session_live(api, current)
        await assert_session_live(api, other)

    async def test_a_newer_request_voids_the_older_link(self, api: Api) -> None:
        current = await api.signed_in()
        first, second = unique_email("first"), unique_email("second")
        assert (await change_email(api, current.access, first)).status_code == 202
        first_link = link_token(await api.mail.wait_for(first, subject=CONFIRM_NEW_ADDRESS))
        assert (await change_email(api, current.access, second)).status_code == 202
        second_link = link_token(await api.mail.wait_for(second, subject=CONFIRM_NEW_ADDRESS))

        assert_problem(await verify(api, first_link), 400, "invalid_token")
        assert (await api.me(current.access)).json()["email"] == current.email
        assert (await verify(api, second_link)).status_code == 200
        assert (await api.me(current.access)).json()["email"] == second

    async def test_wrong_password_is_401_and_sends_nothing(self, api: Api) -> None:
        current = await api.signed_in()
        before = subjects_to(api, current.email)
        new = unique_email("moved")

        response = await change_email(api, current.access, new, password=WRONG_PASSWORD)
        assert_problem(response, 401, "invalid_credentials")

        await api.settle()
        assert api.mail.to(new) == []
        assert subjects_to(api, current.email) == before
        assert (await api.me(current.access)).json()["email"] == current.email

    @pytest.mark.requirement("ASVS-2.2.3")
    async def test_the_current_address_is_422(self, api: Api) -> None:
        current = await api.signed_in()
        for same in (current.email, f"  {current.email.upper()} "):
            assert_problem(await change_email(api, current.access, same), 422, "validation_error")
        await api.settle()
        assert CONFIRM_NEW_ADDRESS not in subjects_to(api, current.email)
        assert CHANGE_REQUESTED not in subjects_to(api, current.email)

    async def test_a_taken_address_gets_a_notice_and_the_caller_the_usual_answer(
        self, api: Api
    ) -> None:
        current = await api.signed_in()
        taken = await api.create_user(unique_email("taken"))
        free = unique_email("free")
        usual = await change_email(api, (await api.signed_in()).access, free)
        assert usual.status_code == 202

        response = await change_email(api, current.access, taken)
        assert response.status_code == usual.status_code
        assert response.content == usual.content

        notice = await api.mail.wait_for(taken, subject=CHANGE_REFUSED)
        await api.mail.wait_for(current.email, subject=CHANGE_REQUESTED)
        await api.settle()
        # the link cannot be obtained: no mail holds one, and no change token exists
        assert "?token=" not in body_of(notice)
        assert CONFIRM_NEW_ADDRESS not in subjects_to(api, taken)
        for message in api.mail.to(current.email):
            if CHANGE_REQUESTED in str(message["Subject"]):
                assert "?token=" not in body_of(message)
        async with api.app.state.resources.sessionmaker() as db:
            change_tokens = await db.scalar(
                select(func.count())
                .select_from(EmailToken)
                .join(User, User.id == EmailToken.user_id)
                .where(User.email == current.email, EmailToken.purpose == "change_email")
            )
        assert change_tokens == 0
        # nothing changed for either account
        assert (await api.me(current.access)).json()["email"] == current.email
        assert (await api.login(current.email)).status_code == 200
        assert (await api.login(taken)).status_code == 200

    async def test_address_taken_before_confirmation_is_409_email_taken(self, api: Api) -> None:
        current = await api.signed_in()
        new = unique_email("contested")
        assert (await change_email(api, current.access, new)).status_code == 202
        token = link_token(await api.mail.wait_for(new, subject=CONFIRM_NEW_ADDRESS))

        # someone else registers (and confirms) the address before the link is used
        assert (await api.register(new, NEW_PASSWORD)).status_code == 202
        their_link = link_token(await api.mail.wait_for(new, subject="Confirm your email address"))
        assert (await verify(api, their_link)).status_code == 200

        assert_problem(await verify(api, token), 409, "email_taken")
        assert (await api.me(current.access)).json()["email"] == current.email
        assert (await api.login(current.email)).status_code == 200
        assert (await api.login(new, NEW_PASSWORD)).status_code == 200
        await api.settle()
        assert EMAIL_CHANGED not in subjects_to(api, current.email)


class TestDeleteAccount:
    @pytest.mark.requirement("ASVS-10.3.3", "ASVS-7.4.2")
    async def test_delete_removes_the_account_and_every_session(self, api: Api) -> None:
        current, other = await two_sessions(api)
        account = await user_id(api, current.access)

        response = await delete_account(api, current.access)
        assert response.status_code == 204, response.text

        await assert_session_ended(api, current)
        await assert_session_ended(api, other)
        assert_problem(await api.login(current.email), 401, "invalid_credentials")

        async with api.app.state.resources.sessionmaker() as db:
            assert await db.get(User, account) is None
            sessions_left = await db.scalar(
                select(func.count()).select_from(UserSession).where(UserSession.user_id == account)
            )
            events = (
                await db.scalars(
                    select(SecurityEvent).where(SecurityEvent.type == "account_deleted")
                )
            ).all()
        assert sessions_left == 0
        matching = [e for e in events if (e.details or {}).get("account") == str(account)]
        assert len(matching) == 1

        notice = await api.mail.wait_for(current.email, subject=ACCOUNT_DELETED)
        assert "?token=" not in body_of(notice)

    async def test_wrong_password_is_401_and_deletes_nothing(self, api: Api) -> None:
        current, other = await two_sessions(api)
        account = await user_id(api, current.access)

        response = await delete_account(api, current.access, password=WRONG_PASSWORD)
        assert_problem(response, 401, "invalid_credentials")

        await assert_session_live(api, current)
        await assert_session_live(api, other)
        assert (await api.login(current.email)).status_code == 200
        async with api.app.state.resources.sessionmaker() as db:
            assert await db.get(User, account) is not None
        await api.settle()
        assert ACCOUNT_DELETED not in subjects_to(api, current.email)

    async def test_delete_without_a_bearer_is_401(self, api: Api) -> None:
        current = await api.signed_in()
        response = await delete_account(api, None)
        assert_problem(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
        await assert_session_live(api, current)
        assert (await api.login(current.email)).status_code == 200

    async def test_delete_with_an_ended_session_is_401(self, api: Api) -> None:
        current, other = await two_sessions(api)
        assert (
            await api.client.post("/auth/logout", json={"refresh_token": other.refresh})
        ).status_code == 204
        assert_problem(await delete_account(api, other.access), 401, "invalid_token")
        await assert_session_live(api, current)


class TestOutstandingResetLinks:
    """A reset link sent before a credential change must not undo it."""

    async def forgot(self, api: Api, email: str) -> str:
        assert (
            await api.client.post("/auth/forgot-password", json={"email": email})
        ).status_code == 202
        return link_token(await api.mail.wait_for(email, subject="Reset your password"))

    async def test_a_password_change_voids_reset_links(self, api: Api) -> None:
        tokens = await api.signed_in()
        reset_token = await self.forgot(api, tokens.email)
        assert (await change_password(api, tokens.access)).status_code == 204
        reset = await api.client.post(
            "/auth/reset-password",
            json={"token": reset_token, "new_password": "an attacker's new passphrase"},
        )
        assert_problem(reset, 400, "invalid_token")
        assert (await api.login(tokens.email, NEW_PASSWORD)).status_code == 200

    async def test_an_email_change_voids_reset_links_sent_to_the_old_address(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        reset_token = await self.forgot(api, tokens.email)
        new_email = unique_email("moved")
        assert (await change_email(api, tokens.access, new_email)).status_code == 202
        confirm = link_token(await api.mail.wait_for(new_email, subject=CONFIRM_NEW_ADDRESS))
        assert (await verify(api, confirm)).status_code == 200
        reset = await api.client.post(
            "/auth/reset-password",
            json={"token": reset_token, "new_password": "an attacker's new passphrase"},
        )
        assert_problem(reset, 400, "invalid_token")
        assert (await api.login(new_email, PASSWORD)).status_code == 200


class TestChallengeOnEvery401:
    async def test_a_wrong_current_password_answer_names_the_bearer_scheme(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await change_password(api, tokens.access, current=WRONG_PASSWORD)
        assert_problem(response, 401, "invalid_credentials")
        assert response.headers["www-authenticate"] == 'Bearer realm="authapi"'

    async def test_a_failed_login_names_the_bearer_scheme(self, api: Api) -> None:
        response = await api.login(unique_email(), WRONG_PASSWORD)
        assert_problem(response, 401, "invalid_credentials")
        assert response.headers["www-authenticate"] == 'Bearer realm="authapi"'
