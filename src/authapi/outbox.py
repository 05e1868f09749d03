"""The durable mail outbox: mail is a row written in the transaction that causes it.

`Outbox.add(db, email)` adds the message to the caller's transaction, so a change
and its email are stored together or not at all, and no request ever waits on,
or fails because of, the mail server. `OutboxSender` (one per app process)
delivers due messages:

- it claims a batch in one statement, `UPDATE … WHERE id IN (SELECT … FOR UPDATE
  SKIP LOCKED)`, pushing each claimed row's next attempt a lease into the future,
  so instances and workers never pick the same message (SQLite, one process,
  serialises writes and needs no SKIP LOCKED);
- a failed send is retried with exponential backoff (capped at an hour), forever:
  an SMTP outage delays mail but never drops it;
- a sent message keeps its metadata, but its body (which may hold a one-time
  link) is erased; bodies are encrypted at rest until then.

Delivery is at least once: a process that dies between the SMTP server's
acceptance and the UPDATE that records it sends that message again after the
lease. The sender wakes when a transaction that enqueued mail commits, and
polls every AUTHAPI_OUTBOX_POLL_SECONDS for retries and other instances' mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from authapi import metrics
from authapi.encryption import Encryptor
from authapi.mail import Email, Mailer, build_message
from authapi.models import OutboxMessage, utcnow

log = logging.getLogger("authapi.outbox")

BATCH_SIZE = 20
LEASE_SECONDS = 120  # longer than one SMTP exchange may take (its own timeout is shorter)
MAX_RETRY_SECONDS = 3600
KEEP_SENT_DAYS = 7
STOP_TIMEOUT_SECONDS = 15.0
_WAKE_KEY = "authapi.outbox.wake"


class Outbox:
    """What services call: `outbox.add(db, email)`."""

    def __init__(self, encryptor: Encryptor, wake: Callable[[], None]) -> None:
        self._encryptor = encryptor
        self._wake = wake

    def add(self, db: AsyncSession, email: Email) -> None:
        """Add `email` to the caller's transaction; the sender wakes when it commits."""
        body = json.dumps(
            {"to": email.to, "subject": email.subject, "text": email.text, "link": email.link}
        )
        db.add(
            OutboxMessage(
                recipient=email.to,
                subject=email.subject[:200],
                body=self._encryptor.encrypt(body.encode("utf-8")),
                next_attempt_at=utcnow(),
            )
        )
        db.info[_WAKE_KEY] = self._wake


@event.listens_for(Session, "after_commit")
def _wake_sender(session: Session) -> None:
    wake = session.info.pop(_WAKE_KEY, None)
    if wake is not None:
        wake()


@event.listens_for(Session, "after_rollback")
def _forget_wake(session: Session) -> None:
    session.info.pop(_WAKE_KEY, None)


class OutboxSender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        encryptor: Encryptor,
        *,
        sender_address: str,
        poll_seconds: float,
        retry_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._mailer = mailer
        self._encryptor = encryptor
        self._sender_address = sender_address
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        """Finish the message in hand and stop (cancelling only if that takes too long).

        A flag, not cancellation, ends the loop: a library under it may swallow a
        CancelledError (timeout helpers can), which would leave the task running.
        """
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 1)

    async def _run(self) -> None:
        pruned_at = datetime.min.replace(tzinfo=utcnow().tzinfo)
        while not self._stopping:
            self._wake.clear()
            try:
                while await self.deliver_due() == BATCH_SIZE and not self._stopping:
                    pass  # a full batch: there may be more
                if utcnow() - pruned_at > timedelta(hours=1):
                    await self._prune()
                    pruned_at = utcnow()
            except Exception as exc:  # the database may be down: try again later
                log.error("outbox: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    async def deliver_due(self) -> int:
        """Claim due messages and try each once; returns how many were claimed."""
        claimed = await self._claim()
        for position, (message_id, attempts, body) in enumerate(claimed):
            if self._stopping:
                # hand the rest back at once instead of leaving them leased
                for unsent_id, _, _ in claimed[position:]:
                    await self._update(unsent_id, next_attempt_at=utcnow())
                break
            try:
                await self._mailer.send(self._message(body))
            except Exception as exc:
                metrics.EMAILS.labels("failed").inc()
                delay = min(self._retry_seconds * 2 ** (attempts - 1), MAX_RETRY_SECONDS)
                log.warning(
                    "outbox: attempt %d failed (%s); retrying in %.0f s",
                    attempts,
                    type(exc).__name__,
                    delay,
                )
                await self._update(
                    message_id,
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    last_error=type(exc).__name__[:200],
                )
            else:
                metrics.EMAILS.labels("sent").inc()
                await self._update(message_id, sent_at=utcnow(), body=None, last_error=None)
        return len(claimed)

    def _message(self, body: str | None) -> Any:
        assert body is not None
        fields = json.loads(self._encryptor.decrypt(body))
        email = Email(
            to=fields["to"], subject=fields["subject"], text=fields["text"], link=fields.get("link")
        )
        return build_message(email, sender=self._sender_address)

    async def _claim(self) -> list[tuple[Any, int, str | None]]:
        now = utcnow()
        due = (
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing
        )
        async with self._sessionmaker.begin() as db:
            rows = await db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()))
                .values(
                    next_attempt_at=now + timedelta(seconds=LEASE_SECONDS),
                    attempts=OutboxMessage.attempts + 1,
                )
                .returning(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.body)
                .execution_options(synchronize_session=False)
            )
            return [(row.id, row.attempts, row.body) for row in rows]

    async def _update(self, message_id: Any, **values: Any) -> None:
        async with self._sessionmaker.begin() as db:
            await db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    async def pending(self, *, created_since: datetime | None = None) -> int:
        """How many messages are not sent yet (the backlog)."""
        query = (
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
        if created_since is not None:
            query = query.where(OutboxMessage.created_at >= created_since)
        async with self._sessionmaker() as db:
            return int(await db.scalar(query) or 0)

    async def _prune(self) -> None:
        cutoff = utcnow() - timedelta(days=KEEP_SENT_DAYS)
        async with self._sessionmaker.begin() as db:
            await db.execute(
                delete(OutboxMessage)
                .where(OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < cutoff)
                .execution_options(synchronize_session=False)
            )
