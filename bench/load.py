"""A lean HTTP/1.1 keep-alive load generator for the benchmark.

Raw asyncio streams: each virtual client owns one connection, writes a request
(prebuilt where the request never changes), reads the status line and headers,
then exactly Content-Length bytes (or the chunks). Far lighter than a full
client such as httpx, so on a 2-core machine the client takes as little CPU
away from the server as possible. The same code measures the bare FastAPI route
and the authapi endpoints, so their ratio compares like with like.

`run_phase(spec, conn)` is the entry point of the load process (multiprocessing,
so the client never shares the server's GIL): it runs the streams of one phase
for warm-up + duration seconds (sending "start" and "end" when the measured window
opens and closes), drains in-flight requests under a deadline and sends back a
summary per stream. The setup helpers (`register_users`,
`login_users`, `get`) are used by bench/run.py in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
USER_AGENT = "authapi-bench"
DRAIN_SECONDS = 20.0  # in-flight requests (queued logins) get this long to finish
RECONNECT_PAUSE_SECONDS = 0.05


class HttpError(Exception):
    """A response that the setup code did not expect."""


# --- one keep-alive connection --------------------------------------------------------
class Connection11:
    """One HTTP/1.1 keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._reader, self._writer = await asyncio.open_connection(HOST, self.port)
        return self._reader, self._writer

    async def reopen(self) -> None:
        self.close()
        await self._open()

    @property
    def local_port(self) -> int | None:
        """This end's port while connected: what the server's end of it is found by."""
        if self._writer is None:
            return None
        return int(self._writer.get_extra_info("sockname")[1])

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one complete request and return (status, body)."""
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            reader, writer = await self._open()
        try:
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            length = _header_int(lower, b"\r\ncontent-length:")
            if length is not None:
                body = await reader.readexactly(length) if length else b""
            elif b"\r\ntransfer-encoding: chunked" in lower:
                body = await _read_chunked(reader)
            else:
                body = b""
            if b"\r\nconnection: close" in lower:
                self.close()
            return status, body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _header_int(lower_head: bytes, name: bytes) -> int | None:
    start = lower_head.find(name)
    if start < 0:
        return None
    start += len(name)
    end = lower_head.find(b"\r\n", start)
    return int(lower_head[start:end])


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers from uvicorn
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


# --- requests ----------------------------------------------------------------------
def build_request(
    method: str,
    path: str,
    port: int,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", f"User-Agent: {USER_AGENT}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def forwarded_ip(number: int) -> str:
    """A distinct client address per request (the service trusts 127.0.0.1 as a proxy),
    so per-IP rate limits see many clients, as behind a real load balancer."""
    number %= 1 << 24
    return f"10.{number >> 16}.{(number >> 8) & 255}.{number & 255}"


def login_request(port: int, email: str, password: str, number: int) -> bytes:
    body = json.dumps(
        {"email": email, "password": password, "refresh_token_delivery": "body"}
    ).encode()
    headers = {"X-Forwarded-For": forwarded_ip(number)}
    return build_request("POST", "/auth/login", port, body=body, headers=headers)


def refresh_request(port: int, refresh_token: str) -> bytes:
    body = json.dumps({"refresh_token": refresh_token}).encode()
    return build_request("POST", "/auth/refresh", port, body=body)


def bearer_get(port: int, path: str, access_token: str) -> bytes:
    return build_request("GET", path, port, headers={"Authorization": f"Bearer {access_token}"})


# --- statistics ----------------------------------------------------------------------
@dataclass
class Stream:
    """The requests of one kind in a phase, and what happened to them in the window."""

    name: str
    completed: int = 0  # successful responses that finished inside the window
    latencies: list[float] = field(default_factory=list)  # of requests sent and done inside
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self, window: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "name": self.name,
            "completed": self.completed,
            "window": window,
            "rate": self.completed / window if window > 0 else 0.0,
            "samples": len(ordered),
            "p50": percentile(ordered, 0.50),
            "p90": percentile(ordered, 0.90),
            "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else math.nan,
            "errors": dict(self.errors),
        }


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    def record(self, stream: Stream, sent: float, done: float, ok: bool, status: int) -> None:
        if not self.start <= done <= self.end:
            return
        if not ok:
            stream.errors[f"HTTP {status}"] += 1
            return
        stream.completed += 1
        if sent >= self.start:
            stream.latencies.append(done - sent)


# --- virtual clients -----------------------------------------------------------------
async def _fixed_client(
    connection: Connection11, request: bytes, stream: Stream, window: Window
) -> None:
    """The same request again and again (bare route, GET /users/me)."""
    clock = time.perf_counter
    try:
        while (sent := clock()) < window.end:
            try:
                status, _ = await connection.request(request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                stream.errors[type(exc).__name__] += 1
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                continue
            window.record(stream, sent, clock(), status == 200, status)
    finally:
        connection.close()


async def _refresh_client(
    connection: Connection11, chain: list[str | None], stream: Stream, window: Window
) -> None:
    """One session's refresh chain: every request presents the token the previous one
    returned, so each is a real check-and-rotate (never the grace-replay path). `chain`
    holds the token to present next (None once the chain broke), for the next repeat."""
    port = connection.port
    clock = time.perf_counter
    try:
        while (sent := clock()) < window.end and (token := chain[0]) is not None:
            try:
                status, body = await connection.request(refresh_request(port, token))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                # the token may have rotated without its answer: this chain is over too
                stream.errors[type(exc).__name__] += 1
                chain[0] = None
                return
            window.record(stream, sent, clock(), status == 200, status)
            if status != 200:
                stream.errors["chain broken"] += 1
                chain[0] = None
                return  # this session's chain is over; never replay an old token
            chain[0] = json.loads(body)["refresh_token"]
    finally:
        connection.close()


async def _login_client(
    connection: Connection11,
    users: list[tuple[str, str]],
    turns: Iterator[int],
    stream: Stream,
    window: Window,
) -> None:
    """Sign in as the next user of the shared rotation, again and again."""
    port = connection.port
    clock = time.perf_counter
    try:
        while (sent := clock()) < window.end:
            number = next(turns)
            email, password = users[number % len(users)]
            try:
                status, _ = await connection.request(login_request(port, email, password, number))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                stream.errors[type(exc).__name__] += 1
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                continue
            window.record(stream, sent, clock(), status == 200, status)
    finally:
        connection.close()


# --- spreading connections over the workers ------------------------------------------
SPREAD_ATTEMPTS = 60
ACCEPT_WAIT_SECONDS = 3.0


async def spread(connections: list[Connection11], port: int, group: int, workers: int) -> list[int]:
    """Reopen connections until no worker holds more than its share; the connections each
    worker holds, most first.

    uvicorn's workers accept from one shared socket, so a phase's keep-alive connections
    can all land on one of them, and `--workers 2` would then measure one worker. Which
    process holds the server's end of a connection is read from /proc (Linux): the
    socket's inode in /proc/net/tcp, found among the processes of the server's group."""
    share = math.ceil(len(connections) / workers)
    counts: Counter[int] = Counter()
    for _ in range(SPREAD_ATTEMPTS):
        owners = await _owners(connections, port, group)
        counts = Counter(owners)
        if workers <= 1 or max(counts.values()) <= share:
            break
        held: Counter[int] = Counter()
        surplus = []
        for connection, owner in zip(connections, owners, strict=True):
            held[owner] += 1
            if held[owner] > share:
                surplus.append(connection)
        await asyncio.gather(*(connection.reopen() for connection in surplus))
    return sorted(counts.values(), reverse=True)


async def _owners(connections: list[Connection11], port: int, group: int) -> list[int]:
    """The pid of the server process that accepted each connection (waiting for accepts)."""
    deadline = time.monotonic() + ACCEPT_WAIT_SECONDS
    while True:
        inodes = _server_ends(port)
        holders = _socket_holders(group)
        owners = [holders.get(inodes.get(c.local_port or 0, -1), 0) for c in connections]
        if all(owners) or time.monotonic() > deadline:
            return owners  # 0: not accepted in time (counted as one more "worker")
        await asyncio.sleep(0.01)


def _server_ends(port: int) -> dict[int, int]:
    """Client port -> socket inode of the server's end of each connection to `port`."""
    ends: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        inode = int(fields[9])
        if local_port == port and remote_port and inode:
            ends[remote_port] = inode
    return ends


def group_processes(group: int) -> Iterator[tuple[Path, list[str]]]:
    """The /proc entry and the `stat` fields after the name (state first) of each live
    process of process group `group` (Linux)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == group:
            yield entry, fields


def _socket_holders(group: int) -> dict[int, int]:
    """Socket inode -> pid, for the sockets the processes of process group `group` hold."""
    holders: dict[int, int] = {}
    for entry, _ in group_processes(group):
        try:
            for fd in (entry / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    holders[int(link[8:-1])] = int(entry.name)
        except OSError:
            continue  # gone meanwhile
    return holders


# --- a phase -------------------------------------------------------------------------
async def _phase(spec: dict[str, Any], notify: Callable[[str], None]) -> dict[str, Any]:
    warmup: float = spec["warmup"]
    duration: float = spec["duration"]
    port: int = spec["port"]
    # every client's connection, opened (and spread over the workers) before the clock starts
    clients: list[Callable[[Window], Coroutine[Any, Any, None]]] = []
    connections: list[Connection11] = []
    streams: list[Stream] = []
    chains: list[list[str | None]] = []  # each refresh chain's next token

    def add(client: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        connection = Connection11(port)
        connections.append(connection)
        clients.append(lambda window: client(connection, *args, window))

    for item in spec["streams"]:
        stream = Stream(item["name"])
        streams.append(stream)
        if item["kind"] == "fixed":
            for request in item["requests"]:
                add(_fixed_client, request, stream)
        elif item["kind"] == "refresh":
            for token in item["tokens"]:
                chains.append([token])
                add(_refresh_client, chains[-1], stream)
        elif item["kind"] == "login":
            turns = itertools.count(item["first_turn"])
            users = [tuple(user) for user in item["users"]]
            for _ in range(item["clients"]):
                add(_login_client, users, turns, stream)
        else:
            raise ValueError(f"unknown stream kind {item['kind']!r}")
    await asyncio.gather(*(connection.reopen() for connection in connections))
    per_worker = await spread(connections, port, spec["server_group"], spec["workers"])
    now = time.perf_counter()
    window = Window(start=now + warmup, end=now + warmup + duration)
    # The parent samples the servers' CPU time when told the window opens and closes.
    cpu: dict[str, float] = {}

    def mark(name: str) -> None:
        cpu[name] = time.process_time()
        notify(name)

    loop = asyncio.get_running_loop()
    loop.call_later(warmup, mark, "start")
    loop.call_later(warmup + duration, mark, "end")
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(client(window)) for client in clients]
    # Every client stops sending at window.end; in-flight requests get a bounded drain.
    _, pending = await asyncio.wait(tasks, timeout=warmup + duration + DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    failures = [task.exception() for task in tasks if not task.cancelled()]
    for failure in failures:
        if failure is not None:
            raise failure
    return {
        "streams": [stream.summary(duration) for stream in streams],
        "undrained": len(pending),
        "connections_per_worker": per_worker,
        "last_tokens": [chain[0] for chain in chains],
        "client_loop": type(loop).__module__.split(".")[0],
        "client_cpu": (cpu.get("end", math.nan) - cpu.get("start", math.nan)) / duration,
    }


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_phase(spec: dict[str, Any], conn: Connection) -> None:
    """Entry point of the load process: run one phase, send its summary (or the error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            message = {"ok": True, "result": runner.run(_phase(spec, conn.send))}
    except Exception as exc:
        message = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    with contextlib.suppress(OSError):  # the parent may be gone (Ctrl-C)
        conn.send(message)
    conn.close()


# --- setup helpers (used by run.py in its own process) -------------------------------------
async def get(port: int, path: str, *, token: str | None = None) -> tuple[int, bytes]:
    if token is None:
        return await send(port, build_request("GET", path, port))
    return await send(port, bearer_get(port, path, token))


async def send(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on a connection of its own: (status, body)."""
    connection = Connection11(port)
    try:
        return await connection.request(request)
    finally:
        connection.close()


async def register_users(
    port: int, users: list[tuple[str, str]], *, concurrency: int, first_turn: int
) -> None:
    """POST /auth/register for every user (202 expected)."""
    pending = iter(enumerate(users))

    async def worker() -> None:
        connection = Connection11(port)
        try:
            for index, (email, password) in pending:
                body = json.dumps({"email": email, "password": password}).encode()
                headers = {"X-Forwarded-For": forwarded_ip(first_turn + index)}
                request = build_request("POST", "/auth/register", port, body=body, headers=headers)
                status, answer = await connection.request(request)
                if status != 202:
                    raise HttpError(f"POST /auth/register -> {status}: {answer[:200]!r}")
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(users))))))


async def login_users(
    port: int, users: list[tuple[str, str]], *, concurrency: int, first_turn: int
) -> list[dict[str, Any]]:
    """POST /auth/login (body delivery) for every user; returns the token responses."""
    pending = iter(enumerate(users))
    results: list[dict[str, Any]] = [{} for _ in users]

    async def worker() -> None:
        connection = Connection11(port)
        try:
            for index, (email, password) in pending:
                request = login_request(port, email, password, first_turn + index)
                status, answer = await connection.request(request)
                if status != 200:
                    raise HttpError(f"POST /auth/login -> {status}: {answer[:200]!r}")
                results[index] = json.loads(answer)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(users))))))
    return results


async def wait_until_up(
    port: int, path: str, *, deadline: float, alive: Callable[[], bool]
) -> None:
    """Poll `path` until it answers 200, the process dies, or the deadline passes."""
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive():
            raise HttpError("the process exited during start-up")
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            status, body = await get(port, path)
            if status == 200:
                return
            last = f"{status}: {body[:200]!r}"
        await asyncio.sleep(0.2)
    raise HttpError(f"GET {path} did not answer 200 in time (last: {last})")
