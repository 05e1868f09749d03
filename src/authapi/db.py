"""Engine, sessions and migrations.

One engine per process. Requests get one `AsyncSession` each, committed before
the response is sent (see `api/deps.py`). Migrations run through Alembic from the
migrations folder that ships inside the package.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from authapi.settings import Settings

CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_SECONDS = 10


def migrations_dir() -> Path:
    """The Alembic folder: inside an installed wheel, else the source checkout's alembic/."""
    packaged = Path(__file__).parent / "alembic"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "alembic"


def describe_database(url: str) -> str:
    """Which database `url` names, for an operator's error line: never a password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite database {parsed.database or ':memory:'}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def engine_for(settings: Settings) -> AsyncEngine:
    """The engine AUTHAPI_DATABASE_URL and AUTHAPI_DATABASE_POOL_MODE describe."""
    return make_engine(
        settings.effective_database_url,
        transaction_pooling=settings.database_pool_mode == "transaction",
    )


def make_engine(url: str, *, transaction_pooling: bool = False) -> AsyncEngine:
    """`transaction_pooling`: the URL is a pooler that hands each transaction, not each
    connection, to a server (PgBouncer's pool_mode=transaction, and the poolers of hosted
    PostgreSQL on their transaction port). A statement prepared on one connection of the
    server may then be run on another, where it does not exist, or meet a statement of
    the same name that another client prepared there. So asyncpg's statement cache and
    SQLAlchemy's are off (asyncpg then parses again within each exchange instead of
    relying on a statement outliving it) and every statement SQLAlchemy prepares gets a
    name of its own. Each query costs one more parse on the server, and one-query reads
    run in a transaction too (see resources._reader); nothing else changes: the outbox's
    FOR UPDATE SKIP LOCKED and the key lock (pg_advisory_xact_lock) live inside one
    transaction, migrations run in one, and
    no session state (SET, LISTEN, session locks) is used anywhere."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": STATEMENT_TIMEOUT_SECONDS})
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        # sized for a busy worker: connections opened beyond the pool are closed
        # again after use, and that churn costs more than idle connections do
        pool_size=20,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        pool_recycle=1800,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": STATEMENT_TIMEOUT_SECONDS,
            "server_settings": {"application_name": "authapi"},
            **(_WITHOUT_PREPARED_STATEMENTS if transaction_pooling else {}),
        },
    )


_WITHOUT_PREPARED_STATEMENTS: dict[str, Any] = {
    "statement_cache_size": 0,  # asyncpg's
    "prepared_statement_cache_size": 0,  # SQLAlchemy's asyncpg dialect's
    "prepared_statement_name_func": lambda: f"__authapi_{uuid.uuid4().hex}__",
}


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def upsert(db: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    if db.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# db.info key: this request's writes stay although it ends in an error (see keep_on_error)
_KEEP_ON_ERROR = "authapi.keep_on_error"


def keep_on_error(db: AsyncSession) -> None:
    """Keep what this request wrote so far even if it ends in an error: the record of a
    failed attempt (a wrong password or code, a challenge opened) must survive the 401
    or 403 that follows. The request's transaction honours it where it ends (get_db)."""
    db.info[_KEEP_ON_ERROR] = True


def keeps_on_error(db: AsyncSession) -> bool:
    return bool(db.info.get(_KEEP_ON_ERROR))


async def check_database(engine: AsyncEngine) -> None:
    """Raise if the database cannot answer a trivial query.

    Raises:
        TimeoutError: saying which step ran out of time (connecting, or the query), so an
            operator's one line tells a server that does not accept from one that is stuck.
    """
    try:
        connection = await engine.connect()
    except TimeoutError:
        raise TimeoutError(f"no connection within {CONNECT_TIMEOUT_SECONDS} s") from None
    try:
        await connection.execute(text("SELECT 1"))
    except TimeoutError:
        raise TimeoutError(f"no answer to SELECT 1 within {STATEMENT_TIMEOUT_SECONDS} s") from None
    finally:
        await connection.close()


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _run_on(connection: Connection, url: str, action: str, revision: str) -> None:
    config = _alembic_config(url)
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def migrate(engine: AsyncEngine, revision: str = "head", *, action: str = "upgrade") -> None:
    """Run `alembic upgrade|downgrade` on an engine (usable inside a running event loop)."""
    async with engine.begin() as connection:
        url = engine.url.render_as_string(hide_password=False)
        await connection.run_sync(_run_on, url, action, revision)


def migrate_sync(
    url: str,
    revision: str = "head",
    *,
    action: str = "upgrade",
    transaction_pooling: bool = False,
) -> None:
    """The same from synchronous code (the CLI, sync test fixtures)."""

    async def _run() -> None:
        engine = make_engine(url, transaction_pooling=transaction_pooling)
        try:
            await migrate(engine, revision, action=action)
        finally:
            await engine.dispose()

    asyncio.run(_run())


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(_alembic_config("sqlite://")).get_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    """The migrations the database is at (empty for a new database)."""

    def _current(connection: Connection) -> set[str]:
        # MigrationContext logs its dialect at INFO; logs.py quiets alembic's loggers
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Whether the database is at the newest migration."""
    return await current_revisions(engine) == head_revisions()
