"""Accounts: registration, email verification, password checks.

Anti-enumeration: register and resend answer the same whatever the address,
and every path of register and login spends exactly one bcrypt operation, so
neither the response nor its timing tells whether an account exists. Emails
are sent in the background, off the request's clock.

Registering an address that has an unverified account (with verified email
required) replaces that account's password and sends a fresh link: the latest
registrant who can read the mailbox wins, as in Supabase/GoTrue, so a stranger
cannot pre-register someone's address and keep a password on it. A verified
address only gets a notice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from authapi.clientip import ClientInfo
from authapi.errors import EmailNotVerified, InvalidCredentials, NotAuthenticated
from authapi.models import User, utcnow
from authapi.resources import Resources
from authapi.services import email_tokens, notifications
from authapi.services.email_tokens import Purpose
from authapi.services.events import EventType, record


@dataclass(frozen=True)
class Profile:
    id: uuid.UUID
    email: str
    email_verified: bool
    created_at: datetime


_PROFILE = select(User.id, User.email, User.email_verified_at, User.created_at).where(
    User.id == bindparam("user_id")
)


async def read_profile(reader: AsyncEngine, user_id: uuid.UUID) -> Profile:
    """The account as /users/me shows it: one query on an autocommit connection.

    The hot read path skips the ORM and the transaction (BEGIN/ROLLBACK round trips),
    which halves its cost.

    Raises:
        NotAuthenticated: the account no longer exists.
    """
    async with reader.connect() as connection:
        row = (await connection.execute(_PROFILE, {"user_id": user_id})).one_or_none()
    if row is None:
        raise NotAuthenticated("The account no longer exists.")
    return Profile(
        id=row.id,
        email=row.email,
        email_verified=row.email_verified_at is not None,
        created_at=row.created_at,
    )


class AccountService:
    def __init__(self, db: AsyncSession, resources: Resources, client: ClientInfo) -> None:
        self._db = db
        self._res = resources
        self._settings = resources.settings
        self._client = client

    async def _by_email(self, email: str) -> User | None:
        return await self._db.scalar(select(User).where(User.email == email))

    async def register(self, email: str, password: str) -> None:
        """Create an account (or notify the owner of an existing one).

        Raises:
            WeakPassword: the password breaks the policy (same for every address).
        """
        self._res.policy.check(password, email=email)
        # every branch pays for this one hash, so timing says nothing about the address
        password_hash = await self._res.hasher.hash(password)
        user_id = await self._insert_if_absent(email, password_hash)
        if user_id is not None:
            await record(self._db, EventType.USER_REGISTERED, client=self._client, user_id=user_id)
            await self._send_verification(user_id, email)
            return

        user = await self._by_email(email)
        assert user is not None
        await record(self._db, EventType.REGISTER_EXISTING, client=self._client, user_id=user.id)
        if not user.email_verified and self._settings.require_verified_email:
            user.password_hash = password_hash
            await self._send_verification(user.id, email)
        else:
            self._res.outbox.add(
                self._db,
                notifications.already_registered(email, public_url=self._settings.public_url),
            )

    async def _insert_if_absent(self, email: str, password_hash: str) -> uuid.UUID | None:
        """Insert the user unless the email exists; None if it did (race-safe, no savepoint)."""
        dialect = postgresql if self._db.get_bind().dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(User)
            .values(id=uuid.uuid4(), email=email, password_hash=password_hash)
            .on_conflict_do_nothing(index_elements=[User.email])
            .returning(User.id)
        )
        user_id: uuid.UUID | None = await self._db.scalar(statement)
        return user_id

    async def _send_verification(self, user_id: uuid.UUID, email: str) -> None:
        ttl = self._settings.verification_token_ttl_seconds
        token = await email_tokens.issue(
            self._db, user_id=user_id, purpose=Purpose.VERIFY_EMAIL, ttl_seconds=ttl
        )
        url = notifications.link(self._settings.public_url, notifications.VERIFY_EMAIL_PATH, token)
        self._res.outbox.add(
            self._db, notifications.verification(email, url=url, valid_hours=max(1, ttl // 3600))
        )

    async def verify_email(self, token: str) -> None:
        """Raises: InvalidEmailToken for an unknown, used, superseded or expired token."""
        user_id = await email_tokens.consume(self._db, token=token, purpose=Purpose.VERIFY_EMAIL)
        user = await self._db.get(User, user_id)
        if user is not None and user.email_verified_at is None:
            user.email_verified_at = utcnow()
            await record(self._db, EventType.EMAIL_VERIFIED, client=self._client, user_id=user_id)

    async def resend_verification(self, email: str) -> None:
        """Send a new link if the address has an unverified account; silent otherwise.

        The lookup and the write happen after the response, in their own transaction:
        done inline, the extra write for a real account would show in the timing.
        """
        self._res.background.spawn(self._resend_in_background(email), name="resend-verification")

    async def _resend_in_background(self, email: str) -> None:
        async with self._res.sessionmaker.begin() as db:
            await AccountService(db, self._res, self._client)._resend_now(email)

    async def _resend_now(self, email: str) -> None:
        user = await self._by_email(email)
        if user is not None and not user.email_verified:
            await self._send_verification(user.id, email)

    async def authenticate(self, email: str, password: str) -> User:
        """Check an email and password.

        Raises:
            InvalidCredentials: unknown email or wrong password (indistinguishable).
            EmailNotVerified: right password, unverified email (when verification is required).
        """
        user = await self._by_email(email)
        # unknown email: verify against the dummy hash anyway so the timing matches
        valid = await self._res.hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid:
            await record(
                self._db,
                EventType.LOGIN_FAILED,
                client=self._client,
                user_id=user.id if user else None,
                reason="invalid_credentials",
            )
            await self._db.commit()  # the error below rolls the request back; keep the record
            raise InvalidCredentials()
        if self._settings.require_verified_email and not user.email_verified:
            raise EmailNotVerified()
        assert user.password_hash is not None
        if self._res.hasher.needs_rehash(user.password_hash):
            user.password_hash = await self._res.hasher.hash(password)
            await record(
                self._db, EventType.PASSWORD_REHASHED, client=self._client, user_id=user.id
            )
        return user
