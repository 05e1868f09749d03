"""Capacity figures, measured: `make capacity` (or `.venv/bin/python bench/capacity.py`).

What a live session, a sign-in, a user and an audit event cost in Redis and
PostgreSQL, and how fast one core signs in and one worker answers, each measured
in one run (2 to 3 minutes) rather than guessed:

- Redis: --sessions sessions made through `RedisTokenStore.create`, then rotated
  once through `.rotate` (what a session looks like after its first refresh), the
  "known sign-in" keys a successful sign-in leaves, the rate-limit keys of the
  sign-in rules (`Throttle` from `open_throttle`) and the profiles `GET /users/me`
  keeps (`.keep_profile`, as `authapi.services.profiles` does): `MEMORY USAGE` of every key, and
  the growth of the keyspace in `MEMORY STATS` (which also counts Redis's own
  dictionaries);
- PostgreSQL: --users users, 3 session records each and --events-per-user security
  events, shaped as the service writes them, in a database of its own; table +
  indexes + TOAST per row after VACUUM ANALYZE;
- bcrypt: one password check at the default cost through authapi.passwords;
- `GET /users/me` and `POST /auth/refresh` per worker, and logins against the bcrypt
  bound: bench/run.py (run here with --json, or read from --bench-json).

It writes bench/capacity.json and prints a report ending with the README table.
`--write-readme` measures nothing: it renders that table from bench/capacity.json
(`render_table`, a pure function; tests/test_readme.py checks that the README
matches it) between the README's capacity markers. Its database and Redis keys
are removed at the end, also on failure and Ctrl-C. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import os
import platform
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import redis
from cryptography.fernet import Fernet
from limits import parse_many
from redis.asyncio import Redis
from run import (
    SetupError,
    cpu_model,
    create_database,
    guarded,
    masked,
    open_redis_space,
    version_of,
    with_database,
)

from authapi.passwords import PasswordHasher
from authapi.ratelimit import Throttle, open_throttle, refresh_budget
from authapi.schemas import UserOut
from authapi.services.accounts import KNOWN_SIGN_IN_TTL_SECONDS, _known_pair
from authapi.services.profiles import KEPT_FORMAT, PROFILE_TTL_SECONDS
from authapi.settings import Settings
from authapi.store import Outcome
from authapi.store.redis import RedisTokenStore
from authapi.tokens import RefreshToken, RefreshTokens

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "capacity.json"
README = BENCH_DIR.parent / "README.md"
BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"
PASSWORD = "copper kettle whistling on a quiet harbour morning"  # noqa: S105 (never a real one)
BATCH = 100  # concurrent store calls: enough to hide the round trip, few connections
PIPELINE = 1000  # MEMORY USAGE commands per round trip, keys per SCAN step
WALL_BUDGET_SECONDS = 20 * 60  # far above the few minutes a run takes: only a hang meets it
BENCH_STOP_SECONDS = 60.0
DAY = 86_400
# below this, bench/run.py's sign-ins were slowed by something else (a quiet run: ~0.97)
BUSY_LOGIN_RATIO = 0.9

T = TypeVar("T")


# --- what the README table assumes --------------------------------------------------
@dataclass(frozen=True)
class Assumptions:
    """How the measured unit costs become the README's table (not measured: stated there)."""

    user_counts: tuple[int, ...] = (1_000_000, 10_000_000)
    devices_per_user: int = 3
    # each device signs in once a week: a refresh token left unused for 7 days expires
    sign_ins_per_device_per_day: float = 1 / 7
    # the busiest hour's sign-ins per second over the day's average
    peak_to_average: float = 3.0
    # users who open the app (and so read GET /users/me, whose profile is then kept for
    # an hour) in the busiest hour
    profile_readers_per_hour: float = 0.2
    # a sign-in's `login_succeeded` and one more (its logout, a wrong password, a change)
    events_per_sign_in: float = 2.0
    # request rates the throughput table sizes cores and workers for
    rates: tuple[int, ...] = (10, 100, 1_000, 10_000)


ASSUMPTIONS = Assumptions()


# --- command line ------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/capacity.py",
        description="Measure what sessions, users and events cost in Redis and PostgreSQL, "
        "and sign-ins per core and requests per worker; write bench/capacity.json.",
    )
    parser.add_argument(
        "--write-readme",
        action="store_true",
        help="measure nothing: rewrite README.md's capacity table from the results file",
    )
    parser.add_argument(
        "--sessions", type=int, default=100_000, help="sessions made in Redis (default: 100000)"
    )
    parser.add_argument(
        "--sign-ins",
        type=int,
        default=20_000,
        help="distinct sign-ins whose rate-limit and known-sign-in keys are measured "
        "(default: 20000)",
    )
    parser.add_argument(
        "--users", type=int, default=20_000, help="users in PostgreSQL (default: 20000)"
    )
    parser.add_argument(
        "--sessions-per-user", type=int, default=3, help="session records per user (default: 3)"
    )
    parser.add_argument(
        "--events-per-user", type=int, default=10, help="security events per user (default: 10)"
    )
    parser.add_argument(
        "--hash-samples", type=int, default=7, help="password checks timed (default: 7)"
    )
    parser.add_argument(
        "--bench-duration",
        type=float,
        default=6.0,
        help="measured seconds per bench/run.py phase, over its repeats (default: 6)",
    )
    parser.add_argument(
        "--bench-json",
        type=Path,
        metavar="PATH",
        help="use what `bench/run.py --json PATH` wrote instead of running it",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"results file (default: {RESULTS.name})"
    )
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get(
            "AUTHAPI_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="an administrative database on the server that gets the capacity database",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("AUTHAPI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args(argv)
    if min(args.sessions, args.sign_ins, args.users) < 100:
        parser.error("--sessions, --sign-ins and --users must be at least 100")
    if min(args.sessions_per_user, args.events_per_user, args.hash_samples) < 1:
        parser.error("--sessions-per-user, --events-per-user and --hash-samples must be >= 1")
    return args


# --- small helpers --------------------------------------------------------------------
async def in_batches(items: Sequence[T], action: Callable[[T], Awaitable[object]]) -> None:
    for start in range(0, len(items), BATCH):
        await asyncio.gather(*(action(item) for item in items[start : start + BATCH]))


def default_settings(redis_url: str, prefix: str) -> Settings:
    """The service's defaults on our Redis (`measure` has dropped this shell's AUTHAPI_*)."""
    return Settings(
        redis_url=redis_url,
        redis_prefix=prefix,
        encryption_keys=[Fernet.generate_key().decode()],
    )


# --- Redis ---------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyCost:
    """What `keys` keys of one kind cost in Redis, per key."""

    keys: int
    # MEMORY USAGE (SAMPLES 0), mean: the key's name, value and entry in the keyspace
    memory_usage: float
    # growth of the keyspace in MEMORY STATS over the keys made: also the expiry entries
    # and Redis's dictionary tables, which MEMORY USAGE leaves out
    keyspace_growth: float
    # keys that others added or removed meanwhile (shared Redis): the growth is off by that
    others: int


@dataclass(frozen=True)
class Snapshot:
    keyspace: int  # bytes of keys, values and the dictionaries that hold them
    keys: int


@contextlib.asynccontextmanager
async def connection(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def snapshot(url: str) -> Snapshot:
    """The keyspace's size, with none of our other connections open: Redis updates what
    its clients' buffers hold only now and then (clientsCron), so a connection that has
    just been busy would count as data for a while."""
    async with connection(url) as client:
        stats = await client.memory_stats()
        keys = await client.dbsize()
    tables = sum(
        value
        for name, db in stats.items()
        if name.startswith("db.")
        for value in db.values()  # overhead.hashtable.main and .expires
    )
    return Snapshot(keyspace=int(stats["dataset.bytes"]) + int(tables), keys=int(keys))


async def keys_under(url: str, pattern: str, *, expected: int | None = None) -> list[str]:
    """The keys matching `pattern`; `expected` checks that the store writes where we look."""
    async with connection(url) as client:
        keys = [str(key) async for key in client.scan_iter(match=pattern, count=PIPELINE)]
    if not keys or (expected is not None and len(keys) != expected):
        raise SetupError(f"{len(keys)} Redis keys match {pattern}, not {expected or 'some'}")
    return keys


async def memory_usage(url: str, keys: Sequence[str]) -> list[int]:
    sizes: list[int] = []
    async with connection(url) as client:
        for start in range(0, len(keys), PIPELINE):
            async with client.pipeline(transaction=False) as pipe:
                for key in keys[start : start + PIPELINE]:
                    pipe.memory_usage(key, samples=0)
                sizes.extend(await pipe.execute())
    if any(size is None for size in sizes):
        raise SetupError("a measured Redis key vanished (deleted by someone else?)")
    return sizes


def key_cost(
    keys: Sequence[str], sizes: Sequence[int], before: Snapshot, after: Snapshot
) -> KeyCost:
    return KeyCost(
        keys=len(keys),
        memory_usage=statistics.fmean(sizes),
        keyspace_growth=(after.keyspace - before.keyspace) / len(keys),
        others=after.keys - before.keys - len(keys),
    )


async def on_store(
    url: str,
    prefix: str,
    items: Sequence[T],
    action: Callable[[RedisTokenStore, T], Awaitable[object]],
) -> None:
    """`action` for each item on a token store of its own, closed before the next snapshot."""
    store = RedisTokenStore.from_url(url, prefix=prefix)
    try:
        await in_batches(items, lambda item: action(store, item))
    finally:
        await store.close()


@dataclass(frozen=True)
class RedisFigures:
    version: str
    allocator: str
    created: KeyCost  # a session as `create` leaves it
    session: KeyCost  # after its first refresh: what a live session keeps
    known: KeyCost  # "this address signed in from this network": 30 days
    rate_limit: KeyCost  # one window of one rule for one key (a list of timestamps)
    by_rule: dict[str, float]  # MEMORY USAGE per window key, by rule
    windows_per_sign_in: int  # rate-limit keys one sign-in's checks write
    profile: KeyCost  # a profile GET /users/me keeps (an hour)


def fresh_prefix(client: redis.Redis) -> str:
    """A prefix as long as the default `authapi`, so key names (part of every key's size)
    are as long as in production, with no key under it yet."""
    for _ in range(20):
        prefix = "cap" + secrets.token_hex(2)
        if next(client.scan_iter(match=f"{prefix}:*", count=1000), None) is None:
            return prefix
    raise SetupError("no unused Redis key prefix found")


def open_redis(url: str, stack: contextlib.ExitStack) -> tuple[str, str]:
    """Choose a prefix and arrange for its keys to be deleted; returns (prefix, version)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        prefix = fresh_prefix(client)
    except redis.RedisError as exc:
        raise SetupError(f"Redis at {masked(url)}: {type(exc).__name__}: {exc}") from None
    finally:
        client.close()
    return prefix, open_redis_space(url, prefix, stack)


async def measure_sessions(
    url: str, prefix: str, count: int, settings: Settings
) -> tuple[KeyCost, KeyCost]:
    """Sessions as created, and after their first refresh (which adds the parent's hash
    and the refresh budget's window): what a live session keeps."""
    refresh = RefreshTokens([secrets.token_bytes(32)])
    budget = refresh_budget(settings)
    firsts = [refresh.first(str(uuid.uuid4())) for _ in range(count)]

    async def create(store: RedisTokenStore, token: RefreshToken) -> None:
        # as SessionService.start does
        now = time.time()
        absolute = now + settings.session_lifetime_seconds
        await store.create(
            token.session_id,
            user_id=str(uuid.uuid4()),
            token_hash=token.hash,
            now=now,
            expires_at=min(now + settings.refresh_token_ttl_seconds, absolute),
            absolute_expires_at=absolute,
        )

    async def rotate(store: RedisTokenStore, token: RefreshToken) -> None:
        # as Refresher.refresh does
        rotation = await store.rotate(
            token.session_id,
            presented_hash=token.hash,
            successor_hash=refresh.successor(token).hash,
            now=time.time(),
            grace_seconds=settings.refresh_reuse_grace_seconds,
            ttl_seconds=settings.refresh_token_ttl_seconds,
            budget=budget,
        )
        if rotation.outcome is not Outcome.ROTATED:
            raise SetupError(f"a fresh session did not rotate: {rotation.outcome.value}")

    print(f"  Redis: {count:,} sessions through the token store ...", flush=True)
    start = await snapshot(url)
    await on_store(url, prefix, firsts, create)
    made = await snapshot(url)
    keys = await keys_under(url, f"{prefix}:session:*", expected=count)
    created = key_cost(keys, await memory_usage(url, keys), start, made)
    await on_store(url, prefix, firsts, rotate)
    rotated = await snapshot(url)
    return created, key_cost(keys, await memory_usage(url, keys), start, rotated)


async def measure_sign_ins(
    url: str, prefix: str, count: int, settings: Settings
) -> tuple[KeyCost, KeyCost, dict[str, float], int]:
    """What sign-ins leave: the known (address, network) pair of a right password, and the
    rate-limit windows spent before the password is checked, each sign-in from its own
    address and IP (so each makes keys of its own)."""
    sign_ins = [
        (str(ipaddress.IPv4Address(0xC6336400 + number)), f"user.{number:07d}@example.com")
        for number in range(count)
    ]

    async def remember(store: RedisTokenStore, sign_in: tuple[str, str]) -> None:
        # as AccountService._forgive_account_budgets does
        ip, email = sign_in
        await store.remember(_known_pair(f"{email} {ip}"), ttl_seconds=KNOWN_SIGN_IN_TTL_SECONDS)

    async def spend(throttle: Throttle, sign_in: tuple[str, str]) -> None:
        # as AccountService.authenticate does, for a pair not known yet
        ip, email = sign_in
        await throttle.spend("login:ip", ip)
        await throttle.spend("login:account_ip", f"{email} {ip}")
        await throttle.spend("login:account", email)

    print(f"  Redis: {count:,} sign-ins' known and rate-limit keys ...", flush=True)
    before = await snapshot(url)
    await on_store(url, prefix, sign_ins, remember)
    after = await snapshot(url)
    known_keys = await keys_under(url, f"{prefix}:known:*", expected=count)
    known = key_cost(known_keys, await memory_usage(url, known_keys), before, after)

    before = after
    throttle, close_throttle = open_throttle(settings)
    try:
        await in_batches(sign_ins, lambda sign_in: spend(throttle, sign_in))
    finally:
        if close_throttle is not None:
            await close_throttle()
    after = await snapshot(url)
    limit_keys = await keys_under(url, f"{prefix}:limits:*")
    sizes = await memory_usage(url, limit_keys)
    by_rule: dict[str, list[int]] = {}
    for key, size in zip(limit_keys, sizes, strict=True):
        # <prefix>:limits:LIMITER/<rule>/<digest>/<amount>/<multiples>/<granularity>
        by_rule.setdefault(key.split("/")[1], []).append(size)
    return (
        known,
        key_cost(limit_keys, sizes, before, after),
        {rule: statistics.fmean(values) for rule, values in sorted(by_rule.items())},
        len(limit_keys) // count,
    )


def profile_body(number: int, rng: random.Random) -> str:
    """What `GET /users/me` keeps for a user: `KEPT_FORMAT` and `UserOut` as JSON, with an
    address shaped as measure_postgres makes them."""
    return (
        KEPT_FORMAT
        + UserOut(
            id=uuid.uuid4(),
            email=made_up_email(number, rng),
            email_verified=True,
            mfa_enabled=rng.random() < 0.2,
            has_password=True,
            created_at=datetime.now(UTC) - timedelta(seconds=rng.uniform(0, 365 * DAY)),
        ).model_dump_json()
    )


async def measure_profiles(url: str, prefix: str, count: int) -> KeyCost:
    """The profiles `GET /users/me` keeps, one per user, each read once (generation 0)."""
    rng = random.Random(23)
    profiles = [(str(uuid.uuid4()), profile_body(number, rng)) for number in range(count)]

    async def keep(store: RedisTokenStore, profile: tuple[str, str]) -> None:
        # as authapi.services.profiles.current_user does after its database read
        user_id, body = profile
        if not await store.keep_profile(
            user_id, body, generation=0, ttl_seconds=PROFILE_TTL_SECONDS
        ):
            raise SetupError("a new user's profile was not kept")

    print(f"  Redis: {count:,} kept profiles ...", flush=True)
    before = await snapshot(url)
    await on_store(url, prefix, profiles, keep)
    after = await snapshot(url)
    keys = await keys_under(url, f"{prefix}:profile:*", expected=count)
    return key_cost(keys, await memory_usage(url, keys), before, after)


async def measure_redis(args: argparse.Namespace, prefix: str, version: str) -> RedisFigures:
    settings = default_settings(args.redis_url, prefix)
    async with connection(args.redis_url) as client:
        allocator = str((await client.info("memory")).get("mem_allocator", "?"))
    created, session = await measure_sessions(args.redis_url, prefix, args.sessions, settings)
    known, rate_limit, by_rule, windows = await measure_sign_ins(
        args.redis_url, prefix, args.sign_ins, settings
    )
    profile = await measure_profiles(args.redis_url, prefix, args.sign_ins)
    return RedisFigures(
        version=version,
        allocator=allocator,
        created=created,
        session=session,
        known=known,
        rate_limit=rate_limit,
        by_rule=by_rule,
        windows_per_sign_in=windows,
        profile=profile,
    )


# --- PostgreSQL ----------------------------------------------------------------------
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "ExampleApp/4.2.1 (iPhone; iOS 18.1; Scale/3.00)",
)
GIVEN = ("ada", "grace", "alan", "margaret", "dennis", "barbara", "ken", "frances")
FAMILY = ("lovelace", "hopper", "turing", "hamilton", "ritchie", "liskov", "thompson", "allen")
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "example.org")
# security_events.details as authapi.services.events.record writes them (SQLAlchemy's JSON)
EVENT_MIX = (
    ("login_succeeded", {"method": "password"}),
    ("logout", None),
    ("login_failed", {"method": "password", "reason": "invalid_credentials"}),
)
TABLES = ("users", "sessions", "security_events")


def made_up_email(number: int, rng: random.Random) -> str:
    """An address as long as real ones are (about 29 characters), unique by `number`."""
    return f"{rng.choice(GIVEN)}.{rng.choice(FAMILY)}{number}@{rng.choice(DOMAINS)}"


@dataclass(frozen=True)
class TableCost:
    rows: int
    per_row: float  # table + indexes + TOAST, bytes per row
    heap: int
    indexes: int
    toast: int


@dataclass(frozen=True)
class PostgresFigures:
    version: str
    mean_email_length: float
    tables: dict[str, TableCost]


def client_ip(rng: random.Random) -> str:
    """Two in three clients on IPv4; the rest with a full IPv6 address (stored whole)."""
    if rng.random() < 2 / 3:
        return str(ipaddress.IPv4Address(rng.getrandbits(32)))
    return str(ipaddress.IPv6Address((0x2A02 << 112) | rng.getrandbits(112)))


async def table_sizes(connection: Any) -> dict[str, tuple[int, int, int, int]]:
    sizes = {}
    for table in TABLES:
        row = await connection.fetchrow(
            "SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid),"
            " coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)"
            " FROM pg_class c WHERE c.oid = $1::regclass",
            table,
        )
        sizes[table] = (int(row[0]), int(row[1]), int(row[2]), int(row[3]))
    return sizes


async def measure_postgres(
    args: argparse.Namespace, dsn: str, version: str, password_hash: str, *, lifetime: timedelta
) -> PostgresFigures:
    rng = random.Random(17)  # the same rows every run
    now = datetime.now(UTC)
    users: list[tuple[object, ...]] = []
    sessions: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    sessions_of: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = {}
    for number in range(args.users):
        # as AccountService.register and email verification leave the row
        user_id = uuid.uuid4()
        created = now - timedelta(seconds=rng.uniform(0, 365 * DAY))
        email = made_up_email(number, rng)
        users.append(
            (user_id, email, password_hash, created + timedelta(minutes=3), created, created, 0)
        )
        sessions_of[user_id] = []
        for device in range(args.sessions_per_user):
            # as SessionService.start writes it; two in three have ended (a logout)
            session_id, ip, agent = uuid.uuid4(), client_ip(rng), rng.choice(USER_AGENTS)
            started = now - timedelta(seconds=rng.uniform(0, 30 * DAY))
            ended = started + timedelta(hours=rng.uniform(1, 48)) if device % 3 else None
            sessions.append(
                (
                    session_id,
                    user_id,
                    started,
                    started + lifetime,
                    ip,
                    agent,
                    ended,
                    "logout" if ended else None,
                )
            )
            sessions_of[user_id].append((session_id, ip, agent))
    owners = list(sessions_of)
    moment = now - timedelta(days=365)
    count = args.users * args.events_per_user
    for number in range(count):
        # over the last year in time order, for users at random: how the table fills
        moment += timedelta(seconds=rng.uniform(0, 2 * 365 * DAY / count))
        user_id = rng.choice(owners)
        session_id, ip, agent = rng.choice(sessions_of[user_id])
        kind, details = EVENT_MIX[number % len(EVENT_MIX)]
        events.append(
            (
                user_id,
                None if kind == "login_failed" else session_id,
                kind,
                ip,
                agent,
                moment,
                None if details is None else json.dumps(details),
            )
        )

    print(
        f"  PostgreSQL: {len(users):,} users, {len(sessions):,} session records, "
        f"{len(events):,} security events ...",
        flush=True,
    )
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        empty = await table_sizes(connection)
        await connection.copy_records_to_table(
            "users",
            records=users,
            columns=[
                "id",
                "email",
                "password_hash",
                "email_verified_at",
                "created_at",
                "updated_at",
                "credential_version",
            ],
        )
        await connection.copy_records_to_table(
            "sessions",
            records=sessions,
            columns=[
                "id",
                "user_id",
                "created_at",
                "expires_at",
                "ip",
                "user_agent",
                "revoked_at",
                "revoke_reason",
            ],
        )
        await connection.copy_records_to_table(
            "security_events",
            records=events,
            columns=["user_id", "session_id", "type", "ip", "user_agent", "created_at", "details"],
        )
        await connection.execute("VACUUM ANALYZE users, sessions, security_events")
        full = await table_sizes(connection)
    finally:
        await connection.close()
    counts = {"users": len(users), "sessions": len(sessions), "security_events": len(events)}
    tables = {}
    for table, rows in counts.items():
        # less the empty table's own pages (index metapages): they do not grow with rows
        total, heap, indexes, toast = (
            f - e for f, e in zip(full[table], empty[table], strict=True)
        )
        tables[table] = TableCost(
            rows=rows, per_row=total / rows, heap=heap, indexes=indexes, toast=toast
        )
    return PostgresFigures(
        version=version,
        mean_email_length=statistics.fmean(len(str(user[1])) for user in users),
        tables=tables,
    )


# --- bcrypt --------------------------------------------------------------------------
@dataclass(frozen=True)
class HashFigures:
    rounds: int
    samples: list[float]  # seconds per password check
    stored_hash: str  # a real hash at this cost, for the users table

    @property
    def seconds(self) -> float:
        return statistics.median(self.samples)


async def measure_hashing(rounds: int, samples: int) -> HashFigures:
    """A sign-in's password check, through authapi's own hasher (NFKC, the HMAC pre-hash,
    bcrypt in its thread pool), one at a time: the work one core does per sign-in."""
    hasher = PasswordHasher(rounds=rounds, workers=1)
    try:
        stored = await hasher.hash(PASSWORD)
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            if not await hasher.verify(PASSWORD, stored):
                raise SetupError("authapi.passwords refused its own hash")
            times.append(time.perf_counter() - started)
    finally:
        hasher.close()
    return HashFigures(rounds=rounds, samples=times, stored_hash=stored)


# --- bench/run.py --------------------------------------------------------------------
def run_bench(args: argparse.Namespace, rounds: int) -> dict[str, Any]:
    """bench/run.py with --json, its report passed through; its own clean-up on Ctrl-C."""
    with tempfile.TemporaryDirectory(prefix="authapi-capacity-") as folder:
        path = Path(folder) / "bench.json"
        command = [
            sys.executable,
            str(BENCH_DIR / "run.py"),
            "--rounds",
            str(rounds),
            "--duration",
            f"{args.bench_duration:g}",
            "--postgres-dsn",
            args.postgres_dsn,
            "--redis-url",
            args.redis_url,
            "--json",
            str(path),
        ]
        print(f"  bench/run.py --duration {args.bench_duration:g} ...", flush=True)
        # its own session: Ctrl-C reaches only this script, which then stops it with SIGTERM
        process = subprocess.Popen(command, start_new_session=True)
        try:
            code = process.wait()
        except BaseException:
            # not SIGKILL, as subprocess.run would: the bench removes its database on SIGTERM
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(BENCH_STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            raise
        if code != 0 or not path.exists():
            raise SetupError(f"bench/run.py failed (exit code {code})")
        return load_bench(path)


def load_bench(path: Path) -> dict[str, Any]:
    """The numbers the table needs from what `bench/run.py --json` wrote."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        phases = data["phases"]
        return {
            "measured_at": data["measured_at"],
            "cores": data["cores"],
            "workers": data["options"]["workers"],
            "concurrency": data["options"]["concurrency"],
            "duration": data["options"]["duration"],
            "bcrypt_bound": data["bcrypt"]["bound"],
            "login_to_bcrypt_bound": data["ratios"]["login_to_bcrypt_bound"],
            **{
                phase: {
                    "rate": phases[phase]["streams"][0]["rate"],
                    "p50": phases[phase]["streams"][0]["p50"],
                    "p99": phases[phase]["streams"][0]["p99"],
                    "errors": phases[phase]["streams"][0]["errors"],
                    "server_cpu": phases[phase]["server_cpu"],
                }
                for phase in ("me", "refresh", "login")
            },
        }
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SetupError(f"{path}: not what bench/run.py --json writes ({exc!r})") from None


# --- the run -------------------------------------------------------------------------
def service_defaults() -> dict[str, Any]:
    """The settings the table's arithmetic rests on, at their defaults."""
    fields = Settings.model_fields

    def default(name: str) -> Any:
        return fields[name].default

    return {
        "bcrypt_rounds": default("bcrypt_rounds"),
        "access_token_ttl_seconds": default("access_token_ttl_seconds"),
        "refresh_token_ttl_seconds": default("refresh_token_ttl_seconds"),
        "session_lifetime_seconds": default("session_lifetime_seconds"),
        "session_retention_days": default("session_retention_days"),
        "audit_retention_days": default("audit_retention_days"),
        "known_sign_in_seconds": KNOWN_SIGN_IN_TTL_SECONDS,
        "login_rate_limit_per_ip": default("login_rate_limit_per_ip"),
        "login_ip_windows_seconds": [
            item.get_expiry() for item in parse_many(default("login_rate_limit_per_ip"))
        ],
    }


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    for name in [name for name in os.environ if name.startswith("AUTHAPI_")]:
        del os.environ[name]  # the figures are for the defaults, whatever this shell sets
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    load_before = os.getloadavg()
    defaults = service_defaults()
    rounds = int(defaults["bcrypt_rounds"])
    run_id = uuid.uuid4().hex[:10]
    print(f"authapi capacity {run_id}: bcrypt cost {rounds} (a run takes 2 to 3 minutes)")

    print(f"  timing {args.hash_samples} password checks at cost {rounds} ...", flush=True)
    hashing = asyncio.run(measure_hashing(rounds, args.hash_samples))

    prefix, redis_version = open_redis(args.redis_url, stack)
    redis_figures = asyncio.run(measure_redis(args, prefix, redis_version))

    database = f"authapi_capacity_{run_id}"
    _, postgres_version = create_database(args.postgres_dsn, database, stack)
    postgres = asyncio.run(
        measure_postgres(
            args,
            with_database(args.postgres_dsn, database),
            postgres_version,
            hashing.stored_hash,
            lifetime=timedelta(seconds=defaults["session_lifetime_seconds"]),
        )
    )

    if args.bench_json is not None:
        bench = {**load_bench(args.bench_json), "source": str(args.bench_json)}
    else:
        bench = {**run_bench(args, rounds), "source": "bench/run.py, run by this script"}

    data = {
        "measured_at": started_wall.isoformat(timespec="seconds"),
        "elapsed_seconds": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count() or 1,
            "cpu_model": cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "versions": {
            "authapi": version_of("authapi"),
            "redis": redis_figures.version,
            "redis_allocator": redis_figures.allocator,
            "postgresql": postgres.version,
            "redis-py": version_of("redis"),
            "limits": version_of("limits"),
            "bcrypt": version_of("bcrypt"),
        },
        "parameters": {
            name: value
            for name, value in vars(args).items()
            if name not in ("write_readme", "output", "postgres_dsn", "redis_url", "bench_json")
        },
        "settings": defaults,
        "redis": {
            "prefix_length": len(prefix),
            "session_created": asdict(redis_figures.created),
            "session": asdict(redis_figures.session),
            "known_sign_in": asdict(redis_figures.known),
            "rate_limit_key": asdict(redis_figures.rate_limit),
            "rate_limit_memory_usage_by_rule": redis_figures.by_rule,
            "rate_limit_keys_per_failed_sign_in": redis_figures.windows_per_sign_in,
            "kept_profile": asdict(redis_figures.profile),
        },
        "postgres": {
            "mean_email_length": round(postgres.mean_email_length, 1),
            **{table: asdict(cost) for table, cost in postgres.tables.items()},
        },
        "bcrypt": {
            "rounds": hashing.rounds,
            "seconds": hashing.seconds,
            "samples": hashing.samples,
        },
        "bench": bench,
    }
    args.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print_report(data)
    print(
        f"wrote {args.output}; `python bench/capacity.py --write-readme` puts the table in README"
    )


def print_report(data: Mapping[str, Any]) -> None:
    machine, redis_data, pg, bench = data["machine"], data["redis"], data["postgres"], data["bench"]
    print()
    print(f"authapi capacity  {data['measured_at']}  ({data['elapsed_seconds']:.0f} s wall)")
    print("=" * 100)
    print(
        f"machine   {machine['cpus']} cores ({machine['cpu_model']}), {machine['platform']}, "
        f"Python {machine['python']}"
    )
    print(
        f"          load average {machine['load_average'][0]:.2f} before, "
        f"{machine['load_average'][1]:.2f} after (other work skews the timings, not the sizes)"
    )
    versions = data["versions"]
    print(
        f"services  PostgreSQL {versions['postgresql']}, Redis {versions['redis']} "
        f"({versions['redis_allocator']}), authapi {versions['authapi']}"
    )
    print()
    print(f"{'Redis, per key':<58}{'keys':>9}{'MEMORY USAGE':>14}{'keyspace':>10}{'others':>8}")
    print("-" * 100)
    for name, label in (
        ("session_created", "a session as created"),
        ("session", "a session after its first refresh (what stays)"),
        ("known_sign_in", "a known sign-in (address + network, 30 days)"),
        ("rate_limit_key", "a rate-limit window (one rule, one key)"),
        ("kept_profile", "a profile GET /users/me keeps (an hour)"),
    ):
        cost = redis_data[name]
        print(
            f"{label:<58}{cost['keys']:>9,}{cost['memory_usage']:>12.0f} B"
            f"{cost['keyspace_growth']:>8.0f} B{cost['others']:>8}"
        )
    rules = ", ".join(
        f"{rule} {size:.0f} B"
        for rule, size in redis_data["rate_limit_memory_usage_by_rule"].items()
    )
    print(f"  MEMORY USAGE by rule: {rules}")
    print(
        f"  a failed sign-in leaves {redis_data['rate_limit_keys_per_failed_sign_in']} window keys "
        "(a right password clears the per-address ones)"
    )
    print(
        "  keyspace = growth of MEMORY STATS dataset + hashtable overhead per key (the table "
        "uses the larger of the two); others = keys someone else added meanwhile"
    )
    if any(
        redis_data[name]["others"]
        for name in ("session", "known_sign_in", "rate_limit_key", "kept_profile")
    ):
        print("  note: others used this Redis meanwhile; the keyspace growth is off by their keys")
    print()
    print(
        f"{'PostgreSQL':<20}{'rows':>10}{'bytes/row':>12}{'heap':>14}{'indexes':>14}{'toast':>10}"
    )
    print("-" * 100)
    for table in TABLES:
        cost = pg[table]
        print(
            f"{table:<20}{cost['rows']:>10,}{cost['per_row']:>12.0f}{cost['heap']:>14,}"
            f"{cost['indexes']:>14,}{cost['toast']:>10,}"
        )
    print(f"  addresses of {pg['mean_email_length']:.1f} characters on average")
    print()
    hashing = data["bcrypt"]
    samples = ", ".join(f"{seconds * 1000:.0f}" for seconds in hashing["samples"])
    print(
        f"bcrypt cost {hashing['rounds']}: {hashing['seconds'] * 1000:.1f} ms per password check "
        f"(median of {samples} ms) = {1 / hashing['seconds']:.2f} per core per second"
    )
    print(
        f"bench ({bench['source']}, {bench['duration']:g} s per phase, {bench['workers']} worker, "
        f"c={bench['concurrency']}): GET /users/me {bench['me']['rate']:.0f}/s, "
        f"POST /auth/refresh {bench['refresh']['rate']:.0f}/s, "
        f"login {bench['login']['rate']:.1f}/s = {bench['login_to_bcrypt_bound']:.2f} "
        "of the bcrypt bound"
    )
    if bench["login_to_bcrypt_bound"] < BUSY_LOGIN_RATIO:
        print(
            "  note: sign-ins fell well short of the bcrypt bound, which other work on the "
            "machine causes: the cores for sign-ins are overstated; measure on a quiet machine"
        )
    print()
    print(render_table(data))


# --- the README table ---------------------------------------------------------------
@dataclass(frozen=True)
class Needs:
    """What a number of users needs, under ASSUMPTIONS, from the measured unit costs."""

    users: int
    sessions: float
    sign_ins_per_day: float
    peak_sign_ins: float  # per second
    redis_sessions: float  # bytes
    known_keys: float
    redis_known: float
    rate_limit_keys: float
    redis_rate_limits: float
    kept_profiles: float
    redis_profiles: float
    session_rows: float
    events: float
    postgres_users: float
    postgres_sessions: float
    postgres_events: float
    sign_in_cores: int

    @property
    def redis(self) -> float:
        return self.redis_sessions + self.redis_known + self.redis_rate_limits + self.redis_profiles

    @property
    def postgres(self) -> float:
        return self.postgres_users + self.postgres_sessions + self.postgres_events


def sign_ins_per_core(data: Mapping[str, Any]) -> float:
    """The bcrypt bound per core, times how close bench/run.py's logins came to it (at most 1:
    above 1 is noise, and a sign-in cannot be cheaper than its password check)."""
    return min(1.0, float(data["bench"]["login_to_bcrypt_bound"])) / float(
        data["bcrypt"]["seconds"]
    )


def needs(data: Mapping[str, Any], users: int, assume: Assumptions = ASSUMPTIONS) -> Needs:
    settings, redis_data, pg = data["settings"], data["redis"], data["postgres"]
    sessions = users * assume.devices_per_user
    per_day = sessions * assume.sign_ins_per_device_per_day
    peak = per_day / DAY * assume.peak_to_average
    # at most one per sign-in of the last 30 days (each from a network not seen before)
    known = per_day * settings["known_sign_in_seconds"] / DAY
    # a successful sign-in leaves its login:ip windows (the per-address ones are cleared),
    # each for as long as the window: the busiest hour's sign-ins, from distinct IPs
    rate_limit_keys = peak * sum(settings["login_ip_windows_seconds"])
    # one per user who read GET /users/me within the hour a profile is kept
    kept_profiles = users * assume.profile_readers_per_hour
    # a record stays until its session's absolute end + the retention (a logout: sooner)
    kept_days = settings["session_lifetime_seconds"] / DAY + settings["session_retention_days"]
    rows = max(float(sessions), per_day * kept_days)
    events = per_day * assume.events_per_sign_in * settings["audit_retention_days"]
    return Needs(
        users=users,
        sessions=sessions,
        sign_ins_per_day=per_day,
        peak_sign_ins=peak,
        redis_sessions=sessions * _per_key(redis_data["session"]),
        known_keys=known,
        redis_known=known * _per_key(redis_data["known_sign_in"]),
        rate_limit_keys=rate_limit_keys,
        redis_rate_limits=rate_limit_keys * _per_key(redis_data["rate_limit_key"]),
        kept_profiles=kept_profiles,
        redis_profiles=kept_profiles * _per_key(redis_data["kept_profile"]),
        session_rows=rows,
        events=events,
        postgres_users=users * pg["users"]["per_row"],
        postgres_sessions=rows * pg["sessions"]["per_row"],
        postgres_events=events * pg["security_events"]["per_row"],
        sign_in_cores=math.ceil(peak / sign_ins_per_core(data)),
    )


def _per_key(cost: Mapping[str, float]) -> float:
    return max(cost["memory_usage"], cost["keyspace_growth"])


def _size(value: float) -> str:
    """Bytes in binary units, three significant digits."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            scaled = value / scale
            return f"{scaled:.3g} {unit}" if scaled < 1000 else f"{scaled:,.0f} {unit}"
    return f"{value:.0f} B"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _users(count: int) -> str:
    return f"{count // 1_000_000} million users" if count % 1_000_000 == 0 else f"{count:,} users"


def _row(label: str, values: Iterable[str]) -> str:
    return f"| {label} | " + " | ".join(values) + " |"


def render_table(data: Mapping[str, Any], assume: Assumptions = ASSUMPTIONS) -> str:
    """README's capacity block (between its markers) from bench/capacity.json. Pure."""
    machine, versions = data["machine"], data["versions"]
    return "\n\n".join(
        [
            f"Measured {data['measured_at'][:10]} in {data['elapsed_seconds']:.0f} s on "
            f"{machine['cpus']} cores ({machine['cpu_model']}; load average "
            f"{machine['load_average'][0]:.2f} at the start), PostgreSQL "
            f"{versions['postgresql'].split()[0]}, Redis {versions['redis']}, bcrypt cost "
            f"{data['bcrypt']['rounds']}.",
            _unit_costs(data),
            _users_table(data, assume),
            _throughput_table(data, assume),
            _throughput_note(data),
        ]
    )


def _unit_costs(data: Mapping[str, Any]) -> str:
    redis_data, pg, settings = data["redis"], data["postgres"], data["settings"]
    session, known, window, profile = (
        redis_data["session"],
        redis_data["known_sign_in"],
        redis_data["rate_limit_key"],
        redis_data["kept_profile"],
    )
    known_days = settings["known_sign_in_seconds"] / DAY
    return "\n".join(
        [
            "| what | bytes | measured as |",
            "|---|---:|---|",
            _row(
                "Redis: a live session",
                [
                    f"{_per_key(session):.0f}",
                    f"{session['keys']:,} sessions made and refreshed once through the token "
                    f"store; keyspace growth (`MEMORY USAGE` alone: {session['memory_usage']:.0f})",
                ],
            ),
            _row(
                f"Redis: a known sign-in (address and network, {known_days:.0f} days)",
                [
                    f"{_per_key(known):.0f}",
                    f"{known['keys']:,} keys as a right password leaves them",
                ],
            ),
            _row(
                "Redis: a rate-limit window",
                [
                    f"{_per_key(window):.0f}",
                    f"{window['keys']:,} keys of the three sign-in rules, one timestamp each",
                ],
            ),
            _row(
                "Redis: a profile `GET /users/me` keeps (an hour)",
                [
                    f"{_per_key(profile):.0f}",
                    f"{profile['keys']:,} profiles kept through the token store, addresses as "
                    "below",
                ],
            ),
            _row(
                "PostgreSQL: a user",
                [
                    f"{pg['users']['per_row']:.0f}",
                    f"{pg['users']['rows']:,} rows with a cost-{data['bcrypt']['rounds']} hash and "
                    f"{pg['mean_email_length']:.0f}-character addresses; table, indexes and TOAST",
                ],
            ),
            _row(
                "PostgreSQL: a session record",
                [
                    f"{pg['sessions']['per_row']:.0f}",
                    f"{pg['sessions']['rows']:,} rows with browsers' user agents, two in three "
                    "ended",
                ],
            ),
            _row(
                "PostgreSQL: a security event",
                [
                    f"{pg['security_events']['per_row']:.0f}",
                    f"{pg['security_events']['rows']:,} sign-ins, sign-outs and failures",
                ],
            ),
        ]
    )


def _users_table(data: Mapping[str, Any], assume: Assumptions) -> str:
    settings = data["settings"]
    rows = [needs(data, users, assume) for users in assume.user_counts]
    known_days = settings["known_sign_in_seconds"] / DAY
    windows = " + ".join(f"{seconds:,} s" for seconds in settings["login_ip_windows_seconds"])
    kept_days = settings["session_lifetime_seconds"] / DAY + settings["session_retention_days"]

    def sized(value: Callable[[Needs], float], count: Callable[[Needs], float]) -> list[str]:
        return [f"{_size(value(row))} ({_count(count(row))})" for row in rows]

    return "\n".join(
        [
            _row(f"{assume.devices_per_user} devices per user", [_users(r.users) for r in rows]),
            "|---" + "|---:" * len(rows) + "|",
            _row("live sessions", [_count(row.sessions) for row in rows]),
            _row(
                f"sign-ins a day (each device once every {1 / assume.sign_ins_per_device_per_day:g}"
                " days)",
                [_count(row.sign_ins_per_day) for row in rows],
            ),
            _row("Redis: live sessions", [_size(row.redis_sessions) for row in rows]),
            _row(
                f"Redis: known sign-ins (at most one per sign-in of {known_days:.0f} days)",
                sized(lambda row: row.redis_known, lambda row: row.known_keys),
            ),
            _row(
                f"Redis: rate-limit windows (`login:ip`, {windows}, at the peak rate)",
                sized(lambda row: row.redis_rate_limits, lambda row: row.rate_limit_keys),
            ),
            _row(
                "Redis: kept profiles (users who read `GET /users/me` in the busiest hour: "
                f"{assume.profile_readers_per_hour:.0%} of them)",
                sized(lambda row: row.redis_profiles, lambda row: row.kept_profiles),
            ),
            _row("**Redis memory**", [f"**{_size(row.redis)}**" for row in rows]),
            _row("PostgreSQL: users", [_size(row.postgres_users) for row in rows]),
            _row(
                f"PostgreSQL: session records ({kept_days:.0f} days of sign-ins)",
                sized(lambda row: row.postgres_sessions, lambda row: row.session_rows),
            ),
            _row(
                f"PostgreSQL: security events ({settings['audit_retention_days']} days, "
                f"{assume.events_per_sign_in:g} per sign-in)",
                sized(lambda row: row.postgres_events, lambda row: row.events),
            ),
            _row("**PostgreSQL size**", [f"**{_size(row.postgres)}**" for row in rows]),
            _row(
                f"sign-ins a second at the peak ({assume.peak_to_average:g} times the day's "
                "average)",
                [f"{row.peak_sign_ins:.1f}" for row in rows],
            ),
            _row(
                f"cores for them (bcrypt cost {data['bcrypt']['rounds']})",
                [str(row.sign_in_cores) for row in rows],
            ),
        ]
    )


def _throughput_table(data: Mapping[str, Any], assume: Assumptions) -> str:
    per_core = sign_ins_per_core(data)
    me, refresh = data["bench"]["me"]["rate"], data["bench"]["refresh"]["rate"]
    return "\n".join(
        [
            f"| per second | cores for sign-ins (cost {data['bcrypt']['rounds']}) "
            "| workers for `GET /users/me` | workers for `POST /auth/refresh` |",
            "|---:|---:|---:|---:|",
            *(
                _row(
                    f"{rate:,}",
                    [
                        f"{math.ceil(rate / per_core):,}",
                        f"{math.ceil(rate / me):,}",
                        f"{math.ceil(rate / refresh):,}",
                    ],
                )
                for rate in assume.rates
            ),
        ]
    )


def _throughput_note(data: Mapping[str, Any]) -> str:
    bench, hashing = data["bench"], data["bcrypt"]
    return (
        f"One core checks {1 / hashing['seconds']:.2f} passwords a second at cost "
        f"{hashing['rounds']} ({hashing['seconds'] * 1000:.0f} ms each); bench/run.py's "
        f"sign-ins reached {bench['login_to_bcrypt_bound']:.2f} of that bound, so a core is "
        f"counted for {sign_ins_per_core(data):.2f} sign-ins a second. One uvicorn worker "
        f"answered {bench['me']['rate']:,.0f} `GET /users/me` and {bench['refresh']['rate']:,.0f} "
        f"`POST /auth/refresh` a second ({bench['concurrency']} connections, using "
        f"{bench['me']['server_cpu']:.2f} and {bench['refresh']['server_cpu']:.2f} cores); "
        "PostgreSQL and Redis need cores of their own on top."
    )


def replace_block(readme: str, block: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?\n" + re.escape(END), re.S)
    if len(pattern.findall(readme)) != 1:
        raise SetupError(f"README.md needs exactly one {BEGIN} … {END} block")
    return pattern.sub(lambda _: f"{BEGIN}\n{block}\n{END}", readme)


def readme_block(readme: str) -> str:
    """The text between the capacity markers (what `render_table` must produce)."""
    found = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), readme, re.S)
    if found is None:
        raise SetupError(f"README.md has no {BEGIN} … {END} block")
    return found.group(1)


def write_readme(results: Path) -> None:
    data = json.loads(results.read_text(encoding="utf-8"))
    README.write_text(
        replace_block(README.read_text(encoding="utf-8"), render_table(data)), encoding="utf-8"
    )
    print(f"README.md: capacity table rewritten from {results}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.write_readme:
        try:
            write_readme(args.output)
        except (OSError, ValueError, KeyError, SetupError) as exc:
            print(f"capacity: error: {exc}", file=sys.stderr)
            return 2
        return 0
    return guarded(lambda stack: measure(args, stack), name="capacity", budget=WALL_BUDGET_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
