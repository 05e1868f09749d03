"""authapi benchmark: `make bench` (or `.venv/bin/python bench/run.py [options]`).

Starts authapi as a real process on PostgreSQL + Redis (its own database
`authapi_bench_<id>` and Redis key prefix, both removed at the end, on Ctrl-C
and on failure too) next to a bare FastAPI app served with the same uvicorn
settings, then measures in one run, on loopback only:

- the bcrypt bound (cores / one hash's time at --rounds, timed in this process)
  and login throughput as a ratio to it;
- GET /users/me and POST /auth/refresh throughput as ratios to the bare route;
- p50/p99 of GET /users/me idle and during a login storm, and their ratio.

The load comes from a lean asyncio HTTP/1.1 client (bench/load.py) in its own
process. Numbers are reported, not asserted: exit code 0 when the run finished,
2 when setup failed, 130 when interrupted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import cpu_profile  # bench/cpu_profile.py
import load  # bench/load.py (this script's folder is on sys.path)

BENCH_DIR = Path(__file__).resolve().parent
PASSWORD = "copper kettle whistling on a quiet harbour morning"  # noqa: S105 (bench users only)
START_SECONDS = 45.0
CLEANUP_SECONDS = 15.0
LOAD_PROCESS_SLACK_SECONDS = 30.0
TAIL_LINES = 20
VERSIONS = (
    "authapi",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "PyJWT",
    "cryptography",
    "bcrypt",
    "SQLAlchemy",
    "asyncpg",
    "redis",
)


class SetupError(Exception):
    """The benchmark could not be set up or a process failed; the message is one line."""


class Interrupted(Exception):
    """SIGTERM or the wall-time watchdog."""


# --- command line ------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description="Measure authapi on PostgreSQL + Redis (loopback only)."
    )
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost (default: 12)")
    parser.add_argument(
        "--duration",
        type=float,
        default=9.0,
        help="measured seconds per phase, split over its repeats (default: 9)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="times the throughput phases, and idle + storm, run in turn; ratios are the "
        "medians of each repeat's (default: 3)",
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unmeasured seconds before each phase"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="connections for the throughput phases and logins in the storm (default: 16)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers for both servers (default: 1)"
    )
    parser.add_argument(
        "--users", type=int, default=48, help="distinct accounts signing in (default: 48)"
    )
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get(
            "AUTHAPI_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="an administrative database on the server that gets the bench database",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("AUTHAPI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record authapi's CPU with py-spy during each of its phases into DIR and print "
        "where it goes per request (bench/cpu_profile.py; one worker only)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the numbers printed to PATH as JSON (bench/capacity.py reads them)",
    )
    args = parser.parse_args(argv)
    if not 4 <= args.rounds <= 31:
        parser.error("--rounds must be between 4 and 31")
    if not 0.5 <= args.duration <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--duration must be within 0.5..120 s and --warmup within 0..30 s")
    if not 1 <= args.repeats <= 10:
        parser.error("--repeats must be within 1..10")
    if not 1 <= args.concurrency <= 512 or not 1 <= args.workers <= 16:
        parser.error("--concurrency must be within 1..512 and --workers within 1..16")
    if args.profile is not None:
        if args.workers != 1:
            parser.error("--profile samples one process: use --workers 1")
        if not (shutil.which("py-spy") or (Path(sys.executable).parent / "py-spy").exists()):
            parser.error("--profile needs py-spy (pip install py-spy; it is a dev dependency)")
        args.profile.mkdir(parents=True, exist_ok=True)
    args.users = max(args.users, args.concurrency)
    return args


# --- small helpers --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def with_database(dsn: str, database: str) -> str:
    return urlsplit(dsn)._replace(path=f"/{database}").geturl()


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "-"


def tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(f"    | {line}" for line in lines[-TAIL_LINES:])


def quietly(what: str, action: Callable[[], object]) -> None:
    """Run one cleanup step; report (never raise) a failure so the other steps still run."""
    try:
        action()
    except Exception as exc:
        print(f"bench: warning: cleanup of {what} failed: {type(exc).__name__}: {exc}")


# --- bcrypt bound ---------------------------------------------------------------------
@dataclass(frozen=True)
class BcryptBound:
    rounds: int
    cores: int
    one_hash: float  # seconds, median
    samples: int
    threaded_rate: float  # hashes/s measured with one thread per core (for context)

    @property
    def bound(self) -> float:
        return self.cores / self.one_hash


def measure_bcrypt(rounds: int, cores: int, samples: int = 5) -> BcryptBound:
    import bcrypt

    # authapi feeds bcrypt a 44-byte HMAC-SHA256 pre-hash; a login is one checkpw.
    secret = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFG="
    hashed = bcrypt.hashpw(secret, bcrypt.gensalt(rounds))  # also the warm-up
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        bcrypt.checkpw(secret, hashed)
        times.append(time.perf_counter() - started)
    one_hash = statistics.median(times)
    jobs = cores * max(2, math.ceil(0.5 / one_hash))  # about half a second of hashing
    with ThreadPoolExecutor(max_workers=cores) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: bcrypt.checkpw(secret, hashed), range(jobs)))
        threaded = jobs / (time.perf_counter() - started)
    return BcryptBound(
        rounds=rounds,
        cores=cores,
        one_hash=one_hash,
        samples=samples,
        threaded_rate=threaded,
    )


# --- PostgreSQL and Redis ----------------------------------------------------------------
async def _admin(dsn: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _server_version(dsn: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def create_database(admin_dsn: str, name: str, stack: contextlib.ExitStack) -> tuple[str, str]:
    """Create and migrate the bench database; returns (SQLAlchemy URL, server version)."""
    try:
        asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise SetupError(
            f"cannot create a database through {masked(admin_dsn)}: {type(exc).__name__}: {exc}"
        ) from None
    stack.callback(
        quietly,
        f"database {name}",
        lambda: asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')),
    )
    dsn = with_database(admin_dsn, name)
    url = "postgresql+asyncpg://" + dsn.split("://", 1)[1]
    from authapi.db import migrate_sync

    try:
        migrate_sync(url)
    except Exception as exc:
        raise SetupError(f"migrating {name} failed: {type(exc).__name__}: {exc}") from None
    return url, asyncio.run(_server_version(dsn))


def open_redis_space(url: str, prefix: str, stack: contextlib.ExitStack) -> str:
    """Check Redis and arrange for every key under `prefix:` to be deleted; returns its version."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
    try:
        info = client.info("server")
    except redis.RedisError as exc:
        client.close()
        raise SetupError(f"Redis at {masked(url)}: {type(exc).__name__}: {exc}") from None

    def remove_keys() -> None:
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch = []
            if batch:
                client.delete(*batch)
        finally:
            client.close()

    stack.callback(quietly, f"Redis keys {prefix}:*", remove_keys)
    return str(info.get("redis_version", "?"))


# --- SMTP sink ---------------------------------------------------------------------------
@dataclass
class SmtpSink:
    """Accepts and discards the service's mail (verification emails at registration)."""

    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received += 1
        return "250 OK"


def start_smtp_sink(stack: contextlib.ExitStack) -> tuple[SmtpSink, int]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    stack.callback(quietly, "the SMTP sink", controller.stop)
    return sink, port


# --- server processes ----------------------------------------------------------------
@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            # its own session: the group is the server and its uvicorn workers, nothing else
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(CLEANUP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def failure(self, what: str) -> SetupError:
        code = self.process.poll()
        state = "running" if code is None else f"exited with code {code}"
        return SetupError(f"{self.name} {what} ({state}); last log lines:\n{tail(self.log)}")


def start_server(
    name: str,
    command: list[str],
    *,
    port: int,
    env: dict[str, str],
    workdir: Path,
    stack: contextlib.ExitStack,
) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name=name, port=port, process=process, log=log)
    stack.callback(quietly, name, server.stop)
    return server


def wait_until_up(server: Server, path: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    try:
        asyncio.run(load.wait_until_up(server.port, path, deadline=deadline, alive=server.alive))
    except load.HttpError as exc:
        raise server.failure(f"did not start: {exc}") from None


def clean_environment() -> dict[str, str]:
    """This shell's environment without any AUTHAPI_* setting (the bench sets its own)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AUTHAPI_")}


UNLIMITED = "1000000/minute"


# a resource server allowed to introspect (the bench's own, made up for each run's service)
INTROSPECTION_CLIENT = "bench-resource-server"
INTROSPECTION_SECRET = secrets.token_urlsafe(24)


def rotate_request(port: int, number: int) -> bytes:
    """The bare app's POST /rotate, with a body shaped as a refresh's, its own session."""
    token = f"{uuid.UUID(int=number).hex}.{'s' * 43}.{'m' * 22}"
    body = json.dumps({"refresh_token": token}).encode()
    return load.build_request("POST", "/rotate", port, body=body)


def introspection_request(port: int, access_token: str) -> bytes:
    """POST /auth/introspect as a resource server sends it: form-encoded, HTTP Basic."""
    credentials = base64.b64encode(
        f"{INTROSPECTION_CLIENT}:{INTROSPECTION_SECRET}".encode()
    ).decode()
    body = f"token={access_token}&token_type_hint=access_token".encode()
    return load.build_request(
        "POST",
        "/auth/introspect",
        port,
        body=body,
        headers={"Authorization": f"Basic {credentials}"},
        content_type="application/x-www-form-urlencoded",
    )


def service_env(
    *, database_url: str, redis_url: str, prefix: str, smtp_port: int, rounds: int
) -> dict[str, str]:
    """The environment of an authapi instance under load (this bench, bench/soak.py)."""
    from cryptography.fernet import Fernet

    return {
        **clean_environment(),
        "AUTHAPI_DATABASE_URL": database_url,
        "AUTHAPI_REDIS_URL": redis_url,
        "AUTHAPI_REDIS_PREFIX": prefix,
        "AUTHAPI_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUTHAPI_REQUIRE_VERIFIED_EMAIL": "false",
        "AUTHAPI_BCRYPT_ROUNDS": str(rounds),
        "AUTHAPI_LOG_LEVEL": "warning",
        "AUTHAPI_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        # the load generator plays a load balancer: each client has its own address
        "AUTHAPI_TRUSTED_PROXIES": "127.0.0.1/32",
        # a few accounts and sessions take the whole load: lift their budgets, which are
        # still counted (the limiter's cost is part of what is measured), never exhausted
        "AUTHAPI_LOGIN_RATE_LIMIT_PER_ACCOUNT": UNLIMITED,
        "AUTHAPI_LOGIN_RATE_LIMIT_PER_ACCOUNT_IP": UNLIMITED,
        "AUTHAPI_LOGIN_RATE_LIMIT_PER_IP": UNLIMITED,
        "AUTHAPI_REFRESH_RATE_LIMIT_PER_SESSION": UNLIMITED,
        "AUTHAPI_REGISTER_RATE_LIMIT_PER_IP": UNLIMITED,
        "AUTHAPI_EMAIL_RATE_LIMIT_PER_ADDRESS": UNLIMITED,
        "AUTHAPI_INTROSPECTION_CLIENTS": f"{INTROSPECTION_CLIENT}:{INTROSPECTION_SECRET}",
    }


# --- load phases ---------------------------------------------------------------------
def group_cpu_seconds(group: int) -> float:
    """CPU time (user + system) of the live processes of one process group, from /proc."""
    ticks = sum(int(fields[11]) + int(fields[12]) for _, fields in load.group_processes(group))
    return ticks / os.sysconf("SC_CLK_TCK")


def run_phase(
    title: str, spec: dict[str, Any], server: Server, *, profile_to: Path | None = None
) -> dict[str, Any]:
    """Run one phase in a fresh load process (spawned: it shares nothing with us).

    The load process says when its measured window opens and closes; the server's CPU
    time is sampled at those moments (and py-spy records it then, with `profile_to`)."""
    print(f"  {title} ...", flush=True)
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=load.run_phase, args=(spec, sender), name="bench-load")
    process.start()
    sender.close()
    budget = spec["warmup"] + spec["duration"] + load.DRAIN_SECONDS + LOAD_PROCESS_SLACK_SECONDS
    deadline = time.monotonic() + budget
    cpu: dict[str, float] = {}
    message: dict[str, Any] | None = None
    recorder: subprocess.Popen[bytes] | None = None
    try:
        while message is None:
            if not receiver.poll(max(0.0, deadline - time.monotonic())):
                raise SetupError(
                    f"the load process gave no result for {title!r} within {budget:.0f} s"
                )
            received = receiver.recv()
            if isinstance(received, str):  # "start" / "end" of the measured window
                cpu[received] = group_cpu_seconds(server.process.pid)
                if received == "start" and profile_to is not None:
                    recorder = record_profile(server, spec["duration"], profile_to)
            else:
                message = received
    except EOFError:
        raise SetupError(f"the load process died during {title!r}") from None
    finally:
        receiver.close()
        if message is None:  # interrupted or failed: do not wait for the phase to end
            process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
        if recorder is not None:
            try:
                recorder.wait(PROFILE_SLACK_SECONDS)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
    if not message["ok"]:
        raise SetupError(f"the load process failed during {title!r}: {message['error']}")
    result: dict[str, Any] = message["result"]
    result["server_cpu"] = (cpu.get("end", math.nan) - cpu.get("start", math.nan)) / spec[
        "duration"
    ]
    return result


PROFILE_SLACK_SECONDS = 30.0


def record_profile(server: Server, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the server for the measured window (raw stacks, see cpu_profile.py)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.process.pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass
class Results:
    """Per phase, each repeat's result from the load process (streams, client_cpu, …) plus
    server_cpu; `phases` puts a phase's repeats together (`combined`)."""

    repeats: dict[str, list[dict[str, Any]]]

    @property
    def phases(self) -> dict[str, dict[str, Any]]:
        return {phase: combined(runs) for phase, runs in self.repeats.items()}

    def stream(self, phase: str, index: int = 0) -> dict[str, Any]:
        summary: dict[str, Any] = combined(self.repeats[phase])["streams"][index]
        return summary

    def paired(
        self, phase: str, other: str, key: str = "rate", index: int = 0, other_index: int = 0
    ) -> float:
        """The median over the repeats of `phase`'s `key` over `other`'s in the same repeat:
        the two ran seconds apart, so a machine that runs faster or slower over minutes (a
        shared one does, by a fifth or more) moves both."""
        return _median(
            _ratio(mine["streams"][index][key], theirs["streams"][other_index][key])
            for mine, theirs in zip(self.repeats[phase], self.repeats[other], strict=True)
        )

    @property
    def client_loop(self) -> str:
        return str(next(iter(self.phases.values()))["client_loop"])

    @property
    def undrained(self) -> int:
        return sum(run["undrained"] for runs in self.repeats.values() for run in runs)


def _median(values: Iterable[float]) -> float:
    finite = [value for value in values if not math.isnan(value)]
    return statistics.median(finite) if finite else math.nan


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A phase's repeats as one result: the medians of the rates, latencies and CPU, the
    counts summed, the least even spread of connections."""
    streams = []
    for index, first in enumerate(runs[0]["streams"]):
        each = [run["streams"][index] for run in runs]
        errors: Counter[str] = Counter()
        for stream in each:
            errors.update(stream["errors"])
        streams.append(
            {
                "name": first["name"],
                **{key: sum(stream[key] for stream in each) for key in ("completed", "samples")},
                "window": sum(stream["window"] for stream in each),
                **{
                    key: _median(stream[key] for stream in each)
                    for key in ("rate", "p50", "p90", "p99")
                },
                "max": max((stream["max"] for stream in each), default=math.nan),
                "errors": dict(errors),
            }
        )
    return {
        "streams": streams,
        "repeats": len(runs),
        "undrained": sum(run["undrained"] for run in runs),
        "client_loop": runs[0]["client_loop"],
        "client_cpu": _median(run["client_cpu"] for run in runs),
        "server_cpu": _median(run["server_cpu"] for run in runs),
        "connections_per_worker": max(run["connections_per_worker"] for run in runs),
    }


def measure(
    args: argparse.Namespace,
    *,
    api: Server,
    bare: Server,
    users: list[tuple[str, str]],
    sessions: list[dict[str, Any]],
    bare_token: str,
) -> Results:
    base = {"warmup": args.warmup, "duration": args.duration, "workers": args.workers}
    concurrency = args.concurrency
    access = [session["access_token"] for session in sessions]
    me_request = load.bearer_get(api.port, "/users/me", access[0])
    ping = load.build_request("GET", "/ping", bare.port)
    verify = load.bearer_get(bare.port, "/verify", bare_token)
    user_list = [list(user) for user in users]
    phases: dict[str, tuple[str, dict[str, Any]]] = {
        "bare": (
            f"bare FastAPI route, {concurrency} connections",
            {"port": bare.port, "streams": [_fixed("bare", [ping] * concurrency)]},
        ),
        "es256": (
            f"FastAPI route verifying an ES256 JWT, {concurrency} connections",
            {"port": bare.port, "streams": [_fixed("es256", [verify] * concurrency)]},
        ),
        "parts": (
            f"FastAPI route doing a refresh's parts, {concurrency} connections",
            {
                "port": bare.port,
                "streams": [
                    _fixed("parts", [rotate_request(bare.port, n) for n in range(concurrency)])
                ],
            },
        ),
        "me": (
            f"GET /users/me, {concurrency} connections",
            {
                "port": api.port,
                "streams": [
                    _fixed("me", [load.bearer_get(api.port, "/users/me", t) for t in access])
                ],
            },
        ),
        "refresh": (
            f"POST /auth/refresh, {concurrency} sessions rotating",
            {
                "port": api.port,
                "streams": [
                    {
                        "name": "refresh",
                        "kind": "refresh",
                        "tokens": [session["refresh_token"] for session in sessions],
                    }
                ],
            },
        ),
        "introspect": (
            f"POST /auth/introspect (access tokens), {concurrency} connections",
            {
                "port": api.port,
                "streams": [
                    _fixed("introspect", [introspection_request(api.port, t) for t in access])
                ],
            },
        ),
        "idle": (
            "GET /users/me idle, 1 connection",
            {"port": api.port, "streams": [_fixed("idle", [me_request])]},
        ),
        "login": (
            f"POST /auth/login, {concurrency} connections, {len(users)} users",
            {"port": api.port, "streams": [_login("login", user_list, concurrency, 100_000)]},
        ),
        "storm": (
            f"GET /users/me (1 connection) during a storm of {concurrency} logins",
            {
                "port": api.port,
                "streams": [
                    _login("storm login", user_list, concurrency, 200_000),
                    _fixed("storm me", [me_request]),
                ],
            },
        ),
    }
    # the phases compared with each other run in turn, `--repeats` times (Results.paired)
    schedule = [*THROUGHPUT_PHASES * args.repeats, "login", *PAIRED_PHASES * args.repeats]
    results = Results(repeats={key: [] for key in phases})
    for key in schedule:
        title, spec = phases[key]
        server = bare if key in BARE_PHASES else api
        repeat = len(results.repeats[key])
        if args.repeats > 1 and key != "login":
            title = f"{title} ({repeat + 1} of {args.repeats})"
        first = repeat == 0
        recording = (
            args.profile / f"{key}.txt" if args.profile and first and server is api else None
        )
        # the load process spreads its connections over the server's workers (load.spread)
        spec = {**base, **spec, "server_group": server.process.pid}
        if key != "login":
            spec["duration"] = args.duration / args.repeats
        result = run_phase(title, spec, server, profile_to=recording)
        results.repeats[key].append(result)
        if key == "refresh":  # the next repeat goes on with each chain's last token
            chains = result.pop("last_tokens")
            phases[key][1]["streams"][0]["tokens"] = [token for token in chains if token]
        for each in (api, bare):
            if not each.alive():
                raise each.failure(f"died during {title!r}")
    return results


THROUGHPUT_PHASES = ["bare", "es256", "parts", "me", "refresh", "introspect"]
PAIRED_PHASES = ["idle", "storm"]
BARE_PHASES = ("bare", "es256", "parts")


def _fixed(name: str, requests: list[bytes]) -> dict[str, Any]:
    return {"name": name, "kind": "fixed", "requests": requests}


def _login(name: str, users: list[list[str]], clients: int, first_turn: int) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "login",
        "users": users,
        "clients": clients,
        "first_turn": first_turn,
    }


# --- the report ----------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def _errors(summary: dict[str, Any]) -> str:
    errors: dict[str, int] = summary["errors"]
    if not errors:
        return "0"
    return ", ".join(f"{count} {kind}" for kind, count in sorted(errors.items()))


def _cores(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def ratios(bound: BcryptBound, results: Results) -> dict[str, float]:
    return {
        "login_to_bcrypt_bound": _ratio(results.stream("login")["rate"], bound.bound),
        "me_to_bare": results.paired("me", "bare"),
        "refresh_to_bare": results.paired("refresh", "bare"),
        "introspect_to_bare": results.paired("introspect", "bare"),
        "es256_route_to_bare": results.paired("es256", "bare"),
        "parts_route_to_bare": results.paired("parts", "bare"),
        "refresh_to_parts_route": results.paired("refresh", "parts"),
        "storm_p99_to_idle_p99": results.paired("storm", "idle", key="p99", index=1),
    }


@dataclass(frozen=True)
class Context:
    args: argparse.Namespace
    bcrypt: BcryptBound
    postgres_version: str
    redis_version: str
    started: datetime
    load_before: tuple[float, float, float]
    elapsed: float
    mails: int
    uvicorn_loop: str
    uvicorn_http: str


def report(ctx: Context, results: Results) -> None:
    args, bound = ctx.args, ctx.bcrypt
    load_after = os.getloadavg()
    print()
    print(f"authapi benchmark  {ctx.started:%Y-%m-%d %H:%M:%S} UTC  ({ctx.elapsed:.0f} s wall)")
    print("=" * 100)
    print(f"machine    {bound.cores} cores ({cpu_model()}), {platform.platform()}")
    print(f"           Python {platform.python_version()} ({sys.executable})")
    print(
        f"           load average {ctx.load_before[0]:.2f} before, {load_after[0]:.2f} after "
        "(other work on the machine skews every number)"
    )
    print("versions   " + ", ".join(f"{name} {version_of(name)}" for name in VERSIONS[:7]))
    print("           " + ", ".join(f"{name} {version_of(name)}" for name in VERSIONS[7:]))
    print(f"command    {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"services   PostgreSQL {ctx.postgres_version}, Redis {ctx.redis_version} (loopback)")
    print(
        f"settings   bcrypt cost {args.rounds}, {args.workers} uvicorn worker(s) per server "
        f"(loop {ctx.uvicorn_loop}, http {ctx.uvicorn_http}), "
        f"{bound.cores} bcrypt threads per worker (AUTHAPI_HASH_WORKERS default)"
    )
    print(
        f"           {args.duration:g} s measured per phase in {args.repeats} repeat(s) (run in "
        f"turn, each after {args.warmup:g} s warm-up; rates, latencies and ratios are medians "
        f"of the repeats'), concurrency {args.concurrency}, {args.users} users, "
        f"load generator: 1 process, {results.client_loop} event loop"
    )
    print()
    print(
        f"bcrypt bound: one hash at cost {args.rounds} = {bound.one_hash * 1000:.1f} ms "
        f"(median of {bound.samples}); bound = {bound.cores} cores / "
        f"{bound.one_hash:.4f} s = {bound.bound:.2f} logins/s"
    )
    print(
        f"              (for context: {bound.cores} threads hashing at once measured "
        f"{bound.threaded_rate:.2f} hashes/s)"
    )
    print()
    c = args.concurrency
    header = (
        f"{'measurement':<44}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server':>8}{'client':>8}{'µs/req':>8}  errors"
    )
    print(header)
    print(f"{'':<71}{'CPU (cores)':>16}{'server':>8}")
    print("-" * 100)
    rows = [
        ("bare", 0, f"bare FastAPI route (c={c})"),
        ("es256", 0, f"FastAPI route verifying ES256 (c={c})"),
        ("parts", 0, f"FastAPI route doing a refresh's parts (c={c})"),
        ("me", 0, f"GET /users/me (c={c})"),
        ("refresh", 0, f"POST /auth/refresh (c={c} rotating chains)"),
        ("introspect", 0, f"POST /auth/introspect (c={c})"),
        ("login", 0, f"POST /auth/login (c={c}, {args.users} users)"),
        ("idle", 0, "GET /users/me idle (c=1)"),
        ("storm", 1, "GET /users/me during a login storm (c=1)"),
        ("storm", 0, f"  the storm: POST /auth/login (c={c})"),
    ]
    for phase, index, label in rows:
        summary = results.stream(phase, index)
        cpu = ""
        if index == len(results.phases[phase]["streams"]) - 1:  # once per phase
            server_cpu = results.phases[phase]["server_cpu"]
            # the server's CPU per request (of a phase of one kind): what a second worker
            # or core multiplies
            per_request = math.nan
            if index == 0:
                per_request = _ratio(server_cpu, summary["rate"]) * 1e6
            cpu = (
                f"{_cores(server_cpu):>8}{_cores(results.phases[phase]['client_cpu']):>8}"
                f"{'-' if math.isnan(per_request) else f'{per_request:.0f}':>8}"
            )
        print(
            f"{label:<44}{summary['rate']:>9.1f}{_ms(summary['p50']):>9}"
            f"{_ms(summary['p99']):>9}{cpu:>24}  {_errors(summary)}"
        )
    print()
    idle, storm = results.stream("idle"), results.stream("storm", 1)
    figures = ratios(bound, results)
    login_ratio, p99_ratio = figures["login_to_bcrypt_bound"], figures["storm_p99_to_idle_p99"]
    print(f"{'ratio':<52}{'value':>8}   SPEC.md target")
    print("-" * 100)
    print(f"{'login throughput / bcrypt bound':<52}{login_ratio:>8.2f}   >= 0.90 (within 10%)")
    rows_of_goals = [
        ("route verifying ES256 / bare route (reference)", "es256_route_to_bare", "-"),
        ("GET /users/me throughput / bare route", "me_to_bare", ">= 0.35 (issue 18)"),
        ("POST /auth/refresh throughput / bare route", "refresh_to_bare", ">= 0.30 (issue 18)"),
        ("route doing a refresh's parts / bare route (reference)", "parts_route_to_bare", "-"),
        ("POST /auth/refresh / route doing its parts", "refresh_to_parts_route", "-"),
        (
            "POST /auth/introspect throughput / bare route",
            "introspect_to_bare",
            ">= 0.35 (issue 18)",
        ),
    ]
    for label, name, goal in rows_of_goals:
        print(f"{label:<52}{figures[name]:>8.2f}   {goal}")
    print(
        f"{'GET /users/me p99, login storm / idle':<52}{p99_ratio:>8.2f}   "
        f"a few times at most ({_ms(storm['p99'])} ms vs {_ms(idle['p99'])} ms)"
    )
    if ctx.args.profile is not None:
        print_profiles(ctx.args.profile, results)
    notes = []
    if args.workers > 1:
        spread = ", ".join(
            f"{phase} {'/'.join(map(str, summary['connections_per_worker']))}"
            for phase, summary in results.phases.items()
        )
        notes.append(f"connections per worker process (load.spread): {spread}")
    if results.undrained:
        notes.append(f"{results.undrained} request(s) still in flight at a phase's drain deadline")
    if bound.threaded_rate < 0.8 * bound.bound:
        notes.append(
            f"{bound.cores} threads hashed only {bound.threaded_rate / bound.bound:.0%} of the "
            "bound: the cores were not free (other work running), so the login ratio is low"
        )
    if ctx.mails:
        notes.append(
            f"the SMTP sink received {ctx.mails} message(s) (verification at registration)"
        )
    for note in notes:
        print(f"note: {note}")


def print_profiles(directory: Path, results: Results) -> None:
    """Where authapi's CPU went in each profiled phase, per request (bench/cpu_profile.py)."""
    for phase in ("me", "refresh", "introspect"):
        recording = directory / f"{phase}.txt"
        if not recording.exists():
            continue
        summary = results.stream(phase)
        per_request = results.phases[phase]["server_cpu"] / summary["rate"]
        print()
        print(f"where {phase!r} spends its {per_request * 1e6:.0f} µs of CPU per request:")
        print(cpu_profile.report(cpu_profile.breakdown(recording), per_request))


def _finite(value: Any) -> Any:
    """`value` with NaN (a phase without samples) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def write_json(path: Path, ctx: Context, results: Results) -> None:
    """What `report` prints, as data (`--json`)."""
    options = {name: value for name, value in vars(ctx.args).items() if name != "json"}
    numbers = {
        "measured_at": ctx.started.isoformat(timespec="seconds"),
        "elapsed_seconds": ctx.elapsed,
        "cores": ctx.bcrypt.cores,
        "cpu_model": cpu_model(),
        "options": {
            name: masked(value) if name.endswith(("_dsn", "_url")) else value
            for name, value in options.items()
        },
        "uvicorn": {"loop": ctx.uvicorn_loop, "http": ctx.uvicorn_http},
        "bcrypt": {
            "rounds": ctx.bcrypt.rounds,
            "one_hash_seconds": ctx.bcrypt.one_hash,
            "bound": ctx.bcrypt.bound,
            "threaded_rate": ctx.bcrypt.threaded_rate,
        },
        "phases": results.phases,
        # each repeat's rate and p99 per stream, in the order they ran
        "repeats": {
            phase: [
                [{"rate": stream["rate"], "p99": stream["p99"]} for stream in run["streams"]]
                for run in runs
            ]
            for phase, runs in results.repeats.items()
        },
        "ratios": ratios(ctx.bcrypt, results),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(numbers), indent=2) + "\n", encoding="utf-8")


# --- the run -------------------------------------------------------------------------
def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    load_before = os.getloadavg()
    cores = os.cpu_count() or 1
    run_id = uuid.uuid4().hex[:10]
    print(f"authapi benchmark {run_id}: bcrypt cost {args.rounds}, {args.duration:g} s per phase")

    print(f"  timing bcrypt at cost {args.rounds} in this process ...", flush=True)
    bound = measure_bcrypt(args.rounds, cores)

    workdir = Path(tempfile.mkdtemp(prefix=f"authapi-bench-{run_id}-"))
    stack.callback(quietly, f"temporary folder {workdir}", lambda: shutil.rmtree(workdir))
    prefix = f"authapi-bench-{run_id}"
    print("  preparing PostgreSQL, Redis and an SMTP sink ...", flush=True)
    redis_version = open_redis_space(args.redis_url, prefix, stack)
    database_url, postgres_version = create_database(
        args.postgres_dsn, f"authapi_bench_{run_id}", stack
    )
    sink, smtp_port = start_smtp_sink(stack)

    api_port, bare_port = free_port(), free_port()
    env = clean_environment()
    api_env = {
        **service_env(
            database_url=database_url,
            redis_url=args.redis_url,
            prefix=prefix,
            smtp_port=smtp_port,
            rounds=args.rounds,
        ),
        "AUTHAPI_DATA_DIR": str(workdir / "data"),
        "AUTHAPI_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
    }
    print(f"  starting authapi ({args.workers} worker(s)) and the bare app ...", flush=True)
    workers = ["--workers", str(args.workers)]
    api_command = [sys.executable, "-m", "authapi", "serve", "--port", str(api_port), *workers]
    bare_script = str(BENCH_DIR / "bare_app.py")
    bare_command = [sys.executable, bare_script, "--port", str(bare_port), *workers]
    api = start_server(
        "authapi",
        api_command,
        port=api_port,
        env=api_env,
        workdir=workdir,
        stack=stack,
    )
    bare = start_server(
        "bare app",
        bare_command,
        port=bare_port,
        env={**env, "BARE_REDIS_URL": args.redis_url, "BARE_REDIS_PREFIX": f"{prefix}:bare"},
        workdir=workdir,
        stack=stack,
    )
    wait_until_up(api, "/readyz")
    wait_until_up(bare, "/ping")

    users = [(f"bench-{run_id}-{number}@example.com", PASSWORD) for number in range(args.users)]
    print(
        f"  registering {len(users)} users and signing in {args.concurrency} sessions ...",
        flush=True,
    )
    try:
        registering = load.register_users(
            api.port, users, concurrency=args.concurrency, first_turn=0
        )
        asyncio.run(asyncio.wait_for(registering, setup_deadline(len(users), bound)))
        signing_in = load.login_users(
            api.port, users[: args.concurrency], concurrency=args.concurrency, first_turn=len(users)
        )
        sessions = asyncio.run(
            asyncio.wait_for(signing_in, setup_deadline(args.concurrency, bound))
        )
        me = load.get(api.port, "/users/me", token=sessions[0]["access_token"])
        status, body = asyncio.run(asyncio.wait_for(me, 10))
    except (load.HttpError, OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
        raise api.failure(f"setup requests failed: {type(exc).__name__}: {exc}") from None
    if status != 200:
        raise api.failure(f"GET /users/me answered {status}: {body[:200]!r}")
    introspected = asyncio.run(
        asyncio.wait_for(
            load.send(api.port, introspection_request(api.port, sessions[0]["access_token"])), 10
        )
    )
    if introspected[0] != 200 or b'"active":true' not in introspected[1]:
        raise api.failure(f"POST /auth/introspect answered {introspected[0]}: {introspected[1]!r}")
    status, body = asyncio.run(asyncio.wait_for(load.get(bare.port, "/token"), 10))
    if status != 200:
        raise bare.failure(f"GET /token answered {status}: {body[:200]!r}")
    bare_token = json.loads(body)["access_token"]

    print("measuring:", flush=True)
    results = measure(
        args, api=api, bare=bare, users=users, sessions=sessions, bare_token=bare_token
    )
    ctx = Context(
        args=args,
        bcrypt=bound,
        postgres_version=postgres_version,
        redis_version=redis_version,
        started=started_wall,
        load_before=load_before,
        elapsed=time.monotonic() - started,
        mails=sink.received,
        uvicorn_loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        uvicorn_http="httptools" if importlib.util.find_spec("httptools") else "h11",
    )
    report(ctx, results)
    if args.json is not None:
        write_json(args.json, ctx, results)


def hash_seconds(rounds: int) -> float:
    """A pessimistic guess of one bcrypt hash's time before it is measured (~0.3 s at 12)."""
    return 0.4 * 2.0 ** (rounds - 12)


def setup_deadline(requests: int, bound: BcryptBound) -> float:
    """Seconds allowed for `requests` bcrypt-bound requests (register, login) at set-up."""
    return 30 + 4 * requests / bound.bound


def wall_budget(args: argparse.Namespace) -> int:
    """A generous upper bound on the whole run; the watchdog ends it (and cleans up) past it."""
    cores = os.cpu_count() or 1
    hashing = hash_seconds(args.rounds)
    expected = (
        30  # start and stop two servers, create and drop the database
        + 10 * hashing  # timing bcrypt
        + (args.users + args.concurrency) * hashing / cores  # registering and signing in
        # the phases, each repeat with its warm-up (+ spawning a load process)
        + 9 * (args.repeats * (args.warmup + 1) + args.duration)
        + 2 * args.concurrency * hashing / cores  # logins in flight at the end of a phase
    )
    return int(1.5 * expected + 60)


def _raise_interrupted(signum: int, _frame: object) -> NoReturn:
    raise Interrupted("terminated" if signum == signal.SIGTERM else "wall-time budget exceeded")


def guarded(body: Callable[[contextlib.ExitStack], int | None], *, name: str, budget: int) -> int:
    """Run `body` with a cleanup stack that always closes, under a wall-time watchdog.

    Exit codes: `body`'s (0 if it returns None), 2 on SetupError, 130 on Ctrl-C, 3 on
    SIGTERM or the watchdog (this bench and bench/soak.py).
    """
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGALRM, _raise_interrupted)
    signal.alarm(budget)
    stack = contextlib.ExitStack()
    try:
        try:
            return body(stack) or 0
        finally:
            # cleanup must not be cut short: no more Ctrl-C, SIGTERM or watchdog from here
            signal.alarm(0)
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            print("cleaning up ...", flush=True)
            stack.close()
    except SetupError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted) as exc:
        reason = str(exc) or "interrupted"
        print(f"{name}: {reason}; cleaned up", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 3


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded(lambda stack: run(args, stack), name="bench", budget=wall_budget(args))


if __name__ == "__main__":
    sys.exit(main())
