"""Registering someone's unverified address again cannot plant a password (issue 12, item 5).

The review's attack: the victim registers; an attacker registers the same address
with another password; the victim's latest link then verified an account that only
the attacker's password opened. Decision (README "Decisions"): a second claim on an
unproven address keeps neither password, voids every link, and sends the mailbox a
link to choose the password. Whoever registered first or second, only the mailbox's
choice opens the account, and the answers say nothing about the address. On both
backends.
"""

from __future__ import annotations

import httpx

from tests.conftest import (
    PASSWORD,
    Api,
    assert_problem,
    assert_same_response,
    link_token,
    unique_email,
)

ATTACKER_PASSWORD = "the attacker's own passphrase"
CHOSEN_PASSWORD = "what the mailbox owner chose"


async def resend(api: Api, email: str) -> httpx.Response:
    return await api.client.post("/auth/verify-email/resend", json={"email": email})


async def choose(api: Api, token: str) -> httpx.Response:
    return await api.client.post(
        "/auth/reset-password", json={"token": token, "new_password": CHOSEN_PASSWORD}
    )


async def assert_only_the_mailbox_choice_signs_in(api: Api, email: str) -> None:
    for password in (PASSWORD, ATTACKER_PASSWORD):
        assert_problem(await api.login(email, password), 401, "invalid_credentials")
    assert (await api.login(email, CHOSEN_PASSWORD)).status_code == 200


class TestSecondRegistration:
    async def test_reregistration_cannot_plant_a_password_behind_the_owners_link(
        self, api: Api
    ) -> None:
        email = unique_email("victim")
        assert (await api.register(email, PASSWORD)).status_code == 202
        own_link = link_token(await api.mail.wait_for(email, subject="Confirm"))

        assert (await api.register(email, ATTACKER_PASSWORD)).status_code == 202

        # the victim's own link is dead, and so is their latest one asked for by resend
        used = await api.client.post("/auth/verify-email", json={"token": own_link})
        assert_problem(used, 400, "invalid_token")
        assert_problem(await api.login(email, ATTACKER_PASSWORD), 401, "invalid_credentials")
        assert (await resend(api, email)).status_code == 202
        latest = link_token(await api.mail.wait_for(email, subject="Choose a password", count=2))
        assert (await choose(api, latest)).status_code == 200
        await assert_only_the_mailbox_choice_signs_in(api, email)

    async def test_reregistration_cannot_keep_a_password_registered_first(self, api: Api) -> None:
        # pre-hijacking: the attacker registers the address before its owner does
        email = unique_email("victim")
        assert (await api.register(email, ATTACKER_PASSWORD)).status_code == 202
        planted_link = link_token(await api.mail.wait_for(email, subject="Confirm"))

        assert (await api.register(email, PASSWORD)).status_code == 202

        # the owner clicks the link that arrived first: it no longer confirms anything
        used = await api.client.post("/auth/verify-email", json={"token": planted_link})
        assert_problem(used, 400, "invalid_token")
        choice = link_token(await api.mail.wait_for(email, subject="Choose a password"))
        assert (await choose(api, choice)).status_code == 200
        await assert_only_the_mailbox_choice_signs_in(api, email)

    async def test_a_second_registration_answers_as_a_first_one(self, api: Api) -> None:
        taken = unique_email("victim")
        await api.register(taken, PASSWORD)

        again = await api.register(taken, ATTACKER_PASSWORD)
        fresh = await api.register(unique_email("new"), ATTACKER_PASSWORD)

        assert_same_response(again, fresh)
