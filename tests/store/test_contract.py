"""The token-store contract, run against both implementations.

`MemoryTokenStore` (embedded default) and `RedisTokenStore` (real Redis, a key
prefix of its own per test; on one server, on a 3-master Cluster and behind
Sentinel: tests/redis_topologies.py) must behave the same: create, the access-token
check, the atomic rotate (rotated / replayed / stale / reused / unknown), sliding
expiry inside the absolute lifetime, last use, revocation and expiry; and the
sign-in challenges (open, an attempt budget spent atomically, close once, expiry).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis, RedisCluster

from authapi.store import Challenge, Outcome, RefreshBudget, Rotation, TokenStore
from authapi.store.memory import MemoryTokenStore
from authapi.store.redis import RedisTokenStore
from tests.conftest import RedisSpace
from tests.redis_topologies import Cluster, SentinelSet

HOUR = 3600.0
GRACE = 10.0


@dataclass
class StoreUnderTest:
    store: TokenStore
    kind: str
    redis_url: str | None = None  # a plain redis:// URL to inspect the store's keys with
    prefix: str | None = None  # Redis only: every key of this test starts with it

    def redis(self) -> Redis | RedisCluster:
        """A separate client on the store's Redis, to look at the keys it wrote."""
        assert self.redis_url is not None
        if self.kind == "cluster":
            return RedisCluster.from_url(self.redis_url, decode_responses=True)
        return Redis.from_url(self.redis_url, decode_responses=True)

    async def assert_expire_within(self, keys: list[str], low_ms: int, high_ms: int) -> None:
        """Each key has more than `low_ms` and at most `high_ms` to live (so never "no
        expiry", -1)."""
        client = self.redis()
        try:
            for key in keys:
                assert low_ms < await client.pttl(key) <= high_ms, key
        finally:
            await client.aclose()

    async def keys(self) -> list[str]:
        client = self.redis()
        try:
            return [key async for key in client.scan_iter(match=f"{self.prefix}*")]
        finally:
            await client.aclose()


@asynccontextmanager
async def redis_store(
    space: RedisSpace, *, kind: str = "redis", store_url: str | None = None
) -> AsyncIterator[StoreUnderTest]:
    """A RedisTokenStore under a key prefix of its own; its keys are deleted afterwards.

    `store_url` is what the store is opened with (a Sentinel or Cluster URL); `space.url`
    a plain one on the same data, to inspect it."""
    prefix = f"{space.prefix}:store:{uuid.uuid4().hex}"
    store = RedisTokenStore.from_url(store_url or space.url, prefix=prefix)
    subject = StoreUnderTest(store=store, kind=kind, redis_url=space.url, prefix=prefix)
    try:
        yield subject
    finally:
        cleaner = subject.redis()
        try:
            for key in await subject.keys():
                await cleaner.delete(key)
        finally:
            await cleaner.aclose()
            await store.close()


@pytest.fixture(params=["memory", "redis", "cluster", "sentinel"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[StoreUnderTest]:
    if request.param == "memory":
        store = MemoryTokenStore()
        yield StoreUnderTest(store=store, kind="memory")
        await store.close()
        return
    async with topology_store(request, request.param) as redis_subject:
        yield redis_subject


@asynccontextmanager
async def topology_store(
    request: pytest.FixtureRequest, kind: str
) -> AsyncIterator[StoreUnderTest]:
    space: RedisSpace = request.getfixturevalue("redis_space")
    if kind == "cluster":
        cluster: Cluster = request.getfixturevalue("redis_cluster")
        space = RedisSpace(url=f"redis://127.0.0.1:{cluster.nodes[0].port}", prefix=space.prefix)
        store_url: str | None = cluster.url
    elif kind == "sentinel":
        sentinels: SentinelSet = request.getfixturevalue("redis_sentinels")
        space = RedisSpace(url=f"redis://127.0.0.1:{sentinels.master.port}", prefix=space.prefix)
        store_url = sentinels.url
    else:
        store_url = None
    async with redis_store(space, kind=kind, store_url=store_url) as redis_subject:
        yield redis_subject


@pytest.fixture(params=["redis", "cluster", "sentinel"])
async def redis_subject(request: pytest.FixtureRequest) -> AsyncIterator[StoreUnderTest]:
    async with topology_store(request, request.param) as subject:
        yield subject


@pytest.fixture
def store(subject: StoreUnderTest) -> TokenStore:
    return subject.store


def sid() -> str:
    return str(uuid.uuid4())


def token_hash(label: str) -> str:
    """A stand-in for a refresh token's SHA-256 (the store only compares them)."""
    return f"hash-{label}-{uuid.uuid4().hex}"


async def started(
    store: TokenStore,
    *,
    ttl: float = HOUR,
    lifetime: float = 24 * HOUR,
    user_id: str = "user-1",
) -> tuple[str, str, float]:
    """A live session: (session id, current token hash, creation time)."""
    session_id, current = sid(), token_hash("first")
    now = time.time()
    await store.create(
        session_id,
        user_id=user_id,
        token_hash=current,
        now=now,
        expires_at=now + ttl,
        absolute_expires_at=now + lifetime,
    )
    return session_id, current, now


async def rotate(
    store: TokenStore,
    session_id: str,
    presented: str,
    successor: str,
    *,
    now: float,
    grace: float = GRACE,
    ttl: float = HOUR,
    budget: RefreshBudget | None = None,
) -> Rotation:
    return await store.rotate(
        session_id,
        presented_hash=presented,
        successor_hash=successor,
        now=now,
        grace_seconds=grace,
        ttl_seconds=ttl,
        budget=budget,
    )


class TestCreate:
    async def test_created_session_is_active(self, store: TokenStore) -> None:
        session_id, _, _ = await started(store)
        assert await store.is_active(session_id) is True

    async def test_unknown_session_is_not_active(self, store: TokenStore) -> None:
        assert await store.is_active(sid()) is False

    async def test_sessions_are_independent(self, store: TokenStore) -> None:
        first, _, _ = await started(store)
        second, _, _ = await started(store)
        await store.revoke([first])
        assert await store.is_active(first) is False
        assert await store.is_active(second) is True


class TestRotate:
    async def test_current_token_rotates_and_returns_user_and_expiry(
        self, store: TokenStore
    ) -> None:
        session_id, current, created = await started(store, user_id="user-42")
        now = created + 5
        result = await rotate(store, session_id, current, token_hash("next"), now=now)
        assert result.outcome is Outcome.ROTATED
        assert result.user_id == "user-42"
        assert result.expires_at == pytest.approx(now + HOUR, abs=0.002)
        assert await store.is_active(session_id) is True

    async def test_successor_becomes_the_current_token(self, store: TokenStore) -> None:
        session_id, first, created = await started(store)
        second, third = token_hash("second"), token_hash("third")
        assert (await rotate(store, session_id, first, second, now=created + 1)).outcome is (
            Outcome.ROTATED
        )
        result = await rotate(store, session_id, second, third, now=created + 2)
        assert result.outcome is Outcome.ROTATED

    async def test_parent_within_grace_is_replayed_with_the_same_expiry(
        self, store: TokenStore
    ) -> None:
        session_id, parent, created = await started(store, user_id="user-7")
        successor = token_hash("successor")
        rotated = await rotate(store, session_id, parent, successor, now=created + 1)
        replayed = await rotate(store, session_id, parent, successor, now=created + 1 + GRACE - 1)
        assert replayed.outcome is Outcome.REPLAYED
        assert replayed.user_id == "user-7"
        assert replayed.expires_at == rotated.expires_at
        # the family is not forked: the successor is still the one live token
        after = await rotate(store, session_id, successor, token_hash("x"), now=created + 12)
        assert after.outcome is Outcome.ROTATED

    async def test_replay_with_a_different_successor_is_stale_and_keeps_the_session(
        self, store: TokenStore
    ) -> None:
        session_id, parent, created = await started(store, user_id="user-8")
        successor = token_hash("successor")
        await rotate(store, session_id, parent, successor, now=created + 1)
        stale = await rotate(store, session_id, parent, token_hash("other-key"), now=created + 2)
        assert stale.outcome is Outcome.STALE
        assert stale.user_id == "user-8"
        assert await store.is_active(session_id) is True
        after = await rotate(store, session_id, successor, token_hash("x"), now=created + 3)
        assert after.outcome is Outcome.ROTATED

    async def test_grandparent_is_reused_and_deletes_the_record(self, store: TokenStore) -> None:
        session_id, first, created = await started(store, user_id="user-9")
        second, third = token_hash("second"), token_hash("third")
        await rotate(store, session_id, first, second, now=created + 1)
        await rotate(store, session_id, second, third, now=created + 2)
        reused = await rotate(store, session_id, first, token_hash("x"), now=created + 3)
        assert reused.outcome is Outcome.REUSED
        assert reused.user_id == "user-9"
        assert await store.is_active(session_id) is False
        # the current token died with the family
        after = await rotate(store, session_id, third, token_hash("y"), now=created + 4)
        assert after.outcome is Outcome.UNKNOWN

    async def test_parent_after_grace_is_reused(self, store: TokenStore) -> None:
        session_id, parent, created = await started(store)
        successor = token_hash("successor")
        await rotate(store, session_id, parent, successor, now=created + 1)
        late = await rotate(store, session_id, parent, successor, now=created + 1 + GRACE + 1)
        assert late.outcome is Outcome.REUSED
        assert await store.is_active(session_id) is False

    async def test_never_issued_hash_of_a_live_session_is_reused(self, store: TokenStore) -> None:
        session_id, _, created = await started(store)
        result = await rotate(store, session_id, token_hash("?"), token_hash("x"), now=created)
        assert result.outcome is Outcome.REUSED
        assert await store.is_active(session_id) is False

    async def test_missing_session_is_unknown(self, store: TokenStore) -> None:
        result = await rotate(store, sid(), token_hash("a"), token_hash("b"), now=time.time())
        assert result.outcome is Outcome.UNKNOWN
        assert result.user_id is None
        assert result.expires_at is None

    async def test_revoked_session_is_unknown(self, store: TokenStore) -> None:
        session_id, current, created = await started(store)
        await store.revoke([session_id])
        result = await rotate(store, session_id, current, token_hash("b"), now=created + 1)
        assert result.outcome is Outcome.UNKNOWN


class TestExpiry:
    @pytest.mark.requirement("ASVS-7.3.1", "RFC9700-4.14.2")
    async def test_sliding_expiry_is_now_plus_ttl(self, store: TokenStore) -> None:
        session_id, current, created = await started(store, ttl=600, lifetime=24 * HOUR)
        result = await rotate(
            store, session_id, current, token_hash("n"), now=created + 300, ttl=600
        )
        assert result.expires_at == pytest.approx(created + 300 + 600, abs=0.002)

    @pytest.mark.requirement("ASVS-7.3.2")
    async def test_sliding_expiry_is_capped_by_the_absolute_expiry(self, store: TokenStore) -> None:
        session_id, current, created = await started(store, ttl=600, lifetime=900)
        result = await rotate(store, session_id, current, token_hash("n"), now=created + 500)
        assert result.outcome is Outcome.ROTATED
        assert result.expires_at == pytest.approx(created + 900, abs=0.002)

    @pytest.mark.requirement("ASVS-7.3.2", "NIST-63B-2.1.3")
    async def test_rotation_past_the_absolute_expiry_ends_the_session(
        self, store: TokenStore
    ) -> None:
        session_id, current, created = await started(store, ttl=600, lifetime=900)
        result = await rotate(store, session_id, current, token_hash("n"), now=created + 901)
        assert result.outcome is Outcome.UNKNOWN
        assert await store.is_active(session_id) is False

    @pytest.mark.requirement("ASVS-7.3.1", "NIST-63B-2.1.3", "RFC9700-4.14.2")
    async def test_expired_records_are_gone(self, subject: StoreUnderTest) -> None:
        store = subject.store
        session_id, current, created = await started(store, ttl=0.2)
        # the parent-replay path, too: an expired record must not answer REPLAYED
        replay_id, parent, _ = await started(store, ttl=60)
        successor = token_hash("successor")
        await rotate(store, replay_id, parent, successor, now=created, ttl=0.2)
        # a sliding expiry past the absolute end: the record must not outlive the session
        capped_id, _, _ = await started(store, ttl=60, lifetime=0.2)
        assert await store.is_active(session_id) is True
        assert await store.is_active(capped_id) is True

        await asyncio.sleep(0.5)

        for gone in (session_id, replay_id, capped_id):
            assert await store.is_active(gone) is False
        assert await store.last_used([session_id, replay_id, capped_id]) == {}
        now = time.time()
        assert (await rotate(store, session_id, current, token_hash("n"), now=now)).outcome is (
            Outcome.UNKNOWN
        )
        assert (await rotate(store, replay_id, parent, successor, now=now)).outcome is (
            Outcome.UNKNOWN
        )
        if subject.kind != "memory":
            assert await subject.keys() == []


class TestLastUsed:
    async def test_last_used_starts_at_creation(self, store: TokenStore) -> None:
        session_id, _, created = await started(store)
        assert (await store.last_used([session_id]))[session_id] == pytest.approx(
            created, abs=0.002
        )

    async def test_rotation_and_replay_update_last_used(self, store: TokenStore) -> None:
        session_id, parent, created = await started(store)
        successor = token_hash("s")
        await rotate(store, session_id, parent, successor, now=created + 5)
        assert (await store.last_used([session_id]))[session_id] == pytest.approx(
            created + 5, abs=0.002
        )
        await rotate(store, session_id, parent, successor, now=created + 8)
        assert (await store.last_used([session_id]))[session_id] == pytest.approx(
            created + 8, abs=0.002
        )

    async def test_last_used_lists_only_live_sessions(self, store: TokenStore) -> None:
        live, _, _ = await started(store)
        revoked, _, _ = await started(store)
        await store.revoke([revoked])
        result = await store.last_used([live, revoked, sid()])
        assert set(result) == {live}

    async def test_last_used_of_nothing_is_empty(self, store: TokenStore) -> None:
        assert await store.last_used([]) == {}


class TestRevoke:
    async def test_revoke_ends_only_the_given_sessions(self, store: TokenStore) -> None:
        first, _, _ = await started(store)
        second, _, _ = await started(store)
        third, _, _ = await started(store)
        await store.revoke([first, second])
        assert [await store.is_active(s) for s in (first, second, third)] == [False, False, True]

    async def test_revoke_is_idempotent_and_ignores_unknown_ids(self, store: TokenStore) -> None:
        session_id, _, _ = await started(store)
        await store.revoke([session_id])
        await store.revoke([session_id, sid()])
        await store.revoke([])
        assert await store.is_active(session_id) is False

    async def test_revoked_session_stays_revoked(self, store: TokenStore) -> None:
        session_id, current, created = await started(store)
        await store.revoke([session_id])
        for presented in (current, token_hash("other")):
            result = await rotate(store, session_id, presented, token_hash("n"), now=created + 1)
            assert result.outcome is Outcome.UNKNOWN
        assert await store.is_active(session_id) is False


class TestConcurrency:
    async def test_fifty_concurrent_rotations_rotate_once_and_replay_the_rest(
        self, store: TokenStore
    ) -> None:
        session_id, presented, _ = await started(store)
        successor = token_hash("successor")
        results = await asyncio.gather(
            *(rotate(store, session_id, presented, successor, now=time.time()) for _ in range(50))
        )
        outcomes = [result.outcome for result in results]
        assert outcomes.count(Outcome.ROTATED) == 1
        assert outcomes.count(Outcome.REPLAYED) == 49
        assert len({result.expires_at for result in results}) == 1
        # exactly one live token: the successor rotates, the presented token is its parent
        after = await rotate(store, session_id, successor, token_hash("next"), now=time.time())
        assert after.outcome is Outcome.ROTATED

    async def test_concurrent_first_commands_of_a_new_client_each_run_once(
        self, redis_subject: StoreUnderTest
    ) -> None:
        # A new Cluster client sends the commands made before it knows the slots to a
        # random node; with redis-py's default it then closed every connection on the
        # fifth MOVED, under commands in flight, and sent them again: a SET NX that had
        # run answered "not first" (store/topology.py, CLUSTER_OPTIONS).
        keys = [uuid.uuid4().hex for _ in range(40)]
        firsts = await asyncio.gather(
            *(redis_subject.store.remember_first(key, ttl_seconds=HOUR) for key in keys)
        )
        assert firsts == [True] * len(keys)
        again = await asyncio.gather(
            *(redis_subject.store.remember_first(key, ttl_seconds=HOUR) for key in keys)
        )
        assert again == [False] * len(keys)


class TestRedisKeys:
    """Redis only: no key outlives its use, and one session's keys share a hash tag."""

    async def test_every_key_has_a_ttl_and_the_session_hash_tag(
        self, redis_subject: StoreUnderTest
    ) -> None:
        store = redis_subject.store
        session_id, parent, _ = await started(store)
        successor = token_hash("s")
        await rotate(store, session_id, parent, successor, now=time.time())
        await rotate(store, session_id, parent, successor, now=time.time())  # replay
        other_id, stale_parent, _ = await started(store)
        await rotate(store, other_id, stale_parent, token_hash("t"), now=time.time())
        await rotate(store, other_id, stale_parent, token_hash("u"), now=time.time())  # stale

        keys = await redis_subject.keys()
        assert len(keys) == 2
        await redis_subject.assert_expire_within(keys, 3500_000, 3600_000)  # the refresh TTL
        assert {key for key in keys if f"{{{session_id}}}" in key}
        assert {key for key in keys if f"{{{other_id}}}" in key}
        assert all(f"{{{session_id}}}" in key or f"{{{other_id}}}" in key for key in keys)


async def opened(
    store: TokenStore,
    *,
    attempts: int = 5,
    ttl: float = 300.0,
    user_id: str = "user-1",
    method: str = "password",
    binding: str = "binding-1",
) -> tuple[str, str]:
    """A live sign-in challenge: (challenge id, its token hash)."""
    challenge_id, presented = uuid.uuid4().hex, token_hash("challenge")
    await store.open_challenge(
        challenge_id,
        token_hash=presented,
        user_id=user_id,
        method=method,
        binding=binding,
        attempts=attempts,
        ttl_seconds=ttl,
    )
    return challenge_id, presented


class TestChallenges:
    async def test_try_returns_the_challenge_it_was_opened_with(self, store: TokenStore) -> None:
        challenge_id, presented = await opened(
            store, user_id="user-5", method="password", binding="fingerprint-5"
        )
        assert await store.try_challenge(challenge_id, token_hash=presented) == Challenge(
            user_id="user-5", method="password", binding="fingerprint-5"
        )

    async def test_challenges_are_independent(self, store: TokenStore) -> None:
        first, first_hash = await opened(store, user_id="user-a", binding="a")
        second, second_hash = await opened(store, user_id="user-b", binding="b")
        assert await store.try_challenge(first, token_hash=second_hash) is None
        assert await store.close_challenge(first) is True
        result = await store.try_challenge(second, token_hash=second_hash)
        assert result is not None
        assert result.user_id == "user-b"
        assert await store.try_challenge(first, token_hash=first_hash) is None

    async def test_unknown_challenge_is_none(self, store: TokenStore) -> None:
        assert await store.try_challenge(uuid.uuid4().hex, token_hash=token_hash("x")) is None
        assert await store.close_challenge(uuid.uuid4().hex) is False

    async def test_wrong_hash_is_none_and_spends_no_attempt(self, store: TokenStore) -> None:
        challenge_id, presented = await opened(store, attempts=2)
        for _ in range(5):
            assert await store.try_challenge(challenge_id, token_hash=token_hash("?")) is None
        assert await store.try_challenge(challenge_id, token_hash=presented) is not None
        assert await store.try_challenge(challenge_id, token_hash=presented) is not None
        assert await store.try_challenge(challenge_id, token_hash=presented) is None

    async def test_attempts_run_out(self, store: TokenStore) -> None:
        challenge_id, presented = await opened(store, attempts=3)
        results = [await store.try_challenge(challenge_id, token_hash=presented) for _ in range(5)]
        assert [result is not None for result in results] == [True, True, True, False, False]

    async def test_close_is_true_once_then_false(self, store: TokenStore) -> None:
        challenge_id, _ = await opened(store)
        assert await store.close_challenge(challenge_id) is True
        assert await store.close_challenge(challenge_id) is False

    async def test_closed_challenge_cannot_be_tried(self, store: TokenStore) -> None:
        challenge_id, presented = await opened(store)
        assert await store.close_challenge(challenge_id) is True
        assert await store.try_challenge(challenge_id, token_hash=presented) is None

    async def test_out_of_attempts_challenge_can_still_be_closed_once(
        self, store: TokenStore
    ) -> None:
        challenge_id, presented = await opened(store, attempts=1)
        assert await store.try_challenge(challenge_id, token_hash=presented) is not None
        assert await store.close_challenge(challenge_id) is True
        assert await store.close_challenge(challenge_id) is False

    async def test_expired_challenge_is_gone(self, subject: StoreUnderTest) -> None:
        store = subject.store
        challenge_id, presented = await opened(store, ttl=0.2)
        assert await store.try_challenge(challenge_id, token_hash=presented) is not None

        await asyncio.sleep(0.4)

        assert await store.try_challenge(challenge_id, token_hash=presented) is None
        assert await store.close_challenge(challenge_id) is False
        if subject.kind != "memory":
            assert await subject.keys() == []

    async def test_fifty_concurrent_tries_spend_exactly_the_attempts(
        self, store: TokenStore
    ) -> None:
        challenge_id, presented = await opened(store, attempts=5)
        results = await asyncio.gather(
            *(store.try_challenge(challenge_id, token_hash=presented) for _ in range(50))
        )
        assert sum(result is not None for result in results) == 5

    async def test_fifty_concurrent_closes_close_once(self, store: TokenStore) -> None:
        challenge_id, _ = await opened(store)
        results = await asyncio.gather(*(store.close_challenge(challenge_id) for _ in range(50)))
        assert results.count(True) == 1


class TestRedisChallengeKeys:
    """Redis only: a challenge's key expires with it and carries the challenge's hash tag."""

    async def test_every_challenge_key_has_a_ttl_and_the_challenge_hash_tag(
        self, redis_subject: StoreUnderTest
    ) -> None:
        store = redis_subject.store
        tried, tried_hash = await opened(store, ttl=300)
        await store.try_challenge(tried, token_hash=tried_hash)
        await store.try_challenge(tried, token_hash=token_hash("wrong"))
        spent, spent_hash = await opened(store, ttl=300, attempts=1)
        await store.try_challenge(spent, token_hash=spent_hash)
        await store.try_challenge(spent, token_hash=spent_hash)  # out of attempts
        closed, _ = await opened(store, ttl=300)
        await store.close_challenge(closed)

        keys = await redis_subject.keys()
        assert len(keys) == 2
        await redis_subject.assert_expire_within(keys, 290_000, 300_000)
        # the spent challenge stays until it expires (its attempts are gone); the closed one is gone
        prefix = f"{redis_subject.prefix}:challenge:"
        assert sorted(keys) == sorted([f"{prefix}{{{tried}}}", f"{prefix}{{{spent}}}"])


class TestRemember:
    """`remember`/`remembers`: facts kept for a while (pairs that signed in, for the throttle)."""

    async def test_a_remembered_key_is_known_until_it_expires(self, store: TokenStore) -> None:
        key = uuid.uuid4().hex
        assert not await store.remembers(key)
        await store.remember(key, ttl_seconds=0.3)
        assert await store.remembers(key)
        assert not await store.remembers(uuid.uuid4().hex)
        await asyncio.sleep(0.4)
        assert not await store.remembers(key)

    async def test_remembering_again_extends_the_time(self, store: TokenStore) -> None:
        key = uuid.uuid4().hex
        await store.remember(key, ttl_seconds=0.3)
        await asyncio.sleep(0.2)
        await store.remember(key, ttl_seconds=0.3)
        await asyncio.sleep(0.2)
        assert await store.remembers(key)

    async def test_remember_first_is_true_once_while_the_note_lives(
        self, store: TokenStore
    ) -> None:
        key = uuid.uuid4().hex
        results = await asyncio.gather(
            *(store.remember_first(key, ttl_seconds=0.3) for _ in range(10))
        )
        assert sorted(results) == [False] * 9 + [True]
        assert await store.remembers(key)
        await asyncio.sleep(0.4)
        assert await store.remember_first(key, ttl_seconds=0.3)

    async def test_redis_keys_expire(self, redis_subject: StoreUnderTest) -> None:
        await redis_subject.store.remember("k" * 64, ttl_seconds=30)
        (key,) = await redis_subject.keys()
        assert key == f"{redis_subject.prefix}:known:{'k' * 64}"
        await redis_subject.assert_expire_within([key], 25_000, 30_000)


class TestDescribe:
    """`describe`: what introspection reads of a live session."""

    async def test_a_live_session_is_described_and_follows_rotation(
        self, store: TokenStore
    ) -> None:
        session_id, first, created = await started(store, ttl=HOUR, user_id="user-7")
        live = await store.describe(session_id)
        assert live is not None
        assert (live.user_id, live.current_hash, live.parent_hash) == ("user-7", first, None)
        assert abs(live.issued_at - created) < 0.01
        assert abs(live.expires_at - (created + HOUR)) < 0.01

        second = token_hash("second")
        rotated_at = created + 5
        rotation = await store.rotate(
            session_id,
            presented_hash=first,
            successor_hash=second,
            now=rotated_at,
            grace_seconds=10,
            ttl_seconds=HOUR,
        )
        assert rotation.outcome is Outcome.ROTATED
        live = await store.describe(session_id)
        assert live is not None
        assert (live.current_hash, live.parent_hash) == (second, first)
        assert abs(live.issued_at - rotated_at) < 0.01

    async def test_unknown_and_revoked_sessions_are_not_described(self, store: TokenStore) -> None:
        assert await store.describe(sid()) is None
        session_id, _, _ = await started(store)
        await store.revoke([session_id])
        assert await store.describe(session_id) is None


class TestStash:
    """`stash`/`take`: single-use values kept for a while (OpenID sign-in state)."""

    async def test_a_stashed_value_is_taken_once(self, store: TokenStore) -> None:
        key = uuid.uuid4().hex
        assert await store.take(key) is None
        await store.stash(key, '{"nonce": "n"}', ttl_seconds=30)
        assert await store.take(uuid.uuid4().hex) is None
        assert await store.take(key) == '{"nonce": "n"}'
        assert await store.take(key) is None

    async def test_parallel_takes_give_the_value_to_exactly_one(self, store: TokenStore) -> None:
        key = uuid.uuid4().hex
        await store.stash(key, "only once", ttl_seconds=30)
        taken = await asyncio.gather(*(store.take(key) for _ in range(50)))
        assert taken.count("only once") == 1
        assert taken.count(None) == 49

    async def test_a_stashed_value_expires(self, store: TokenStore) -> None:
        key = uuid.uuid4().hex
        await store.stash(key, "short-lived", ttl_seconds=0.2)
        await asyncio.sleep(0.3)
        assert await store.take(key) is None

    async def test_redis_keys_expire(self, redis_subject: StoreUnderTest) -> None:
        await redis_subject.store.stash("s" * 64, "value", ttl_seconds=600)
        (key,) = await redis_subject.keys()
        assert key == f"{redis_subject.prefix}:stash:{'s' * 64}"
        await redis_subject.assert_expire_within([key], 595_000, 600_000)


class TestRefreshBudget:
    """The per-session refresh budget, counted inside the rotation (a fixed window)."""

    BUDGET = RefreshBudget(count=2, window_seconds=60)

    async def test_rotations_beyond_the_budget_are_throttled_and_change_nothing(
        self, store: TokenStore
    ) -> None:
        session_id, first, created = await started(store)
        second, third = token_hash("second"), token_hash("third")
        budget = self.BUDGET
        rotated = await rotate(store, session_id, first, second, now=created + 1, budget=budget)
        assert rotated.outcome is Outcome.ROTATED
        again = await rotate(store, session_id, second, third, now=created + 2, budget=budget)
        assert again.outcome is Outcome.ROTATED
        fourth = token_hash("fourth")
        throttled = await rotate(store, session_id, third, fourth, now=created + 3, budget=budget)
        assert throttled.outcome is Outcome.THROTTLED
        assert throttled.user_id is not None
        assert throttled.retry_after == pytest.approx(58, abs=0.01)  # the window opened at +1
        # the refused token is still the current one: the next window rotates it
        later = await rotate(store, session_id, third, fourth, now=created + 61, budget=budget)
        assert later.outcome is Outcome.ROTATED

    async def test_grace_replays_count_and_reuse_is_never_throttled(
        self, store: TokenStore
    ) -> None:
        session_id, first, created = await started(store)
        second = token_hash("second")
        one = RefreshBudget(count=1, window_seconds=60)
        await rotate(store, session_id, first, second, now=created + 1, budget=one)
        replay = await rotate(store, session_id, first, second, now=created + 2, budget=one)
        assert replay.outcome is Outcome.THROTTLED
        forged = await rotate(
            store, session_id, token_hash("old"), second, now=created + 3, budget=one
        )
        assert forged.outcome is Outcome.REUSED
        assert not await store.is_active(session_id)

    async def test_without_a_budget_nothing_is_counted(self, store: TokenStore) -> None:
        session_id, current, created = await started(store)
        for step in range(5):
            successor = token_hash(f"t{step}")
            result = await rotate(store, session_id, current, successor, now=created + step + 1)
            assert result.outcome is Outcome.ROTATED
            current = successor


def uid() -> str:
    return str(uuid.uuid4())


class TestProfiles:
    """The kept profile of `/users/me`: read with the session check, kept only under the
    generation it was read at, forgotten (generation moved on) after a change."""

    async def test_nothing_is_kept_at_first(self, store: TokenStore) -> None:
        session_id, _, _ = await started(store)
        seen = await store.session_profile(session_id, uid())
        assert (seen.active, seen.profile, seen.generation) == (True, None, 0)

    async def test_the_session_check_is_the_access_token_check(self, store: TokenStore) -> None:
        user_id = uid()
        session_id, _, _ = await started(store, user_id=user_id)
        await store.keep_profile(user_id, "{}", generation=0, ttl_seconds=HOUR)
        await store.revoke([session_id])
        seen = await store.session_profile(session_id, user_id)
        assert seen.active is False
        assert (await store.session_profile(sid(), user_id)).active is False

    async def test_a_kept_profile_is_read_back(self, store: TokenStore) -> None:
        user_id = uid()
        session_id, _, _ = await started(store, user_id=user_id)
        assert await store.keep_profile(user_id, '{"a":1}', generation=0, ttl_seconds=HOUR)
        seen = await store.session_profile(session_id, user_id)
        assert (seen.active, seen.profile, seen.generation) == (True, '{"a":1}', 0)

    async def test_forgetting_drops_the_profile_and_moves_the_generation(
        self, store: TokenStore
    ) -> None:
        user_id, other = uid(), uid()
        session_id, _, _ = await started(store, user_id=user_id)
        await store.keep_profile(user_id, "old", generation=0, ttl_seconds=HOUR)
        await store.keep_profile(other, "other's", generation=0, ttl_seconds=HOUR)
        await store.forget_profiles([user_id], ttl_seconds=HOUR)
        seen = await store.session_profile(session_id, user_id)
        assert (seen.profile, seen.generation) == (None, 1)
        assert (await store.session_profile(session_id, other)).profile == "other's"

    async def test_a_profile_read_before_a_change_is_not_kept_after_it(
        self, store: TokenStore
    ) -> None:
        """The race the generation is for: a reader misses, reads the database, and
        a change commits and is forgotten before the reader keeps what it read."""
        user_id = uid()
        session_id, _, _ = await started(store, user_id=user_id)
        before = await store.session_profile(session_id, user_id)
        await store.forget_profiles([user_id], ttl_seconds=HOUR)  # the change, committed
        kept = await store.keep_profile(
            user_id, "stale", generation=before.generation, ttl_seconds=HOUR
        )
        assert kept is False
        assert (await store.session_profile(session_id, user_id)).profile is None
        # a read after the change keeps what it read
        after = await store.session_profile(session_id, user_id)
        assert await store.keep_profile(
            user_id, "fresh", generation=after.generation, ttl_seconds=HOUR
        )
        assert (await store.session_profile(session_id, user_id)).profile == "fresh"

    async def test_forgetting_no_one_is_a_no_op(self, store: TokenStore) -> None:
        await store.forget_profiles([], ttl_seconds=HOUR)

    async def test_a_kept_profile_expires(self, store: TokenStore) -> None:
        user_id = uid()
        session_id, _, _ = await started(store, user_id=user_id)
        await store.keep_profile(user_id, "short", generation=0, ttl_seconds=0.05)
        await asyncio.sleep(0.12)
        assert (await store.session_profile(session_id, user_id)).profile is None


class TestRedisProfileKeys:
    async def test_profile_keys_expire_and_carry_the_user_hash_tag(
        self, redis_subject: StoreUnderTest
    ) -> None:
        store, user_id = redis_subject.store, uid()
        await store.keep_profile(user_id, "p", generation=0, ttl_seconds=HOUR)
        changed = uid()
        await store.forget_profiles([changed], ttl_seconds=HOUR)
        keys = await redis_subject.keys()
        assert sorted(keys) == sorted(
            f"{redis_subject.prefix}:profile:{{{user}}}" for user in (user_id, changed)
        )
        await redis_subject.assert_expire_within(keys, 3500_000, 3600_000)
