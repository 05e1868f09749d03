"""What `/users/me` shows, kept in the token store: its hot path reads no database.

The profile is kept as the response body itself (`UserOut`'s JSON, behind
`KEPT_FORMAT`), per user, under a generation number (authapi.store:
`session_profile`, `keep_profile`, `forget_profiles`):

- A read (`current_user`) gets the session check and the kept profile in one round
  trip. On a miss it reads the database, then keeps what it read only if the
  generation it saw before reading has not moved.
- A change marks the users whose profile it changes in its transaction: by itself
  for changes made through ORM objects (a user's address, its verification, its
  password, its deletion, a TOTP credential: `_mark_orm_changes`), by `changed(db,
  user_id)` for UPDATE and DELETE statements. Once the transaction commits, and
  before the request answers, `forget_changed` moves their generations on and drops
  what is kept (`get_db` for requests, `transaction` for work of its own).

So a read that raced a change either read the database after the commit, or saw a
generation that the change has moved since: it cannot keep the old profile. And
every request after the change's answer, on any instance, misses and reads the
change. A session's end needs nothing of this: the session check is in the same
round trip. If the store fails after a commit, the change's request fails (503)
and the kept profile lives out its `PROFILE_TTL_SECONDS`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import chain
from typing import Any

from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from authapi.errors import NotAuthenticated
from authapi.models import TotpCredential, User
from authapi.resources import Resources
from authapi.schemas import UserOut
from authapi.store import TokenStore
from authapi.tokens import AccessClaims, session_ended, subject_id

# how long a kept profile (and a generation, after a change) is remembered
PROFILE_TTL_SECONDS = 3600.0
# what a kept profile starts with: a digest of UserOut's schema, so that after a deploy
# that changes what /users/me shows, profiles kept by the previous version are not served
KEPT_FORMAT = (
    hashlib.sha256(json.dumps(UserOut.model_json_schema(), sort_keys=True).encode()).hexdigest()[:8]
    + ":"
)
# the user columns `/users/me` shows something of
_SHOWN_USER_COLUMNS = ("email", "email_verified_at", "password_hash", "created_at")
# db.info key: the ids of the users whose profile this transaction changed
_CHANGED = "authapi.profiles_changed"


_PROFILE = (
    select(
        User.id,
        User.email,
        User.email_verified_at,
        User.password_hash.is_not(None).label("has_password"),
        User.created_at,
        TotpCredential.confirmed_at.label("mfa_enabled_at"),
    )
    .outerjoin(TotpCredential, TotpCredential.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)


async def read_profile(reader: AsyncEngine, user_id: uuid.UUID) -> UserOut:
    """The account as /users/me shows it: one query on an autocommit connection (no
    BEGIN and ROLLBACK round trips: a single read needs no transaction).

    Raises:
        NotAuthenticated: the account no longer exists.
    """
    async with reader.connect() as connection:
        row = (await connection.execute(_PROFILE, {"user_id": user_id})).one_or_none()
    if row is None:
        raise NotAuthenticated("The account no longer exists.")
    return UserOut(
        id=row.id,
        email=row.email,
        email_verified=row.email_verified_at is not None,
        mfa_enabled=row.mfa_enabled_at is not None,
        has_password=bool(row.has_password),
        created_at=row.created_at,
    )


async def current_user(resources: Resources, claims: AccessClaims) -> str:
    """The body of `/users/me` for a verified access token: `UserOut` as JSON.

    Raises:
        InvalidAccessToken: the token's session has ended, or its subject is not an id.
        NotAuthenticated: the account no longer exists.
    """
    user_id = subject_id(claims)
    store = resources.store
    seen = await store.session_profile(claims["sid"], str(user_id))
    if not seen.active:
        raise session_ended()
    if seen.profile is not None and seen.profile.startswith(KEPT_FORMAT):
        return seen.profile[len(KEPT_FORMAT) :]
    body = (await read_profile(resources.reader, user_id)).model_dump_json()
    await store.keep_profile(
        str(user_id),
        KEPT_FORMAT + body,
        generation=seen.generation,
        ttl_seconds=PROFILE_TTL_SECONDS,
    )
    return body


def changed(db: AsyncSession | Session, user_id: uuid.UUID) -> None:
    """Note that this transaction changes what `/users/me` shows of `user_id` (for
    UPDATE and DELETE statements; ORM changes are noted by themselves)."""
    db.info.setdefault(_CHANGED, set()).add(str(user_id))


async def forget_changed(db: AsyncSession, store: TokenStore) -> None:
    """After `db` committed: every instance's next `/users/me` reads the changes."""
    user_ids = db.info.pop(_CHANGED, None)
    if user_ids:
        await store.forget_profiles(user_ids, ttl_seconds=PROFILE_TTL_SECONDS)


@asynccontextmanager
async def transaction(resources: Resources) -> AsyncIterator[AsyncSession]:
    """A transaction of its own (work after a response, the CLI): committed when the
    block ends, then the profiles it changed are forgotten."""
    async with resources.sessionmaker.begin() as db:
        yield db
    await forget_changed(db, resources.store)


@event.listens_for(Session, "before_flush")
def _mark_orm_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in chain(session.dirty, session.deleted):
        if isinstance(obj, User) and (
            obj in session.deleted
            or any(inspect(obj).attrs[name].history.has_changes() for name in _SHOWN_USER_COLUMNS)
        ):
            changed(session, obj.id)
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, TotpCredential):
            changed(session, obj.user_id)
