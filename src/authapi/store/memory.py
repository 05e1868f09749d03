"""In-process token store for the embedded default (one process, no Redis).

Every method runs without awaiting, so on one event loop each is atomic just as
the Redis script is. Expired records are dropped when touched and by a sweep
that runs whenever the table has doubled since the last one, so memory stays
bounded by the number of live sessions.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from authapi.store import (
    Challenge,
    LiveSession,
    Outcome,
    RefreshBudget,
    Rotation,
    SessionProfile,
)

MIN_SWEEP_SIZE = 1024


class _Expires(Protocol):
    @property
    def expires_at(self) -> float: ...


E = TypeVar("E", bound=_Expires)


@dataclass
class _Record:
    user_id: str
    current: str
    parent: str | None
    rotated_at: float
    used_at: float
    expires_at: float
    absolute_expires_at: float
    window_start: float = 0.0  # the refresh budget's current window
    window_count: int = 0

    def over_budget(self, budget: RefreshBudget | None, now: float) -> float | None:
        """Seconds to wait if this use exceeds the budget; else counts it and returns None."""
        if budget is None:
            return None
        if now - self.window_start >= budget.window_seconds:
            self.window_start, self.window_count = now, 0
        if self.window_count >= budget.count:
            return self.window_start + budget.window_seconds - now
        self.window_count += 1
        return None


@dataclass
class _Challenge:
    token_hash: str
    challenge: Challenge
    attempts_left: int
    expires_at: float


@dataclass
class _Profile:
    profile: str | None
    generation: int
    expires_at: float


@dataclass(frozen=True)
class _Kept:
    value: str
    expires_at: float


class _Expiring(Generic[E]):
    """Entries that carry their own `expires_at`: an expired one is dropped when read, and
    all expired ones whenever the table has doubled since the last sweep, so the table
    stays bounded by its live entries."""

    def __init__(self) -> None:
        self._items: dict[str, E] = {}
        self._sweep_at_size = MIN_SWEEP_SIZE

    def get(self, key: str, now: float) -> E | None:
        item = self._items.get(key)
        if item is not None and item.expires_at <= now:
            del self._items[key]
            return None
        return item

    def put(self, key: str, item: E, now: float) -> None:
        if len(self._items) >= self._sweep_at_size:
            self._items = {k: v for k, v in self._items.items() if v.expires_at > now}
            self._sweep_at_size = max(MIN_SWEEP_SIZE, 2 * len(self._items))
        self._items[key] = item

    def pop(self, key: str, now: float) -> E | None:
        item = self._items.pop(key, None)
        return item if item is not None and item.expires_at > now else None

    def clear(self) -> None:
        self._items.clear()


class MemoryTokenStore:
    def __init__(self) -> None:
        self._records: _Expiring[_Record] = _Expiring()
        self._challenges: _Expiring[_Challenge] = _Expiring()
        self._known: _Expiring[_Kept] = _Expiring()
        self._stash: _Expiring[_Kept] = _Expiring()
        self._profiles: _Expiring[_Profile] = _Expiring()

    async def create(
        self,
        session_id: str,
        *,
        user_id: str,
        token_hash: str,
        now: float,
        expires_at: float,
        absolute_expires_at: float,
    ) -> None:
        self._records.put(
            session_id,
            _Record(
                user_id=user_id,
                current=token_hash,
                parent=None,
                rotated_at=now,
                used_at=now,
                expires_at=min(expires_at, absolute_expires_at),
                absolute_expires_at=absolute_expires_at,
            ),
            now,
        )

    async def rotate(
        self,
        session_id: str,
        *,
        presented_hash: str,
        successor_hash: str,
        now: float,
        grace_seconds: float,
        ttl_seconds: float,
        budget: RefreshBudget | None = None,
    ) -> Rotation:
        record = self._records.get(session_id, now)
        if record is None:
            return Rotation(Outcome.UNKNOWN)
        if presented_hash == record.current:
            expires_at = min(now + ttl_seconds, record.absolute_expires_at)
            if expires_at <= now:
                self._records.pop(session_id, now)
                return Rotation(Outcome.UNKNOWN)
            if (wait := record.over_budget(budget, now)) is not None:
                return Rotation(Outcome.THROTTLED, record.user_id, retry_after=wait)
            record.parent, record.current = record.current, successor_hash
            record.rotated_at = record.used_at = now
            record.expires_at = expires_at
            return Rotation(Outcome.ROTATED, record.user_id, expires_at)
        if presented_hash == record.parent and now - record.rotated_at < grace_seconds:
            if successor_hash != record.current:
                return Rotation(Outcome.STALE, record.user_id)
            if (wait := record.over_budget(budget, now)) is not None:
                return Rotation(Outcome.THROTTLED, record.user_id, retry_after=wait)
            record.used_at = now
            return Rotation(Outcome.REPLAYED, record.user_id, record.expires_at)
        self._records.pop(session_id, now)
        return Rotation(Outcome.REUSED, record.user_id)

    async def is_active(self, session_id: str) -> bool:
        return self._records.get(session_id, time.time()) is not None

    async def session_profile(self, session_id: str, user_id: str) -> SessionProfile:
        now = time.time()
        active = self._records.get(session_id, now) is not None
        kept = self._profiles.get(user_id, now)
        if kept is None:
            return SessionProfile(active, None, 0)
        return SessionProfile(active, kept.profile, kept.generation)

    async def keep_profile(
        self, user_id: str, profile: str, *, generation: int, ttl_seconds: float
    ) -> bool:
        now = time.time()
        kept = self._profiles.get(user_id, now)
        if (kept.generation if kept else 0) != generation:
            return False
        self._profiles.put(user_id, _Profile(profile, generation, now + ttl_seconds), now)
        return True

    async def forget_profiles(self, user_ids: Collection[str], *, ttl_seconds: float) -> None:
        now = time.time()
        for user_id in user_ids:
            kept = self._profiles.get(user_id, now)
            generation = (kept.generation if kept else 0) + 1
            self._profiles.put(user_id, _Profile(None, generation, now + ttl_seconds), now)

    async def describe(self, session_id: str) -> LiveSession | None:
        record = self._records.get(session_id, time.time())
        if record is None:
            return None
        return LiveSession(
            user_id=record.user_id,
            current_hash=record.current,
            issued_at=record.rotated_at,
            expires_at=record.expires_at,
            parent_hash=record.parent,
        )

    async def last_used(self, session_ids: Sequence[str]) -> dict[str, float]:
        now = time.time()
        return {
            sid: record.used_at
            for sid in session_ids
            if (record := self._records.get(sid, now)) is not None
        }

    async def revoke(self, session_ids: Collection[str]) -> None:
        now = time.time()
        for session_id in session_ids:
            self._records.pop(session_id, now)

    async def open_challenge(
        self,
        challenge_id: str,
        *,
        token_hash: str,
        user_id: str,
        method: str,
        binding: str,
        attempts: int,
        ttl_seconds: float,
    ) -> None:
        now = time.time()
        self._challenges.put(
            challenge_id,
            _Challenge(
                token_hash=token_hash,
                challenge=Challenge(user_id=user_id, method=method, binding=binding),
                attempts_left=attempts,
                expires_at=now + ttl_seconds,
            ),
            now,
        )

    async def try_challenge(self, challenge_id: str, *, token_hash: str) -> Challenge | None:
        entry = self._challenges.get(challenge_id, time.time())
        if entry is None or entry.token_hash != token_hash or entry.attempts_left <= 0:
            return None
        entry.attempts_left -= 1
        return entry.challenge

    async def close_challenge(self, challenge_id: str) -> bool:
        return self._challenges.pop(challenge_id, time.time()) is not None

    async def remember(self, key: str, *, ttl_seconds: float) -> None:
        now = time.time()
        self._known.put(key, _Kept("", now + ttl_seconds), now)

    async def remembers(self, key: str) -> bool:
        return self._known.get(key, time.time()) is not None

    async def remember_first(self, key: str, *, ttl_seconds: float) -> bool:
        now = time.time()
        if self._known.get(key, now) is not None:
            return False
        self._known.put(key, _Kept("", now + ttl_seconds), now)
        return True

    async def stash(self, key: str, value: str, *, ttl_seconds: float) -> None:
        now = time.time()
        self._stash.put(key, _Kept(value, now + ttl_seconds), now)

    async def take(self, key: str) -> str | None:
        kept = self._stash.pop(key, time.time())
        return None if kept is None else kept.value

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._records.clear()
        self._challenges.clear()
        self._stash.clear()
        self._known.clear()
        self._profiles.clear()
