"""Redis token store, shared by every app instance and worker.

One hash per session, `<prefix>:session:{<sid>}`, one per sign-in challenge,
`<prefix>:challenge:{<id>}`, and one per user whose profile is kept,
`<prefix>:profile:{<uid>}` (fields `p`, the profile, and `g`, its generation): the
braces are a Redis Cluster
hash tag, so everything one operation touches lives in one slot. The hash expires
with its refresh token (PEXPIREAT), so no key outlives its use. Rotation is one
Lua script: check-and-rotate, grace replay and reuse revocation happen atomically,
so N concurrent refreshes of one token can never fork the family.
Times inside Redis are integer milliseconds since the epoch.

`connection_options` is what every Redis connection of the service is opened with
(this store's and the rate limiter's): short timeouts, a name that `CLIENT LIST`
shows, and retries of dropped connections (a failover, a proxy or Redis closing
idle clients): up to 3, after 20, 40 and 80 ms, so a dropped pool costs a few
milliseconds instead of a 503 for each dead connection in it. Replaying is safe:
a rotation whose reply was lost is replayed as the parent within the grace window,
which returns the same successor. A timeout (a frozen Redis) is not retried: it
would only multiply the wait before the 503.

The session check of `/users/me` reads the session and the profile in one script
(one round trip); on a Cluster, where the two keys live in different slots, in one
pipeline instead (one round trip per node, sent together).

Behind Sentinel, replication is asynchronous: a write the master acknowledged and
died before passing on is gone after the failover. A lost new session or rotation
only signs someone out; a lost revocation would bring a session back. So with
Sentinel, every write that ends a session or moves its refresh token (revoke,
rotate, which revokes on reuse), or forgets a changed profile, is followed on the same connection by
`WAIT 1 <REPLICA_WAIT_MS>`: the answer comes once a replica holds it, and Sentinel
promotes the replica that is furthest ahead. With no replica answering, the write
goes on after that wait, on the master alone (a replica-less master has nothing to
fail over to). On a Cluster, each shard's own replicas play the same part; WAIT is
not sent there (a Cluster failover is the cluster's business: see the README).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from authapi.store import (
    Challenge,
    LiveSession,
    Outcome,
    RefreshBudget,
    Rotation,
    SessionProfile,
)
from authapi.store.topology import Layout, Opened, open_client, parse_redis_url

SOCKET_TIMEOUT_SECONDS = 2.0
RETRIES = 3
REPLICA_WAIT_MS = 250


def connection_options(prefix: str) -> dict[str, Any]:
    """Keyword arguments for every Redis client and pool of the service (see above)."""
    return {
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
        "retry": Retry(
            ExponentialBackoff(cap=0.08, base=0.01),  # 20, 40, 80 ms
            RETRIES,
            supported_errors=(RedisConnectionError,),
        ),
        "client_name": f"authapi:{prefix}",
    }


# KEYS[1] session hash
# ARGV presented_hash, successor_hash, now_ms, grace_ms, ttl_ms, budget_count (0: none),
#      budget_window_ms
ROTATE_SCRIPT = """
local fields = redis.call('HMGET', KEYS[1], 'uid', 'cur', 'prev', 'rot', 'exp', 'abs', 'ws', 'wn')
local uid, cur, prev = fields[1], fields[2], fields[3]
if not cur then return {'unknown'} end
local now = tonumber(ARGV[3])
local function over_budget()
  local limit, window = tonumber(ARGV[6]), tonumber(ARGV[7])
  if limit <= 0 then return nil end
  local start, count = tonumber(fields[7] or '0'), tonumber(fields[8] or '0')
  if now - start >= window then start, count = now, 0 end
  if count >= limit then return start + window - now end
  redis.call('HSET', KEYS[1], 'ws', start, 'wn', count + 1)
  return nil
end
if ARGV[1] == cur then
  local exp = math.min(now + tonumber(ARGV[5]), tonumber(fields[6]))
  if exp <= now then
    redis.call('DEL', KEYS[1])
    return {'unknown'}
  end
  local wait = over_budget()
  if wait then return {'throttled', uid, '0', tostring(wait)} end
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev', ARGV[1],
             'rot', ARGV[3], 'used', ARGV[3], 'exp', exp)
  redis.call('PEXPIREAT', KEYS[1], exp)
  return {'rotated', uid, tostring(exp)}
end
if prev and ARGV[1] == prev and now - tonumber(fields[4]) < tonumber(ARGV[4]) then
  if ARGV[2] ~= cur then return {'stale', uid} end
  local wait = over_budget()
  if wait then return {'throttled', uid, '0', tostring(wait)} end
  redis.call('HSET', KEYS[1], 'used', ARGV[3])
  return {'replayed', uid, fields[5]}
end
redis.call('DEL', KEYS[1])
return {'reused', uid}
"""

# KEYS[1] challenge hash; ARGV token_hash
TRY_CHALLENGE_SCRIPT = """
local fields = redis.call('HMGET', KEYS[1], 'h', 'uid', 'm', 'b', 'left')
if not fields[1] or fields[1] ~= ARGV[1] then return false end
if tonumber(fields[5]) <= 0 then return false end
redis.call('HINCRBY', KEYS[1], 'left', -1)
return {fields[2], fields[3], fields[4]}
"""


# KEYS[1] session hash, KEYS[2] profile hash
SESSION_PROFILE_SCRIPT = """
local profile = redis.call('HMGET', KEYS[2], 'p', 'g')
return {redis.call('EXISTS', KEYS[1]), profile[1], profile[2]}
"""

# KEYS[1] profile hash; ARGV generation read, profile, ttl_ms
KEEP_PROFILE_SCRIPT = """
if (redis.call('HGET', KEYS[1], 'g') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'p', ARGV[2], 'g', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] profile hash; ARGV ttl_ms
FORGET_PROFILE_SCRIPT = """
redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('HDEL', KEYS[1], 'p')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
"""


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class RedisTokenStore:
    def __init__(self, opened: Opened, *, prefix: str, wait_for_replica: bool = False) -> None:
        self._opened = opened
        self._redis: Redis | RedisCluster = opened.client
        self._prefix = prefix
        self._wait_for_replica = wait_for_replica
        self._rotate = self._redis.register_script(ROTATE_SCRIPT)
        self._try_challenge = self._redis.register_script(TRY_CHALLENGE_SCRIPT)
        self._session_profile = self._redis.register_script(SESSION_PROFILE_SCRIPT)
        self._keep_profile = self._redis.register_script(KEEP_PROFILE_SCRIPT)
        self._forget_profile = self._redis.register_script(FORGET_PROFILE_SCRIPT)
        self._cluster = isinstance(self._redis, RedisCluster)

    @classmethod
    def from_url(cls, url: str, *, prefix: str) -> RedisTokenStore:
        """One server, Sentinel or Cluster, as the URL says (authapi.store.topology)."""
        topology = parse_redis_url(url)
        options = {"health_check_interval": 30, **connection_options(prefix)}
        opened = open_client(topology, options, decode_responses=True)
        return cls(opened, prefix=prefix, wait_for_replica=topology.layout is Layout.SENTINEL)

    def key(self, session_id: str) -> str:
        return f"{self._prefix}:session:{{{session_id}}}"

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
        key = self.key(session_id)
        expires_ms = _ms(min(expires_at, absolute_expires_at))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "uid": user_id,
                    "cur": token_hash,
                    "rot": _ms(now),
                    "used": _ms(now),
                    "exp": expires_ms,
                    "abs": _ms(absolute_expires_at),
                },
            )
            pipe.pexpireat(key, expires_ms)
            await pipe.execute()

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
        keys = [self.key(session_id)]
        args: list[str | int] = [
            presented_hash,
            successor_hash,
            _ms(now),
            _ms(grace_seconds),
            _ms(ttl_seconds),
            budget.count if budget else 0,
            _ms(budget.window_seconds) if budget else 0,
        ]
        if self._wait_for_replica:
            async with self._redis.pipeline(transaction=False) as pipe:
                # redis-py queues a script on a pipeline (its signature names clients only)
                await self._rotate(keys=keys, args=args, client=pipe)  # type: ignore[arg-type]
                pipe.wait(1, REPLICA_WAIT_MS)
                reply, _ = await pipe.execute()
        else:
            reply = await self._rotate(keys=keys, args=args)
        outcome = Outcome(reply[0])
        user_id = reply[1] if len(reply) > 1 else None
        if outcome is Outcome.THROTTLED:
            return Rotation(outcome, user_id, retry_after=int(reply[3]) / 1000)
        expires_at = int(reply[2]) / 1000 if len(reply) > 2 else None
        return Rotation(outcome, user_id, expires_at)

    async def is_active(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self.key(session_id)))

    def profile_key(self, user_id: str) -> str:
        return f"{self._prefix}:profile:{{{user_id}}}"

    async def session_profile(self, session_id: str, user_id: str) -> SessionProfile:
        keys = [self.key(session_id), self.profile_key(user_id)]
        if self._cluster:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.exists(keys[0])
                pipe.hmget(keys[1], ["p", "g"])
                exists, (profile, generation) = await pipe.execute()
        else:
            exists, profile, generation = await self._session_profile(keys=keys)
        return SessionProfile(bool(exists), profile, int(generation or 0))

    async def keep_profile(
        self, user_id: str, profile: str, *, generation: int, ttl_seconds: float
    ) -> bool:
        keys = [self.profile_key(user_id)]
        return bool(
            await self._keep_profile(keys=keys, args=[generation, profile, _ms(ttl_seconds)])
        )

    async def forget_profiles(self, user_ids: Collection[str], *, ttl_seconds: float) -> None:
        if not user_ids:
            return
        args = [_ms(ttl_seconds)]
        if self._cluster:  # redis-py refuses scripts on a Cluster pipeline
            for user_id in user_ids:
                await self._forget_profile(keys=[self.profile_key(user_id)], args=args)
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                # redis-py queues a script on a pipeline (its signature names clients only)
                await self._forget_profile(
                    keys=[self.profile_key(user_id)],
                    args=args,
                    client=pipe,  # type: ignore[arg-type]
                )
            if self._wait_for_replica:
                pipe.wait(1, REPLICA_WAIT_MS)
            await pipe.execute()

    async def describe(self, session_id: str) -> LiveSession | None:
        uid, current, rotated, expires, parent = await self._redis.hmget(
            self.key(session_id), ["uid", "cur", "rot", "exp", "prev"]
        )
        if not (uid and current and rotated and expires):
            return None
        return LiveSession(
            user_id=str(uid),
            current_hash=str(current),
            issued_at=int(rotated) / 1000,
            expires_at=int(expires) / 1000,
            parent_hash=str(parent) if parent else None,
        )

    async def last_used(self, session_ids: Sequence[str]) -> dict[str, float]:
        if not session_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.hget(self.key(session_id), "used")
            replies = await pipe.execute()
        return {
            sid: int(used) / 1000 for sid, used in zip(session_ids, replies, strict=True) if used
        }

    async def revoke(self, session_ids: Collection[str]) -> None:
        if not session_ids:
            return
        # one DEL per key: keys of different sessions may live in different cluster slots
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.delete(self.key(session_id))
            if self._wait_for_replica:
                pipe.wait(1, REPLICA_WAIT_MS)
            await pipe.execute()

    def challenge_key(self, challenge_id: str) -> str:
        return f"{self._prefix}:challenge:{{{challenge_id}}}"

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
        key = self.challenge_key(challenge_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "h": token_hash,
                    "uid": user_id,
                    "m": method,
                    "b": binding,
                    "left": attempts,
                },
            )
            pipe.pexpire(key, _ms(ttl_seconds))
            await pipe.execute()

    async def try_challenge(self, challenge_id: str, *, token_hash: str) -> Challenge | None:
        key = self.challenge_key(challenge_id)
        reply = await self._try_challenge(keys=[key], args=[token_hash])
        if not reply:
            return None
        return Challenge(user_id=reply[0], method=reply[1], binding=reply[2])

    async def close_challenge(self, challenge_id: str) -> bool:
        return bool(await self._redis.delete(self.challenge_key(challenge_id)))

    async def remember(self, key: str, *, ttl_seconds: float) -> None:
        await self._redis.set(f"{self._prefix}:known:{key}", "1", px=_ms(ttl_seconds))

    async def remembers(self, key: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}:known:{key}"))

    async def remember_first(self, key: str, *, ttl_seconds: float) -> bool:
        noted = await self._redis.set(
            f"{self._prefix}:known:{key}", "1", px=_ms(ttl_seconds), nx=True
        )
        return bool(noted)

    async def stash(self, key: str, value: str, *, ttl_seconds: float) -> None:
        await self._redis.set(f"{self._prefix}:stash:{key}", value, px=_ms(ttl_seconds))

    async def take(self, key: str) -> str | None:
        value = await self._redis.getdel(f"{self._prefix}:stash:{key}")
        return None if value is None else str(value)

    async def ping(self) -> None:
        await self._redis.ping()

    async def keeps_data(self) -> bool | None:
        """Whether Redis writes its data to disk (append-only file or snapshots), so a
        restart keeps the sessions; None when it will not say (CONFIG is often disabled on
        managed services)."""
        try:
            appendonly = await self._redis.config_get("appendonly")
            save = await self._redis.config_get("save")
        except RedisError:
            return None
        return appendonly.get("appendonly") == "yes" or bool(save.get("save"))

    async def close(self) -> None:
        await self._opened.close()
