"""Two-factor authentication: TOTP enrolment, recovery codes, and the sign-in challenge.

Enrolment: `begin_setup` stores a fresh secret, pending (a second call replaces
a pending one); `confirm` with a first code turns TOTP on and returns ten
recovery codes, shown once. Turning TOTP on or off signs out the account's other
sessions and emails the owner.

Sign-in: once the password is right, `challenge` opens a challenge in the token
store and answers 403 `mfa_required` with its `mfa_token` (`<id>.<secret>`; the
store keeps a SHA-256 of it). The challenge lives a few minutes, belongs to one
user and the credentials that opened it (any change to them voids it), takes at most
`mfa_challenge_max_attempts` codes (spent atomically in the store before each
check, so parallel guesses cannot exceed it) and completes once: `complete`
closes it, and of two requests only the one that closed it gets a session. It
is not a JWT, so nothing that verifies access tokens can mistake it for one.

Codes: a TOTP code counts only for a time step later than the last one accepted
for the user. One conditional UPDATE checks and records the step, so of two
requests with the same code the second waits on the row lock and then finds the
step used; the step used to confirm cannot sign in either. A recovery code is
spent by one DELETE: whoever deleted the row used it. Every code tried first
spends a budget (429 when it is empty): at sign-in the account's `mfa:user`, to
manage MFA with an access token that session's `mfa:session`, so a stolen access
token cannot burn the owner's sign-in budget. A password reset leaves MFA as it is.
"""

from __future__ import annotations

import enum
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi import metrics, recovery_codes, totp
from authapi.clientip import ClientInfo
from authapi.db import keep_on_error, upsert
from authapi.encryption import DecryptionFailed, Encryptor
from authapi.errors import (
    AccountDisabled,
    AuthError,
    InvalidCredentials,
    InvalidMfaCode,
    InvalidMfaToken,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaRequired,
    MfaSetupRequired,
)
from authapi.models import RecoveryCode, TotpCredential, User, utcnow
from authapi.outbox import Outbox
from authapi.ratelimit import Throttle
from authapi.services import credentials, notifications, profiles
from authapi.services.accounts import AccountService, existing_user
from authapi.services.events import EventType, record
from authapi.services.sessions import SessionService
from authapi.settings import Settings
from authapi.store import Challenge, TokenStore
from authapi.tokens import token_hash

log = logging.getLogger("authapi.mfa")

_CHALLENGE_ID = re.compile(r"\A[0-9a-f]{32}\Z")
SIGN_IN = "sign_in"  # the purpose of a code given at /auth/login/mfa


class Factor(enum.StrEnum):
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32, for typing into an app by hand
    otpauth_uri: str
    qr_code: str  # SVG data URI


@dataclass(frozen=True)
class MfaStatus:
    totp_enabled: bool
    recovery_codes_remaining: int


@dataclass(frozen=True)
class PassedChallenge:
    user: User
    method: str  # e.g. "password+totp": what the session was started with


def _binding(user: User) -> str:
    """Changes whenever the account's credentials do (authapi.services.credentials): binds
    a challenge to the password (or provider sign-in) that opened it."""
    return str(user.credential_version)


async def remove_factors(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the account's TOTP secret and recovery codes: two-factor authentication is off."""
    await db.execute(delete(TotpCredential).where(TotpCredential.user_id == user_id))
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    profiles.changed(db, user_id)


class MfaService:
    def __init__(
        self,
        db: AsyncSession,
        client: ClientInfo,
        *,
        settings: Settings,
        store: TokenStore,
        throttle: Throttle,
        encryptor: Encryptor,
        outbox: Outbox,
        accounts: AccountService,
        sessions: SessionService,
    ) -> None:
        self._db = db
        self._client = client
        self._settings = settings
        self._store = store
        self._throttle = throttle
        self._encryptor = encryptor
        self._outbox = outbox
        self._accounts = accounts
        self._sessions = sessions

    # --- state ---------------------------------------------------------------
    async def is_enabled(self, user_id: uuid.UUID) -> bool:
        confirmed_at = await self._db.scalar(
            select(TotpCredential.confirmed_at).where(TotpCredential.user_id == user_id)
        )
        return confirmed_at is not None

    async def status(self, user_id: uuid.UUID) -> MfaStatus:
        return MfaStatus(
            totp_enabled=await self.is_enabled(user_id),
            recovery_codes_remaining=await self._recovery_codes_left(user_id),
        )

    async def _recovery_codes_left(self, user_id: uuid.UUID) -> int:
        count = await self._db.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user_id)
        )
        return count or 0

    # --- enrolment -------------------------------------------------------------
    async def begin_setup(
        self, user_id: uuid.UUID, *, password: str | None, session_id: str
    ) -> TotpEnrolment:
        """Store a new pending secret (replacing a pending one) and describe it for the app.

        Needs the password (or, without one, a recent sign-in): an access token alone
        must not be able to enrol an attacker's authenticator and lock the owner out.

        Raises:
            InvalidCredentials, ReauthenticationRequired, RateLimited: see
                `AccountService.confirmed`.
            MfaAlreadyEnabled: TOTP is on; it must be turned off before enrolling again.
        """
        user = await self._accounts.confirmed(
            user_id, password=password, session_id=session_id, purpose="totp_setup"
        )
        secret = totp.new_secret()
        values = {"secret": self._seal(user_id, secret), "created_at": utcnow()}
        # one statement: two setups at once cannot collide, and a confirmed row is never touched
        statement = (
            upsert(self._db, TotpCredential)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(
                index_elements=[TotpCredential.user_id],
                set_={**values, "last_used_step": None},
                where=TotpCredential.confirmed_at.is_(None),
            )
            .returning(TotpCredential.user_id)
        )
        if await self._db.scalar(statement) is None:
            raise MfaAlreadyEnabled()
        await record(self._db, EventType.MFA_SETUP_STARTED, client=self._client, user_id=user_id)
        uri = totp.provisioning_uri(
            secret, account=user.email, issuer=self._settings.mfa_issuer_name
        )
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_code=totp.qr_code_data_uri(uri))

    async def confirm(self, user_id: uuid.UUID, code: str, *, session_id: str) -> list[str]:
        """Turn TOTP on with a first code; returns the new recovery codes.

        Raises:
            MfaAlreadyEnabled, MfaSetupRequired: nothing pending to confirm.
            RateLimited: too many codes tried for this account.
            InvalidMfaCode: the code does not match the pending secret.
        """
        credential = await self._db.get(TotpCredential, user_id)
        if credential is not None and credential.confirmed_at is not None:
            raise MfaAlreadyEnabled()
        if credential is None:
            raise MfaSetupRequired()
        await self._spend_budget(user_id, session_id=session_id)
        if not await self._accept_totp(credential, code, confirming=True):
            await self._record_failure(user_id, purpose="confirm")
            raise InvalidMfaCode()
        codes = await self._replace_recovery_codes(user_id)
        await self._sessions.end_all(user_id, reason=EventType.MFA_ENABLED, keep=session_id)
        await record(self._db, EventType.MFA_ENABLED, client=self._client, user_id=user_id)
        user = await existing_user(self._db, user_id)
        self._outbox.add(self._db, notifications.mfa_enabled(user.email))
        return codes

    async def disable(
        self, user_id: uuid.UUID, *, password: str | None, code: str, session_id: str
    ) -> None:
        """Turn TOTP off (and drop the recovery codes), with the password and a code.

        Raises:
            InvalidCredentials: the password is wrong.
            MfaNotEnabled: TOTP is not on.
            RateLimited, InvalidMfaCode: see `confirm`.
        """
        user = await self._accounts.confirmed(
            user_id, password=password, session_id=session_id, purpose="mfa_disable"
        )
        if not await self.is_enabled(user_id):
            raise MfaNotEnabled()
        await self._verify_code(user_id, code, purpose="disable", session_id=session_id)
        await remove_factors(self._db, user_id)
        await self._sessions.end_all(user_id, reason=EventType.MFA_DISABLED, keep=session_id)
        await record(self._db, EventType.MFA_DISABLED, client=self._client, user_id=user_id)
        self._outbox.add(self._db, notifications.mfa_disabled(user.email))

    async def regenerate_recovery_codes(
        self, user_id: uuid.UUID, code: str, *, session_id: str
    ) -> list[str]:
        """New recovery codes for a code; the old ones stop working.

        Raises:
            MfaNotEnabled: TOTP is not on.
            RateLimited, InvalidMfaCode: see `confirm`.
        """
        if not await self.is_enabled(user_id):
            raise MfaNotEnabled()
        await self._verify_code(user_id, code, purpose="recovery_codes", session_id=session_id)
        codes = await self._replace_recovery_codes(user_id)
        await record(
            self._db, EventType.RECOVERY_CODES_REGENERATED, client=self._client, user_id=user_id
        )
        user = await existing_user(self._db, user_id)
        self._outbox.add(self._db, notifications.recovery_codes_regenerated(user.email))
        return codes

    # --- sign-in ---------------------------------------------------------------
    async def challenge(self, user: User, *, method: str) -> MfaRequired:
        """Open a second-factor challenge for a user who passed `method`; the error to raise.

        Raises:
            InvalidCredentials, AccountDisabled: the account changed since `method` passed.
        """
        await credentials.hold(self._db, user)
        challenge_id = uuid.uuid4().hex
        mfa_token = f"{challenge_id}.{secrets.token_urlsafe(32)}"
        ttl = self._settings.mfa_challenge_ttl_seconds
        await self._store.open_challenge(
            challenge_id,
            token_hash=token_hash(mfa_token),
            user_id=str(user.id),
            method=method,
            binding=_binding(user),
            attempts=self._settings.mfa_challenge_max_attempts,
            ttl_seconds=ttl,
        )
        await record(
            self._db, EventType.MFA_CHALLENGED, client=self._client, user_id=user.id, method=method
        )
        # the 403 that follows must not undo what the first step wrote (event, rehash)
        keep_on_error(self._db)
        metrics.LOGINS.labels(method, "mfa_required").inc()
        return MfaRequired(mfa_token=mfa_token, expires_in=ttl)

    async def complete(self, mfa_token: str, code: str) -> PassedChallenge:
        """Check a code against a challenge and close it.

        Raises:
            InvalidMfaToken: unknown, expired, used, voided or out-of-attempts challenge.
            AccountDisabled: an operator disabled the account since the password step.
            RateLimited: too many codes tried for this account.
            InvalidMfaCode: wrong, replayed or expired code (the attempt is spent).
        """

        async def code_matches(user: User) -> str:
            return await self._verify_code(user.id, code, purpose=SIGN_IN)

        return await self.complete_with(mfa_token, code_matches)

    async def complete_with(
        self, mfa_token: str, second_factor: Callable[[User], Awaitable[str]]
    ) -> PassedChallenge:
        """Spend an attempt of a challenge, let `second_factor` check its user (it answers
        the factor's name or raises), and close the challenge.

        Raises: InvalidMfaToken, AccountDisabled (see `complete`), and what
        `second_factor` raises.
        """
        challenge_id, challenge, user = await self._attempt(mfa_token)
        try:
            await credentials.hold(self._db, user)  # until this sign-in commits
        except InvalidCredentials:
            raise InvalidMfaToken() from None
        factor = await second_factor(user)
        if not await self._store.close_challenge(challenge_id):
            # a parallel request completed it first; rolling back returns what we spent
            raise InvalidMfaToken()
        return PassedChallenge(user=user, method=f"{challenge.method}+{factor}")

    async def challenged_user(self, mfa_token: str) -> User:
        """Whom a live challenge is for (to offer their passkeys); spends one attempt.

        Raises: InvalidMfaToken, AccountDisabled (see `complete`).
        """
        _, _, user = await self._attempt(mfa_token)
        return user

    async def _attempt(self, mfa_token: str) -> tuple[str, Challenge, User]:
        challenge_id = mfa_token.partition(".")[0]
        if _CHALLENGE_ID.match(challenge_id) is None:
            raise InvalidMfaToken()
        challenge = await self._store.try_challenge(challenge_id, token_hash=token_hash(mfa_token))
        if challenge is None:
            raise InvalidMfaToken()
        user = await self._db.get(User, uuid.UUID(challenge.user_id))
        if user is None:
            raise InvalidMfaToken()
        if user.disabled_at is not None:  # the password was right: it may know this
            raise AccountDisabled()
        if _binding(user) != challenge.binding:
            raise InvalidMfaToken()
        return challenge_id, challenge, user

    # --- codes -----------------------------------------------------------------
    async def _verify_code(
        self, user_id: uuid.UUID, code: str, *, purpose: str, session_id: str | None = None
    ) -> Factor:
        """Accept a TOTP code or a recovery code of an account with TOTP on; `session_id`
        is the signed-in session asking (None: a sign-in's second step).

        Raises:
            RateLimited: the code budget is empty (see `_spend_budget`).
            InvalidMfaCode: neither kind of code is good.
        """
        await self._spend_budget(user_id, session_id=session_id)
        factor = Factor.TOTP if totp.is_totp_code(code) else Factor.RECOVERY_CODE
        if factor is Factor.TOTP:
            credential = await self._db.get(TotpCredential, user_id)
            accepted = credential is not None and await self._accept_totp(
                credential, code, confirming=False
            )
        else:
            digest = recovery_codes.stored_hash(user_id, code)
            accepted = digest is not None and await self._use_recovery_code(
                user_id, digest, purpose=purpose
            )
        metrics.MFA_VERIFICATIONS.labels(factor.value, "success" if accepted else "failure").inc()
        if accepted:
            return factor
        await self._record_failure(user_id, purpose=purpose)
        raise InvalidMfaCode()

    async def _spend_budget(self, user_id: uuid.UUID, *, session_id: str | None) -> None:
        """Sign-in codes spend the account's budget; codes sent with an access token spend
        that session's own, so a stolen token cannot empty the owner's sign-in budget."""
        if session_id is None:
            await self._throttle.spend("mfa:user", str(user_id))
        else:
            await self._throttle.spend("mfa:session", session_id)

    async def _accept_totp(
        self, credential: TotpCredential, code: str, *, confirming: bool
    ) -> bool:
        """Whether `code` is good for a step later than the last accepted; records the step."""
        secret = self._unseal(credential)
        for step in totp.matching_steps(secret, code, now=time.time()):
            values: dict[str, object] = {"last_used_step": step}
            if confirming:
                values["confirmed_at"] = utcnow()
            accepted = await self._db.scalar(
                update(TotpCredential)
                .where(
                    TotpCredential.user_id == credential.user_id,
                    # the very secret the code was checked against (not one a new setup wrote)
                    TotpCredential.secret == credential.secret,
                    TotpCredential.confirmed_at.is_(None)
                    if confirming
                    else TotpCredential.confirmed_at.is_not(None),
                    or_(
                        TotpCredential.last_used_step.is_(None),
                        TotpCredential.last_used_step < step,
                    ),
                )
                .values(**values)
                .returning(TotpCredential.user_id)
                .execution_options(synchronize_session=False)
            )
            if accepted is not None:
                if confirming:
                    profiles.changed(self._db, credential.user_id)  # two-factor is now on
                return True
        return False

    async def _use_recovery_code(self, user_id: uuid.UUID, digest: str, *, purpose: str) -> bool:
        used = await self._db.scalar(
            delete(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == digest)
            .returning(RecoveryCode.id)
        )
        if used is None:
            return False
        remaining = await self._recovery_codes_left(user_id)
        await record(
            self._db,
            EventType.RECOVERY_CODE_USED,
            client=self._client,
            user_id=user_id,
            purpose=purpose,
            remaining=remaining,
        )
        if purpose == SIGN_IN:  # turning MFA off and new codes send notices of their own
            user = await existing_user(self._db, user_id)
            self._outbox.add(
                self._db, notifications.recovery_code_used(user.email, remaining=remaining)
            )
        return True

    async def _record_failure(self, user_id: uuid.UUID, *, purpose: str) -> None:
        """Record a wrong code, kept although the request ends in the error that follows."""
        await record(
            self._db, EventType.MFA_FAILED, client=self._client, user_id=user_id, purpose=purpose
        )
        keep_on_error(self._db)

    async def _replace_recovery_codes(self, user_id: uuid.UUID) -> list[str]:
        codes = recovery_codes.new_codes()
        await self._db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        await self._db.execute(
            insert(RecoveryCode),
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user_id,
                    "code_hash": recovery_codes.stored_hash(user_id, code),
                    "created_at": utcnow(),
                }
                for code in codes
            ],
        )
        return codes

    # --- secrets at rest ---------------------------------------------------------
    def _seal(self, user_id: uuid.UUID, secret: str) -> str:
        # the user id inside the ciphertext: a secret copied to another row does not open there
        return self._encryptor.encrypt(f"{user_id}:{secret}".encode("ascii"))

    def _unseal(self, credential: TotpCredential) -> str:
        try:
            plaintext = self._encryptor.decrypt(credential.secret).decode("ascii")
        except DecryptionFailed:
            log.error(
                "a TOTP secret cannot be decrypted: is a key missing from AUTHAPI_ENCRYPTION_KEYS?"
            )
            raise AuthError() from None
        owner, _, secret = plaintext.partition(":")
        if owner != str(credential.user_id):
            log.error("a TOTP secret belongs to another account; refusing it")
            raise AuthError()
        return secret
