"""The services of one transaction, each built once and handed the others it uses:

    sessions ──> accounts ──> mfa ──> oidc (uses all three)

Routes get them through authapi.api.deps, work after the response through
`AccountService.after_response`; both build one `TransactionServices` per transaction.
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.clientip import ClientInfo
from authapi.resources import Resources
from authapi.services.accounts import AccountService
from authapi.services.mfa import MfaService
from authapi.services.oidc_signin import OidcSignIn
from authapi.services.sessions import SessionService


class TransactionServices:
    def __init__(self, db: AsyncSession, resources: Resources, client: ClientInfo) -> None:
        self._db = db
        self._res = resources
        self._client = client

    @cached_property
    def sessions(self) -> SessionService:
        return SessionService(self._db, self._res, self._client)

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self._db, self._res, self._client, sessions=self.sessions)

    @cached_property
    def mfa(self) -> MfaService:
        return MfaService(
            self._db, self._res, self._client, accounts=self.accounts, sessions=self.sessions
        )

    @cached_property
    def oidc(self) -> OidcSignIn:
        return OidcSignIn(
            self._db,
            self._res,
            self._client,
            accounts=self.accounts,
            mfa=self.mfa,
            sessions=self.sessions,
        )
