"""Passkeys (WebAuthn): registering them, signing in with them, managing them.

py_webauthn does the ceremonies (options, attestation and assertion checks); what is
ours is the challenge, the accounts and the WebAuthn Level 3 rules on stored state.

Challenges are random, single-use and short-lived (AUTHAPI_PASSKEY_CHALLENGE_TTL_SECONDS),
and the token store holds only a hash that also binds them to whoever asked:

- registration: the signed-in session that asked (after the same confirmation as other
  credential changes: the password, or a sign-in in the last 5 minutes);
- sign-in: the browser that asked, by a secret in the `authapi_passkey` cookie the
  options set (like the OpenID state's cookie), so a challenge cannot be carried to
  another browser; an answer takes the challenge out of the store whether or not it
  verifies.

Every passkey is made and used with user verification (a PIN or biometric on the
device), so a passkey sign-in is multi-factor and phishing-resistant by itself: it
needs no TOTP code (authapi.services.signin). An account with TOTP on may also answer
its sign-in's second step with a passkey instead of a code.

At every use, as WebAuthn Level 3 §6.1.1 and §7.2 say: a signature counter that does
not move forward (when the authenticator keeps one) is refused, recorded and mailed to
the owner (the passkey may have been copied); the backup-eligible flag, fixed for a
credential's life, must not change; backed-up without backup-eligible is refused. The
user handle, if the authenticator sends one, must be the owner's.

An email-first sign-in offers only that account's passkeys; an address without any gets
one made-up credential id, stable for that address, so the options do not tell which
addresses have passkeys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authapi import metrics
from authapi.clientip import ClientInfo
from authapi.db import keep_on_error, upsert
from authapi.errors import (
    InvalidPasskey,
    InvalidPasskeyChallenge,
    LastSignInMethod,
    PasskeyExists,
    PasskeyNotFound,
    PasskeyRefused,
    PasskeysOff,
)
from authapi.models import Passkey, User, utcnow
from authapi.outbox import Outbox
from authapi.ratelimit import Throttle
from authapi.relying_party import RelyingParty
from authapi.services import credentials, notifications
from authapi.services.accounts import AccountService, existing_user, user_by_email
from authapi.services.events import EventType, record
from authapi.settings import Settings
from authapi.store import TokenStore
from authapi.tokens import token_hash

log = logging.getLogger("authapi.passkeys")

METHOD = "passkey"  # how a passkey sign-in is labelled (events, metrics)
# ES256 first (every platform authenticator), then Ed25519 and RS256 (Windows Hello)
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


@dataclass(frozen=True)
class SignInOptions:
    options: dict[str, Any]  # PublicKeyCredentialRequestOptionsJSON
    browser_secret: str  # the value of the cookie that binds the challenge to this browser


def _registration_key(challenge: str, session_id: str) -> str:
    return token_hash(f"passkey-registration {challenge} {session_id}")


def _sign_in_key(challenge: str, browser_secret: str) -> str:
    return token_hash(f"passkey-sign-in {challenge} {browser_secret}")


def _challenge_of(credential: RegistrationCredential | AuthenticationCredential) -> str | None:
    """The challenge (base64url) a credential answers, read from its client data."""
    try:
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
    except WebAuthnException:
        return None
    return bytes_to_base64url(challenge)


class PasskeyService:
    def __init__(
        self,
        db: AsyncSession,
        client: ClientInfo,
        *,
        settings: Settings,
        store: TokenStore,
        throttle: Throttle,
        outbox: Outbox,
        decoy_key: bytes,
        accounts: AccountService,
    ) -> None:
        self._db = db
        self._client = client
        self._settings = settings
        self._store = store
        self._throttle = throttle
        self._outbox = outbox
        self._decoy_key = decoy_key
        self._accounts = accounts

    @property
    def _party(self) -> RelyingParty:
        """Raises: PasskeysOff."""
        party = self._settings.relying_party
        if party is None:
            raise PasskeysOff()
        return party

    @property
    def _timeout_ms(self) -> int:
        return self._settings.passkey_challenge_ttl_seconds * 1000

    # --- registration ----------------------------------------------------------------
    async def registration_options(
        self, user_id: uuid.UUID, *, password: str | None, session_id: str
    ) -> dict[str, Any]:
        """Options for `navigator.credentials.create()`, once the owner confirmed it is them.

        Raises: PasskeysOff, and what `AccountService.confirmed` raises.
        """
        party = self._party
        user = await self._accounts.confirmed(
            user_id, password=password, session_id=session_id, purpose="passkey_add"
        )
        options = generate_registration_options(
            rp_id=party.id,
            rp_name=party.name,
            user_id=user.id.bytes,
            user_name=user.email,
            user_display_name=user.email,
            timeout=self._timeout_ms,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[_descriptor(p) for p in await self.of_user(user.id)],
            supported_pub_key_algs=ALGORITHMS,
        )
        challenge = bytes_to_base64url(options.challenge)
        await self._store.stash(
            _registration_key(challenge, session_id),
            str(user.id),
            ttl_seconds=self._settings.passkey_challenge_ttl_seconds,
        )
        loaded: dict[str, Any] = json.loads(options_to_json(options))
        return loaded

    async def register(
        self, user_id: uuid.UUID, *, session_id: str, credential: dict[str, Any], name: str | None
    ) -> Passkey:
        """Check the new credential against this session's challenge and keep it.

        Raises: PasskeysOff, InvalidPasskeyChallenge, PasskeyRefused, PasskeyExists.
        """
        party = self._party
        try:
            parsed = parse_registration_credential_json(credential)
        except WebAuthnException:
            raise PasskeyRefused() from None
        challenge = _challenge_of(parsed)
        if challenge is None:
            raise PasskeyRefused()
        owner = await self._store.take(_registration_key(challenge, session_id))
        if owner != str(user_id):
            raise InvalidPasskeyChallenge()
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=party.id,
                expected_origin=list(party.origins),
                require_user_verification=True,
                supported_pub_key_algs=ALGORITHMS,
            )
        except WebAuthnException as exc:
            log.info("passkey registration refused: %s", exc)
            raise PasskeyRefused() from None
        user = await existing_user(self._db, user_id)
        # py_webauthn keeps only the transports it knows
        transports = [t.value for t in parsed.response.transports or []]
        passkey_id = await self._db.scalar(
            upsert(self._db, Passkey)
            .values(
                id=uuid.uuid4(),
                user_id=user.id,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                backup_eligible=verified.credential_device_type
                is CredentialDeviceType.MULTI_DEVICE,
                backed_up=verified.credential_backed_up,
                transports=transports or None,
                aaguid=verified.aaguid,
                name=name or default_name(self._client.user_agent),
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[Passkey.credential_id])
            .returning(Passkey.id)
        )
        if passkey_id is None:
            raise PasskeyExists()
        passkey = await self._db.get(Passkey, passkey_id)
        assert passkey is not None
        await record(
            self._db,
            EventType.PASSKEY_ADDED,
            client=self._client,
            user_id=user.id,
            passkey=passkey.name,
        )
        self._outbox.add(self._db, notifications.passkey_added(user.email, name=passkey.name))
        return passkey

    # --- sign-in ---------------------------------------------------------------------
    async def sign_in_options(self, *, email: str | None, user: User | None) -> SignInOptions:
        """Options for `navigator.credentials.get()`: every passkey the browser has for
        this service (discoverable), or only those of `email` or of `user` (a second step).

        Raises: PasskeysOff, RateLimited.
        """
        party = self._party
        await self._throttle.spend("passkey:ip", self._client.network)
        allowed: list[PublicKeyCredentialDescriptor] = []
        if user is None and email is not None:
            user = await user_by_email(self._db, email)
            if user is None:
                allowed = [self._decoy(email)]
        if user is not None:
            allowed = [_descriptor(p) for p in await self.of_user(user.id)] or [
                self._decoy(user.email)
            ]
        options = generate_authentication_options(
            rp_id=party.id,
            timeout=self._timeout_ms,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        browser_secret = secrets.token_urlsafe(32)
        await self._store.stash(
            _sign_in_key(bytes_to_base64url(options.challenge), browser_secret),
            json.dumps({"user": str(user.id) if user is not None else None}),
            ttl_seconds=self._settings.passkey_challenge_ttl_seconds,
        )
        return SignInOptions(
            options=json.loads(options_to_json(options)), browser_secret=browser_secret
        )

    async def verify(
        self,
        credential: dict[str, Any],
        *,
        browser_secret: str | None,
        expected_user: uuid.UUID | None = None,
    ) -> User:
        """The owner of a passkey that answered this browser's challenge.

        Raises:
            PasskeysOff, RateLimited.
            InvalidPasskeyChallenge: no live challenge of this browser for it.
            InvalidPasskey: the credential is unknown, someone else's, or did not verify.
        """
        party = self._party
        await self._throttle.spend("passkey:ip", self._client.network)
        try:
            parsed = parse_authentication_credential_json(credential)
        except WebAuthnException:
            raise InvalidPasskey() from None
        challenge = _challenge_of(parsed)
        if challenge is None or not browser_secret:
            raise InvalidPasskeyChallenge()
        stashed = await self._store.take(_sign_in_key(challenge, browser_secret))
        if stashed is None:
            raise InvalidPasskeyChallenge()
        offered_to = json.loads(stashed)["user"]
        passkey = await self._db.scalar(
            select(Passkey).where(Passkey.credential_id == bytes_to_base64url(parsed.raw_id))
        )
        if passkey is None:
            await self._refused("unknown_passkey")
        owner = passkey.user_id
        handle = parsed.response.user_handle
        if (
            (offered_to is not None and offered_to != str(owner))
            or (expected_user is not None and expected_user != owner)
            or (handle is not None and handle != owner.bytes)
        ):
            await self._refused("not_the_owners_passkey", user_id=owner)
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=party.id,
                expected_origin=list(party.origins),
                credential_public_key=passkey.public_key,
                # the counter rule is ours (below), to tell it apart and record it
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except WebAuthnException as exc:
            log.info("passkey sign-in refused: %s", exc)
            await self._refused("verification_failed", user_id=owner)
        count = verified.new_sign_count
        if (count > 0 or passkey.sign_count > 0) and count <= passkey.sign_count:
            await self._refused_at_use(passkey, "sign_count_went_back")
        eligible = verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE
        if eligible != passkey.backup_eligible:
            await self._refused_at_use(passkey, "backup_eligibility_changed")
        passkey.sign_count, passkey.backed_up = count, verified.credential_backed_up
        passkey.last_used_at = utcnow()
        await record(
            self._db,
            EventType.PASSKEY_USED,
            client=self._client,
            user_id=owner,
            passkey=passkey.name,
        )
        user = await self._db.get(User, owner)
        assert user is not None  # the row cascades with its user
        return user

    async def _refused(self, reason: str, *, user_id: uuid.UUID | None = None) -> NoReturn:
        """Record a passkey that could not sign in, and refuse it. Raises: InvalidPasskey."""
        metrics.LOGINS.labels(METHOD, InvalidPasskey.code).inc()
        await record(
            self._db,
            EventType.LOGIN_FAILED,
            client=self._client,
            user_id=user_id,
            method=METHOD,
            reason=reason,
        )
        keep_on_error(self._db)
        raise InvalidPasskey()

    async def _refused_at_use(self, passkey: Passkey, reason: str) -> NoReturn:
        """A passkey that verified but broke a Level 3 rule: its owner is told.
        Raises: InvalidPasskey."""
        log.warning("passkey %s of user %s refused: %s", passkey.id, passkey.user_id, reason)
        await record(
            self._db,
            EventType.PASSKEY_REFUSED,
            client=self._client,
            user_id=passkey.user_id,
            passkey=passkey.name,
            reason=reason,
        )
        user = await existing_user(self._db, passkey.user_id)
        self._outbox.add(self._db, notifications.passkey_refused(user.email, name=passkey.name))
        await self._refused(reason, user_id=passkey.user_id)

    def _decoy(self, email: str) -> PublicKeyCredentialDescriptor:
        """A credential id that no authenticator has, the same for an address every time."""
        digest = hmac.new(self._decoy_key, email.encode(), hashlib.sha256).digest()
        return PublicKeyCredentialDescriptor(id=digest)

    # --- management ------------------------------------------------------------------
    async def of_user(self, user_id: uuid.UUID) -> list[Passkey]:
        rows = await self._db.scalars(
            select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
        )
        return list(rows)

    async def rename(self, user_id: uuid.UUID, passkey_id: uuid.UUID, name: str) -> Passkey:
        """Raises: PasskeyNotFound."""
        passkey = await self._owned(user_id, passkey_id)
        passkey.name = name
        await record(
            self._db, EventType.PASSKEY_RENAMED, client=self._client, user_id=user_id, passkey=name
        )
        return passkey

    async def remove(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> None:
        """Raises: PasskeyNotFound, LastSignInMethod."""
        user = await self._db.get(User, user_id, with_for_update=True)
        passkey = await self._owned(user_id, passkey_id)
        assert user is not None
        if await credentials.ways_in(self._db, user) <= 1:
            raise LastSignInMethod()
        await self._db.delete(passkey)
        await record(
            self._db,
            EventType.PASSKEY_REMOVED,
            client=self._client,
            user_id=user_id,
            passkey=passkey.name,
        )
        self._outbox.add(self._db, notifications.passkey_removed(user.email, name=passkey.name))

    async def _owned(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> Passkey:
        passkey = await self._db.scalar(
            select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
        )
        if passkey is None:
            raise PasskeyNotFound()
        return passkey


# first match wins: Edge and Opera say "Chrome" too, Chrome says "Safari", iOS says "Mac OS X"
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def default_name(user_agent: str | None) -> str:
    """What a passkey added without a name is called: the browser and system it was added
    in ("Chrome on macOS"), the way the list can tell one from another."""
    agent = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in agent), None)
    system = next((name for token, name in _SYSTEMS if token in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Passkey"


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id),
        transports=[AuthenticatorTransport(t) for t in passkey.transports or []] or None,
    )
