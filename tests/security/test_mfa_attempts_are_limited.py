"""Second-factor guesses are limited per challenge and per account (SPEC "Security
properties": "MFA attempts per challenge and per user", "Parallel guesses cannot
exceed a budget: counters are atomic", 429 with `Retry-After`).

A challenge takes `mfa_challenge_max_attempts` codes (5), spent atomically in the
token store before each check: 50 parallel guesses get 5 answers of
`invalid_mfa_code` and the rest `invalid_mfa_token`, and then not even the right
code opens it. Across challenges every code tried spends one unit of
`mfa_rate_limit_per_user`; at the MFA management endpoints, which take an access
token, one unit of that session's `mfa_rate_limit_per_session` instead, so a
stolen access token cannot burn the owner's sign-in budget. An empty budget is
429 `rate_limited`, right code or not. In production every Redis key these
counters write expires.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio
from sqlalchemy import func, select

from authapi.models import SecurityEvent, User
from tests.conftest import Api, assert_problem, assert_throttled
from tests.mfa import (
    STEP,
    challenge,
    disable_totp,
    mfa_status,
    mfa_user,
    regenerate_codes,
    submit,
    user_id_of,
    wait_for_fresh_step,
    wrong_code,
)

MAX_ATTEMPTS = 5  # mfa_challenge_max_attempts, the default
PER_USER = 4  # the per-account budget these tests set
ONE_MINUTE = 60


def assert_rate_limited(response: httpx.Response) -> None:
    assert_throttled(response, window_seconds=ONE_MINUTE)


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
    @pytest.mark.requirement("NIST-63B-3.1.4.2-c")
    async def test_parallel_guesses_cannot_exceed_the_challenge_attempts(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)
        await wait_for_fresh_step()
        wrong = wrong_code(user.app)

        answers = await asyncio.gather(*(submit(api, mfa_token, wrong) for _ in range(50)))

        codes = [
            assert_problem(response, 401, response.json()["code"])["code"] for response in answers
        ]
        assert codes.count("invalid_mfa_code") == MAX_ATTEMPTS, codes
        assert codes.count("invalid_mfa_token") == 50 - MAX_ATTEMPTS, codes
        assert await failures_recorded(api, user.email) == MAX_ATTEMPTS
        # used up: the right code does not open it either
        assert_problem(await submit(api, mfa_token, user.app.now()), 401, "invalid_mfa_token")
        # a new challenge is not affected
        signed_in = await submit(api, await challenge(api, user.email), user.app.now())
        assert signed_in.status_code == 200, signed_in.text

    @pytest.mark.requirement("ASVS-2.3.2")
    async def test_the_attempt_after_the_last_is_refused_even_with_the_right_code(
        self, api: Api
    ) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        mfa_token = await challenge(api, user.email)
        await wait_for_fresh_step()
        for _ in range(MAX_ATTEMPTS):
            assert_problem(
                await submit(api, mfa_token, wrong_code(user.app)), 401, "invalid_mfa_code"
            )
        assert_problem(await submit(api, mfa_token, user.app.now()), 401, "invalid_mfa_token")
        assert_problem(await submit(api, mfa_token, user.codes[0]), 401, "invalid_mfa_token")


class TestPerUser:
    @pytest.mark.requirement("NIST-63B-3.1.4.2-c")
    async def test_the_budget_spans_challenges(self, make_api: Callable[..., Any]) -> None:
        async with make_api(mfa_rate_limit_per_user=f"{PER_USER}/minute") as api:
            user = await mfa_user(api, confirm_offset=-STEP)
            await wait_for_fresh_step()
            first, second = [await challenge(api, user.email) for _ in range(2)]
            assert_problem(await submit(api, first, wrong_code(user.app)), 401, "invalid_mfa_code")
            for _ in range(PER_USER - 1):
                assert_problem(
                    await submit(api, second, wrong_code(user.app)), 401, "invalid_mfa_code"
                )
            # both challenges have attempts left; the account has no budget left
            assert_rate_limited(await submit(api, second, user.app.now()))
            assert_rate_limited(await submit(api, first, user.codes[0]))
            third = await challenge(api, user.email)
            assert_rate_limited(await submit(api, third, user.app.now()))

            # the budget is the account's: another account signs in as usual
            other = await mfa_user(api, confirm_offset=-STEP)
            signed_in = await submit(api, await challenge(api, other.email), other.app.now())
            assert signed_in.status_code == 200, signed_in.text


class TestPerSession:
    """Codes sent with an access token (confirm, disable, new recovery codes) spend that
    session's budget, never the account's sign-in budget (issue 12, item 15)."""

    @pytest.fixture
    async def api(self, make_api: Callable[..., Any]) -> AsyncIterator[Api]:
        async with make_api(
            mfa_rate_limit_per_user=f"{PER_USER}/minute",
            mfa_rate_limit_per_session=f"{PER_USER}/minute",
        ) as api:
            yield api

    async def test_a_bearer_cannot_exhaust_the_sign_in_mfa_budget(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)  # 1 of the session's budget
        await wait_for_fresh_step()
        stolen = user.tokens.access
        for _ in range(PER_USER - 1):
            wrong = await regenerate_codes(api, stolen, wrong_code(user.app))
            assert_problem(wrong, 401, "invalid_mfa_code")
        assert_rate_limited(await regenerate_codes(api, stolen, user.app.now()))
        assert_rate_limited(await disable_totp(api, stolen, user.app.now()))
        status = await mfa_status(api, stolen)
        assert status == {"totp_enabled": True, "recovery_codes_remaining": 10}

        # the owner still signs in with a code, and a new session has its own budget
        mfa_token = await challenge(api, user.email)
        signed_in = await submit(api, mfa_token, user.app.now())
        assert signed_in.status_code == 200, signed_in.text
        fresh = signed_in.json()["access_token"]
        renewed = await regenerate_codes(api, fresh, user.codes[0])
        assert renewed.status_code == 200, renewed.text

    async def test_sign_in_codes_do_not_spend_the_sessions_budget(self, api: Api) -> None:
        user = await mfa_user(api, confirm_offset=-STEP)
        await wait_for_fresh_step()
        for _ in range(PER_USER):
            mfa_token = await challenge(api, user.email)
            wrong = await submit(api, mfa_token, wrong_code(user.app))
            assert_problem(wrong, 401, "invalid_mfa_code")
        assert_rate_limited(await submit(api, await challenge(api, user.email), "000000"))

        renewed = await regenerate_codes(api, user.tokens.access, user.app.now())
        assert renewed.status_code == 200, renewed.text


@pytest.mark.parametrize("backend", ["production"])
class TestRedisKeys:
    async def test_every_mfa_key_in_redis_expires(self, api: Api, backend: str) -> None:
        assert api.settings.redis_url is not None
        # the base settings' per-user budget is "1000/minute": its key lives a minute at most
        assert api.settings.mfa_rate_limit_per_user == "1000/minute"
        user = await mfa_user(api, confirm_offset=-STEP)
        open_token = await challenge(api, user.email)  # left open
        tried_token = await challenge(api, user.email)
        assert_problem(
            await submit(api, tried_token, wrong_code(user.app)), 401, "invalid_mfa_code"
        )
        prefix = api.settings.redis_prefix
        user_id = await user_id_of(api, user.email)

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
        # limiter keys carry a digest of the key, never the account id itself
        digest = hashlib.sha256(str(user_id).encode()).hexdigest()[:32]
        assert not [key for key in limits if str(user_id) in key]
        own_limits = [key for key in limits if digest in key]
        assert own_limits, limits  # the account's budget
        ttl_ms = api.settings.mfa_challenge_ttl_seconds * 1000
        for key in own:
            assert 0 < ttls[key] <= ttl_ms, (key, ttls[key])
        for key in own_limits:
            assert 0 < ttls[key] <= ONE_MINUTE * 1000, (key, ttls[key])
        for key, ttl in ttls.items():
            # -1: a key without expiry; -2: another test's key that expired meanwhile
            assert ttl > 0 or ttl == -2, (key, ttl)
