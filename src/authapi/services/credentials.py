"""The credential version: what a session or an emailed link was proven under.

`users.credential_version` is bumped by every change to what proves who owns an
account: a new password (reset or change), two-factor authentication turned on
or off, a new address, every session ended (sign out everywhere, an operator's
revoke or disable), a repeated registration of an unverified address. Then:

- a sign-in whose first step read an older version opens no session: `hold`
  reads the version under a share lock of the account's row when the session
  starts, and `bump` takes that row's write lock, so of a sign-in and a change
  racing each other either the change waits for the sign-in to commit (and then
  ends its session) or the sign-in sees the new version and is refused;
- an emailed link (reset, address change, verification) carries the version it
  was issued under and works only while it is current (authapi.services.email_tokens),
  so a link asked for before a password reset cannot be used after it.

ASP.NET Identity's security stamp works the same way.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.errors import AccountDisabled, InvalidCredentials
from authapi.models import Identity, Passkey, User


async def bump(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Make every session start and emailed link proven under the current version fail.

    Holds the account's row lock until the transaction ends (PostgreSQL): a sign-in
    racing this change waits, then sees the new version.
    """
    await db.execute(
        update(User)
        .where(User.id == user_id)
        .values(credential_version=User.credential_version + 1)
        .execution_options(synchronize_session="fetch")
    )


async def current(db: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> int | None:
    """The account's version (None if it no longer exists); `lock` holds its row for update."""
    query = select(User.credential_version).where(User.id == user_id)
    if lock:
        query = query.with_for_update()
    return await db.scalar(query)


async def hold(db: AsyncSession, user: User) -> None:
    """Check, under a share lock of the account's row kept until the transaction ends, that
    `user` (as its first sign-in step read it) may still start a session.

    Raises:
        InvalidCredentials: the account was deleted, or its credentials changed since.
        AccountDisabled: an operator disabled it.
    """
    row = (
        await db.execute(
            select(User.disabled_at, User.credential_version)
            .where(User.id == user.id)
            .with_for_update(read=True)
        )
    ).one_or_none()
    if row is None or row.credential_version != user.credential_version:
        raise InvalidCredentials("Your credentials changed while signing in; sign in again.")
    if row.disabled_at is not None:
        raise AccountDisabled()


async def ways_in(db: AsyncSession, user: User) -> int:
    """How many ways into the account there are: its password, each linked provider and
    each passkey. Call it with the user's row locked, so two removals cannot both see two."""
    identities = await db.scalar(
        select(func.count()).select_from(Identity).where(Identity.user_id == user.id)
    )
    passkeys = await db.scalar(
        select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
    )
    return (user.password_hash is not None) + (identities or 0) + (passkeys or 0)
