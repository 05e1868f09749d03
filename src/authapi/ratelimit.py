"""Rate limits: named budgets, counted atomically and shared by every instance.

Built on `limits` (moving windows; Redis storage with the redis-py client, or
memory for the embedded default). A rule is spent per key (an address, an IP);
the request that finds the budget empty gets 429 `rate_limited` with an integer
`Retry-After`. Keys are counted whether or not an account exists, so a throttled
answer says nothing about the address; they are hashed before they reach
storage, so Redis holds no addresses. Every Redis key `limits` writes expires
with its window.

A unit is spent *before* the work it guards (checking a password, a code), so
parallel requests can never exceed a budget, and a right password cannot slip
past an empty one. A rule may hold several windows ("5/minute;20/hour;50/day"):
a request spends one unit of each and is refused when any is empty, which makes
the delay grow with persistence instead of locking anyone out for good.
A success that proves who is asking (the right password) clears the sign-in
budgets of that account (`forgive`), so they count consecutive failures.

Rules:
- `login:ip` — password sign-ins from one client IP (any accounts: stops
  spraying one password over many accounts),
- `login:account` — password sign-ins for one email address, from anywhere
  (stops guessing spread over many IPs),
- `login:account_ip` — the same address from one IP (the tightest; a guesser
  on one IP meets it first),
- `register:ip` — registrations from one client IP,
- `email:address` — emails requested for one address (registration, forgot-password,
  resend),
- `email:ip` — emails requested from one client IP,
- `oidc:ip` — sign-ins with an OpenID provider started from one client IP (each
  keeps a little state in the store for ten minutes),
- `passkey:ip` — passkey sign-in requests (options and answers) from one client IP
  (each option keeps a challenge in the store for a few minutes),
- `mfa:user` — second-factor codes tried at sign-in for one account, across
  challenges (a challenge has its own, smaller budget: see authapi.services.mfa),
- `mfa:session` — codes tried with one session's access token to manage MFA
  (confirm, disable, new recovery codes): kept apart from `mfa:user`, so a stolen
  access token cannot empty the owner's sign-in budget.

Passwords checked for a signed-in user (changing the password or the address,
deleting the account, two-factor changes, linking a provider) spend the
sign-in budgets of the account (`login:account`, `login:account_ip`), like a
sign-in.

Refreshes of one session have a budget too (`refresh_budget`: generous, for a
client stuck in a loop), but it is counted inside the token store's rotation
script, in the session's own record: refresh is the hot path, and a separate
limiter call would add a round trip to every one.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from authapi import metrics
from authapi.errors import RateLimited
from authapi.settings import Settings
from authapi.store import RefreshBudget
from authapi.store.redis import connection_options
from authapi.store.topology import limits_storage, parse_redis_url


class Throttle:
    def __init__(self, storage: Storage, rules: dict[str, list[RateLimitItem]]) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._rules = rules

    async def spend(self, rule: str, key: str | None) -> None:
        """Spend one unit of `rule` for `key` (nothing when the key is unknown).

        Raises:
            RateLimited: the budget is empty; `Retry-After` says for how long.
        """
        if key is None:
            return
        digest = _digest(key)
        for item in self._rules[rule]:
            if not await self._limiter.hit(item, rule, digest):
                metrics.RATE_LIMITED.labels(rule).inc()
                stats = await self._limiter.get_window_stats(item, rule, digest)
                raise RateLimited(retry_after=max(1, math.ceil(stats.reset_time - time.time())))

    async def forgive(self, rule: str, key: str | None) -> None:
        """Empty `rule`'s windows for `key`: after a success that proves the key's owner."""
        if key is None:
            return
        digest = _digest(key)
        for item in self._rules[rule]:
            await self._limiter.clear(item, rule, digest)


def refresh_budget(settings: Settings) -> RefreshBudget:
    """AUTHAPI_REFRESH_RATE_LIMIT_PER_SESSION (one window) for the store's rotation."""
    (item,) = parse_many(settings.refresh_rate_limit_per_session)
    return RefreshBudget(count=item.amount, window_seconds=item.get_expiry())


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def open_throttle(
    settings: Settings,
) -> tuple[Throttle, Callable[[], Awaitable[None]] | None]:
    """The throttle, and what closes its Redis connections at shutdown (None in memory)."""
    rules = {
        "login:ip": parse_many(settings.login_rate_limit_per_ip),
        "login:account": parse_many(settings.login_rate_limit_per_account),
        "login:account_ip": parse_many(settings.login_rate_limit_per_account_ip),
        "register:ip": parse_many(settings.register_rate_limit_per_ip),
        "email:address": parse_many(settings.email_rate_limit_per_address),
        "email:ip": parse_many(settings.email_rate_limit_per_ip),
        "mfa:user": parse_many(settings.mfa_rate_limit_per_user),
        "mfa:session": parse_many(settings.mfa_rate_limit_per_session),
        "oidc:ip": parse_many(settings.oidc_rate_limit_per_ip),
        "passkey:ip": parse_many(settings.passkey_rate_limit_per_ip),
    }
    if settings.redis_url is None:
        return Throttle(MemoryStorage(), rules), None
    prefix = f"{settings.redis_prefix}:limits"
    storage, opened = limits_storage(
        parse_redis_url(settings.redis_url), connection_options(prefix), key_prefix=prefix
    )
    return Throttle(storage, rules), opened.close
