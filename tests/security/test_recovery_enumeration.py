"""No user enumeration through recovery (SPEC "Security properties"; issue 3):
forgot-password and resend answer with the same status, headers, body and (within
noise) timing whether or not the address has an account. The lookup and the email
happen after the response, off the request's clock."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.conftest import Api, assert_same_response, unique_email, unique_ip

TIMING_ROUNDS = 31
# medians of the two paths may differ by this factor at most (noise on a shared machine)
TIMING_LOW, TIMING_HIGH = 0.67, 1.5
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


async def median_seconds(
    first: Callable[[], Awaitable[httpx.Response]],
    second: Callable[[], Awaitable[httpx.Response]],
    *,
    expected_status: int,
    quiet: Callable[[], Awaitable[None]],
) -> tuple[float, float]:
    """Median duration of each call, `TIMING_ROUNDS` times each, interleaved (order alternating).

    `quiet` runs before every timed call, off the clock: the work a call leaves behind
    (the lookup, the email) would otherwise slow whichever call comes next.
    """
    durations: dict[int, list[float]] = {0: [], 1: []}
    calls = (first, second)
    for _ in range(3):  # warm-up: connection pools, caches
        for call in calls:
            assert (await call()).status_code == expected_status
    for round_number in range(TIMING_ROUNDS):
        order = (0, 1) if round_number % 2 == 0 else (1, 0)
        for index in order:
            await quiet()
            started = time.perf_counter()
            response = await calls[index]()
            durations[index].append(time.perf_counter() - started)
            assert response.status_code == expected_status, response.text
    return statistics.median(durations[0]), statistics.median(durations[1])


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
        ratio = unknown_median / existing_median
        assert TIMING_LOW < ratio < TIMING_HIGH, (unknown_median, existing_median)

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
        ratio = unknown_median / existing_median
        assert TIMING_LOW < ratio < TIMING_HIGH, (unknown_median, existing_median)
