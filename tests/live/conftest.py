"""Real `authapi` processes: `authapi serve` under uvicorn on 127.0.0.1, and the CLI.

Each server runs as `python -m authapi serve` with an explicit environment (the
test process's own minus every AUTHAPI_* variable, plus what the test sets),
its output captured in a file that is printed at teardown, so a failing test
shows what the server said. Servers trust 127.0.0.1 as a proxy and each test
client sends its own X-Forwarded-For address, so per-IP rate limits of one test
never throttle another.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    ENCRYPTION_KEY,
    PASSWORD,
    PUBLIC_URL,
    Mailbox,
    PostgresDatabase,
    RedisSpace,
    SmtpServer,
    free_port,
    link_token,
    temporary_postgres,
    unique_email,
    wait_until_answering,
)

START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 15.0


def authapi_env(**values: str | os.PathLike[str]) -> dict[str, str]:
    """The test process's environment without AUTHAPI_* variables, plus `values`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHAPI_")}
    env.update({name: os.fspath(value) for name, value in values.items()})
    return env


def run_cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`authapi <args>` as a subprocess; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "authapi", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def client_address() -> str:
    """A fresh documentation-range address (2001:db8::/32) in its own /64."""
    network = 0x20010DB8 << 96 | secrets.randbits(32) << 64
    return str(ipaddress.IPv6Address(network | 1))


@dataclass
class LiveServer:
    """One `authapi serve` process."""

    base: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    cwd: Path

    def output(self, since: int = 0) -> str:
        """What the server printed (from byte offset `since`)."""
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    def output_size(self) -> int:
        return self.log_path.stat().st_size

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An async client on this server, speaking as a client address of its own."""
        headers = {"X-Forwarded-For": client_address(), **kwargs.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=10, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: uvicorn shuts down gracefully
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def start_server(
    env: dict[str, str],
    *,
    cwd: Path,
    name: str = "server",
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> LiveServer:
    """Start `authapi serve` on `port` (default: a free one) and wait (bounded) until
    /healthz answers."""
    port = port or free_port()
    log_path = cwd / f"{name}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "authapi", "serve", "--port", str(port), *args],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(
        base=f"http://127.0.0.1:{port}", process=process, log_path=log_path, env=env, cwd=cwd
    )
    try:
        wait_until_answering(
            f"{server.base}/healthz", process, log_path, timeout=START_TIMEOUT_SECONDS
        )
    except AssertionError as failure:
        server.stop()
        raise AssertionError(f"{name}: {failure}") from None
    return server


@dataclass
class ServerPool:
    """Starts servers and stops every one of them at teardown, printing their output."""

    directory: Path
    servers: list[LiveServer] = field(default_factory=list)

    def start(
        self,
        env: dict[str, str],
        *,
        name: str = "server",
        args: tuple[str, ...] = (),
        port: int | None = None,
    ) -> LiveServer:
        server = start_server(env, cwd=self.directory, name=name, args=args, port=port)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.stop()
            # shown by pytest only when a test of this fixture failed
            print(f"----- output of {server.base} (exit {server.process.returncode}) -----")
            print(server.output())


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerPool]:
    pool = ServerPool(directory=tmp_path)
    try:
        yield pool
    finally:
        pool.close()


def production_env(
    *,
    database: PostgresDatabase,
    redis_space: RedisSpace,
    smtp_server: SmtpServer,
    data_dir: Path,
    **extra: str,
) -> dict[str, str]:
    """PostgreSQL + Redis + SMTP, as a production instance is configured."""
    return authapi_env(
        AUTHAPI_DATABASE_URL=database.url,
        AUTHAPI_REDIS_URL=redis_space.url,
        AUTHAPI_REDIS_PREFIX=redis_space.prefix,
        AUTHAPI_SMTP_URL=smtp_server.url,
        AUTHAPI_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        AUTHAPI_PUBLIC_URL=PUBLIC_URL,
        AUTHAPI_BCRYPT_ROUNDS="4",
        AUTHAPI_HASH_WORKERS="1",
        AUTHAPI_TRUSTED_PROXIES="127.0.0.1/32",
        AUTHAPI_DATA_DIR=data_dir,
        **extra,
    )


@pytest.fixture
def production_server(
    servers: ServerPool,
    tmp_path: Path,
    postgres: PostgresDatabase,
    redis_space: RedisSpace,
    smtp_server: SmtpServer,
) -> Callable[..., LiveServer]:
    """`production_server(name=…, args=(…), AUTHAPI_X=…)`: `authapi serve` on the run's
    PostgreSQL, Redis and SMTP server, `production_env` with these variables on top."""

    def start(
        *, name: str = "server", args: tuple[str, ...] = (), **variables: str | os.PathLike[str]
    ) -> LiveServer:
        env = production_env(
            database=postgres,
            redis_space=redis_space,
            smtp_server=smtp_server,
            data_dir=tmp_path / f"{name}-data",
        )
        env.update({variable: os.fspath(value) for variable, value in variables.items()})
        return servers.start(env, name=name, args=args)

    return start


@pytest.fixture
def own_postgres() -> Iterator[PostgresDatabase]:
    """A migrated database of this test alone (key rotation must not touch the shared one)."""
    with temporary_postgres("live") as database:
        yield database


# --- a verified user, through HTTP and the real SMTP server ----------------------------
async def create_verified_user(client: httpx.AsyncClient, smtp_server: SmtpServer) -> str:
    """Register, read the confirmation link from the SMTP server, verify; returns the email."""
    address = unique_email("live")
    registered = await client.post("/auth/register", json={"email": address, "password": PASSWORD})
    assert registered.status_code == 202, registered.text
    message = await Mailbox(smtp=smtp_server).wait_for(address, subject="Confirm", wait_seconds=10)
    verified = await client.post("/auth/verify-email", json={"token": link_token(message)})
    assert verified.status_code == 200, verified.text
    return address


async def login(client: httpx.AsyncClient, address: str) -> dict[str, Any]:
    """Sign in with the refresh token in the body; returns the token response."""
    response = await client.post(
        "/auth/login",
        json={"email": address, "password": PASSWORD, "refresh_token_delivery": "body"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
