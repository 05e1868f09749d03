"""Second-factor guesses are limited per challenge and per account (SPEC "Security
properties": "MFA attempts per challenge and per user", "Parallel guesses cannot
exceed a budget: counters are atomic", 429 with `Retry-After`).

A challenge takes `mfa_challenge_max_attempts` codes (5), spent atomically in the
token store before each check: 50 parallel guesses get 5 answers of
`invalid_mfa_code` and the rest `invalid_mfa_token`, and then not even the right
code opens it. Across challenges, and at the MFA management endpoints, every code
tried spends one unit of `mfa_rate_limit_per_user`; an empty budget is 429
`rate_limited`, right code or not. In production every Redis key these counters
write expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
import pytest
import redis.asyncio
from sqlalchemy import func, select

from authapi.models import SecurityEvent, User
from tests.conftest import PASSWORD, Api, Tokens, assert_problem, bearer

STEP_SECONDS = 30
MARGIN_SECONDS = 3.0
MAX_ATTEMPTS = 5  # mfa_challenge_max_attempts, the default
PER_USER = 4  # the per-account budget these tests set
ONE_MINUTE = 60


async def fresh_step() -> None:
    """Wait (a few seconds at most) until at least MARGIN_SECONDS remain in this step."""
    remaining = STEP_SECONDS - time.time() % STEP_SECONDS
    if remaining < MARGIN_SECONDS:
        await asyncio.sleep(remaining + 0.05)


@dataclass(frozen=True)
class Enrolled:
    tokens: Tokens  # the session that enrolled (confirming keeps it)
    authenticator: pyotp.TOTP
    recovery_codes: list[str]

    def wrong_code(self) -> str:
        """Six digits that are no code of the accepted window (-1, 0, +1 steps)."""
        now = time.time()
        window = {self.authenticator.at(now + offset) for offset in (-60, -30, 0, 30, 60)}
        return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in window)


async def enrolled_user(api: Api) -> Enrolled:
    """An account with TOTP on, confirmed with the previous step's code (one code tried)."""
    tokens = await api.signed_in()
    setup = await api.client.post("/auth/mfa/totp/setup", headers=bearer(tokens.access))
    assert setup.status_code == 200, setup.text
    authenticator = pyotp.TOTP(setup.json()["secret"])
    await fresh_step()
    confirmed = await api.client.post(
        "/auth/mfa/totp/confirm",
        json={"code": authenticator.at(time.time() - STEP_SECONDS)},
        headers=bearer(tokens.access),
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(tokens, authenticator, confirmed.json()["recovery_codes"])


async def challenge(api: Api, email: str) -> str:
    mfa_token: str = assert_problem(await api.login(email), 403, "mfa_required")["mfa_token"]
    return mfa_token


async def answer(api: Api, mfa_token: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": code, "refresh_token_delivery": "body"},
    )


async def disable(api: Api, access: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/mfa/totp/disable", json={"password": PASSWORD, "code": code}, headers=bearer(access)
    )


async def regenerate(api: Api, access: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/auth/mfa/recovery-codes", json={"code": code}, headers=bearer(access)
    )


def assert_rate_limited(response: httpx.Response) -> None:
    assert_problem(response, 429, "rate_limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= ONE_MINUTE


async def failures_recorded(api: Api, email: str) -> int:
    async with api.app.state.resources.sessionmaker() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .join(User, User.id == SecurityEvent.user_id)
            .where(User.email == email, SecurityEvent.type == "mfa_failed")
        )
    return count or 0


class TestPerChallenge:
    async def test_parallel_guesses_cannot_exceed_the_challenge_attempts(self, api: Api) -> None:
        user = await enrolled_user(api)
        mfa_token = await challenge(api, user.tokens.email)
        await fresh_step()
        wrong = user.wrong_code()

        answers = await asyncio.gather(*(answer(api, mfa_token, wrong) for _ in range(50)))

        codes = [
            assert_problem(response, 401, response.json()["code"])["code"] for response in answers
        ]
        assert codes.count("invalid_mfa_code") == MAX_ATTEMPTS, codes
        assert codes.count("invalid_mfa_token") == 50 - MAX_ATTEMPTS, codes
        assert await failures_recorded(api, user.tokens.email) == MAX_ATTEMPTS
        # used up: the right code does not open it either
        assert_problem(
            await answer(api, mfa_token, user.authenticator.now()), 401, "invalid_mfa_token"
        )
        # a new challenge is not affected
        signed_in = await answer(
            api, await challenge(api, user.tokens.email), user.authenticator.now()
        )
        assert signed_in.status_code == 200, signed_in.text

    async def test_the_attempt_after_the_last_is_refused_even_with_the_right_code(
        self, api: Api
    ) -> None:
        user = await enrolled_user(api)
        mfa_token = await challenge(api, user.tokens.email)
        await fresh_step()
        for _ in range(MAX_ATTEMPTS):
            assert_problem(await answer(api, mfa_token, user.wrong_code()), 401, "invalid_mfa_code")
        assert_problem(
            await answer(api, mfa_token, user.authenticator.now()), 401, "invalid_mfa_token"
        )
        assert_problem(
            await answer(api, mfa_token, user.recovery_codes[0]), 401, "invalid_mfa_token"
        )


class TestPerUser:
    async def test_the_budget_spans_challenges(self, make_api: Callable[..., Any]) -> None:
        async with make_api(mfa_rate_limit_per_user=f"{PER_USER}/minute") as api:
            user = await enrolled_user(api)  # confirming spent 1 of the budget
            await fresh_step()
            first, second = [await challenge(api, user.tokens.email) for _ in range(2)]
            assert_problem(await answer(api, first, user.wrong_code()), 401, "invalid_mfa_code")
            for _ in range(PER_USER - 2):
                assert_problem(
                    await answer(api, second, user.wrong_code()), 401, "invalid_mfa_code"
                )
            # both challenges have attempts left; the account has no budget left
            assert_rate_limited(await answer(api, second, user.authenticator.now()))
            assert_rate_limited(await answer(api, first, user.recovery_codes[0]))
            third = await challenge(api, user.tokens.email)
            assert_rate_limited(await answer(api, third, user.authenticator.now()))
            # so do the endpoints that manage MFA, with the right code
            assert_rate_limited(await disable(api, user.tokens.access, user.authenticator.now()))
            assert_rate_limited(await regenerate(api, user.tokens.access, user.authenticator.now()))
            status = await api.client.get("/auth/mfa", headers=bearer(user.tokens.access))
            assert status.json() == {"totp_enabled": True, "recovery_codes_remaining": 10}

            # the budget is the account's: another account signs in as usual
            other = await enrolled_user(api)
            signed_in = await answer(
                api, await challenge(api, other.tokens.email), other.authenticator.now()
            )
            assert signed_in.status_code == 200, signed_in.text

    async def test_codes_tried_at_the_mfa_endpoints_spend_the_same_budget(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(mfa_rate_limit_per_user=f"{PER_USER}/minute") as api:
            user = await enrolled_user(api)  # 1
            await fresh_step()
            access = user.tokens.access
            assert_problem(await disable(api, access, user.wrong_code()), 401, "invalid_mfa_code")
            assert_problem(
                await regenerate(api, access, user.wrong_code()), 401, "invalid_mfa_code"
            )
            mfa_token = await challenge(api, user.tokens.email)
            assert_problem(await answer(api, mfa_token, user.wrong_code()), 401, "invalid_mfa_code")

            assert_rate_limited(await answer(api, mfa_token, user.authenticator.now()))
            assert_rate_limited(await regenerate(api, access, user.recovery_codes[0]))
            assert_rate_limited(await disable(api, access, user.authenticator.now()))


@pytest.mark.parametrize("backend", ["production"])
class TestRedisKeys:
    async def test_every_mfa_key_in_redis_expires(self, api: Api, backend: str) -> None:
        assert api.settings.redis_url is not None
        # the base settings' per-user budget is "1000/minute": its key lives a minute at most
        assert api.settings.mfa_rate_limit_per_user == "1000/minute"
        user = await enrolled_user(api)
        open_token = await challenge(api, user.tokens.email)  # left open
        tried_token = await challenge(api, user.tokens.email)
        assert_problem(await answer(api, tried_token, user.wrong_code()), 401, "invalid_mfa_code")
        prefix = api.settings.redis_prefix
        async with api.app.state.resources.sessionmaker() as db:
            user_id = await db.scalar(select(User.id).where(User.email == user.tokens.email))

        connection = redis.asyncio.Redis.from_url(api.settings.redis_url, decode_responses=True)
        try:
            challenges = [key async for key in connection.scan_iter(match=f"{prefix}:challenge:*")]
            limits = [key async for key in connection.scan_iter(match=f"{prefix}:limits*mfa*")]
            ttls = {key: await connection.pttl(key) for key in challenges + limits}
        finally:
            await connection.aclose()

        own = [
            f"{prefix}:challenge:{{{token.partition('.')[0]}}}"
            for token in (open_token, tried_token)
        ]
        assert set(own) <= set(challenges), challenges
        own_limits = [key for key in limits if str(user_id) in key]
        assert own_limits, limits  # the account's budget
        ttl_ms = api.settings.mfa_challenge_ttl_seconds * 1000
        for key in own:
            assert 0 < ttls[key] <= ttl_ms, (key, ttls[key])
        for key in own_limits:
            assert 0 < ttls[key] <= ONE_MINUTE * 1000, (key, ttls[key])
        for key, ttl in ttls.items():
            # -1: a key without expiry; -2: another test's key that expired meanwhile
            assert ttl > 0 or ttl == -2, (key, ttl)
