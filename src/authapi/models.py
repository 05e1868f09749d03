"""Database tables (SQLAlchemy 2). Migrations in alembic/ mirror this file; a test compares them.

Live session state (the current refresh token, revocation) is in the token store,
not here: the `sessions` table is the durable record of each sign-in (device,
IP, when it ended) that `/auth/sessions` lists and the audit trail refers to.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# marks a column holding authapi.encryption ciphertext: `authapi reencrypt` rewrites these
ENCRYPTED = {"encrypted": True}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on PostgreSQL (timestamptz) and SQLite (naive text) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # normalised (NFKC, trimmed, lower-case) before it gets here
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # NULL for accounts that sign in only through an identity provider
    password_hash: Mapped[str | None] = mapped_column(String(100))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # set by an operator (`authapi users disable`): no sign-in, no session
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # bumped by every change to what proves who the owner is (authapi.services.credentials):
    # sessions start and emailed links work only under the version they were proven with
    credential_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class UserSession(Base):
    """One sign-in on one device: a refresh-token family."""

    __tablename__ = "sessions"
    __table_args__ = (Index(None, "user_id", "revoked_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # absolute end: after this the user signs in again, however often they refresh
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(32))


class EmailToken(Base):
    """A one-time link sent by email; only the SHA-256 of the token is kept."""

    __tablename__ = "email_tokens"
    __table_args__ = (Index(None, "user_id", "purpose"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the address an email-change token confirms (None for other purposes)
    new_email: Mapped[str | None] = mapped_column(String(320))
    # the user's credential_version when the link was sent: a later change voids it
    credential_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SigningKey(Base):
    """A JWT signing key. Private parts are encrypted; imported keys keep only the public part."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_key: Mapped[str | None] = mapped_column(Text, info=ENCRYPTED)
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # published from creation, signs from activation (after verifiers could fetch it)
    activates_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # when a newer key takes over signing; published until its tokens expire
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecurityEvent(Base):
    __tablename__ = "security_events"
    __table_args__ = (Index(None, "user_id", "created_at"),)

    # BIGINT on PostgreSQL; SQLite only auto-increments a plain INTEGER primary key
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    type: Mapped[str] = mapped_column(String(48))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TotpCredential(Base):
    """A user's TOTP authenticator: pending until confirmed with a first code."""

    __tablename__ = "totp_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # bound to user_id inside the ciphertext
    secret: Mapped[str] = mapped_column(Text, info=ENCRYPTED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the latest time step accepted: a code is good only for a later step (no replay)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """One single-use recovery code; only a hash is kept, and the row goes when it is used."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index(None, "user_id", "code_hash", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Identity(Base):
    """An account at an OpenID provider linked to a user, known by (issuer, subject) only:
    an email address can change hands, a provider's subject cannot."""

    __tablename__ = "identities"
    __table_args__ = (
        Index(None, "issuer", "subject", unique=True),
        Index(None, "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255))
    # what the provider said at the last sign-in; shown to the user, never used to match
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(Base):
    """A WebAuthn credential (a passkey) of a user: its public key and what the
    authenticator said about it, checked at every use (authapi.services.passkeys)."""

    __tablename__ = "passkeys"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # base64url of the authenticator's credential id (at most 1023 bytes)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    # COSE_Key bytes, as the authenticator gave them
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # the authenticator's signature counter at the last use (0: it keeps none)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # BE: fixed for the credential's life; BS: may change (synced or not yet)
    backup_eligible: Mapped[bool] = mapped_column(Boolean)
    backed_up: Mapped[bool] = mapped_column(Boolean)
    transports: Mapped[list[str] | None] = mapped_column(JSON)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """An email waiting to be sent (or recently sent): see authapi.outbox."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "sent_at", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    # encrypted; erased once sent (it may hold a one-time link)
    body: Mapped[str | None] = mapped_column(Text, info=ENCRYPTED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
