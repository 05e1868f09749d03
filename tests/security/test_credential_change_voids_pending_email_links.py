"""Every credential change voids every link emailed before it (issue 12, item 1).

The review's attack: with the victim's password, an attacker asks for an email
change to their own address; the victim resets the password (every session ends)
and even changes it again; the attacker then confirms the change with the old
link, owns the address, and forgot-password hands them the account.

So a reset, a password change, two-factor authentication turned on or off, an
operator disabling the account and a sign-out everywhere each void every
outstanding link of the account: the email-change confirmation, a reset link, and
(for the address it changes to) the verification. On both backends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from authapi.services.admin import AdminService
from tests.conftest import (
    PASSWORD,
    Api,
    Tokens,
    assert_problem,
    bearer,
    link_token,
    unique_email,
)
from tests.mfa import disable_totp, enable_totp, mfa_user, next_code

NEW_PASSWORD = "the owner's brand new passphrase"


async def ask_email_change(api: Api, tokens: Tokens) -> tuple[str, str]:
    """What the attacker does with the password: returns (their address, the link token)."""
    theirs = unique_email("attacker")
    asked = await api.client.post(
        "/users/me/email",
        json={"password": PASSWORD, "new_email": theirs},
        headers=bearer(tokens.access),
    )
    assert asked.status_code == 202, asked.text
    return theirs, link_token(await api.mail.wait_for(theirs, subject="Confirm your new"))


async def ask_reset(api: Api, email: str, *, count: int = 1) -> str:
    asked = await api.client.post("/auth/forgot-password", json={"email": email})
    assert asked.status_code == 202, asked.text
    await api.settle()
    return link_token(await api.mail.wait_for(email, subject="Reset your password", count=count))


async def assert_voided(api: Api, *, change_link: str, reset_link: str | None) -> None:
    used = await api.client.post("/auth/verify-email", json={"token": change_link})
    assert_problem(used, 400, "invalid_token")
    if reset_link is not None:
        reset = await api.client.post(
            "/auth/reset-password", json={"token": reset_link, "new_password": NEW_PASSWORD}
        )
        assert_problem(reset, 400, "invalid_token")


async def operator_disable_then_enable(api: Api, email: str) -> None:
    resources = api.app.state.resources
    async with resources.sessionmaker.begin() as db:
        await AdminService(db, resources).disable(email)
    async with resources.sessionmaker.begin() as db:
        assert await AdminService(db, resources).enable(email)


async def change_password(api: Api, tokens: Tokens) -> None:
    changed = await api.client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(tokens.access),
    )
    assert changed.status_code == 204, changed.text


async def logout_all(api: Api, tokens: Tokens) -> None:
    ended = await api.client.post("/auth/logout-all", headers=bearer(tokens.access))
    assert ended.status_code == 204, ended.text


CHANGES: dict[str, Callable[[Api, Tokens], Awaitable[None]]] = {
    "password_change": change_password,
    "mfa_on": lambda api, tokens: enable_totp(api, tokens),
    "account_disabled": lambda api, tokens: operator_disable_then_enable(api, tokens.email),
    "logout_all": logout_all,
}


class TestPendingLinksDie:
    async def test_credential_change_voids_pending_email_links_after_a_reset(
        self, api: Api
    ) -> None:
        victim = await api.signed_in()
        reset_link = await ask_reset(api, victim.email)
        theirs, change_link = await ask_email_change(api, victim)

        reset = await api.client.post(
            "/auth/reset-password", json={"token": reset_link, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 200, reset.text

        await assert_voided(api, change_link=change_link, reset_link=None)
        # the address stayed the victim's
        login = await api.login(victim.email, NEW_PASSWORD)
        assert login.status_code == 200, login.text
        me = await api.me(login.json()["access_token"])
        assert me.json()["email"] == victim.email != theirs

    @pytest.mark.parametrize("change", list(CHANGES))
    async def test_credential_change_voids_pending_email_links(self, api: Api, change: str) -> None:
        victim = await api.signed_in()
        _, change_link = await ask_email_change(api, victim)
        reset_link = await ask_reset(api, victim.email)

        await CHANGES[change](api, victim)

        await assert_voided(api, change_link=change_link, reset_link=reset_link)

    async def test_turning_mfa_off_voids_pending_email_links(self, api: Api) -> None:
        victim = await mfa_user(api)
        _, change_link = await ask_email_change(api, victim.tokens)
        reset_link = await ask_reset(api, victim.email)

        turned_off = await disable_totp(api, victim.tokens.access, next_code(victim.app))
        assert turned_off.status_code == 204, turned_off.text

        await assert_voided(api, change_link=change_link, reset_link=reset_link)

    async def test_links_asked_for_after_the_change_work(self, api: Api) -> None:
        victim = await api.signed_in()
        await ask_reset(api, victim.email)
        await change_password(api, victim)

        fresh = await ask_reset(api, victim.email, count=2)

        reset = await api.client.post(
            "/auth/reset-password", json={"token": fresh, "new_password": PASSWORD}
        )
        assert reset.status_code == 200, reset.text
