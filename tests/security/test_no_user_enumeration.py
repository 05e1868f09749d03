"""No user enumeration (SPEC "Security properties"): register, login and resend
answer with the same status, body and (within noise) timing whether or not the
address has an account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import PASSWORD, Api, assert_same_response, body_of, unique_email
from tests.security.timing import assert_same_time, median_seconds

OTHER_PASSWORD = "a different long passphrase"
WRONG_PASSWORD = "certainly not the password"


class TestSameAnswer:
    async def test_register_answers_the_same_for_existing_and_unknown_emails(
        self, api: Api
    ) -> None:
        verified = await api.create_user()
        unverified = await api.create_unverified_user()

        unknown = await api.register(unique_email(), OTHER_PASSWORD)
        assert unknown.status_code == 202
        assert_same_response(await api.register(verified, OTHER_PASSWORD), unknown)
        assert_same_response(await api.register(unverified, OTHER_PASSWORD), unknown)

    async def test_register_refuses_a_weak_password_the_same_for_existing_and_unknown(
        self, api: Api
    ) -> None:
        verified = await api.create_user()
        unknown = await api.register(unique_email(), "too short")
        assert unknown.status_code == 422
        assert_same_response(await api.register(verified, "too short"), unknown)

    async def test_existing_verified_email_gets_a_notice_not_a_new_account(self, api: Api) -> None:
        verified = await api.create_user()
        assert (await api.register(verified, OTHER_PASSWORD)).status_code == 202
        notice = await api.mail.wait_for(verified, subject="Someone tried to sign up")
        assert "already have one" in body_of(notice)
        # the registration changed nothing: the old password still works, the new one does not
        assert (await api.login(verified, OTHER_PASSWORD)).status_code == 401
        assert (await api.login(verified, PASSWORD)).status_code == 200

    async def test_login_answers_the_same_for_unknown_email_and_wrong_password(
        self, api: Api
    ) -> None:
        verified = await api.create_user()
        unverified = await api.create_unverified_user()

        unknown = await api.login(unique_email(), WRONG_PASSWORD)
        assert unknown.status_code == 401
        assert unknown.json()["code"] == "invalid_credentials"
        assert_same_response(await api.login(verified, WRONG_PASSWORD), unknown)
        # an unverified account only says so to someone who knows its password
        assert_same_response(await api.login(unverified, WRONG_PASSWORD), unknown)

    async def test_token_endpoint_answers_the_same_for_unknown_email_and_wrong_password(
        self, api: Api
    ) -> None:
        verified = await api.create_user()

        async def grant(email: str) -> httpx.Response:
            return await api.client.post(
                "/auth/token",
                data={"grant_type": "password", "username": email, "password": WRONG_PASSWORD},
            )

        unknown = await grant(unique_email())
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "invalid_grant"
        assert_same_response(await grant(verified), unknown)

    async def test_resend_answers_the_same_for_existing_and_unknown_emails(self, api: Api) -> None:
        verified = await api.create_user()
        unverified = await api.create_unverified_user()

        async def resend(email: str) -> httpx.Response:
            return await api.client.post("/auth/verify-email/resend", json={"email": email})

        unknown = await resend(unique_email())
        assert unknown.status_code == 202
        assert_same_response(await resend(verified), unknown)
        assert_same_response(await resend(unverified), unknown)


class TestSameTiming:
    async def test_login_timing_is_the_same_for_unknown_email_and_wrong_password(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(bcrypt_rounds=8) as api:
            known = await api.create_user()
            unknown_median, known_median = await median_seconds(
                lambda: api.login(unique_email(), WRONG_PASSWORD),
                lambda: api.login(known, WRONG_PASSWORD),
                expected_status=401,
            )
        assert_same_time(unknown_median, known_median)

    async def test_register_timing_is_the_same_for_existing_and_new_emails(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(bcrypt_rounds=8) as api:
            existing = await api.create_user()
            new_median, existing_median = await median_seconds(
                lambda: api.register(unique_email(), OTHER_PASSWORD),
                lambda: api.register(existing, OTHER_PASSWORD),
                expected_status=202,
            )
        assert_same_time(new_median, existing_median)
