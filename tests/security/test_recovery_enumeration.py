"""No user enumeration through recovery (SPEC "Security properties"; issue 3):
forgot-password and resend answer with the same status, headers, body and (within
noise) timing whether or not the address has an account. The lookup and the email
happen after the response, off the request's clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Api, assert_same_response, unique_email, unique_ip
from tests.security.timing import TIMING_ROUNDS, assert_same_time, median_seconds

HIGH_LIMIT = "100000/minute"


async def forgot(api: Api, email: str) -> httpx.Response:
    return await api.client.post("/auth/forgot-password", json={"email": email})


async def resend(api: Api, email: str) -> httpx.Response:
    return await api.client.post("/auth/verify-email/resend", json={"email": email})


class TestSameAnswer:
    async def test_forgot_password_answers_the_same_for_existing_and_unknown_emails(
        self, api: Api
    ) -> None:
        verified = await api.create_user()
        unverified = await api.create_unverified_user()

        unknown = await forgot(api, unique_email("nobody"))
        assert unknown.status_code == 202
        assert unknown.headers["content-type"] == "application/json"
        assert_same_response(await forgot(api, verified), unknown)
        assert_same_response(await forgot(api, unverified), unknown)
        # and the existing accounts did get their links (the answers hid a real difference)
        await api.mail.wait_for(verified, subject="Reset your password")
        await api.mail.wait_for(unverified, subject="Reset your password")

    async def test_resend_answers_the_same_for_existing_and_unknown_emails(self, api: Api) -> None:
        verified = await api.create_user()
        unverified = await api.create_unverified_user()

        unknown = await resend(api, unique_email("nobody"))
        assert unknown.status_code == 202
        assert_same_response(await resend(api, verified), unknown)
        assert_same_response(await resend(api, unverified), unknown)
        await api.mail.wait_for(unverified, subject="Confirm", count=2)


class TestSameTiming:
    async def test_forgot_password_timing_is_the_same_for_existing_and_unknown_emails(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            email_rate_limit_per_address=HIGH_LIMIT,
            email_rate_limit_per_ip=HIGH_LIMIT,
            client_ip=unique_ip(),
        ) as api:
            existing = await api.create_user()
            unknown = unique_email("nobody")
            unknown_median, existing_median = await median_seconds(
                lambda: forgot(api, unknown),
                lambda: forgot(api, existing),
                expected_status=202,
                quiet=api.settle,
            )
            # the existing address really went down the other path
            await api.mail.wait_for(existing, subject="Reset your password", count=TIMING_ROUNDS)
        assert_same_time(unknown_median, existing_median)

    async def test_resend_timing_is_the_same_for_unverified_and_unknown_emails(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(
            email_rate_limit_per_address=HIGH_LIMIT,
            email_rate_limit_per_ip=HIGH_LIMIT,
            client_ip=unique_ip(),
        ) as api:
            unverified = await api.create_unverified_user()
            unknown = unique_email("nobody")
            unknown_median, existing_median = await median_seconds(
                lambda: resend(api, unknown),
                lambda: resend(api, unverified),
                expected_status=202,
                quiet=api.settle,
            )
            await api.mail.wait_for(unverified, subject="Confirm", count=TIMING_ROUNDS)
        assert_same_time(unknown_median, existing_median)
