"""One-time tokens sent by email: address verification, password reset, email change.

Tokens are 256-bit, stored as SHA-256 hashes, single-use and expiring, and a
newer token of the same purpose voids the older ones. An email-change token
also carries the address it confirms.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.errors import InvalidEmailToken
from authapi.models import EmailToken, utcnow
from authapi.tokens import new_secret_token, token_hash


class Purpose(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a secret)
    CHANGE_EMAIL = "change_email"


@dataclass(frozen=True)
class Redeemed:
    user_id: uuid.UUID
    purpose: Purpose
    new_email: str | None


async def void(db: AsyncSession, *, user_id: uuid.UUID, purposes: Collection[Purpose]) -> None:
    """Make every unused token of these purposes unusable (after a credential change)."""
    await db.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user_id,
            EmailToken.purpose.in_([purpose.value for purpose in purposes]),
            EmailToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


async def issue(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    purpose: Purpose,
    ttl_seconds: int,
    new_email: str | None = None,
) -> str:
    """A fresh token for `purpose`; older unused ones of the same purpose stop working."""
    now = utcnow()
    await void(db, user_id=user_id, purposes=[purpose])
    token, hashed = new_secret_token()
    db.add(
        EmailToken(
            user_id=user_id,
            purpose=purpose.value,
            token_hash=hashed,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
            new_email=new_email,
        )
    )
    await db.flush()
    return token


async def consume(db: AsyncSession, *, token: str, purposes: Collection[Purpose]) -> Redeemed:
    """Use a token once.

    If the caller's transaction rolls back (say, the new password is refused),
    the token is unused again.

    Raises:
        InvalidEmailToken: unknown, expired, already used, superseded, or of another purpose.
    """
    now = utcnow()
    # one conditional UPDATE: two concurrent uses cannot both succeed
    row = (
        await db.execute(
            update(EmailToken)
            .where(
                EmailToken.token_hash == token_hash(token),
                EmailToken.purpose.in_([purpose.value for purpose in purposes]),
                EmailToken.used_at.is_(None),
                EmailToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(EmailToken.user_id, EmailToken.purpose, EmailToken.new_email)
        )
    ).one_or_none()
    if row is None:
        raise InvalidEmailToken()
    return Redeemed(user_id=row.user_id, purpose=Purpose(row.purpose), new_email=row.new_email)
