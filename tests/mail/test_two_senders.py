"""Several senders on one database deliver each message once; a dead sender's claim
is taken over only after its lease.

The senders here are real `OutboxSender`s, each on an engine of its own (as two
app instances would be), delivering over SMTP to one aiosmtpd collector. Each is
told apart by its From address.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authapi import outbox as outbox_module
from authapi.db import make_engine, make_sessionmaker, migrate_sync
from authapi.encryption import Encryptor
from authapi.mail import Email, SmtpMailer
from authapi.models import OutboxMessage
from authapi.outbox import BATCH_SIZE, Outbox, OutboxSender
from tests.conftest import ENCRYPTION_KEY, PostgresDatabase, in_thread
from tests.mail.conftest import SmtpService, eventually

ENCRYPTOR = Encryptor([ENCRYPTION_KEY.encode()])
QUIET_SECONDS = 0.5  # after the last expected message: time for a duplicate to show up


class Senders:
    """Makes senders, each with its own engine, and stops and disposes them all."""

    def __init__(self, url: str, smtp: SmtpService, stack: AsyncExitStack) -> None:
        self.url = url
        self.smtp = smtp
        self._stack = stack

    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        engine = make_engine(self.url)
        self._stack.push_async_callback(engine.dispose)
        return make_sessionmaker(engine)

    def new(self, name: str, *, poll_seconds: float = 0.05) -> OutboxSender:
        sender = OutboxSender(
            self.sessionmaker(),
            SmtpMailer(self.smtp.url, timeout=5),
            ENCRYPTOR,
            sender_address=f"{name}@example.com",
            poll_seconds=poll_seconds,
            retry_seconds=0.2,
        )
        self._stack.push_async_callback(sender.stop)
        return sender


@pytest.fixture
async def senders_on_postgres(
    mail_postgres: PostgresDatabase, smtp_service: SmtpService
) -> AsyncIterator[Senders]:
    async with AsyncExitStack() as stack:
        yield Senders(mail_postgres.url, smtp_service, stack)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"
    in_thread(migrate_sync, url)
    return url


@pytest.fixture
async def senders_on_sqlite(
    sqlite_database: str, smtp_service: SmtpService
) -> AsyncIterator[Senders]:
    async with AsyncExitStack() as stack:
        yield Senders(sqlite_database, smtp_service, stack)


async def queue(senders: Senders, count: int, *, wake: Callable[[], None] = lambda: None) -> str:
    """Queue `count` messages in one transaction; returns the marker in their subjects."""
    marker = uuid.uuid4().hex[:12]
    outbox = Outbox(ENCRYPTOR, wake)
    async with senders.sessionmaker().begin() as db:
        for number in range(count):
            outbox.add(
                db,
                Email(
                    to=f"outbox-{number}@example.com",
                    subject=f"outbox test {marker} #{number}",
                    text=f"Message {number} of run {marker}.\n",
                ),
            )
    return marker


def subjects(smtp: SmtpService, marker: str) -> Counter[str]:
    return Counter(str(d.message["Subject"]) for d in smtp.collector.with_subject(marker))


async def all_arrived(smtp: SmtpService, marker: str, count: int) -> Counter[str] | None:
    seen = subjects(smtp, marker)
    return seen if sum(seen.values()) >= count else None


async def rows(senders: Senders) -> list[OutboxMessage]:
    async with senders.sessionmaker()() as db:
        return list(await db.scalars(select(OutboxMessage)))


async def assert_each_delivered_once(senders: Senders, marker: str, count: int) -> None:
    smtp = senders.smtp
    await eventually(
        lambda: all_arrived(smtp, marker, count), within=20, what=f"{count} messages delivered"
    )
    await asyncio.sleep(QUIET_SECONDS)
    seen = subjects(smtp, marker)
    assert seen == Counter(f"outbox test {marker} #{n}" for n in range(count)), (
        f"duplicates: {[s for s, n in seen.items() if n > 1]}"
    )
    stored = await rows(senders)
    assert len(stored) == count
    assert all(row.sent_at is not None and row.body is None for row in stored)


class TestTwoSendersOnPostgres:
    async def test_sixty_messages_are_each_delivered_once_by_two_senders(
        self, senders_on_postgres: Senders
    ) -> None:
        senders = senders_on_postgres
        first, second = senders.new("first"), senders.new("second")
        first.start()
        second.start()
        # as in an app: the commit wakes the instance that queued; the other one polls
        marker = await queue(senders, 60, wake=first.wake)

        await assert_each_delivered_once(senders, marker, 60)
        # each message was claimed exactly once (a second claim would count an attempt)
        assert {row.attempts for row in await rows(senders)} == {1}
        by_sender = Counter(
            str(d.message["From"]) for d in senders.smtp.collector.with_subject(marker)
        )
        assert by_sender["first@example.com"] > 0
        assert by_sender["second@example.com"] > 0

    async def test_concurrent_claims_never_overlap(self, senders_on_postgres: Senders) -> None:
        senders = senders_on_postgres
        first, second = senders.new("first"), senders.new("second")  # not started
        await queue(senders, 60)
        queued = {row.id for row in await rows(senders)}

        claims = await asyncio.gather(*(sender._claim() for sender in [first, second] * 4))

        claimed = [message_id for claim in claims for message_id, _, _ in claim]
        assert len(claimed) == len(set(claimed)), "a message was claimed twice"
        assert set(claimed) == queued
        assert all(len(claim) <= BATCH_SIZE for claim in claims)
        assert all(attempts == 1 for claim in claims for _, attempts, _ in claim)

    async def test_a_dead_senders_claim_is_delivered_by_another_only_after_the_lease(
        self, senders_on_postgres: Senders, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lease = 1.0
        monkeypatch.setattr(outbox_module, "LEASE_SECONDS", lease)
        senders = senders_on_postgres
        dead, rescuer = senders.new("dead"), senders.new("rescuer")
        marker = await queue(senders, 5)

        claimed_at = time.monotonic()
        assert len(await dead._claim()) == 5  # ... and then it "crashes": never sends
        rescuer.start()

        await assert_each_delivered_once(senders, marker, 5)
        arrivals = [d.arrived_at for d in senders.smtp.collector.with_subject(marker)]
        assert min(arrivals) >= claimed_at + lease - 0.02, "delivered while still leased"
        assert max(arrivals) < claimed_at + lease + 3, "not picked up soon after the lease"
        assert {str(d.message["From"]) for d in senders.smtp.collector.with_subject(marker)} == {
            "rescuer@example.com"
        }
        assert {row.attempts for row in await rows(senders)} == {2}

    async def test_a_stopping_sender_hands_its_unsent_claim_back_at_once(
        self, senders_on_postgres: Senders
    ) -> None:
        senders = senders_on_postgres
        senders.smtp.collector.delay_seconds = 0.1  # a slow mail server: time to stop mid-batch
        leaving, staying = senders.new("leaving"), senders.new("staying")
        marker = await queue(senders, 10)
        leaving.start()
        await eventually(
            lambda: all_arrived(senders.smtp, marker, 1), within=5, what="a first message"
        )
        await leaving.stop()
        sent_by_leaving = sum(subjects(senders.smtp, marker).values())
        assert 1 <= sent_by_leaving < 10

        # the default lease is 120 s: only a hand-back lets another sender go on now
        started = time.monotonic()
        staying.start()
        await assert_each_delivered_once(senders, marker, 10)
        assert time.monotonic() - started < 10
        by_sender = Counter(
            str(d.message["From"]) for d in senders.smtp.collector.with_subject(marker)
        )
        assert by_sender == {
            "leaving@example.com": sent_by_leaving,
            "staying@example.com": 10 - sent_by_leaving,
        }


class TestOneSenderOnSqlite:
    async def test_every_queued_message_is_delivered_once(self, senders_on_sqlite: Senders) -> None:
        senders = senders_on_sqlite
        sender = senders.new("embedded")
        sender.start()
        marker = await queue(senders, 30, wake=sender.wake)

        await assert_each_delivered_once(senders, marker, 30)
        assert {row.attempts for row in await rows(senders)} == {1}
        assert await sender.pending() == 0
