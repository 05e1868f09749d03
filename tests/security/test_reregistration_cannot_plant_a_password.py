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
import pytest

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
    @pytest.mark.parametrize(
        "first", ["owner", "attacker"], ids=["owner-first", "attacker-first-pre-hijacking"]
    )
    async def test_reregistration_cannot_plant_a_password(self, api: Api, first: str) -> None:
        email = unique_email("victim")
        owners, attackers = PASSWORD, ATTACKER_PASSWORD
        passwords = [owners, attackers] if first == "owner" else [attackers, owners]
        assert (await api.register(email, passwords[0])).status_code == 202
        first_link = link_token(await api.mail.wait_for(email, subject="Confirm"))

        assert (await api.register(email, passwords[1])).status_code == 202

        # the link that came first confirms nothing any more; no password chosen so far
        # signs in; the owner's latest link (resend) lets the mailbox choose
        used = await api.client.post("/auth/verify-email", json={"token": first_link})
        assert_problem(used, 400, "invalid_token")
        assert_problem(await api.login(email, attackers), 401, "invalid_credentials")
        assert (await resend(api, email)).status_code == 202
        latest = link_token(await api.mail.wait_for(email, subject="Choose a password", count=2))
        assert (await choose(api, latest)).status_code == 200
        await assert_only_the_mailbox_choice_signs_in(api, email)

    async def test_a_second_registration_answers_as_a_first_one(self, api: Api) -> None:
        taken = unique_email("victim")
        await api.register(taken, PASSWORD)

        again = await api.register(taken, ATTACKER_PASSWORD)
        fresh = await api.register(unique_email("new"), ATTACKER_PASSWORD)

        assert_same_response(again, fresh)
