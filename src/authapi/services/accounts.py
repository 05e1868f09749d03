"""Accounts: registration, verification, sign-in checks, recovery, credential changes.

Anti-enumeration: register, resend and forgot-password answer the same whatever
the address. Every path of register and login spends exactly one bcrypt
operation; resend and forgot-password do their lookup and writes after the
response (`_after_response`). So neither an answer nor its timing tells whether
an account exists. Every email goes through the outbox, in the transaction of
the change that causes it.

Registering an address that has an unverified account (with verified email
required) is a second claim on an address nobody has proven yet: the account
keeps neither password, every link sent so far stops working, and the mailbox
gets a link to choose the password (which also confirms the address). Keeping
the first password would let a stranger who registered someone's address first
keep a way in; taking the latest (Supabase/GoTrue) would let one who registers
it second plant theirs behind the owner's confirmation. A verified address only
gets a notice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.clientip import ClientInfo
from authapi.db import keep_on_error, upsert
from authapi.errors import (
    AccountDisabled,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidEmailToken,
    NotAuthenticated,
    ReauthenticationRequired,
    ValidationFailed,
)
from authapi.models import User, UserSession, utcnow
from authapi.outbox import Outbox
from authapi.passwords import PasswordHasher, PasswordPolicy
from authapi.ratelimit import Throttle
from authapi.services import credentials, email_tokens, notifications
from authapi.services.email_tokens import Purpose
from authapi.services.events import EventType, record
from authapi.services.sessions import SessionService
from authapi.settings import Settings
from authapi.store import TokenStore

# how long an (address, IP) pair that signed in skips the address-wide sign-in budget
KNOWN_SIGN_IN_TTL_SECONDS = 30 * 24 * 3600
# an account without a password confirms a change by a sign-in at most this old
REAUTHENTICATION_SECONDS = 300


async def existing_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    """The signed-in user's row.

    Raises:
        NotAuthenticated: the account no longer exists (deleted while a token was live).
    """
    user = await db.get(User, user_id)
    if user is None:
        raise NotAuthenticated("The account no longer exists.")
    return user


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    """The account of a normalised address, if any."""
    return await db.scalar(select(User).where(User.email == email))


async def insert_user_if_absent(
    db: AsyncSession,
    email: str,
    *,
    password_hash: str | None,
    email_verified_at: datetime | None = None,
) -> uuid.UUID | None:
    """Insert an account unless the address has one; its id, or None if it had (race-safe:
    ON CONFLICT, no savepoint)."""
    user_id: uuid.UUID | None = await db.scalar(
        upsert(db, User)
        .values(
            id=uuid.uuid4(),
            email=email,
            password_hash=password_hash,
            email_verified_at=email_verified_at,
        )
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id)
    )
    return user_id


# runs work on the accounts of a transaction of its own, after the response (named): for
# requests that must answer the same, in the same time, whatever the address, since the
# lookup and its writes would otherwise show in the timing
AfterResponse = Callable[[Callable[["AccountService"], Awaitable[None]], str], None]


class AccountService:
    def __init__(
        self,
        db: AsyncSession,
        client: ClientInfo,
        *,
        settings: Settings,
        store: TokenStore,
        throttle: Throttle,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        outbox: Outbox,
        sessions: SessionService,
        after_response: AfterResponse,
    ) -> None:
        self._db = db
        self._client = client
        self._settings = settings
        self._store = store
        self._throttle = throttle
        self._hasher = hasher
        self._policy = policy
        self._outbox = outbox
        self._sessions = sessions
        self._after_response = after_response

    async def _by_email(self, email: str) -> User | None:
        return await user_by_email(self._db, email)

    async def register(self, email: str, password: str) -> None:
        """Create an account (or notify the owner of an existing one).

        Raises:
            RateLimited: too many registrations from this IP, or emails for this address
                (counted whether or not it has an account: every branch sends one).
            WeakPassword: the password breaks the policy (same for every address).
        """
        await self._throttle.spend("register:ip", self._client.network)
        await self._throttle.spend("email:address", email)
        self._policy.check(password, email=email)
        # every branch pays for this one hash, so timing says nothing about the address
        password_hash = await self._hasher.hash(password)
        user_id = await insert_user_if_absent(self._db, email, password_hash=password_hash)
        if user_id is not None:
            await record(self._db, EventType.USER_REGISTERED, client=self._client, user_id=user_id)
            await self._send_verification(user_id, email)
            return

        user = await self._by_email(email)
        assert user is not None
        await record(self._db, EventType.REGISTER_EXISTING, client=self._client, user_id=user.id)
        if not user.email_verified and self._settings.require_verified_email:
            # two claims on an unproven address: keep neither password, void every
            # link, and let whoever reads the mailbox choose the password
            user.password_hash = None
            await credentials.bump(self._db, user.id)
            await self._send_password_choice(user.id, email)
        else:
            self._outbox.add(
                self._db,
                notifications.already_registered(email, app_url=self._settings.effective_app_url),
            )

    async def _send_verification(self, user_id: uuid.UUID, email: str) -> None:
        ttl = self._settings.verification_token_ttl_seconds
        token = await email_tokens.issue(
            self._db, user_id=user_id, purpose=Purpose.VERIFY_EMAIL, ttl_seconds=ttl
        )
        url = notifications.link(
            self._settings.effective_app_url, notifications.VERIFY_EMAIL_PATH, token
        )
        self._outbox.add(
            self._db, notifications.verification(email, url=url, valid_hours=max(1, ttl // 3600))
        )

    async def _send_password_choice(self, user_id: uuid.UUID, email: str) -> None:
        """A link that sets the password of an unconfirmed account and confirms its address."""
        ttl = self._settings.reset_token_ttl_seconds
        token = await email_tokens.issue(
            self._db, user_id=user_id, purpose=Purpose.RESET_PASSWORD, ttl_seconds=ttl
        )
        url = notifications.link(
            self._settings.effective_app_url, notifications.RESET_PASSWORD_PATH, token
        )
        self._outbox.add(
            self._db, notifications.finish_registration(email, url=url, valid_minutes=ttl // 60)
        )

    async def verify_email(self, token: str) -> None:
        """Confirm an address: a new account's, or the new one of an email change.

        Raises:
            InvalidEmailToken: unknown, used, superseded or expired token.
            EmailTaken: the new address got an account since the change was asked for.
        """
        redeemed = await email_tokens.consume(
            self._db, token=token, purposes=[Purpose.VERIFY_EMAIL, Purpose.CHANGE_EMAIL]
        )
        user = await self._db.get(User, redeemed.user_id)
        if user is None:
            raise InvalidEmailToken()
        if redeemed.purpose is Purpose.CHANGE_EMAIL:
            assert redeemed.new_email is not None
            await self._change_email(user, redeemed.new_email)
        elif user.email_verified_at is None:
            user.email_verified_at = utcnow()
            await record(self._db, EventType.EMAIL_VERIFIED, client=self._client, user_id=user.id)

    async def _change_email(self, user: User, new_email: str) -> None:
        if await self._by_email(new_email) is not None:
            raise EmailTaken()
        old_email = user.email
        user.email = new_email
        user.email_verified_at = utcnow()
        # links sent to the old address (a reset, say) no longer speak for the account
        await credentials.bump(self._db, user.id)
        try:
            await self._db.flush()
        except IntegrityError:  # taken between the check and the write
            raise EmailTaken() from None
        await record(self._db, EventType.EMAIL_CHANGED, client=self._client, user_id=user.id)
        self._outbox.add(self._db, notifications.email_changed(old_email, new_email=new_email))

    async def _spend_email_budget(self, email: str) -> None:
        """Raises: RateLimited (counted per address and per IP, known or not)."""
        await self._throttle.spend("email:ip", self._client.network)
        await self._throttle.spend("email:address", email)

    async def resend_verification(self, email: str) -> None:
        """Send a new link if the address has an unverified account; silent otherwise.

        Raises:
            RateLimited: too many emails asked for this address or from this IP.
        """
        await self._spend_email_budget(email)
        self._after_response(lambda later: later._resend_now(email), "resend-verification")

    async def _resend_now(self, email: str) -> None:
        user = await self._by_email(email)
        if user is None or user.email_verified:
            return
        if user.password_hash is None:  # registered twice: the password is still to choose
            await self._send_password_choice(user.id, email)
        else:
            await self._send_verification(user.id, email)

    async def request_password_reset(self, email: str) -> None:
        """Email a reset link if the address has an account; silent otherwise.

        Raises:
            RateLimited: too many emails asked for this address or from this IP.
        """
        await self._spend_email_budget(email)
        self._after_response(lambda later: later._send_reset_link(email), "password-reset")

    async def _send_reset_link(self, email: str) -> None:
        user = await self._by_email(email)
        if user is None:
            return
        ttl = self._settings.reset_token_ttl_seconds
        token = await email_tokens.issue(
            self._db, user_id=user.id, purpose=Purpose.RESET_PASSWORD, ttl_seconds=ttl
        )
        url = notifications.link(
            self._settings.effective_app_url, notifications.RESET_PASSWORD_PATH, token
        )
        self._outbox.add(
            self._db, notifications.password_reset_link(email, url=url, valid_minutes=ttl // 60)
        )
        await record(
            self._db, EventType.PASSWORD_RESET_REQUESTED, client=self._client, user_id=user.id
        )

    async def reset_password(self, token: str, new_password: str) -> None:
        """Set a new password with a reset link; every session ends, MFA stays as it was.

        Raises:
            InvalidEmailToken: unknown, used, superseded or expired token.
            WeakPassword: the new password breaks the policy (the token stays usable).
        """
        redeemed = await email_tokens.consume(
            self._db, token=token, purposes=[Purpose.RESET_PASSWORD]
        )
        user = await self._db.get(User, redeemed.user_id)
        if user is None:
            raise InvalidEmailToken()
        self._policy.check(new_password, email=user.email)
        user.password_hash = await self._hasher.hash(new_password)
        if user.email_verified_at is None:
            user.email_verified_at = utcnow()  # the link just proved the mailbox
        await self._sessions.end_all(user.id, reason=EventType.PASSWORD_RESET)
        await record(self._db, EventType.PASSWORD_RESET, client=self._client, user_id=user.id)
        self._outbox.add(self._db, notifications.password_was_reset(user.email))

    async def change_password(
        self, user_id: uuid.UUID, *, current: str, new: str, session_id: str
    ) -> None:
        """Change the password; the other sessions end, this one stays.

        Raises:
            InvalidCredentials: the current password is wrong.
            WeakPassword: the new password breaks the policy.
        """
        user = await self.with_password(user_id, current, purpose="change_password")
        self._policy.check(new, email=user.email)
        user.password_hash = await self._hasher.hash(new)
        # ending the sessions also voids links sent earlier: a reset link must not undo this
        await self._sessions.end_all(user.id, reason=EventType.PASSWORD_CHANGED, keep=session_id)
        await record(self._db, EventType.PASSWORD_CHANGED, client=self._client, user_id=user.id)
        self._outbox.add(self._db, notifications.password_changed(user.email))

    async def request_email_change(
        self, user_id: uuid.UUID, *, password: str | None, new_email: str, session_id: str
    ) -> None:
        """Send a confirmation link to the new address and a notice to the current one.

        The address changes only when the link is used. A new address that already
        has an account gets a notice instead of a link, and the caller is not told.

        Raises:
            InvalidCredentials: the password is wrong.
            ValidationFailed: the new address is the current one.
            RateLimited: too many emails asked for the new address or from this IP.
        """
        user = await self.confirmed(
            user_id, password=password, session_id=session_id, purpose="change_email"
        )
        await self._spend_email_budget(new_email)
        if new_email == user.email:
            raise ValidationFailed("That is already the address of your account.")
        if await self._by_email(new_email) is not None:
            self._outbox.add(self._db, notifications.email_change_refused(new_email))
        else:
            ttl = self._settings.verification_token_ttl_seconds
            token = await email_tokens.issue(
                self._db,
                user_id=user.id,
                purpose=Purpose.CHANGE_EMAIL,
                ttl_seconds=ttl,
                new_email=new_email,
            )
            url = notifications.link(
                self._settings.effective_app_url, notifications.VERIFY_EMAIL_PATH, token
            )
            self._outbox.add(
                self._db,
                notifications.email_change_confirmation(
                    new_email, url=url, valid_hours=max(1, ttl // 3600)
                ),
            )
        self._outbox.add(
            self._db, notifications.email_change_requested(user.email, new_email=new_email)
        )
        await record(
            self._db, EventType.EMAIL_CHANGE_REQUESTED, client=self._client, user_id=user.id
        )

    async def delete_account(
        self, user_id: uuid.UUID, *, password: str | None, session_id: str
    ) -> None:
        """Delete the account and end every session.

        Raises:
            InvalidCredentials: the password is wrong.
        """
        user = await self.confirmed(
            user_id, password=password, session_id=session_id, purpose="delete_account"
        )
        await self._sessions.end_all(user.id, reason=EventType.ACCOUNT_DELETED)
        # the row goes, so the event keeps the id in its details (its user_id becomes NULL)
        await record(
            self._db,
            EventType.ACCOUNT_DELETED,
            client=self._client,
            user_id=user.id,
            account=str(user.id),
        )
        self._outbox.add(self._db, notifications.account_deleted(user.email))
        await self._db.delete(user)

    async def confirmed(
        self, user_id: uuid.UUID, *, password: str | None, session_id: str, purpose: str
    ) -> User:
        """The user, after they confirmed it is them, for a change to their account
        (`purpose` names it in the failure event).

        With a password on the account, by the password (see `with_password`). Without
        one (an account made through a provider, or with passkeys only), by a recent
        sign-in, whichever way it was made (a passkey too): the session asking began less
        than REAUTHENTICATION_SECONDS ago (RFC 9470's max_age).

        Raises:
            NotAuthenticated: the account no longer exists.
            RateLimited: the account's sign-in budget is empty.
            InvalidCredentials: the password is missing or wrong.
            ReauthenticationRequired: no password, and the session is older than that.
        """
        user = await existing_user(self._db, user_id)
        if user.password_hash is not None or password is not None:
            await self._check_password(user, password, purpose=purpose)
            return user
        started = await self._db.scalar(
            select(UserSession.created_at).where(
                UserSession.id == uuid.UUID(session_id), UserSession.user_id == user_id
            )
        )
        if started is None or utcnow() - started > timedelta(seconds=REAUTHENTICATION_SECONDS):
            raise ReauthenticationRequired(max_age=REAUTHENTICATION_SECONDS)
        return user

    async def with_password(self, user_id: uuid.UUID, password: str, *, purpose: str) -> User:
        """The user, after checking their password as a sign-in does: the account's sign-in
        budgets are spent first, and a wrong password is a security event.

        Raises:
            NotAuthenticated: the account no longer exists.
            RateLimited: the account's sign-in budget is empty.
            InvalidCredentials: the password is wrong (or the account has none).
        """
        user = await existing_user(self._db, user_id)
        await self._check_password(user, password, purpose=purpose)
        return user

    async def _check_password(self, user: User, password: str | None, *, purpose: str) -> None:
        if password is None:
            raise InvalidCredentials("Send your current password.")
        # the same budgets as signing in: a stolen access token is no way to guess faster
        await self._spend_account_budgets(user.email)
        if not await self._hasher.verify(password, user.password_hash):
            await self._failed(EventType.PASSWORD_CHECK_FAILED, user, purpose=purpose)
            raise InvalidCredentials("The current password is incorrect.")
        await self._forgive_account_budgets(user.email)

    async def _spend_account_budgets(self, email: str) -> None:
        """Spend the sign-in budgets of an address, before any password for it is checked.

        Raises:
            RateLimited: the budget of the address, or of the address from this IP, is empty.
        """
        pair = self._pair(email)
        await self._throttle.spend("login:account_ip", pair)
        # The owner's usual IPs skip the address-wide budget, so guessing from many
        # other IPs cannot lock the owner out; their own per-IP budget still applies.
        if not await self._store.remembers(_known_pair(pair)):
            await self._throttle.spend("login:account", email)

    async def _forgive_account_budgets(self, email: str) -> None:
        """The owner is here: the address's budgets count consecutive failures only."""
        pair = self._pair(email)
        await self._throttle.forgive("login:account", email)
        await self._throttle.forgive("login:account_ip", pair)
        await self._store.remember(_known_pair(pair), ttl_seconds=KNOWN_SIGN_IN_TTL_SECONDS)

    def _pair(self, email: str) -> str:
        return f"{email} {self._client.network}"

    async def authenticate(self, email: str, password: str) -> User:
        """Check an email and password.

        Raises:
            RateLimited: a sign-in budget of this IP, address, or both is empty (the same
                for every address, and before the password is looked at).
            InvalidCredentials: unknown email or wrong password (indistinguishable).
            EmailNotVerified: right password, unverified email (when verification is required).
            AccountDisabled: right password, but an operator disabled the account.
        """
        await self._throttle.spend("login:ip", self._client.network)
        await self._spend_account_budgets(email)
        user = await self._by_email(email)
        # unknown email: verify against the dummy hash anyway so the timing matches
        valid = await self._hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid:
            await self._failed(
                EventType.LOGIN_FAILED, user, method="password", reason="invalid_credentials"
            )
            raise InvalidCredentials()
        await self._forgive_account_budgets(email)
        if user.disabled_at is not None:
            await self._failed(
                EventType.LOGIN_FAILED, user, method="password", reason="account_disabled"
            )
            raise AccountDisabled()
        if self._settings.require_verified_email and not user.email_verified:
            raise EmailNotVerified()
        assert user.password_hash is not None
        if self._hasher.needs_rehash(user.password_hash):
            await self._rehash(user, password)
        return user

    async def _rehash(self, user: User, password: str) -> None:
        """Store the password at the configured cost, unless it changed since it was read
        (a reset racing this sign-in must not be undone by the old password's new hash)."""
        old_hash, new_hash = user.password_hash, await self._hasher.hash(password)
        rehashed = await self._db.scalar(
            update(User)
            .where(User.id == user.id, User.password_hash == old_hash)
            .values(password_hash=new_hash)
            .returning(User.id)
            .execution_options(synchronize_session=False)
        )
        if rehashed is not None:
            await record(
                self._db, EventType.PASSWORD_REHASHED, client=self._client, user_id=user.id
            )

    async def _failed(self, event: EventType, user: User | None, **details: Any) -> None:
        """Record a failed check, kept although the request ends in the error that follows:
        the owner should see the attempt in their security events."""
        await record(
            self._db, event, client=self._client, user_id=user.id if user else None, **details
        )
        keep_on_error(self._db)


def _known_pair(pair: str) -> str:
    """The token-store key noting that this (address, IP) pair signed in successfully."""
    return hashlib.sha256(f"known-sign-in {pair}".encode()).hexdigest()
