"""The Alembic migrations: from zero to head and back on SQLite and PostgreSQL, equal to
the models (a model change without a migration fails here), and shipped in the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from authapi.db import make_engine, migrate, migrations_dir
from authapi.models import Base
from tests.conftest import temporary_postgres

REPO = Path(__file__).resolve().parents[2]
APP_TABLES = set(Base.metadata.tables)


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    (head,) = ScriptDirectory.from_config(config).get_heads()
    return head


# --- one empty database per test, on each backend ------------------------------------
@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    with temporary_postgres("mig", migrated=False) as database:
        yield database.url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(empty_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


# --- what the database holds ---------------------------------------------------------
def _differences(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def differences(engine: AsyncEngine, metadata: MetaData = Base.metadata) -> list[Any]:
    """Alembic's autogenerate comparison of the live schema against `metadata`."""
    async with engine.connect() as connection:
        return await connection.run_sync(_differences, metadata)


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


# --- the tests ---------------------------------------------------------------------------
class TestMigrationsMatchTheModels:
    async def test_upgrade_from_zero_creates_exactly_the_models(self, engine: AsyncEngine) -> None:
        assert await tables(engine) == set()
        await migrate(engine)
        assert await current_revision(engine) == head_revision()
        assert await tables(engine) == APP_TABLES | {"alembic_version"}
        assert await differences(engine) == []

    async def test_downgrade_to_base_and_upgrade_again(self, engine: AsyncEngine) -> None:
        await migrate(engine)
        await migrate(engine, "base", action="downgrade")
        assert await tables(engine) & APP_TABLES == set()
        assert await current_revision(engine) is None

        await migrate(engine)
        assert await current_revision(engine) == head_revision()
        assert await differences(engine) == []

    async def test_a_model_change_without_a_migration_is_reported(
        self, engine: AsyncEngine
    ) -> None:
        await migrate(engine)
        changed = MetaData(naming_convention=Base.metadata.naming_convention)
        for table in Base.metadata.tables.values():
            table.to_metadata(changed)
        changed.tables["users"].append_column(Column("nickname", String(40), nullable=True))

        reported = await differences(engine, changed)
        assert [(diff[0], diff[2], diff[3].name) for diff in reported] == [
            ("add_column", "users", "nickname")
        ]


class TestMigrationsShipInTheWheel:
    def test_wheel_contains_the_migrations_and_migrates_from_any_directory(
        self, tmp_path: Path
    ) -> None:
        wheels = tmp_path / "wheels"
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(REPO)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )
        assert built.returncode == 0, built.stdout + built.stderr
        (wheel,) = wheels.glob("authapi-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            installed = tmp_path / "site"
            archive.extractall(installed)

        assert "authapi/alembic/env.py" in names
        versions = sorted(path.name for path in (REPO / "alembic" / "versions").glob("*.py"))
        assert versions, "no migrations in alembic/versions"
        for version in versions:
            assert f"authapi/alembic/versions/{version}" in names

        # the unpacked wheel, first on the path, migrates a fresh database from elsewhere
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        run_env = {name: value for name, value in env.items() if not name.startswith("AUTHAPI_")}
        run_env.update(PYTHONPATH=str(installed), AUTHAPI_DATA_DIR="data")
        located = subprocess.run(
            [
                sys.executable,
                "-c",
                "from authapi.db import migrations_dir; print(migrations_dir())",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=elsewhere,
            env=run_env,
        )
        assert located.returncode == 0, located.stderr
        assert Path(located.stdout.strip()) == installed / "authapi" / "alembic"
        migrated = subprocess.run(
            [sys.executable, "-m", "authapi", "migrate"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=elsewhere,
            env=run_env,
        )
        assert migrated.returncode == 0, migrated.stderr
        assert (elsewhere / "data" / "authapi.db").is_file()
