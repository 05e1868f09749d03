"""The `authapi` command: bad configuration fails at start with one line, `migrate`
works on a fresh directory, and the embedded default serves with nothing configured."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.conftest import ENCRYPTION_KEY, PostgresDatabase, free_port
from tests.live.conftest import ServerPool, authapi_env, run_cli

pytestmark = pytest.mark.live

SHORT_SECRET = "ten-bytes!"
APP_TABLES = {"users", "sessions", "email_tokens", "signing_keys", "security_events"}


# case: (environment, extra arguments, what the one line must name)
BAD_STARTS: dict[str, tuple[dict[str, str], tuple[str, ...], str]] = {
    "unknown algorithm": ({"AUTHAPI_JWT_ALGORITHM": "XX256"}, (), "AUTHAPI_JWT_ALGORITHM"),
    "short HS256 secret": (
        {"AUTHAPI_JWT_ALGORITHM": "HS256", "AUTHAPI_JWT_SECRET": SHORT_SECRET},
        (),
        "AUTHAPI_JWT_SECRET",
    ),
    "unreachable database": (
        {"AUTHAPI_DATABASE_URL": f"postgresql+asyncpg://postgres:{SHORT_SECRET}@127.0.0.1:1/x"},
        (),
        "database unreachable (PostgreSQL at 127.0.0.1:1/x)",
    ),
    "unreachable Redis": (
        {"AUTHAPI_REDIS_URL": "redis://127.0.0.1:1", "AUTHAPI_ENCRYPTION_KEYS": ENCRYPTION_KEY},
        (),
        "Redis unreachable",
    ),
    "several workers without Redis": ({}, ("--workers", "2"), "AUTHAPI_REDIS_URL"),
    "wildcard CORS origin": ({"AUTHAPI_ALLOWED_ORIGINS": "*"}, (), "AUTHAPI_ALLOWED_ORIGINS"),
}


class TestBadConfigurationFailsAtStart:
    @pytest.mark.parametrize("case", list(BAD_STARTS), ids=list(BAD_STARTS))
    def test_serve_exits_with_one_error_line_and_no_traceback(
        self, case: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        values, args, mentions = BAD_STARTS[case]
        values = {"AUTHAPI_DATA_DIR": str(tmp_path / "data"), **values}
        if case == "unreachable Redis":
            # the database is fine; only Redis is missing
            database: PostgresDatabase = request.getfixturevalue("postgres")
            values["AUTHAPI_DATABASE_URL"] = database.url
        result = run_cli(
            "serve",
            "--port",
            str(free_port()),
            *args,
            env=authapi_env(**values),
            cwd=tmp_path,
            timeout=60,
        )

        assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("authapi: error: "), result.stderr
        assert mentions in lines[0]
        assert SHORT_SECRET not in result.stderr + result.stdout  # a secret is never echoed


class TestMigrate:
    def test_an_unreachable_database_is_one_line_naming_it(self, tmp_path: Path) -> None:
        """It printed `ConnectionRefusedError: [Errno 111] …`, naming nothing (issue 12,
        item 18); now the line says which database, and never its password."""
        url = f"postgresql+asyncpg://authapi:{SHORT_SECRET}@127.0.0.1:1/authapi"
        result = run_cli("migrate", env=authapi_env(AUTHAPI_DATABASE_URL=url), cwd=tmp_path)

        assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(
            "authapi: error: database unreachable (PostgreSQL at 127.0.0.1:1/authapi): "
        ), line
        assert SHORT_SECRET not in result.stderr + result.stdout

    def test_migrate_creates_the_tables_in_a_fresh_directory_and_is_repeatable(
        self, tmp_path: Path
    ) -> None:
        env = authapi_env(AUTHAPI_DATA_DIR="data")  # relative to the working directory
        first = run_cli("migrate", env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "database schema is up to date" in first.stdout
        database = tmp_path / "data" / "authapi.db"
        assert database.is_file()
        assert _sqlite_tables(database) >= APP_TABLES
        head = _sqlite_version(database)

        second = run_cli("migrate", env=env, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "database schema is up to date" in second.stdout
        assert _sqlite_version(database) == head


def _sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _sqlite_version(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert isinstance(version, str)
    return version


class TestEmbeddedDefault:
    def test_serve_with_nothing_configured_migrates_and_serves_offline_docs(
        self, servers: ServerPool, tmp_path: Path
    ) -> None:
        data = tmp_path / "embedded-data"
        server = servers.start(
            authapi_env(AUTHAPI_DATA_DIR=data, AUTHAPI_BCRYPT_ROUNDS="4"), name="embedded"
        )
        assert _sqlite_tables(data / "authapi.db") >= APP_TABLES

        with httpx.Client(base_url=server.base, timeout=10) as client:
            docs = client.get("/docs")
            assert docs.status_code == 200
            assert docs.headers["content-type"].startswith("text/html")
            page = docs.text
            assert "SwaggerUIBundle" in page
            own_host = urlsplit(server.base).netloc
            for url in re.findall(r"https?://[^\s\"'<>)]+", page):
                assert urlsplit(url).netloc == own_host, f"/docs loads {url} from another host"

            assets = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']([^\"']+)", page)
            scripts = [asset for asset in assets if asset.split("?")[0].endswith(".js")]
            styles = [asset for asset in assets if asset.split("?")[0].endswith(".css")]
            assert scripts, page
            assert styles, page
            for asset in assets:
                answer = client.get(urljoin(f"{server.base}/docs", asset))
                assert answer.status_code == 200, asset
            bundle = max(
                len(client.get(urljoin(f"{server.base}/docs", s)).content) for s in scripts
            )
            assert bundle > 500_000  # the real Swagger UI bundle, not a stub

            schema = client.get("/openapi.json")
            assert schema.status_code == 200
            assert schema.json()["openapi"].startswith("3.")
            assert {"/auth/login", "/auth/refresh", "/.well-known/jwks.json"} <= set(
                schema.json()["paths"]
            )

        log = server.output()
        for convenience in (
            "embedded SQLite database",
            "in-process token store",
            "console email",
            "no AUTHAPI_ENCRYPTION_KEYS",
        ):
            assert re.search(rf"DEVELOPMENT SETTING: {convenience}", log), log
