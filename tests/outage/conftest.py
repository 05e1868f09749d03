"""Private Redis and PostgreSQL servers that outage tests may stop and start again.

Each server is a process this test run started itself, on a free port of its own
(never the shared 6379/5432), so stopping it disturbs nothing else. PostgreSQL
refuses to run as root: its binaries run as the `postgres` OS user, on a data
directory in a temporary folder owned by that user. Every server is stopped at
teardown, whatever the test did.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest

from authapi.db import migrate_sync
from authapi.settings import Settings
from tests.conftest import (
    POSTGRES_ADMIN_DSN,
    Api,
    Mailbox,
    SmtpServer,
    common_settings,
    free_port,
    in_thread,
    open_api,
    service_missing,
)
from tests.processes import stop_process
from tests.redis_topologies import Node

T = TypeVar("T")

START_TIMEOUT_SECONDS = 15.0
# An answer about an unavailable dependency must come quickly, not after a hang.
ANSWER_BOUND_SECONDS = 6.0


# --- Redis ------------------------------------------------------------------------
class PrivateRedis(Node):
    """`redis-server` on its own port, without persistence: a restart starts empty."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing ever answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()  # a frozen server could not act on SIGTERM
        super().stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL ---------------------------------------------------------------------
def _postgres_bin(name: str) -> str:
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (entry for entry in root.iterdir() if entry.name.isdigit()), key=lambda e: int(e.name)
    )
    assert versions, f"no PostgreSQL under {root}"
    return str(versions[-1] / "bin" / name)


def _as_postgres(*command: str, timeout: float = 60) -> None:
    result = subprocess.run(
        ["/usr/sbin/runuser", "-u", "postgres", "--", *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own, with one migrated database `authapi`."""

    root: Path
    port: int = field(default_factory=free_port)
    running: bool = False

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/authapi"

    def init(self) -> None:
        _as_postgres(_postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        )
        self.running = True  # set first: a half-started server is stopped at teardown too
        _as_postgres(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-t",
            str(int(START_TIMEOUT_SECONDS)),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        if not self.running:
            return
        _as_postgres(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """Session-wide (initdb takes seconds); a test that stops it must start it again."""
    root = Path(tempfile.mkdtemp(prefix="authapi-outage-pg-"))
    shutil.chown(root, user="postgres", group="postgres")
    server = PrivatePostgres(root=root)
    try:
        server.init()
        server.start()
        _as_postgres(
            _postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(server.port), "authapi"
        )
        in_thread(migrate_sync, server.url)
        yield server
    finally:
        try:
            server.stop(mode="immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --- PgBouncer ----------------------------------------------------------------------------
class PrivatePgBouncer:
    """Debian's pgbouncer on a private port, in transaction pooling mode, in front of the
    run's PostgreSQL (any database name). Two server connections per database, so many
    clients share each one: a statement prepared by one client is on a connection another
    client gets next. It refuses to run as root: it runs as `postgres`, in a folder of its
    own."""

    POOL_SIZE = 2

    def __init__(self, root: Path, upstream_port: int) -> None:
        self.root = root
        self.port = free_port()
        self.upstream_port = upstream_port
        self.process: subprocess.Popen[bytes] | None = None

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        (self.root / "users.txt").write_text('"postgres" ""\n')
        config = self.root / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.upstream_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.POOL_SIZE}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
            f"pidfile = {self.root / 'pgbouncer.pid'}\n"
        )
        for path in self.root.iterdir():
            shutil.chown(path, user="postgres", group="postgres")
        self.process = subprocess.Popen(
            ["/usr/sbin/runuser", "-u", "postgres", "--", _pgbouncer_bin(), str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.root / "pgbouncer.log"
                self.stop()
                raise RuntimeError(f"pgbouncer did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)


def _pgbouncer_bin() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(found).exists():
        service_missing(
            "pgbouncer", FileNotFoundError("install Debian's pgbouncer (make test does)")
        )
    return found


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PrivatePgBouncer]:
    root = Path(tempfile.mkdtemp(prefix="authapi-pgbouncer-"))
    shutil.chown(root, user="postgres", group="postgres")
    bouncer = PrivatePgBouncer(root, upstream_port=urlsplit(POSTGRES_ADMIN_DSN).port or 5432)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- the app under test -----------------------------------------------------------------
@asynccontextmanager
async def outage_api(
    tmp_path: Path,
    smtp_server: SmtpServer,
    *,
    database_url: str,
    redis_url: str,
    **overrides: Any,
) -> AsyncIterator[Api]:
    """The production backend on the given servers, in-process, through ASGITransport."""
    settings = Settings(
        **{
            **common_settings(tmp_path),
            "database_url": database_url,
            "redis_url": redis_url,
            "redis_prefix": "authapi-outage",
            "smtp_url": smtp_server.url,
            **overrides,
        }
    )
    async with open_api(settings, Mailbox(smtp=smtp_server)) as api:
        yield api


async def timed(request: Awaitable[httpx.Response]) -> httpx.Response:
    """The answer, asserted to have come within ANSWER_BOUND_SECONDS."""
    started = time.monotonic()
    response = await request
    elapsed = time.monotonic() - started
    assert elapsed < ANSWER_BOUND_SECONDS, f"answered after {elapsed:.1f}s: {response.text}"
    return response


async def eventually(
    attempt: Callable[[], Awaitable[httpx.Response]],
    expected_status: int,
    *,
    wait_seconds: float = 10.0,
) -> httpx.Response:
    """Retry `attempt` until it answers `expected_status`; meanwhile only 503 is acceptable."""
    deadline = time.monotonic() + wait_seconds
    while True:
        response = await timed(attempt())
        if response.status_code == expected_status:
            return response
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, f"no recovery within {wait_seconds}s: {response.text}"
        await asyncio.sleep(0.1)


def run_blocking(function: Callable[..., T], *args: Any) -> Awaitable[T]:
    """Server start/stop from async tests, without blocking the app's event loop."""
    return asyncio.to_thread(function, *args)
