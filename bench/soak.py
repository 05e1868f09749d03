"""authapi soak with faults: `.venv/bin/python bench/soak.py [--duration 300]`.

Two `authapi serve --workers 2` instances share one PostgreSQL database and one Redis
key space (created for the run and removed afterwards, as bench/run.py does), behind a
client that plays the load balancer: it spreads requests over both and, when an
instance does not answer, sends the request to the other. Virtual users, each from
a client address of its own, sign in and then read `/users/me`, refresh, sign out
and in again, probe tokens they signed out, and now and then send one refresh token
to both instances at once. Meanwhile, at fixed moments:

1. a worker of instance A is killed (SIGKILL; uvicorn starts a new one),
2. instance B is killed whole and started again 5 s later,
3. Redis closes every connection of the service (`CLIENT KILL`),
4. PostgreSQL ends every backend of the service (`pg_terminate_backend`).

A request cut off by a fault (a connection reset, a refused connection) is sent again,
as a client does; a 5xx is retried too, and counted. At the end it reports, from the
client's side:

- lost sessions: a session that was never signed out whose token was refused;
- revoked tokens accepted: a token of a signed-out session that was let in;
- forks: concurrent refreshes of one token that answered two different successors;
- 5xx outside the moment of a fault (a fault's moment: from it to FAULT_WINDOW_SECONDS
  after it ends), and all 5xx.

Loopback only, bounded in time (a watchdog ends the run and cleans up), not part of CI.
Exit code 0 when every count above is 0, 1 otherwise, 2 when setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from run import (
    PASSWORD,
    Server,
    create_database,
    free_port,
    guarded,
    open_redis_space,
    quietly,
    service_env,
    start_server,
    start_smtp_sink,
    wait_until_up,
)

FAULT_WINDOW_SECONDS = 2.0
RESTART_AFTER_SECONDS = 5.0
RETRY_PAUSE_SECONDS = 0.2
MAX_ATTEMPTS = 50  # per request: ~10 s of retries, longer than any fault lasts
CUT_OFF = (httpx.TransportError,)  # refused, reset, closed mid-answer, timed out


# --- what happened -----------------------------------------------------------------------
@dataclass
class Fault:
    name: str
    started: float
    ended: float = 0.0
    note: str = ""


@dataclass
class Tally:
    started: float = field(default_factory=time.monotonic)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[tuple[float, str, int]] = field(default_factory=list)
    cut_off: int = 0
    failovers: int = 0
    lost_sessions: list[str] = field(default_factory=list)
    revoked_accepted: list[str] = field(default_factory=list)
    fork_checks: int = 0
    forks: int = 0
    sessions_started: int = 0
    sessions_ended: int = 0
    revoked_probes: int = 0
    faults: list[Fault] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.started

    def outside_faults(self) -> list[tuple[float, str, int]]:
        return [
            error
            for error in self.server_errors
            if not any(
                fault.started <= error[0] <= fault.ended + FAULT_WINDOW_SECONDS
                for fault in self.faults
            )
        ]


# --- the balancer ----------------------------------------------------------------------
class Balancer:
    """Round robin over the instances; an instance that does not answer is skipped."""

    def __init__(self, ports: list[int], tally: Tally) -> None:
        self.clients = [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) for port in ports
        ]
        self.turn = 0
        self.tally = tally

    async def send(
        self, method: str, path: str, *, ip: str, instance: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The first answer that is not a 5xx (a 5xx or a cut-off request is sent again)."""
        headers = {"X-Forwarded-For": ip, **kwargs.pop("headers", {})}
        for attempt in range(MAX_ATTEMPTS):
            if instance is not None and attempt == 0:
                index = instance
            else:
                self.turn += 1
                index = self.turn % len(self.clients)
            try:
                response = await self.clients[index].request(
                    method, path, headers=headers, **kwargs
                )
            except CUT_OFF:
                self.tally.cut_off += 1
                self.tally.failovers += 1
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            self.tally.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.tally.server_errors.append((self.tally.now(), path, response.status_code))
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            return response
        raise RuntimeError(f"{method} {path}: no answer after {MAX_ATTEMPTS} attempts")

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


# --- a virtual user --------------------------------------------------------------------
@dataclass
class Session:
    access: str
    refresh: str


class User:
    def __init__(self, number: int, run_id: str, balancer: Balancer, tally: Tally) -> None:
        self.email = f"soak-{run_id}-{number}@example.com"
        self.ip = f"2001:db8:{number:x}::1"
        self.api = balancer
        self.tally = tally
        self.session: Session | None = None
        self.revoked: list[Session] = []

    async def sign_up(self) -> None:
        response = await self.api.send(
            "POST", "/auth/register", ip=self.ip, json={"email": self.email, "password": PASSWORD}
        )
        assert response.status_code == 202, response.text

    async def sign_in(self) -> None:
        response = await self.api.send(
            "POST",
            "/auth/login",
            ip=self.ip,
            json={"email": self.email, "password": PASSWORD, "refresh_token_delivery": "body"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        self.session = Session(body["access_token"], body["refresh_token"])
        self.tally.sessions_started += 1

    def lost(self, what: str, response: httpx.Response) -> None:
        self.tally.lost_sessions.append(f"{self.email} {what}: {response.text[:120]}")
        self.session = None

    async def read(self) -> None:
        assert self.session is not None
        response = await self.api.send(
            "GET",
            "/users/me",
            ip=self.ip,
            headers={"Authorization": f"Bearer {self.session.access}"},
        )
        if response.status_code != 200:
            self.lost("GET /users/me", response)

    async def refresh(self) -> None:
        assert self.session is not None
        response = await self.api.send(
            "POST", "/auth/refresh", ip=self.ip, json={"refresh_token": self.session.refresh}
        )
        if response.status_code != 200:
            self.lost("refresh", response)
            return
        body = response.json()
        self.session = Session(body["access_token"], body["refresh_token"])

    async def refresh_on_both(self) -> None:
        """Two tabs refresh with one token at once, one on each instance: one successor."""
        assert self.session is not None
        both = await asyncio.gather(
            *(
                self.api.send(
                    "POST",
                    "/auth/refresh",
                    ip=self.ip,
                    instance=instance,
                    json={"refresh_token": self.session.refresh},
                )
                for instance in (0, 1)
            )
        )
        self.tally.fork_checks += 1
        successors = {r.json()["refresh_token"] for r in both if r.status_code == 200}
        if len(successors) > 1:
            self.tally.forks += 1
        if any(response.status_code != 200 for response in both):
            self.lost("concurrent refresh", next(r for r in both if r.status_code != 200))
            return
        body = both[0].json()
        self.session = Session(body["access_token"], body["refresh_token"])

    async def sign_out(self) -> None:
        assert self.session is not None
        response = await self.api.send(
            "POST", "/auth/logout", ip=self.ip, json={"refresh_token": self.session.refresh}
        )
        assert response.status_code == 204, response.text
        self.revoked.append(self.session)
        self.session = None
        self.tally.sessions_ended += 1

    async def probe_revoked(self) -> None:
        ended = random.choice(self.revoked)
        self.tally.revoked_probes += 1
        me = await self.api.send(
            "GET", "/users/me", ip=self.ip, headers={"Authorization": f"Bearer {ended.access}"}
        )
        refreshed = await self.api.send(
            "POST", "/auth/refresh", ip=self.ip, json={"refresh_token": ended.refresh}
        )
        for what, response in (("access token", me), ("refresh token", refreshed)):
            if response.status_code == 200:
                self.tally.revoked_accepted.append(f"{self.email} {what}")

    async def live(self, until: float) -> None:
        while time.monotonic() < until:
            if self.session is None:
                await self.sign_in()
            roll = random.random()
            if roll < 0.45:
                await self.read()
            elif roll < 0.80:
                await self.refresh()
            elif roll < 0.87:
                await self.refresh_on_both()
            elif roll < 0.92:
                await self.sign_out()
            elif self.revoked:
                await self.probe_revoked()
            await asyncio.sleep(random.uniform(0.01, 0.05))


# --- faults ---------------------------------------------------------------------------------
def workers_of(pid: int) -> list[int]:
    """The uvicorn workers under a supervisor (not multiprocessing's resource tracker)."""
    found = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    workers = []
    for child in map(int, found):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
    return workers


async def kill_a_worker(server: Server, tally: Tally) -> None:
    fault = Fault("a worker of instance A killed (SIGKILL)", tally.now())
    tally.faults.append(fault)
    workers = workers_of(server.process.pid)
    victim = random.choice(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = workers_of(server.process.pid)
        if victim not in now and len(now) >= len(workers):
            break
    fault.ended = tally.now()
    fault.note = f"uvicorn started a new worker process after {fault.ended - fault.started:.1f} s"


async def kill_and_restart(restart: Any, server: Server, tally: Tally) -> Server:
    fault = Fault("instance B killed (SIGKILL) and started again", tally.now())
    tally.faults.append(fault)
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(5)
    await asyncio.sleep(RESTART_AFTER_SECONDS)
    replacement: Server = await asyncio.to_thread(restart)
    fault.ended = tally.now()
    fault.note = f"down {fault.ended - fault.started:.1f} s"
    return replacement


async def drop_redis_connections(redis_url: str, prefix: str, tally: Tally) -> None:
    import redis.asyncio

    fault = Fault("Redis closed every connection of the service (CLIENT KILL)", tally.now())
    tally.faults.append(fault)
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        ours = [c["id"] for c in clients if c.get("name", "").startswith(f"authapi:{prefix}")]
        for client_id in ours:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()
    fault.ended = tally.now()
    fault.note = f"{len(ours)} connections"


async def drop_postgres_connections(admin_dsn: str, database: str, tally: Tally) -> None:
    import asyncpg

    fault = Fault("PostgreSQL ended every backend of the service", tally.now())
    tally.faults.append(fault)
    admin = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = 'authapi'",
            database,
        )
    finally:
        await admin.close()
    fault.ended = tally.now()
    fault.note = f"{ended} backends"


# --- the run ------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/soak.py", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (300)")
    parser.add_argument("--users", type=int, default=40, help="virtual users (40)")
    parser.add_argument("--rounds", type=int, default=8, help="bcrypt cost (8)")
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get(
            "AUTHAPI_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("AUTHAPI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args(argv)
    if not 30 <= args.duration <= 3600 or not 1 <= args.users <= 500:
        parser.error("--duration must be within 30..3600 s and --users within 1..500")
    return args


async def soak(
    args: argparse.Namespace, instances: list[Server], restart: Any, **where: str
) -> Tally:
    tally = Tally()
    balancer = Balancer([server.port for server in instances], tally)
    run_id = where["run_id"]
    users = [User(number, run_id, balancer, tally) for number in range(args.users)]
    try:
        await asyncio.gather(*(user.sign_up() for user in users))
        tally.started = time.monotonic()
        until = tally.started + args.duration

        async def faults() -> None:
            at = args.duration
            await asyncio.sleep(0.2 * at)
            await kill_a_worker(instances[0], tally)
            await asyncio.sleep(max(0.0, 0.35 * at - tally.now()))
            instances[1] = await kill_and_restart(restart, instances[1], tally)
            await asyncio.sleep(max(0.0, 0.55 * at - tally.now()))
            await drop_redis_connections(args.redis_url, where["prefix"], tally)
            await asyncio.sleep(max(0.0, 0.75 * at - tally.now()))
            await drop_postgres_connections(args.postgres_dsn, where["database"], tally)

        await asyncio.gather(*(user.live(until) for user in users), faults())
    finally:
        await balancer.close()
    return tally


def report(args: argparse.Namespace, tally: Tally, elapsed: float) -> int:
    total = sum(tally.statuses.values())
    print(f"\nsoak: {args.users} users, {args.duration:g} s, 2 instances x 2 workers")
    print(f"  requests answered       {total}  ({total / args.duration:.0f}/s)")
    print(f"  by status               {dict(sorted(tally.statuses.items()))}")
    print(f"  cut off and resent      {tally.cut_off}")
    print(f"  sessions started/ended  {tally.sessions_started}/{tally.sessions_ended}")
    print("  faults:")
    for fault in tally.faults:
        in_window = [
            e
            for e in tally.server_errors
            if fault.started <= e[0] <= fault.ended + FAULT_WINDOW_SECONDS
        ]
        print(
            f"    {fault.started:6.1f} s  {fault.name}: {fault.note}; "
            f"{len(in_window)} 5xx in its window"
        )
    outside = tally.outside_faults()
    rows = [
        ("lost sessions", len(tally.lost_sessions)),
        ("revoked tokens accepted", len(tally.revoked_accepted)),
        (f"forks (of {tally.fork_checks} concurrent refreshes)", tally.forks),
        ("5xx outside a fault's moment", len(outside)),
    ]
    for name, value in rows:
        print(f"  {name:<40} {value}")
    print(f"  5xx in all                               {len(tally.server_errors)}")
    print(f"  revoked-token probes                     {tally.revoked_probes}")
    for line in [*tally.lost_sessions[:5], *tally.revoked_accepted[:5], *map(str, outside[:5])]:
        print(f"    ! {line}")
    print(f"  (whole run {elapsed:.0f} s)")
    return 0 if all(value == 0 for _, value in rows) else 1


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:10]
    workdir = Path(tempfile.mkdtemp(prefix=f"authapi-soak-{run_id}-"))
    stack.callback(quietly, f"temporary folder {workdir}", lambda: shutil.rmtree(workdir))
    prefix, database = f"authapi-soak-{run_id}", f"authapi_soak_{run_id}"
    print(f"authapi soak {run_id}: preparing PostgreSQL, Redis and an SMTP sink ...", flush=True)
    open_redis_space(args.redis_url, prefix, stack)
    database_url, _ = create_database(args.postgres_dsn, database, stack)
    _, smtp_port = start_smtp_sink(stack)

    env = service_env(
        database_url=database_url,
        redis_url=args.redis_url,
        prefix=prefix,
        smtp_port=smtp_port,
        rounds=args.rounds,
    )

    def launch(name: str, port: int) -> Server:
        command = [sys.executable, "-m", "authapi", "serve", "--port", str(port), "--workers", "2"]
        server = start_server(
            name,
            command,
            port=port,
            env={**env, "AUTHAPI_DATA_DIR": str(workdir / name)},
            workdir=workdir,
            stack=stack,
        )
        wait_until_up(server, "/readyz")
        return server

    ports = [free_port(), free_port()]
    print("  starting instances A and B (2 workers each) ...", flush=True)
    instances = [launch("A", ports[0]), launch("B", ports[1])]
    print(f"  {args.users} users for {args.duration:g} s, faults at 20/35/55/75 % ...", flush=True)
    tally = asyncio.run(
        soak(
            args,
            instances,
            lambda: launch("B", ports[1]),
            run_id=run_id,
            prefix=prefix,
            database=database,
        )
    )
    return report(args, tally, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the watchdog's budget: setup, the load and cleanup
    return guarded(lambda stack: run(args, stack), name="soak", budget=int(args.duration + 300))


if __name__ == "__main__":
    sys.exit(main())
