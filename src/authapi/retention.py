"""Retention: old records are deleted, by the service itself and by `authapi sessions prune`.

- security events older than AUTHAPI_AUDIT_RETENTION_DAYS;
- the records of sessions that ended (revoked or expired) more than
  AUTHAPI_SESSION_RETENTION_DAYS ago (a live session is never touched);
- email links that expired or were used more than a day ago (a used or expired
  link is refused either way; the day keeps "already used" answers meaningful).

Every instance runs the same deletes once an hour (`RetentionLoop`); they are
idempotent, so several instances doing it at once is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authapi.models import EmailToken, SecurityEvent, UserSession, utcnow
from authapi.settings import Settings

log = logging.getLogger("authapi.retention")

EMAIL_TOKEN_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Pruned:
    events: int
    sessions: int
    email_tokens: int


async def prune(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime | None = None,
) -> Pruned:
    now = now or utcnow()
    events_before = now - timedelta(days=settings.audit_retention_days)
    sessions_before = now - timedelta(days=settings.session_retention_days)
    async with sessionmaker.begin() as db:
        events = await db.execute(
            delete(SecurityEvent)
            .where(SecurityEvent.created_at < events_before)
            .execution_options(synchronize_session=False)
        )
        sessions = await db.execute(
            delete(UserSession)
            .where(
                or_(
                    UserSession.revoked_at < sessions_before,
                    UserSession.expires_at < sessions_before,
                )
            )
            .execution_options(synchronize_session=False)
        )
        tokens = await db.execute(
            delete(EmailToken)
            .where(
                or_(
                    EmailToken.expires_at < now - EMAIL_TOKEN_GRACE,
                    EmailToken.used_at < now - EMAIL_TOKEN_GRACE,
                )
            )
            .execution_options(synchronize_session=False)
        )
    return Pruned(
        events=events.rowcount or 0,  # type: ignore[attr-defined]
        sessions=sessions.rowcount or 0,  # type: ignore[attr-defined]
        email_tokens=tokens.rowcount or 0,  # type: ignore[attr-defined]
    )


class RetentionLoop:
    """Runs `prune` at start and then every `interval_seconds` until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        interval_seconds: float = 3600.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                pruned = await prune(self._sessionmaker, self._settings)
                if pruned.events or pruned.sessions or pruned.email_tokens:
                    log.info(
                        "retention: deleted %d events, %d session records, %d email links",
                        pruned.events,
                        pruned.sessions,
                        pruned.email_tokens,
                    )
            except Exception as exc:  # the database may be down: try again next time
                log.error("retention: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)
