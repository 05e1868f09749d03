"""Alembic environment for authapi.

`authapi migrate` (and the test fixtures) hand Alembic an open connection in
`config.attributes["connection"]`, so migrations run inside an existing event
loop. Run from the command line (`alembic upgrade head`), it opens its own
async engine from AUTHAPI_DATABASE_URL or alembic.ini.
"""

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from authapi.models import Base

target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    url = os.environ.get("AUTHAPI_DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_configure_and_run)
    await engine.dispose()


if context.is_offline_mode():
    _run_offline()
elif (connection := context.config.attributes.get("connection")) is not None:
    _configure_and_run(connection)
else:
    asyncio.run(_run_with_own_engine())
