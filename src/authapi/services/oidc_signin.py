"""Signing in (and linking accounts) with an OpenID Connect provider.

`begin` keeps the state of one sign-in in the token store for at most
AUTHAPI_OIDC_STATE_TTL_SECONDS: the nonce, the PKCE verifier and where to send
the browser back. It is keyed by a hash of `state` and of a secret that only
this browser holds (the `authapi_oauth` cookie), so the store holds neither
value, and only the browser that started the sign-in can find it. `finish`
refuses a callback without the cookie at once, then takes the state out of the
store (single use) under the key its own cookie gives, and accepts it only for
the provider it was started with: a callback URL replayed, forged or pushed
into another browser (login CSRF) ends there, as a 400, and since a wrong
cookie finds nothing, it spends nothing: the real browser can still finish.

Past that point every outcome is a redirect to the allowed target: the refresh
cookie on success, `?error=mfa_required` with the `mfa_token` in the fragment
when the account has two-factor authentication, or `?error=<code>` (`Failure`).

A native app (RFC 8252) starts the same flow in the system browser with its own
PKCE code challenge: the callback then redirects to the app's listed redirect with a
one-time code (`_Grant`, stashed under a hash for AUTHAPI_OIDC_CODE_TTL_SECONDS, bound
to the challenge, the redirect and the account's credential version) instead of
starting a session there; `exchange_code` starts it when the app posts the code with
its verifier. Apps with a provider SDK post its id_token to `native` instead.

Accounts are matched by the provider's (issuer, subject) only. An email address
links a provider to an existing account only when the provider says it verified
the address and the account's own address is verified too; anything else could
hand an account to whoever controls an unverified address at some provider.
A new account gets no password (it can set one through forgot-password) and
counts as verified, because the provider verified the address.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi import metrics
from authapi.clientip import ClientInfo
from authapi.db import keep_on_error, upsert
from authapi.errors import (
    AccountDisabled,
    AccountExists,
    AuthError,
    EmailNotVerified,
    IdentityNotFound,
    IdTokenRefused,
    InvalidAuthorizationCode,
    InvalidCodeChallenge,
    InvalidCredentials,
    InvalidNotification,
    InvalidOAuthState,
    LastSignInMethod,
    MfaRequired,
    ProviderUnavailable,
    RedirectNotAllowed,
    UnknownProvider,
)
from authapi.models import Identity, User, utcnow
from authapi.oidc import ExternalIdentity, InvalidIdToken, OidcClient, ProviderRefused
from authapi.oidc import ProviderUnavailable as ProviderDown
from authapi.outbox import Outbox
from authapi.ratelimit import Throttle
from authapi.redirects import RedirectAllowList, is_private_scheme
from authapi.schemas import normalize_email
from authapi.services import credentials, notifications
from authapi.services.accounts import AccountService, insert_user_if_absent, user_by_email
from authapi.services.events import EventType, record
from authapi.services.mfa import MfaService
from authapi.services.sessions import IssuedTokens, SessionService
from authapi.services.signin import first_factor_passed, provider_factor, second_factor_due
from authapi.settings import Settings
from authapi.store import TokenStore
from authapi.tokens import token_hash

log = logging.getLogger("authapi.oidc")


class Failure(enum.StrEnum):
    """`?error=` codes of a sign-in that came back from the provider but did not succeed."""

    ACCESS_DENIED = "access_denied"  # the user said no at the provider
    PROVIDER_ERROR = "provider_error"  # the provider failed or refused the code
    INVALID_ID_TOKEN = "invalid_id_token"  # noqa: S105 (an error code)
    EMAIL_NOT_VERIFIED = "email_not_verified"  # a new account needs a verified address
    ACCOUNT_EXISTS = "account_exists"  # sign in with the password, then link the provider
    IDENTITY_IN_USE = "identity_in_use"  # linking: another account has this identity
    NOT_SIGNED_IN = "not_signed_in"  # linking: the session that started it has ended
    ACCOUNT_DISABLED = "account_disabled"  # an operator disabled the account
    INTERRUPTED = "sign_in_interrupted"  # the account changed (or went) meanwhile: start again


_PKCE_CHALLENGE = re.compile(r"\A[A-Za-z0-9_-]{43,128}\Z")


@dataclass(frozen=True)
class AppRequest:
    """A native app's sign-in in the system browser (RFC 8252): it gets a one-time code
    bound to its PKCE challenge (RFC 7636), and its own `state` back with it."""

    code_challenge: str | None
    code_challenge_method: str | None
    state: str | None

    def check(self) -> None:
        """Raises: InvalidCodeChallenge (S256 only: `plain` would hand the verifier over)."""
        if (
            self.code_challenge is None
            or self.code_challenge_method != "S256"
            or _PKCE_CHALLENGE.match(self.code_challenge) is None
        ):
            raise InvalidCodeChallenge()


@dataclass(frozen=True)
class Started:
    authorization_url: str
    browser_secret: str  # the value of the cookie that binds the state to this browser


@dataclass(frozen=True)
class Finished:
    redirect_to: str
    tokens: IssuedTokens | None = None
    code: str | None = None  # a native app's authorization code (RFC 8252)
    state: str | None = None  # the app's `state`, with the code
    mfa: MfaRequired | None = None
    linked: str | None = None  # the provider's name, after linking
    failure: Failure | None = None


@dataclass(frozen=True)
class _State:
    provider: str
    redirect_to: str
    nonce: str
    verifier: str
    link_user: str | None = None
    link_session: str | None = None
    app_challenge: str | None = None  # a native app's PKCE S256 challenge (RFC 8252)
    app_state: str | None = None  # the app's own `state`, handed back with the code

    def dump(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def load(cls, raw: str) -> _State:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class _Grant:
    """What a native app's authorization code stands for, until it is exchanged."""

    user: str
    version: int  # the account's credential version then: a change since voids the code
    method: str
    challenge: str
    redirect_to: str

    def dump(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def load(cls, raw: str) -> _Grant:
        return cls(**json.loads(raw))


def _native_error(failure: Failure) -> AuthError:
    """What a native app is told of a refused sign-in (the browser gets `?error=`)."""
    if failure is Failure.INVALID_ID_TOKEN:
        return IdTokenRefused()
    if failure is Failure.EMAIL_NOT_VERIFIED:
        return EmailNotVerified("The provider has not verified this account's email address.")
    if failure is Failure.ACCOUNT_EXISTS:
        return AccountExists()
    if failure is Failure.ACCOUNT_DISABLED:
        return AccountDisabled()
    return InvalidCredentials("Your account changed while signing in; sign in again.")


@contextmanager
def _changes_refused(user: User) -> Iterator[None]:
    """The account changed between the provider's answer and the session: a refusal."""
    try:
        yield
    except AccountDisabled:
        raise _Refused(Failure.ACCOUNT_DISABLED, user_id=user.id) from None
    except InvalidCredentials:
        raise _Refused(Failure.INTERRUPTED) from None


class _Refused(Exception):
    def __init__(self, failure: Failure, user_id: uuid.UUID | None = None) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.user_id = user_id


def _method(provider: OidcClient) -> str:
    """How a session signed in through `provider` is labelled (events, metrics, MFA)."""
    return provider_factor(provider.name).label


def _state_key(state: str, browser_secret: str) -> str:
    """Where a sign-in's state is kept: only the browser holding the secret can find it."""
    return token_hash(f"oidc-state {state} {browser_secret}")


def _code_key(code: str) -> str:
    return token_hash(f"oidc-app-code {code}")


def _code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcSignIn:
    def __init__(
        self,
        db: AsyncSession,
        client: ClientInfo,
        *,
        settings: Settings,
        store: TokenStore,
        throttle: Throttle,
        outbox: Outbox,
        providers: dict[str, OidcClient],
        redirects: RedirectAllowList,
        accounts: AccountService,
        mfa: MfaService,
        sessions: SessionService,
    ) -> None:
        self._db = db
        self._client = client
        self._settings = settings
        self._store = store
        self._throttle = throttle
        self._outbox = outbox
        self._providers = providers
        self._redirects = redirects
        self._accounts = accounts
        self._mfa = mfa
        self._sessions = sessions

    def _provider(self, name: str) -> OidcClient:
        """Raises: UnknownProvider."""
        provider = self._providers.get(name)
        if provider is None:
            raise UnknownProvider()
        return provider

    def _callback_url(self, provider: OidcClient) -> str:
        return f"{self._settings.public_url}/auth/oauth/{provider.name}/callback"

    # --- the redirect to the provider ----------------------------------------------------
    async def begin(
        self,
        name: str,
        *,
        redirect_to: str | None,
        link_user: uuid.UUID | None = None,
        link_session: str | None = None,
        app: AppRequest | None = None,
    ) -> Started:
        """Raises: UnknownProvider, RedirectNotAllowed, InvalidCodeChallenge, RateLimited,
        ProviderUnavailable."""
        provider = self._provider(name)
        target = redirect_to if redirect_to is not None else self._redirects.default
        if target is None or not self._redirects.allows(target):
            raise RedirectNotAllowed()
        if app is not None:
            app.check()
        elif is_private_scheme(target):
            raise InvalidCodeChallenge()  # an app's redirect gets a code, never a session
        await self._throttle.spend("oidc:ip", self._client.network)
        state, browser_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        pending = _State(
            provider=provider.name,
            redirect_to=target,
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),
            link_user=str(link_user) if link_user else None,
            link_session=link_session,
            app_challenge=app.code_challenge if app else None,
            app_state=app.state if app else None,
        )
        try:
            url = await provider.authorization_url(
                redirect_uri=self._callback_url(provider),
                state=state,
                nonce=pending.nonce,
                code_challenge=_code_challenge(pending.verifier),
            )
        except ProviderDown as exc:
            log.warning("provider %s unavailable: %s", provider.name, exc)
            raise ProviderUnavailable() from None
        await self._store.stash(
            _state_key(state, browser_secret),
            pending.dump(),
            ttl_seconds=self._settings.oidc_state_ttl_seconds,
        )
        return Started(authorization_url=url, browser_secret=browser_secret)

    async def begin_link(
        self,
        name: str,
        *,
        redirect_to: str | None,
        user_id: uuid.UUID,
        session_id: str,
        password: str | None,
    ) -> Started:
        """Start linking a provider to a signed-in account, once its owner confirmed it.

        Raises: InvalidCredentials, ReauthenticationRequired (see
        `AccountService.confirmed`), and what `begin` raises.
        """
        await self._accounts.confirmed(
            user_id, password=password, session_id=session_id, purpose="link_identity"
        )
        return await self.begin(
            name, redirect_to=redirect_to, link_user=user_id, link_session=session_id
        )

    # --- the callback --------------------------------------------------------------------
    async def finish(
        self,
        name: str,
        *,
        state: str | None,
        browser_secret: str | None,
        code: str | None,
        error: str | None,
        issuer: str | None,
    ) -> Finished:
        """Raises: InvalidOAuthState (nothing else: every later outcome is a `Finished`)."""
        provider = self._providers.get(name)
        if not state or not browser_secret or provider is None or len(state) > 512:
            raise InvalidOAuthState()
        raw = await self._store.take(_state_key(state, browser_secret))
        if raw is None:
            raise InvalidOAuthState()
        stored = _State.load(raw)
        if stored.provider != provider.name:
            raise InvalidOAuthState()
        try:
            identity = await self._identity(provider, stored, code=code, error=error, iss=issuer)
            if stored.link_user is not None:
                return await self._link(provider, stored, identity)
            return await self._sign_in(provider, stored, identity)
        except _Refused as refused:
            await self._record_refusal(provider, refused)
            return Finished(redirect_to=stored.redirect_to, failure=refused.failure)

    async def _record_refusal(self, provider: OidcClient, refused: _Refused) -> None:
        """Undo what the sign-in did, and record why it was refused (kept although the
        request may end in an error)."""
        metrics.LOGINS.labels(_method(provider), refused.failure.value).inc()
        await self._db.rollback()  # nothing half-done stays (a user without its identity)
        await record(
            self._db,
            EventType.LOGIN_FAILED,
            client=self._client,
            user_id=refused.user_id,
            method=_method(provider),
            reason=refused.failure.value,
        )
        keep_on_error(self._db)

    async def _identity(
        self,
        provider: OidcClient,
        stored: _State,
        *,
        code: str | None,
        error: str | None,
        iss: str | None,
    ) -> ExternalIdentity:
        if error is not None:
            log.info("provider %s answered error %.64r", provider.name, error)
            if error == "access_denied":
                raise _Refused(Failure.ACCESS_DENIED)
            raise _Refused(Failure.PROVIDER_ERROR)
        if not code or len(code) > 2048:
            raise _Refused(Failure.PROVIDER_ERROR)
        try:
            # RFC 9207 §2.4: a provider that names itself must be the one we sent the
            # user to, and one whose metadata promises to name itself must do so
            if iss is None and (await provider.metadata()).iss_parameter_supported:
                log.warning("provider %s: callback without the promised iss", provider.name)
                raise _Refused(Failure.PROVIDER_ERROR)
            if iss is not None and iss != provider.config.issuer:
                log.warning("provider %s: callback names issuer %.200r", provider.name, iss)
                raise _Refused(Failure.PROVIDER_ERROR)
            tokens = await provider.exchange(
                code=code, redirect_uri=self._callback_url(provider), code_verifier=stored.verifier
            )
            return await provider.identity(tokens, nonce=stored.nonce)
        except (ProviderDown, ProviderRefused) as exc:
            log.warning("provider %s: code exchange failed: %s", provider.name, exc)
            raise _Refused(Failure.PROVIDER_ERROR) from None
        except InvalidIdToken as exc:
            log.warning("provider %s: id_token refused: %s", provider.name, exc)
            raise _Refused(Failure.INVALID_ID_TOKEN) from None

    async def _known(self, identity: ExternalIdentity) -> Identity | None:
        return await self._db.scalar(
            select(Identity).where(
                Identity.issuer == identity.issuer, Identity.subject == identity.subject
            )
        )

    async def _sign_in(
        self, provider: OidcClient, stored: _State, identity: ExternalIdentity
    ) -> Finished:
        try:
            if stored.app_challenge is not None:
                code = await self._code_for_app(provider, stored, identity)
                return Finished(redirect_to=stored.redirect_to, code=code, state=stored.app_state)
            tokens = await self._signed_in(provider, identity)
        except MfaRequired as challenge:
            return Finished(redirect_to=stored.redirect_to, mfa=challenge)
        return Finished(redirect_to=stored.redirect_to, tokens=tokens)

    async def _account_of(self, provider: OidcClient, identity: ExternalIdentity) -> User:
        """The account this identity belongs to: linked, matched by a verified address, or
        new. Raises: _Refused."""
        known = await self._known(identity)
        if known is not None:
            user = await self._db.get(User, known.user_id)
            assert user is not None  # the row cascades with its user
            known.email, known.last_used_at = identity.email, utcnow()
        else:
            user = await self._account_for(provider, identity)
        if user.disabled_at is not None:
            raise _Refused(Failure.ACCOUNT_DISABLED, user_id=user.id)
        return user

    async def _signed_in(self, provider: OidcClient, identity: ExternalIdentity) -> IssuedTokens:
        """The session of the account this identity belongs to. Raises: MfaRequired,
        _Refused."""
        user = await self._account_of(provider, identity)
        with _changes_refused(user):
            return await first_factor_passed(
                user,
                provider_factor(provider.name),
                mfa=self._mfa,
                sessions=self._sessions,
            )

    # --- native apps in the system browser (RFC 8252) -----------------------------------
    async def _code_for_app(
        self, provider: OidcClient, stored: _State, identity: ExternalIdentity
    ) -> str:
        """A one-time authorization code for the app that started this sign-in, in place of
        a session in the system browser: the app exchanges it with its code_verifier.
        Raises: MfaRequired, _Refused."""
        user = await self._account_of(provider, identity)
        factor = provider_factor(provider.name)
        with _changes_refused(user):
            await second_factor_due(user, factor, mfa=self._mfa)
        code = secrets.token_urlsafe(32)
        granted = _Grant(
            user=str(user.id),
            version=user.credential_version,
            method=factor.label,
            challenge=str(stored.app_challenge),
            redirect_to=stored.redirect_to,
        )
        await self._store.stash(
            _code_key(code), granted.dump(), ttl_seconds=self._settings.oidc_code_ttl_seconds
        )
        return code

    async def exchange_code(self, code: str, *, verifier: str, redirect_uri: str) -> IssuedTokens:
        """The session of a native app's authorization code (`grant_type=authorization_code`):
        once, within AUTHAPI_OIDC_CODE_TTL_SECONDS, with the verifier of the code challenge
        and the redirect_uri the sign-in was started with.

        Raises: InvalidAuthorizationCode, AccountDisabled.
        """
        if len(code) > 128:
            raise InvalidAuthorizationCode()
        raw = await self._store.take(_code_key(code))
        if raw is None:
            await self._end_session_of_used(code)
            raise InvalidAuthorizationCode()
        granted = _Grant.load(raw)
        if redirect_uri != granted.redirect_to or not hmac.compare_digest(
            _code_challenge(verifier), granted.challenge
        ):
            raise InvalidAuthorizationCode()
        user = await self._db.get(User, uuid.UUID(granted.user))
        if user is None or user.credential_version != granted.version:
            raise InvalidAuthorizationCode()
        try:
            tokens = await self._sessions.start(user, method=granted.method)
        except InvalidCredentials:
            raise InvalidAuthorizationCode() from None
        await self._store.stash(
            _code_key(f"used {code}"),
            tokens.session_id,
            ttl_seconds=self._settings.access_token_ttl_seconds,
        )
        return tokens

    async def _end_session_of_used(self, code: str) -> None:
        """A code that comes back after its exchange was copied: the session it started ends
        too (OAuth 2.0 Security BCP §4.5, ASVS 10.4.2), whichever side is the thief."""
        session_id = await self._store.take(_code_key(f"used {code}"))
        if session_id is None:
            return
        log.warning("an authorization code came back after its exchange; its session ends")
        await self._sessions.end(session_id, event=EventType.SESSION_REVOKED)
        keep_on_error(self._db)

    # --- native apps: the platform SDK's id_token --------------------------------------
    async def native(self, name: str, *, id_token: str, nonce: str | None) -> IssuedTokens:
        """Sign in with an id_token a native app got from the provider's SDK (Sign in with
        Apple, Google Sign-In): checked as the callback checks one (see
        `OidcClient.native_identity` for the audience and nonce), used once (it is
        remembered until it expires), then the same accounts, second step and session as
        the browser flow.

        Raises: UnknownProvider, RateLimited, ProviderUnavailable, MfaRequired, and for a
        refusal (recorded): IdTokenRefused, EmailNotVerified, AccountExists,
        AccountDisabled, InvalidCredentials (the account changed meanwhile).
        """
        provider = self._provider(name)
        await self._throttle.spend("oidc:ip", self._client.network)
        try:
            try:
                native = await provider.native_identity(id_token, nonce=nonce)
            except InvalidIdToken as exc:
                log.warning("provider %s: native id_token refused: %s", provider.name, exc)
                raise _Refused(Failure.INVALID_ID_TOKEN) from None
            except ProviderDown as exc:
                log.warning("provider %s unavailable: %s", provider.name, exc)
                raise ProviderUnavailable() from None
            remember_for = native.expires_at - time.time() + self._settings.clock_leeway_seconds
            used = token_hash(f"native-id-token {provider.name} {id_token}")
            if not await self._store.remember_first(used, ttl_seconds=max(1.0, remember_for)):
                log.warning("provider %s: a native id_token was used again", provider.name)
                raise _Refused(Failure.INVALID_ID_TOKEN)
            return await self._signed_in(provider, native.identity)
        except _Refused as refused:
            await self._record_refusal(provider, refused)
            raise _native_error(refused.failure) from None

    async def _account_for(self, provider: OidcClient, identity: ExternalIdentity) -> User:
        """The account a first sign-in with this identity belongs to: linked by a verified
        address on both sides, or new."""
        # before the lookup: an unverified address gets one answer, known or not
        if not identity.email_verified:
            raise _Refused(Failure.EMAIL_NOT_VERIFIED)
        try:
            email = normalize_email(identity.email or "")
        except ValueError:
            raise _Refused(Failure.EMAIL_NOT_VERIFIED) from None
        user = await user_by_email(self._db, email)
        if user is None:
            created = await insert_user_if_absent(
                self._db, email, password_hash=None, email_verified_at=utcnow()
            )
            user = await user_by_email(self._db, email)
            assert user is not None
            if created is not None:
                await record(
                    self._db,
                    EventType.USER_REGISTERED,
                    client=self._client,
                    user_id=user.id,
                    method=_method(provider),
                )
                await self._add_identity(user, provider, identity, notify=False)
                return user
        # an existing account (possibly registered a moment ago by someone else)
        if not user.email_verified:
            raise _Refused(Failure.ACCOUNT_EXISTS, user_id=user.id)
        await self._add_identity(user, provider, identity, notify=True)
        return user

    async def _add_identity(
        self, user: User, provider: OidcClient, identity: ExternalIdentity, *, notify: bool
    ) -> None:
        now = utcnow()
        # ON CONFLICT, not a savepoint: the same identity may be linked concurrently
        # (a double-clicked callback), and SQLite's driver handles savepoints poorly
        linked = await self._db.scalar(
            upsert(self._db, Identity)
            .values(
                id=uuid.uuid4(),
                user_id=user.id,
                provider=provider.name,
                issuer=identity.issuer,
                subject=identity.subject,
                email=identity.email,
                created_at=now,
                last_used_at=now,
            )
            .on_conflict_do_nothing(index_elements=[Identity.issuer, Identity.subject])
            .returning(Identity.id)
        )
        if linked is None:
            raise _Refused(Failure.IDENTITY_IN_USE, user_id=user.id)
        await record(
            self._db,
            EventType.IDENTITY_LINKED,
            client=self._client,
            user_id=user.id,
            provider=provider.name,
        )
        if notify:
            self._outbox.add(
                self._db, notifications.identity_linked(user.email, provider=provider.config.label)
            )

    async def _link(
        self, provider: OidcClient, stored: _State, identity: ExternalIdentity
    ) -> Finished:
        assert stored.link_user is not None
        assert stored.link_session is not None
        user = await self._db.get(User, uuid.UUID(stored.link_user))
        if user is None or not await self._store.is_active(stored.link_session):
            raise _Refused(Failure.NOT_SIGNED_IN)
        known = await self._known(identity)
        if known is not None and known.user_id != user.id:
            raise _Refused(Failure.IDENTITY_IN_USE, user_id=user.id)
        if known is None:
            await self._add_identity(user, provider, identity, notify=True)
        return Finished(redirect_to=stored.redirect_to, linked=provider.name)

    # --- the provider's own notifications (Sign in with Apple) --------------------------------
    async def notification(self, name: str, payload: str) -> str | None:
        """Act on a provider's server-to-server notification: a JWT it signs, for one of our
        client ids, once (remembered for a day), naming a `sub` and what happened to it.

        - `consent-revoked` (the user stopped using the provider with this service) and
          `account-delete` (the provider's account is gone): every session of the linked
          account ends, and the link is removed, unless it is the account's last way in
          and only consent was revoked (signing in again asks for consent again);
        - anything else (`email-disabled`, `email-enabled`): recorded only.

        Returns what happened (for the log), None for an unknown subject.
        Raises: UnknownProvider (also for a provider without notifications),
        InvalidNotification, ProviderUnavailable.
        """
        provider = self._provider(name)
        if not provider.config.notifications:
            raise UnknownProvider()
        try:
            claims = await provider.verify_notification(payload)
            event = claims["events"]
            event = json.loads(event) if isinstance(event, str) else event
            kind, subject = event["type"], event["sub"]
            if not isinstance(kind, str) or not isinstance(subject, str):
                raise ValueError("type and sub are strings")
        except (InvalidIdToken, ValueError, KeyError, TypeError) as exc:
            log.warning("provider %s: notification refused: %s", provider.name, exc)
            raise InvalidNotification() from None
        except ProviderDown as exc:
            log.warning("provider %s unavailable: %s", provider.name, exc)
            raise ProviderUnavailable() from None
        if not await self._store.remember_first(
            token_hash(f"oidc-notification {provider.name} {payload}"), ttl_seconds=24 * 3600
        ):
            return "already handled"
        identity = await self._db.scalar(
            select(Identity).where(
                Identity.issuer == provider.config.issuer, Identity.subject == subject
            )
        )
        if identity is None:
            return None
        user = await self._db.get(User, identity.user_id, with_for_update=True)
        assert user is not None  # the row cascades with its user
        outcome = "recorded"
        if kind in ("consent-revoked", "account-delete"):
            await self._sessions.end_all(user.id, reason=EventType.PROVIDER_NOTIFIED)
            last = await credentials.ways_in(self._db, user) <= 1
            if kind == "account-delete" or not last:
                await self._db.delete(identity)
                self._outbox.add(
                    self._db,
                    notifications.identity_unlinked(user.email, provider=provider.config.label),
                )
                outcome = "signed out and unlinked"
            else:
                outcome = "signed out"
        await record(
            self._db,
            EventType.PROVIDER_NOTIFIED,
            client=self._client,
            user_id=user.id,
            provider=provider.name,
            notification=kind[:32],
            outcome=outcome,
        )
        return outcome

    # --- linked identities -----------------------------------------------------------------
    async def identities(self, user_id: uuid.UUID) -> list[Identity]:
        rows = await self._db.scalars(
            select(Identity).where(Identity.user_id == user_id).order_by(Identity.created_at)
        )
        return list(rows)

    async def unlink(self, user_id: uuid.UUID, identity_id: uuid.UUID) -> None:
        """Raises: IdentityNotFound, LastSignInMethod."""
        identity = await self._db.scalar(
            select(Identity)
            .where(Identity.id == identity_id, Identity.user_id == user_id)
            .with_for_update()
        )
        user = await self._db.get(User, user_id, with_for_update=True)
        if identity is None or user is None:
            raise IdentityNotFound()
        if await credentials.ways_in(self._db, user) <= 1:
            raise LastSignInMethod()
        await self._db.delete(identity)
        await record(
            self._db,
            EventType.IDENTITY_UNLINKED,
            client=self._client,
            user_id=user_id,
            provider=identity.provider,
        )
        provider = self._providers.get(identity.provider)
        label = provider.config.label if provider else identity.provider
        self._outbox.add(self._db, notifications.identity_unlinked(user.email, provider=label))
