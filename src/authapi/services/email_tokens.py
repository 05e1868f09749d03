"""One-time tokens sent by email (verification now; reset and email change later).

Tokens are 256-bit, stored as SHA-256 hashes, single-use, expiring, and a newer
token of the same purpose voids the older ones.
"""

from __future__ import annotations

import enum
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.errors import InvalidEmailToken
from authapi.models import EmailToken, utcnow
from authapi.tokens import new_secret_token, token_hash


class Purpose(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"


async def issue(db: AsyncSession, *, user_id: uuid.UUID, purpose: Purpose, ttl_seconds: int) -> str:
    """A fresh token for `purpose`; older unused ones of the same purpose stop working."""
    now = utcnow()
    await db.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user_id,
            EmailToken.purpose == purpose.value,
            EmailToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token, hashed = new_secret_token()
    db.add(
        EmailToken(
            user_id=user_id,
            purpose=purpose.value,
            token_hash=hashed,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    await db.flush()
    return token


async def consume(db: AsyncSession, *, token: str, purpose: Purpose) -> uuid.UUID:
    """Use a token once and return its user.

    Raises:
        InvalidEmailToken: unknown, expired, already used, superseded, or of another purpose.
    """
    now = utcnow()
    # one conditional UPDATE: two concurrent uses cannot both succeed
    user_id: uuid.UUID | None = await db.scalar(
        update(EmailToken)
        .where(
            EmailToken.token_hash == token_hash(token),
            EmailToken.purpose == purpose.value,
            EmailToken.used_at.is_(None),
            EmailToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(EmailToken.user_id)
    )
    if user_id is None:
        raise InvalidEmailToken()
    return user_id
