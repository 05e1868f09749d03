"""Sessions: starting them, the refresh concurrency contract, and ending them.

A session is one sign-in on one device, i.e. one refresh-token family. Its live
state is in the token store; its durable record (device, IP, end) in the
`sessions` table. Refresh touches only the store: one atomic script decides

1. current token        -> rotate, return the successor;
2. parent, within grace -> return the same successor again (tabs and retried
   requests converge on one live token; the family is not forked);
3. any other token of the family -> revoke the session, record the event,
   notify the owner, 401 `refresh_token_reused`.

Other sessions of the user are untouched by reuse detection. `Refresher` holds
this path and opens a database transaction only on reuse; `SessionService`
holds the rest (start, logout, listing), which the request's transaction covers.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi import metrics
from authapi.clientip import ClientInfo
from authapi.errors import (
    AuthError,
    InvalidRefreshToken,
    RateLimited,
    RefreshTokenReused,
    SessionNotFound,
)
from authapi.models import User, UserSession, utcnow
from authapi.outbox import Outbox
from authapi.resources import TokenKit
from authapi.services import credentials, notifications
from authapi.services.events import EventType, record
from authapi.settings import Settings
from authapi.store import Outcome, RefreshBudget
from authapi.tokens import IssuedAccessToken, RefreshToken

log = logging.getLogger("authapi.sessions")


@dataclass(frozen=True)
class IssuedTokens:
    access: IssuedAccessToken
    refresh: RefreshToken
    refresh_expires_at: float  # epoch seconds

    @property
    def session_id(self) -> str:
        return self.refresh.session_id


@dataclass(frozen=True)
class SessionView:
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class Refresher:
    """The refresh path: the token store only, no database, except on reuse
    (`end_reused` ends the session and records it, in a transaction of its own)."""

    def __init__(
        self,
        *,
        settings: Settings,
        tokens: TokenKit,
        budget: RefreshBudget,
        end_reused: Callable[[uuid.UUID], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._budget = budget
        self._end_reused = end_reused

    async def refresh(self, presented: str) -> IssuedTokens:
        """Rotate a refresh token (see the module docstring for the contract).

        Raises:
            InvalidRefreshToken: not ours, expired, or its session has ended.
            RefreshTokenReused: an old token of a live session; that session is now revoked.
            RateLimited: this session refreshes far more often than any client needs.
        """
        parent = self._tokens.refresh.parse(presented)
        if parent is None:
            metrics.REFRESHES.labels("malformed").inc()
            raise InvalidRefreshToken()
        successor = self._tokens.refresh.successor(parent)
        rotation = await self._tokens.store.rotate(
            parent.session_id,
            presented_hash=parent.hash,
            successor_hash=successor.hash,
            now=time.time(),
            grace_seconds=self._settings.refresh_reuse_grace_seconds,
            ttl_seconds=self._settings.refresh_token_ttl_seconds,
            budget=self._budget,
        )
        metrics.REFRESHES.labels(rotation.outcome.value).inc()
        if rotation.outcome is Outcome.THROTTLED:
            metrics.RATE_LIMITED.labels("refresh:session").inc()
        if rotation.outcome in (Outcome.ROTATED, Outcome.REPLAYED):
            assert rotation.user_id is not None
            assert rotation.expires_at is not None
            access = await self._tokens.access.issue(
                user_id=rotation.user_id, session_id=parent.session_id
            )
            return IssuedTokens(
                access=access, refresh=successor, refresh_expires_at=rotation.expires_at
            )
        if rotation.outcome is Outcome.REUSED:
            # stored although the answer is an error
            await self._end_reused(uuid.UUID(parent.session_id))
            raise RefreshTokenReused()
        if rotation.outcome is Outcome.THROTTLED:
            assert rotation.retry_after is not None
            raise RateLimited(retry_after=max(1, math.ceil(rotation.retry_after)))
        raise InvalidRefreshToken()


class SessionService:
    def __init__(
        self,
        db: AsyncSession,
        client: ClientInfo,
        *,
        settings: Settings,
        tokens: TokenKit,
        outbox: Outbox,
    ) -> None:
        self._db = db
        self._client = client
        self._settings = settings
        self._tokens = tokens
        self._outbox = outbox

    async def start(self, user: User, *, method: str) -> IssuedTokens:
        """Open a session for a user who just proved who they are.

        `user` is the row as the sign-in's first step read it: if its credentials changed
        since (a password reset, say), or it was deleted, no session starts.

        Raises:
            InvalidCredentials: the account changed or went since the first step.
            AccountDisabled: an operator disabled the account (checked here too, so no
                sign-in path can open a session for it).
        """
        try:
            # under a share lock kept until commit: a concurrent credential change or
            # `users disable` either waits for this sign-in (and then ends its session)
            # or is seen here
            await credentials.hold(self._db, user)
        except AuthError as exc:
            metrics.LOGINS.labels(method, exc.code).inc()
            raise
        now = time.time()
        session_id = uuid.uuid4()
        absolute_expires_at = now + self._settings.session_lifetime_seconds
        expires_at = min(now + self._settings.refresh_token_ttl_seconds, absolute_expires_at)
        self._db.add(
            UserSession(
                id=session_id,
                user_id=user.id,
                created_at=datetime.fromtimestamp(now, UTC),
                expires_at=datetime.fromtimestamp(absolute_expires_at, UTC),
                ip=self._client.ip,
                user_agent=self._client.user_agent,
            )
        )
        await record(
            self._db,
            EventType.LOGIN_SUCCEEDED,
            client=self._client,
            user_id=user.id,
            session_id=session_id,
            method=method,
        )
        await self._db.flush()
        refresh = self._tokens.refresh.first(str(session_id))
        await self._tokens.store.create(
            refresh.session_id,
            user_id=str(user.id),
            token_hash=refresh.hash,
            now=now,
            expires_at=expires_at,
            absolute_expires_at=absolute_expires_at,
        )
        access = await self._tokens.access.issue(
            user_id=str(user.id), session_id=refresh.session_id
        )
        metrics.LOGINS.labels(method, "success").inc()
        return IssuedTokens(access=access, refresh=refresh, refresh_expires_at=expires_at)

    async def reuse_detected(self, session_id: uuid.UUID) -> None:
        """End a session whose old refresh token came back; record it, tell the owner."""
        session = await self._db.get(UserSession, session_id)
        if session is None:
            return
        await self._mark_revoked([session_id], reason="refresh_token_reused")
        await record(
            self._db,
            EventType.REFRESH_TOKEN_REUSED,
            client=self._client,
            user_id=session.user_id,
            session_id=session_id,
        )
        log.warning("refresh token reuse detected; session revoked")
        user = await self._db.get(User, session.user_id)
        if user is not None:
            self._outbox.add(
                self._db,
                notifications.refresh_token_reused(
                    user.email,
                    started=session.created_at,
                    ip=session.ip,
                    user_agent=session.user_agent,
                ),
            )

    async def _mark_revoked(self, session_ids: list[uuid.UUID], *, reason: str) -> list[uuid.UUID]:
        """End sessions in the store and record it; returns (owner ids of) those newly ended."""
        await self._tokens.store.revoke([str(sid) for sid in session_ids])
        if not session_ids:
            return []
        ended = await self._db.scalars(
            update(UserSession)
            .where(UserSession.id.in_(session_ids), UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoke_reason=reason)
            .returning(UserSession.user_id)
        )
        return list(ended.all())

    async def end(self, session_id: str, *, event: EventType = EventType.LOGOUT) -> None:
        """Revoke one session (logout). Idempotent."""
        sid = uuid.UUID(session_id)
        for user_id in await self._mark_revoked([sid], reason=event.value):
            await record(self._db, event, client=self._client, user_id=user_id, session_id=sid)

    async def logout(self, *, refresh_token: str | None, access_session_id: str | None) -> None:
        """End the session named by a refresh token or, failing that, by an access token."""
        parsed = self._tokens.refresh.parse(refresh_token) if refresh_token else None
        if parsed is not None:
            await self._end_presented(parsed, event=EventType.LOGOUT)
        elif access_session_id is not None:
            await self.end(access_session_id)

    async def _end_presented(self, presented: RefreshToken, *, event: EventType) -> None:
        """End the session of a refresh token a client presents to sign out.

        Its current token, or the parent within the grace window (a tab that has not seen
        the rotation yet), ends it as asked. Any older token of a live session is what a
        refresh would call reuse, and is treated so: the session ends all the same, but
        recorded as `refresh_token_reused` and told to the owner, never silently.
        """
        live = await self._tokens.store.describe(presented.session_id)
        if live is None:
            return  # nothing live: signing out is idempotent
        grace = self._settings.refresh_reuse_grace_seconds
        recent_parent = presented.hash == live.parent_hash and time.time() - live.issued_at < grace
        if presented.hash == live.current_hash or recent_parent:
            await self.end(presented.session_id, event=event)
        else:
            await self.reuse_detected(uuid.UUID(presented.session_id))

    async def end_all(
        self,
        user_id: uuid.UUID,
        *,
        reason: EventType = EventType.LOGOUT_ALL,
        keep: str | None = None,
    ) -> int:
        """Revoke every session of a user but `keep`; returns how many were open.

        Also bumps the credential version (authapi.services.credentials), first: a
        sign-in racing this waits for it or is refused, and links emailed before it
        stop working. Records a LOGOUT_ALL event; other reasons are recorded by their
        caller.
        """
        await credentials.bump(self._db, user_id)
        query = select(UserSession.id).where(
            UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(UserSession.id != uuid.UUID(keep))
        session_ids = list((await self._db.scalars(query)).all())
        await self._mark_revoked(session_ids, reason=reason.value)
        if reason is EventType.LOGOUT_ALL:
            await record(
                self._db, reason, client=self._client, user_id=user_id, count=len(session_ids)
            )
        return len(session_ids)

    async def list_active(
        self, user_id: uuid.UUID, *, current_session_id: str
    ) -> list[SessionView]:
        rows = (
            await self._db.scalars(
                select(UserSession).where(
                    UserSession.user_id == user_id,
                    UserSession.revoked_at.is_(None),
                    UserSession.expires_at > utcnow(),
                )
            )
        ).all()
        last_used = await self._tokens.store.last_used([str(row.id) for row in rows])
        views = [
            SessionView(
                id=row.id,
                created_at=row.created_at,
                last_used_at=datetime.fromtimestamp(last_used[str(row.id)], UTC),
                expires_at=min(
                    row.expires_at,
                    datetime.fromtimestamp(last_used[str(row.id)], UTC)
                    + timedelta(seconds=self._settings.refresh_token_ttl_seconds),
                ),
                ip=row.ip,
                user_agent=row.user_agent,
                current=str(row.id) == current_session_id,
            )
            for row in rows
            if str(row.id) in last_used  # ended in the store (expired, or lost) but not marked here
        ]
        return sorted(views, key=lambda view: view.last_used_at, reverse=True)

    async def revoke_own(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Raises: SessionNotFound unless it is one of the user's active sessions."""
        owner = await self._db.scalar(
            select(UserSession.user_id).where(
                UserSession.id == session_id, UserSession.revoked_at.is_(None)
            )
        )
        if owner != user_id:
            raise SessionNotFound()
        await self.end(str(session_id), event=EventType.SESSION_REVOKED)

    async def revoke_token(self, token: str) -> None:
        """RFC 7009: end the session of a refresh or access token; silent for anything else."""
        parsed = self._tokens.refresh.parse(token)
        if parsed is not None:
            await self._end_presented(parsed, event=EventType.SESSION_REVOKED)
            return
        try:
            claims = await self._tokens.access.verify(token)
        except AuthError:
            return  # RFC 7009 §2.2: invalid tokens do not cause an error
        await self.end(claims["sid"], event=EventType.SESSION_REVOKED)
