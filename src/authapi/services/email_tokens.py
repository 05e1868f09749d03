"""One-time tokens sent by email: address verification, password reset, email change.

Tokens are 256-bit, stored as SHA-256 hashes, single-use and expiring, and a
newer token of the same purpose voids the older ones. An email-change token
also carries the address it confirms. Each token carries the account's
credential version when it was sent (authapi.services.credentials): any later
change to the account's credentials (a new password, two-factor authentication
on or off, a new address, every session ended, the account disabled) voids
every link sent before it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.errors import InvalidEmailToken
from authapi.models import EmailToken, utcnow
from authapi.services import credentials
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
    version = await credentials.current(db, user_id)
    assert version is not None, "a link for an account that does not exist"
    token, hashed = new_secret_token()
    db.add(
        EmailToken(
            user_id=user_id,
            purpose=purpose.value,
            token_hash=hashed,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
            new_email=new_email,
            credential_version=version,
        )
    )
    await db.flush()
    return token


async def consume(db: AsyncSession, *, token: str, purposes: Collection[Purpose]) -> Redeemed:
    """Use a token once.

    Locks the account's row for the rest of the transaction: no credential change
    can slip in between this check and what the caller does with the token. If the
    caller's transaction rolls back (say, the new password is refused), the token
    is unused again.

    Raises:
        InvalidEmailToken: unknown, expired, already used, superseded, of another purpose,
            or sent before the account's credentials last changed.
    """
    now = utcnow()
    found = (
        await db.execute(
            select(EmailToken.id, EmailToken.user_id, EmailToken.credential_version).where(
                EmailToken.token_hash == token_hash(token),
                EmailToken.purpose.in_([purpose.value for purpose in purposes]),
                EmailToken.used_at.is_(None),
                EmailToken.expires_at > now,
            )
        )
    ).one_or_none()
    if found is None:
        raise InvalidEmailToken()
    version = await credentials.current(db, found.user_id, lock=True)
    if version != found.credential_version:
        raise InvalidEmailToken()
    # a conditional UPDATE: of two concurrent uses only one finds the token unused
    row = (
        await db.execute(
            update(EmailToken)
            .where(EmailToken.id == found.id, EmailToken.used_at.is_(None))
            .values(used_at=now)
            .returning(EmailToken.user_id, EmailToken.purpose, EmailToken.new_email)
        )
    ).one_or_none()
    if row is None:
        raise InvalidEmailToken()
    return Redeemed(user_id=row.user_id, purpose=Purpose(row.purpose), new_email=row.new_email)
