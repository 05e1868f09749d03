"""An SMTP outage delays mail but never drops it, never fails the request, never doubles it."""

from __future__ import annotations

import asyncio
import time

import pytest

from authapi.models import OutboxMessage
from tests.conftest import Api, body_of
from tests.mail.conftest import ProductionApi, SmtpService, eventually, outbox_rows

RESET_SUBJECT = "Reset your password"
# after the message arrives, this long again for a duplicate that must not come
# (several poll and retry periods of 0.2 s)
QUIET_SECONDS = 1.0


async def reset_row(api: Api, address: str) -> OutboxMessage | None:
    rows = [row for row in await outbox_rows(api, address) if row.subject == RESET_SUBJECT]
    assert len(rows) <= 1, "the reset email was queued more than once"
    return rows[0] if rows else None


async def failed_attempts(api: Api, address: str, *, at_least: int) -> OutboxMessage | None:
    row = await reset_row(api, address)
    if row is not None and row.attempts >= at_least and row.last_error:
        return row
    return None


async def assert_arrives_exactly_once(smtp: SmtpService, api: Api, address: str) -> None:
    message = await api.mail.wait_for(address, subject=RESET_SUBJECT, wait_seconds=10)
    assert "/reset-password?token=" in body_of(message)
    await asyncio.sleep(QUIET_SECONDS)
    resets = [m for m in api.mail.to(address) if m["Subject"] == RESET_SUBJECT]
    assert len(resets) == 1, f"the reset email arrived {len(resets)} times"
    row = await reset_row(api, address)
    assert row is not None
    assert row.sent_at is not None
    assert row.body is None
    assert row.last_error is None


class TestSmtpOutage:
    @pytest.mark.requirement("ASVS-16.5.2")
    async def test_reset_email_queued_while_smtp_is_down_arrives_once_when_it_is_back(
        self, production_api: ProductionApi, smtp_service: SmtpService
    ) -> None:
        async with production_api(smtp_service) as api:
            address = await api.create_user()  # verified while SMTP is up
            smtp_service.stop()

            started = time.monotonic()
            response = await api.client.post("/auth/forgot-password", json={"email": address})
            assert response.status_code == 202, response.text
            assert time.monotonic() - started < 2, "the request waited on the mail server"

            # tried, failed, kept, and tried again (backoff 0.2 s, then 0.4 s)
            row = await eventually(
                lambda: failed_attempts(api, address, at_least=2),
                within=5,
                what="two failed delivery attempts recorded",
            )
            assert row.sent_at is None
            assert row.body is not None
            assert not [m for m in api.mail.to(address) if m["Subject"] == RESET_SUBJECT]

            smtp_service.start()  # the same port again
            await assert_arrives_exactly_once(smtp_service, api, address)

    async def test_mail_queued_during_an_outage_survives_an_app_restart(
        self, production_api: ProductionApi, smtp_service: SmtpService
    ) -> None:
        async with production_api(smtp_service, settle=False) as first:
            address = await first.create_user()
            smtp_service.stop()
            response = await first.client.post("/auth/forgot-password", json={"email": address})
            assert response.status_code == 202, response.text
            await eventually(
                lambda: failed_attempts(first, address, at_least=1),
                within=5,
                what="a failed delivery attempt recorded",
            )
        # the first instance is gone with the message unsent; a new one delivers it
        smtp_service.start()
        async with production_api(smtp_service) as second:
            await assert_arrives_exactly_once(smtp_service, second, address)

    async def test_a_temporary_smtp_refusal_is_retried_and_delivered_once(
        self, production_api: ProductionApi, smtp_service: SmtpService
    ) -> None:
        async with production_api(smtp_service) as api:
            address = await api.create_user()
            smtp_service.collector.refuse_next = 2  # 451 for the next two messages
            response = await api.client.post("/auth/forgot-password", json={"email": address})
            assert response.status_code == 202, response.text

            await assert_arrives_exactly_once(smtp_service, api, address)
            assert smtp_service.collector.refused == 2
            row = await reset_row(api, address)
            assert row is not None
            assert row.attempts == 3
