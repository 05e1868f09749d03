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

from authapi.store import Challenge, LiveSession, Outcome, RefreshBudget, Rotation


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


class MemoryTokenStore:
    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}
        self._sweep_at_size = 1024
        self._challenges: dict[str, _Challenge] = {}
        self._challenge_sweep_at_size = 1024
        self._known: dict[str, float] = {}  # key -> expiry
        self._known_sweep_at_size = 1024
        self._stash: dict[str, tuple[str, float]] = {}  # key -> (value, expiry)
        self._stash_sweep_at_size = 1024

    def _live(self, session_id: str, now: float) -> _Record | None:
        record = self._records.get(session_id)
        if record is not None and record.expires_at <= now:
            del self._records[session_id]
            return None
        return record

    def _maybe_sweep(self, now: float) -> None:
        if len(self._records) < self._sweep_at_size:
            return
        for session_id in [sid for sid, rec in self._records.items() if rec.expires_at <= now]:
            del self._records[session_id]
        self._sweep_at_size = max(1024, 2 * len(self._records))

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
        self._maybe_sweep(now)
        self._records[session_id] = _Record(
            user_id=user_id,
            current=token_hash,
            parent=None,
            rotated_at=now,
            used_at=now,
            expires_at=min(expires_at, absolute_expires_at),
            absolute_expires_at=absolute_expires_at,
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
        record = self._live(session_id, now)
        if record is None:
            return Rotation(Outcome.UNKNOWN)
        if presented_hash == record.current:
            expires_at = min(now + ttl_seconds, record.absolute_expires_at)
            if expires_at <= now:
                del self._records[session_id]
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
        del self._records[session_id]
        return Rotation(Outcome.REUSED, record.user_id)

    async def is_active(self, session_id: str) -> bool:
        return self._live(session_id, time.time()) is not None

    async def describe(self, session_id: str) -> LiveSession | None:
        record = self._live(session_id, time.time())
        if record is None:
            return None
        return LiveSession(
            user_id=record.user_id,
            current_hash=record.current,
            issued_at=record.rotated_at,
            expires_at=record.expires_at,
        )

    async def last_used(self, session_ids: Sequence[str]) -> dict[str, float]:
        now = time.time()
        return {
            sid: record.used_at
            for sid in session_ids
            if (record := self._live(sid, now)) is not None
        }

    async def revoke(self, session_ids: Collection[str]) -> None:
        for session_id in session_ids:
            self._records.pop(session_id, None)

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
        if len(self._challenges) >= self._challenge_sweep_at_size:
            for cid in [cid for cid, ch in self._challenges.items() if ch.expires_at <= now]:
                del self._challenges[cid]
            self._challenge_sweep_at_size = max(1024, 2 * len(self._challenges))
        self._challenges[challenge_id] = _Challenge(
            token_hash=token_hash,
            challenge=Challenge(user_id=user_id, method=method, binding=binding),
            attempts_left=attempts,
            expires_at=now + ttl_seconds,
        )

    def _live_challenge(self, challenge_id: str) -> _Challenge | None:
        entry = self._challenges.get(challenge_id)
        if entry is not None and entry.expires_at <= time.time():
            del self._challenges[challenge_id]
            return None
        return entry

    async def try_challenge(self, challenge_id: str, *, token_hash: str) -> Challenge | None:
        entry = self._live_challenge(challenge_id)
        if entry is None or entry.token_hash != token_hash or entry.attempts_left <= 0:
            return None
        entry.attempts_left -= 1
        return entry.challenge

    async def close_challenge(self, challenge_id: str) -> bool:
        entry = self._live_challenge(challenge_id)
        self._challenges.pop(challenge_id, None)
        return entry is not None

    async def remember(self, key: str, *, ttl_seconds: float) -> None:
        now = time.time()
        if len(self._known) >= self._known_sweep_at_size:
            self._known = {k: expiry for k, expiry in self._known.items() if expiry > now}
            self._known_sweep_at_size = max(1024, 2 * len(self._known))
        self._known[key] = now + ttl_seconds

    async def remembers(self, key: str) -> bool:
        expiry = self._known.get(key)
        if expiry is not None and expiry <= time.time():
            del self._known[key]
            return False
        return expiry is not None

    async def stash(self, key: str, value: str, *, ttl_seconds: float) -> None:
        now = time.time()
        if len(self._stash) >= self._stash_sweep_at_size:
            self._stash = {k: item for k, item in self._stash.items() if item[1] > now}
            self._stash_sweep_at_size = max(1024, 2 * len(self._stash))
        self._stash[key] = (value, now + ttl_seconds)

    async def take(self, key: str) -> str | None:
        item = self._stash.pop(key, None)
        if item is None or item[1] <= time.time():
            return None
        return item[0]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._records.clear()
        self._challenges.clear()
        self._stash.clear()
        self._known.clear()
