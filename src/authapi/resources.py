"""The long-lived objects of one app process, opened and closed together.

`Resources.open(settings)` connects to the database and the token store, loads
(or generates) signing keys, starts the password-hash pool and the outbox sender.
Anything wrong here (unreachable database, undecryptable keys) raises
`StartupError` with one line that the CLI prints before exiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import cached_property

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authapi import __version__
from authapi.background import Background
from authapi.db import check_database, describe_database, engine_for, make_sessionmaker
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


@dataclass(frozen=True)
class TokenKit:
    """What issuing, rotating and checking tokens takes: access tokens (signed JWTs), the
    refresh-token format, and the store that keeps the sessions' state."""

    access: AccessTokens
    refresh: RefreshTokens
    store: TokenStore


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

    @cached_property
    def tokens(self) -> TokenKit:
        return TokenKit(access=self.access_tokens, refresh=self.refresh_tokens, store=self.store)

    async def readiness(self, seconds: float) -> dict[str, str]:
        """Whether the database and the token store answer now, each within `seconds`:
        {"database": "ok" | "unavailable", "token_store": …}."""
        return {
            "database": await _answers(check_database(self.engine), seconds),
            "token_store": await _answers(self.store.ping(), seconds),
        }

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, *, serving: bool = True) -> AsyncIterator[Resources]:
        """Open everything; `serving=False` (the CLI's start-up check) only checks:
        no warnings printed twice, no mail sender started.

        Raises: StartupError (one line: what is unreachable or misconfigured)."""
        if serving:
            for warning in settings.dev_warnings():
                log.warning("DEVELOPMENT SETTING: %s", warning)
            for notice in settings.configuration_notices():
                log.warning("CONFIGURATION: %s", notice)
        async with AsyncExitStack() as stack:
            engine = await _database(settings, stack)
            store = await _token_store(settings, stack)
            if serving:
                await _warn_if_redis_keeps_nothing(store)
            sessionmaker = make_sessionmaker(engine)
            encryptor = Encryptor(load_encryption_keys(settings))
            keys, keyring = await _signing_keys(settings, sessionmaker, encryptor)
            hasher = await _password_hasher(settings, stack)
            throttle, close_throttle = open_throttle(settings)
            if close_throttle is not None:
                stack.push_async_callback(close_throttle)
            background = Background()
            stack.push_async_callback(background.close)
            sender = _mail_sender(settings, sessionmaker, encryptor)
            if serving:
                _run_in_background(settings, sessionmaker, sender, stack)

            yield cls(
                settings=settings,
                engine=engine,
                reader=_reader(engine, settings),
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
                identity_providers=_identity_providers(settings, stack),
                redirects=RedirectAllowList(settings.redirect_targets),
            )


# --- the parts, each closed by the stack when the service stops -----------------------
async def _database(settings: Settings, stack: AsyncExitStack) -> AsyncEngine:
    engine = engine_for(settings)
    stack.push_async_callback(engine.dispose)
    try:
        await check_database(engine)
    except Exception as exc:
        where = describe_database(settings.effective_database_url)
        raise StartupError(
            f"database unreachable ({where}): {type(exc).__name__}: {_first_line(exc)}"
        ) from None
    return engine


async def _token_store(settings: Settings, stack: AsyncExitStack) -> TokenStore:
    store = _open_store(settings)
    stack.push_async_callback(store.close)
    try:
        await store.ping()
    except Exception as exc:
        raise StartupError(f"Redis unreachable: {type(exc).__name__}: {_first_line(exc)}") from None
    return store


async def _warn_if_redis_keeps_nothing(store: TokenStore) -> None:
    """Sessions live in Redis: one that keeps nothing on disk ends them all when it restarts
    (failing closed, but everyone signs in again). Said once at start, when Redis tells."""
    if isinstance(store, RedisTokenStore) and await store.keeps_data() is False:
        log.warning(
            "CONFIGURATION: Redis keeps nothing on disk (appendonly no, no save points): a "
            "Redis restart ends every session; turn on appendonly (README: Redis durability)"
        )


async def _signing_keys(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], encryptor: Encryptor
) -> tuple[KeyRepository, Keyring]:
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
    return keys, keyring


async def _password_hasher(settings: Settings, stack: AsyncExitStack) -> PasswordHasher:
    hasher = PasswordHasher(rounds=settings.bcrypt_rounds, workers=settings.hash_workers)
    stack.callback(hasher.close)
    await hasher.start()
    return hasher


def _identity_providers(settings: Settings, stack: AsyncExitStack) -> dict[str, OidcClient]:
    if not settings.identity_providers:
        return {}
    http = httpx.AsyncClient(
        timeout=settings.oidc_http_timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": f"authapi/{__version__}"},
    )
    stack.push_async_callback(http.aclose)
    return {
        provider.name: OidcClient(
            provider,
            http,
            cache_seconds=settings.oidc_cache_seconds,
            leeway_seconds=settings.clock_leeway_seconds,
            max_age_seconds=settings.oidc_state_ttl_seconds,
        )
        for provider in settings.identity_providers
    }


def _mail_sender(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], encryptor: Encryptor
) -> OutboxSender:
    return OutboxSender(
        sessionmaker,
        _mailer(settings),
        encryptor,
        sender_address=settings.email_from,
        poll_seconds=settings.outbox_poll_seconds,
        retry_seconds=settings.outbox_retry_seconds,
    )


def _run_in_background(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: OutboxSender,
    stack: AsyncExitStack,
) -> None:
    """The loops of a serving process: the mail sender and the retention pruner."""
    sender.start()
    stack.push_async_callback(sender.stop)
    retention = RetentionLoop(sessionmaker, settings)
    retention.start()
    stack.push_async_callback(retention.stop)


def _reader(engine: AsyncEngine, settings: Settings) -> AsyncEngine:
    """The engine of one-query reads (/users/me): autocommit, so no BEGIN and ROLLBACK
    around the one query; behind a transaction pooler, a transaction after all: there
    SQLAlchemy prepares a statement in one exchange and runs it in the next, and only a
    transaction keeps both on the same server connection."""
    if settings.database_pool_mode == "transaction":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


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


async def _answers(probe: Awaitable[None], seconds: float) -> str:
    try:
        await asyncio.wait_for(probe, seconds)
    except Exception:
        return "unavailable"
    return "ok"
