"""Security events: the audit trail of sign-ins, failures, reuse and revocations.

Each event is a row with its time, user, session, IP and user agent, plus a few
non-secret details (the sign-in method, a failure's reason, a provider's name).
Owners read their own with `GET /users/me/events`; rows are deleted after
AUTHAPI_AUDIT_RETENTION_DAYS (authapi.retention).
"""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.clientip import ClientInfo
from authapi.models import SecurityEvent


class EventType(enum.StrEnum):
    USER_REGISTERED = "user_registered"
    REGISTER_EXISTING = "register_existing_email"
    EMAIL_VERIFIED = "email_verified"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    PASSWORD_CHECK_FAILED = "password_check_failed"  # noqa: S105 (a wrong password, signed in)
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 (an event name)
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_REHASHED = "password_rehashed"  # noqa: S105 (an event name)
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 (an event name)
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an event name)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name)
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    ACCOUNT_DELETED = "account_deleted"
    MFA_SETUP_STARTED = "mfa_setup_started"
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_RESET = "mfa_reset"  # by an operator
    MFA_CHALLENGED = "mfa_challenged"
    MFA_FAILED = "mfa_failed"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    RECOVERY_CODE_USED = "recovery_code_used"
    IDENTITY_LINKED = "identity_linked"
    IDENTITY_UNLINKED = "identity_unlinked"
    PROVIDER_NOTIFIED = "provider_notified"  # consent revoked, account deleted (Apple)
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_RENAMED = "passkey_renamed"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_USED = "passkey_used"
    PASSKEY_REFUSED = "passkey_refused"  # a sign count that went back, or a changed BE flag
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_ENABLED = "account_enabled"
    SESSIONS_REVOKED = "sessions_revoked"  # by an operator


async def record(
    db: AsyncSession,
    event_type: EventType,
    *,
    client: ClientInfo,
    user_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Add an event to the current transaction. Never pass secrets in `details`."""
    db.add(
        SecurityEvent(
            user_id=user_id,
            session_id=session_id,
            type=event_type.value,
            ip=client.ip,
            user_agent=client.user_agent,
            details=details or None,
        )
    )


async def recent(
    db: AsyncSession, user_id: uuid.UUID, *, limit: int, before: int | None = None
) -> list[SecurityEvent]:
    """A user's events, newest first; `before` is the id the previous page ended at."""
    query = (
        select(SecurityEvent)
        .where(SecurityEvent.user_id == user_id)
        .order_by(SecurityEvent.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(SecurityEvent.id < before)
    return list(await db.scalars(query))
