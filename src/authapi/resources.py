"""The long-lived objects of one app process, opened and closed together.

`Resources.open(settings)` connects to the database and the token store, loads
(or generates) signing keys, starts the password-hash pool and the outbox sender.
Anything wrong here (unreachable database, undecryptable keys) raises
`StartupError` with one line that the CLI prints before exiting.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authapi import __version__
from authapi.background import Background
from authapi.db import check_database, describe_database, make_engine, make_sessionmaker
from authapi.encryption import Encryptor, load_encryption_keys
from authapi.keys import KeyConfigError, KeyRepository, Keyring
from authapi.mail import ConsoleMailer, Mailer, SmtpMailer
from authapi.oidc import OidcClient
from authapi.outbox import Outbox, OutboxSender
from authapi.passwords import PasswordHasher, PasswordPolicy
from authapi.ratelimit import Throttle, open_throttle, refresh_budget
from authapi.redirects import RedirectAllowList
from authapi.retention import RetentionLoop
from authapi.settings import Settings
from authapi.store import RefreshBudget, TokenStore
from authapi.store.memory import MemoryTokenStore
from authapi.store.redis import RedisTokenStore
from authapi.tokens import AccessTokens, RefreshTokens

log = logging.getLogger("authapi")


class StartupError(Exception):
    """A problem that stops the service from starting; its message is one line."""


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    reader: AsyncEngine  # the same pool in autocommit mode, for single-query reads
    sessionmaker: async_sessionmaker[AsyncSession]
    store: TokenStore
    encryptor: Encryptor
    keys: KeyRepository
    keyring: Keyring
    access_tokens: AccessTokens
    refresh_tokens: RefreshTokens
    hasher: PasswordHasher
    policy: PasswordPolicy
    outbox: Outbox
    outbox_sender: OutboxSender
    background: Background
    throttle: Throttle
    refresh_budget: RefreshBudget
    identity_providers: dict[str, OidcClient]
    redirects: RedirectAllowList

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, *, serving: bool = True) -> AsyncIterator[Resources]:
        """Open everything; `serving=False` (the CLI's start-up check) only checks:
        no warnings printed twice, no mail sender started."""
        if serving:
            for warning in settings.dev_warnings():
                log.warning("DEVELOPMENT SETTING: %s", warning)
            for notice in settings.configuration_notices():
                log.warning("CONFIGURATION: %s", notice)
        async with AsyncExitStack() as stack:
            engine = make_engine(settings.effective_database_url)
            stack.push_async_callback(engine.dispose)
            try:
                await check_database(engine)
            except Exception as exc:
                where = describe_database(settings.effective_database_url)
                raise StartupError(
                    f"database unreachable ({where}): {type(exc).__name__}: {_first_line(exc)}"
                ) from None

            store = _open_store(settings)
            stack.push_async_callback(store.close)
            try:
                await store.ping()
            except Exception as exc:
                raise StartupError(
                    f"Redis unreachable: {type(exc).__name__}: {_first_line(exc)}"
                ) from None

            sessionmaker = make_sessionmaker(engine)
            encryptor = Encryptor(load_encryption_keys(settings))
            keys = KeyRepository(sessionmaker, encryptor, settings)
            keyring = Keyring(
                algorithm=settings.jwt_algorithm,
                load=keys.load,
                reload_seconds=settings.keys_reload_seconds,
            )
            try:
                await keys.ensure_signing_key()
                await keyring.reload()
            except KeyConfigError as exc:
                raise StartupError(str(exc)) from None

            hasher = PasswordHasher(rounds=settings.bcrypt_rounds, workers=settings.hash_workers)
            stack.callback(hasher.close)
            await hasher.start()

            throttle, throttle_pool = open_throttle(settings)
            if throttle_pool is not None:
                stack.push_async_callback(throttle_pool.aclose)

            providers: dict[str, OidcClient] = {}
            if settings.identity_providers:
                http = httpx.AsyncClient(
                    timeout=settings.oidc_http_timeout_seconds,
                    follow_redirects=False,
                    headers={"User-Agent": f"authapi/{__version__}"},
                )
                stack.push_async_callback(http.aclose)
                providers = {
                    provider.name: OidcClient(
                        provider,
                        http,
                        cache_seconds=settings.oidc_cache_seconds,
                        leeway_seconds=settings.clock_leeway_seconds,
                        max_age_seconds=settings.oidc_state_ttl_seconds,
                    )
                    for provider in settings.identity_providers
                }

            background = Background()
            stack.push_async_callback(background.close)
            sender = OutboxSender(
                sessionmaker,
                _mailer(settings),
                encryptor,
                sender_address=settings.email_from,
                poll_seconds=settings.outbox_poll_seconds,
                retry_seconds=settings.outbox_retry_seconds,
            )
            if serving:
                sender.start()
                stack.push_async_callback(sender.stop)
                retention = RetentionLoop(sessionmaker, settings)
                retention.start()
                stack.push_async_callback(retention.stop)

            yield cls(
                settings=settings,
                engine=engine,
                reader=engine.execution_options(isolation_level="AUTOCOMMIT"),
                sessionmaker=sessionmaker,
                store=store,
                encryptor=encryptor,
                keys=keys,
                keyring=keyring,
                access_tokens=AccessTokens(
                    keyring,
                    issuer=settings.effective_issuer,
                    audience=settings.audience,
                    client_id=settings.client_id,
                    ttl_seconds=settings.access_token_ttl_seconds,
                    leeway_seconds=settings.clock_leeway_seconds,
                ),
                refresh_tokens=RefreshTokens(encryptor.derived_keys("refresh-token-mac")),
                hasher=hasher,
                policy=PasswordPolicy(
                    min_length=settings.password_min_length, max_bytes=settings.password_max_bytes
                ),
                outbox=Outbox(encryptor, sender.wake),
                outbox_sender=sender,
                background=background,
                throttle=throttle,
                refresh_budget=refresh_budget(settings),
                identity_providers=providers,
                redirects=RedirectAllowList(settings.redirect_targets),
            )


def _open_store(settings: Settings) -> TokenStore:
    if settings.redis_url is None:
        return MemoryTokenStore()
    return RedisTokenStore.from_url(settings.redis_url, prefix=settings.redis_prefix)


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_url is None:
        return ConsoleMailer(settings.data_dir / "outbox")
    return SmtpMailer(settings.smtp_url.get_secret_value(), timeout=settings.smtp_timeout_seconds)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
