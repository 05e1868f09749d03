"""What an operator does to accounts from the command line (`authapi users …`).

Resetting two-factor authentication (an owner who lost both the authenticator
and the recovery codes) removes the factors, ends every session and emails
the owner. Disabling an account ends its sessions at once (the token store forgets them,
so its access tokens stop working on this API and in introspection, and its
refresh tokens are refused) and every sign-in path refuses it until it is
enabled again. Each action is a security event with the user agent
`authapi-cli`, so the account's owner sees it in their audit trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.clientip import ClientInfo
from authapi.models import Identity, SecurityEvent, TotpCredential, User, UserSession, utcnow
from authapi.resources import Resources
from authapi.schemas import normalize_email
from authapi.services import notifications
from authapi.services.accounts import user_by_email
from authapi.services.events import EventType, record
from authapi.services.mfa import remove_factors
from authapi.services.sessions import SessionService

OPERATOR = ClientInfo(ip=None, user_agent="authapi-cli", network=None)


class UserNotFound(Exception):
    """No account has this address (the message says which)."""


@dataclass(frozen=True)
class UserSummary:
    id: uuid.UUID
    email: str
    email_verified: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class UserDetails:
    summary: UserSummary
    disabled_at: datetime | None
    has_password: bool
    mfa_enabled: bool
    providers: list[str]
    open_sessions: int
    last_sign_in: datetime | None


class AdminService:
    def __init__(self, db: AsyncSession, resources: Resources) -> None:
        self._db = db
        self._outbox = resources.outbox
        self._sessions = SessionService(
            db,
            OPERATOR,
            settings=resources.settings,
            tokens=resources.tokens,
            outbox=resources.outbox,
        )

    async def find(self, email: str) -> User:
        """Raises: UserNotFound."""
        try:
            address = normalize_email(email)
        except ValueError:
            raise UserNotFound(f"{email!r} is not an email address") from None
        user = await user_by_email(self._db, address)
        if user is None:
            raise UserNotFound(f"no account has the address {address}")
        return user

    async def list(self, *, limit: int, disabled_only: bool = False) -> list[UserSummary]:
        query = select(User).order_by(User.created_at.desc()).limit(limit)
        if disabled_only:
            query = query.where(User.disabled_at.is_not(None))
        return [_summary(user) for user in await self._db.scalars(query)]

    async def show(self, email: str) -> UserDetails:
        """Raises: UserNotFound."""
        user = await self.find(email)
        mfa = await self._db.scalar(
            select(TotpCredential.confirmed_at).where(TotpCredential.user_id == user.id)
        )
        providers = await self._db.scalars(
            select(Identity.provider).where(Identity.user_id == user.id).order_by(Identity.provider)
        )
        open_sessions = await self._db.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > utcnow(),
            )
        )
        last_sign_in = await self._db.scalar(
            select(func.max(SecurityEvent.created_at)).where(
                SecurityEvent.user_id == user.id,
                SecurityEvent.type == EventType.LOGIN_SUCCEEDED.value,
            )
        )
        return UserDetails(
            summary=_summary(user),
            disabled_at=user.disabled_at,
            has_password=user.password_hash is not None,
            mfa_enabled=mfa is not None,
            providers=list(providers),
            open_sessions=int(open_sessions or 0),
            last_sign_in=last_sign_in,
        )

    async def disable(self, email: str) -> int:
        """Disable the account and end its sessions; returns how many were open.

        Raises: UserNotFound.
        """
        user = await self.find(email)
        if user.disabled_at is None:
            user.disabled_at = utcnow()
            await record(self._db, EventType.ACCOUNT_DISABLED, client=OPERATOR, user_id=user.id)
        return await self._end_sessions(user)

    async def enable(self, email: str) -> bool:
        """Enable the account; False if it was not disabled.

        Raises: UserNotFound.
        """
        user = await self.find(email)
        if user.disabled_at is None:
            return False
        user.disabled_at = None
        await record(self._db, EventType.ACCOUNT_ENABLED, client=OPERATOR, user_id=user.id)
        return True

    async def reset_mfa(self, email: str) -> int:
        """Turn two-factor authentication off for an owner who lost every factor, end every
        session and tell the owner; returns how many sessions ended. Whoever signs in next
        needs only the password, so check first that the request comes from the owner.

        Raises: UserNotFound.
        """
        user = await self.find(email)
        await remove_factors(self._db, user.id)
        ended = await self._sessions.end_all(user.id, reason=EventType.MFA_RESET)
        await record(self._db, EventType.MFA_RESET, client=OPERATOR, user_id=user.id, count=ended)
        self._outbox.add(self._db, notifications.mfa_reset(user.email))
        return ended

    async def revoke_sessions(self, email: str) -> int:
        """End every session of the account; returns how many were open.

        Raises: UserNotFound.
        """
        return await self._end_sessions(await self.find(email))

    async def _end_sessions(self, user: User) -> int:
        ended = await self._sessions.end_all(user.id, reason=EventType.SESSIONS_REVOKED)
        await record(
            self._db, EventType.SESSIONS_REVOKED, client=OPERATOR, user_id=user.id, count=ended
        )
        return ended


def _summary(user: User) -> UserSummary:
    return UserSummary(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified,
        disabled=user.disabled_at is not None,
        created_at=user.created_at,
    )
