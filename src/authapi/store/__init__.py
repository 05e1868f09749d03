"""The token store: live session state, behind one small interface.

A session (one refresh-token family) is live while its record exists. The record
holds the user, the hash of the current refresh token, the hash of its parent
and when it was rotated (for the grace window), the last use, and the sliding and
absolute expiry; it expires with the refresh token, so nothing grows without
bound. Revoking deletes it, which is also what ends the session's access tokens
on this API. If the store loses its data, sessions end: it fails closed, and a
revoked session never comes back.

It also holds sign-in challenges: the short-lived state between the password
step and the second factor (`mfa_token`), with a budget of attempts spent
atomically, so parallel guesses cannot exceed it.

And it remembers small facts for a while (`remember`): the sign-in throttle
notes which (address, IP) pairs have signed in successfully, and a native app's
id_token is noted when it signs in (`remember_first`), so it cannot sign in twice.

And it keeps single-use values for a while (`stash` / `take`): the state of an
OpenID Connect sign-in between the redirect to the provider and the callback.

And it keeps each signed-in user's profile as `/users/me` shows it, under a
generation number (authapi.services.profiles): `session_profile` answers the
session check and the kept profile in one round trip; `keep_profile` keeps one
only if the generation has not moved since it was read; `forget_profiles` moves
it on and drops what is kept, after every change to a profile is committed.

Two implementations share one contract test suite: `RedisTokenStore` (shared by
every instance; rotation is one Lua script) and `MemoryTokenStore` (the embedded
default, one process).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol


class Outcome(enum.Enum):
    ROTATED = "rotated"  # the current token: rotated to the successor
    REPLAYED = "replayed"  # the parent within the grace window: the same successor again
    REUSED = "reused"  # any other known token of the family: the family is now revoked
    STALE = "stale"  # the parent in the window, but its successor was derived under an older key
    THROTTLED = "throttled"  # a good token, but the session used up its refresh budget
    UNKNOWN = "unknown"  # no live session (expired, revoked, never existed)


@dataclass(frozen=True)
class RefreshBudget:
    """At most `count` rotations or replays per `window_seconds` (a fixed window)."""

    count: int
    window_seconds: float


@dataclass(frozen=True)
class Rotation:
    outcome: Outcome
    user_id: str | None = None
    expires_at: float | None = None  # refresh token expiry, epoch seconds
    retry_after: float | None = None  # THROTTLED only: seconds until the window resets


@dataclass(frozen=True)
class LiveSession:
    """What the store knows of a live session (for introspection)."""

    user_id: str
    current_hash: str  # of the refresh token that may be used next
    issued_at: float  # when that token was issued (the last rotation), epoch seconds
    expires_at: float  # when that token expires, epoch seconds
    parent_hash: str | None = None  # of the token it replaced (None before the first rotation)


@dataclass(frozen=True)
class SessionProfile:
    """A session check and the user's kept profile, read together."""

    active: bool  # the session is live
    profile: str | None  # the kept profile, None when none is kept
    generation: int  # of the user's profile when read: what `keep_profile` must still see


@dataclass(frozen=True)
class Challenge:
    user_id: str
    method: str  # how the first factor was proven, e.g. "password"
    binding: str  # the account's credential version then: a change to it voids the challenge


class TokenStore(Protocol):
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
        """Start a live session whose current refresh token has `token_hash`."""

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
        """Atomically check the presented token and rotate, replay or revoke.

        With a `budget`, a rotation or replay beyond it is THROTTLED instead and
        changes nothing; the count lives in the session's own record, so the
        check costs no extra round trip on the refresh path.
        """

    async def is_active(self, session_id: str) -> bool:
        """Whether the session is live (the access-token check)."""

    async def session_profile(self, session_id: str, user_id: str) -> SessionProfile:
        """Whether the session is live, and the user's kept profile, in one round trip."""

    async def keep_profile(
        self, user_id: str, profile: str, *, generation: int, ttl_seconds: float
    ) -> bool:
        """Keep `profile` for `ttl_seconds`, unless the user's generation is no longer
        `generation` (a change was committed since it was read): True if kept."""

    async def forget_profiles(self, user_ids: Collection[str], *, ttl_seconds: float) -> None:
        """These users' profiles changed: drop what is kept and move the generation on
        (remembered `ttl_seconds`, longer than any read that could still be filling)."""

    async def describe(self, session_id: str) -> LiveSession | None:
        """The live session's current state, or None if it is not live (for introspection,
        and to tell a logout's token apart from an older one)."""

    async def last_used(self, session_ids: Sequence[str]) -> dict[str, float]:
        """Last use (epoch seconds) of each of these sessions that is live."""

    async def revoke(self, session_ids: Collection[str]) -> None:
        """End these sessions now; unknown ids are ignored."""

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
        """Start a sign-in challenge answerable `attempts` times within `ttl_seconds`."""

    async def try_challenge(self, challenge_id: str, *, token_hash: str) -> Challenge | None:
        """Spend one attempt of a live challenge whose token hashes to `token_hash`.

        None when the challenge is unknown, expired, closed, out of attempts, or
        the hash does not match (which spends nothing).
        """

    async def close_challenge(self, challenge_id: str) -> bool:
        """End a challenge; True for the one caller that ended it, False if it was not live."""

    async def remember(self, key: str, *, ttl_seconds: float) -> None:
        """Note `key` (an opaque digest) for `ttl_seconds`; noting it again extends it."""

    async def remembers(self, key: str) -> bool:
        """Whether `key` was noted and has not expired."""

    async def remember_first(self, key: str, *, ttl_seconds: float) -> bool:
        """Note `key` for `ttl_seconds` unless it is noted already: True for the one caller
        that noted it (a single-use check), False while an earlier note lives."""

    async def stash(self, key: str, value: str, *, ttl_seconds: float) -> None:
        """Keep `value` under `key` (an opaque digest) for at most `ttl_seconds`."""

    async def take(self, key: str) -> str | None:
        """The stashed value, removed at once: exactly one caller gets it (None if absent)."""

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""

    async def close(self) -> None: ...
