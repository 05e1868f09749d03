"""Where services are put together: each gets the parts of `Resources` it uses and the
services it works with, built once per transaction.

    sessions ──> accounts ──> mfa ──> oidc (uses all three)
                          └─> passkeys

Routes get them through authapi.api.deps; work after the response, and the refresh
path's record of a reused token, get a `TransactionServices` of their own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.clientip import ClientInfo
from authapi.resources import Resources
from authapi.services.accounts import AccountService
from authapi.services.introspection import Introspection
from authapi.services.mfa import MfaService
from authapi.services.oidc_signin import OidcSignIn
from authapi.services.passkeys import PasskeyService
from authapi.services.profiles import transaction
from authapi.services.sessions import Refresher, SessionService


class TransactionServices:
    def __init__(self, db: AsyncSession, resources: Resources, client: ClientInfo) -> None:
        self._db = db
        self._res = resources
        self._client = client

    @cached_property
    def sessions(self) -> SessionService:
        res = self._res
        return SessionService(
            self._db, self._client, settings=res.settings, tokens=res.tokens, outbox=res.outbox
        )

    @cached_property
    def accounts(self) -> AccountService:
        res = self._res
        return AccountService(
            self._db,
            self._client,
            settings=res.settings,
            store=res.store,
            throttle=res.throttle,
            hasher=res.hasher,
            policy=res.policy,
            outbox=res.outbox,
            sessions=self.sessions,
            after_response=self._after_response,
        )

    @cached_property
    def mfa(self) -> MfaService:
        res = self._res
        return MfaService(
            self._db,
            self._client,
            settings=res.settings,
            store=res.store,
            throttle=res.throttle,
            encryptor=res.encryptor,
            outbox=res.outbox,
            accounts=self.accounts,
            sessions=self.sessions,
        )

    @cached_property
    def oidc(self) -> OidcSignIn:
        res = self._res
        return OidcSignIn(
            self._db,
            self._client,
            settings=res.settings,
            store=res.store,
            throttle=res.throttle,
            outbox=res.outbox,
            providers=res.identity_providers,
            redirects=res.redirects,
            accounts=self.accounts,
            mfa=self.mfa,
            sessions=self.sessions,
        )

    @cached_property
    def passkeys(self) -> PasskeyService:
        res = self._res
        return PasskeyService(
            self._db,
            self._client,
            settings=res.settings,
            store=res.store,
            throttle=res.throttle,
            outbox=res.outbox,
            decoy_key=res.encryptor.derived_keys("passkey-decoy")[0],
            accounts=self.accounts,
        )

    def _after_response(self, work: Callable[[AccountService], Awaitable[None]], name: str) -> None:
        resources, client = self._res, self._client

        async def run() -> None:
            async with transaction(resources) as db:
                await work(TransactionServices(db, resources, client).accounts)

        resources.background.spawn(run(), name=name)


def refresher(resources: Resources, client: Callable[[], ClientInfo]) -> Refresher:
    """The refresh path: no transaction, unless a reused token must be recorded. Who sent
    the request (`client`) is worked out only then: a rotation does not need it."""

    async def end_reused(session_id: uuid.UUID) -> None:
        async with transaction(resources) as db:
            services = TransactionServices(db, resources, client())
            await services.sessions.reuse_detected(session_id)

    return Refresher(
        settings=resources.settings,
        tokens=resources.tokens,
        budget=resources.refresh_budget,
        end_reused=end_reused,
    )


def introspection(resources: Resources) -> Introspection:
    return Introspection(settings=resources.settings, tokens=resources.tokens)
