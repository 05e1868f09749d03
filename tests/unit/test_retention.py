"""`authapi.retention.prune`: what is deleted, and what never is (issue 7).

Run on a database of each test alone (SQLite and PostgreSQL, migrated), so that the
counts it returns are exact and a `now` far in the future touches no other test's rows.
With `now` = L, AUTHAPI_AUDIT_RETENTION_DAYS=30 and AUTHAPI_SESSION_RETENTION_DAYS=7:

- security events created before L-30d are deleted (with or without a user);
- session records are deleted once they ended before L-7d: revoked then, or expired
  then; a live session (not revoked, `expires_at` after L) is never deleted, however
  old it is, nor one that ended within the retention;
- email links used or expired before L-1d are deleted; pending ones and those spent
  within the day stay.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authapi.db import make_engine, make_sessionmaker, migrate_sync
from authapi.models import EmailToken, SecurityEvent, User, UserSession, utcnow
from authapi.retention import Pruned, prune
from authapi.settings import Settings
from tests.conftest import common_settings, in_thread, temporary_postgres

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
LATER = timedelta(days=5 * 365)  # how far in the future `now` is put


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'retention.db'}"
        in_thread(migrate_sync, url)
        yield url
    else:
        with temporary_postgres("retention") as database:
            yield database.url


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        **{
            **common_settings(tmp_path),
            "database_url": database_url,
            "audit_retention_days": 30,
            "session_retention_days": 7,
        }
    )


async def new_user(db: AsyncSession) -> uuid.UUID:
    user_id = uuid.uuid4()
    db.add(User(id=user_id, email=f"retention-{user_id.hex[:12]}@example.com"))
    await db.flush()
    return user_id


def event(user_id: uuid.UUID | None, created_at: datetime, tag: str) -> SecurityEvent:
    return SecurityEvent(
        user_id=user_id, type="login_succeeded", created_at=created_at, details={"tag": tag}
    )


def session(
    user_id: uuid.UUID,
    *,
    expires_at: datetime,
    revoked_at: datetime | None = None,
    created_at: datetime | None = None,
) -> UserSession:
    return UserSession(
        id=uuid.uuid4(),
        user_id=user_id,
        created_at=created_at or utcnow(),
        expires_at=expires_at,
        revoked_at=revoked_at,
        revoke_reason="logout" if revoked_at else None,
    )


def link(
    user_id: uuid.UUID, *, expires_at: datetime, used_at: datetime | None = None
) -> EmailToken:
    token_id = uuid.uuid4()
    return EmailToken(
        id=token_id,
        user_id=user_id,
        purpose="reset_password",
        token_hash=hashlib.sha256(token_id.bytes).hexdigest(),
        created_at=utcnow(),
        expires_at=expires_at,
        used_at=used_at,
    )


async def left(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, set[Any]]:
    async with sessionmaker() as db:
        tags = {row["tag"] for row in await db.scalars(select(SecurityEvent.details)) if row}
        return {
            "events": tags,
            "sessions": set(await db.scalars(select(UserSession.id))),
            "links": set(await db.scalars(select(EmailToken.id))),
        }


async def test_a_far_future_prune_deletes_what_is_past_retention_and_no_live_session(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    now = utcnow()
    later = now + LATER
    async with sessionmaker.begin() as db:
        user_id = await new_user(db)
        events = {
            "made now": (event(user_id, now, "made now"), False),
            "31 days before": (event(user_id, later - 31 * DAY, "31 days before"), False),
            "anonymous, old": (event(None, later - 31 * DAY, "anonymous, old"), False),
            "29 days before": (event(user_id, later - 29 * DAY, "29 days before"), True),
            "at that time": (event(user_id, later, "at that time"), True),
        }
        sessions = {
            # live relative to `later`, however long ago it began
            "live": (
                session(user_id, expires_at=later + 10 * DAY, created_at=now - 1000 * DAY),
                True,
            ),
            "live for a year": (session(user_id, expires_at=later + 365 * DAY), True),
            # live today, long expired by `later`
            "live today": (session(user_id, expires_at=now + 30 * DAY), False),
            "expired 8 days before": (session(user_id, expires_at=later - 8 * DAY), False),
            "expired 3 days before": (session(user_id, expires_at=later - 3 * DAY), True),
            "revoked 8 days before": (
                session(user_id, expires_at=later + 20 * DAY, revoked_at=later - 8 * DAY),
                False,
            ),
            "revoked 6 days before": (
                session(user_id, expires_at=later + 20 * DAY, revoked_at=later - 6 * DAY),
                True,
            ),
        }
        links = {
            "used 2 days before": (
                link(user_id, expires_at=later + DAY, used_at=later - 2 * DAY),
                False,
            ),
            "used 12 hours before": (
                link(user_id, expires_at=later + DAY, used_at=later - 12 * HOUR),
                True,
            ),
            "expired 2 days before": (link(user_id, expires_at=later - 2 * DAY), False),
            "expired 12 hours before": (link(user_id, expires_at=later - 12 * HOUR), True),
            "pending": (link(user_id, expires_at=later + HOUR), True),
        }
        for group in (events, sessions, links):
            db.add_all([row for row, _ in group.values()])

    pruned = await prune(sessionmaker, settings, now=later)

    remaining = await left(sessionmaker)
    assert remaining["events"] == {tag for tag, (_, kept) in events.items() if kept}
    for name, (row, kept) in sessions.items():
        assert (row.id in remaining["sessions"]) is kept, f"session {name!r}: kept={not kept}"
    for name, (row, kept) in links.items():
        assert (row.id in remaining["links"]) is kept, f"link {name!r}: kept={not kept}"
    assert pruned == Pruned(
        events=sum(not kept for _, kept in events.values()),
        sessions=sum(not kept for _, kept in sessions.values()),
        email_tokens=sum(not kept for _, kept in links.values()),
    )

    # idempotent
    assert await prune(sessionmaker, settings, now=later) == Pruned(0, 0, 0)
    assert await left(sessionmaker) == remaining


async def test_a_prune_now_keeps_everything_fresh(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """What a sign-in just wrote stays: its session, its events, the link just used."""
    now = utcnow()
    async with sessionmaker.begin() as db:
        user_id = await new_user(db)
        rows = [
            event(user_id, now, "signed in"),
            event(None, now - 29 * DAY, "a month ago"),
            session(user_id, expires_at=now + 30 * DAY),
            session(user_id, expires_at=now + 30 * DAY, revoked_at=now - 6 * DAY),
            session(user_id, expires_at=now - 6 * DAY),
            link(user_id, expires_at=now + DAY, used_at=now),
            link(user_id, expires_at=now - HOUR),
        ]
        db.add_all(rows)
    before = await left(sessionmaker)

    assert await prune(sessionmaker, settings) == Pruned(0, 0, 0)

    assert await left(sessionmaker) == before
