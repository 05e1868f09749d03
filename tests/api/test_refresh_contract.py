"""The refresh concurrency contract (SPEC "Tokens"), on both backends.

1. the current token rotates to its successor;
2. the immediate parent within the grace window gets the same successor again;
3. any other reuse revokes that one session (401 `refresh_token_reused`), is
   recorded as a security event and emailed to the user.
N concurrent refreshes of one token never leave two live tokens.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from authapi.models import SecurityEvent, UserSession
from authapi.store import Outcome
from authapi.tokens import token_hash
from tests.conftest import Api, assert_problem, bearer

REUSE_SUBJECT = "We signed out one of your sessions"


def session_of(refresh_token: str) -> str:
    return refresh_token.split(".", 1)[0]


def jti_of(access_token: str) -> str:
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return str(claims["jti"])


@dataclass(frozen=True)
class Pair:
    access: str
    refresh: str


async def refreshed(api: Api, refresh_token: str) -> Pair:
    response = await api.refresh(refresh_token)
    assert response.status_code == 200, response.text
    body = response.json()
    return Pair(access=body["access_token"], refresh=body["refresh_token"])


async def reuse_events(api: Api, session_id: str) -> list[SecurityEvent]:
    async with api.app.state.resources.sessionmaker() as db:
        rows = await db.scalars(
            select(SecurityEvent).where(
                SecurityEvent.session_id == uuid.UUID(session_id),
                SecurityEvent.type == "refresh_token_reused",
            )
        )
        return list(rows.all())


class TestConcurrentRefresh:
    @pytest.mark.requirement("ASVS-10.4.5", "ASVS-2.3.4")
    async def test_parallel_refreshes_of_one_token_converge_on_one_successor(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        responses = await asyncio.gather(*(api.refresh(tokens.refresh) for _ in range(25)))

        assert [r.status_code for r in responses] == [200] * 25, [r.text for r in responses]
        successors = {r.json()["refresh_token"] for r in responses}
        assert len(successors) == 1
        (successor,) = successors
        assert successor != tokens.refresh
        assert session_of(successor) == session_of(tokens.refresh)
        accesses = [r.json()["access_token"] for r in responses]
        assert len({jti_of(access) for access in accesses}) == 25
        for access in accesses[:3] + accesses[-3:]:
            assert (await api.me(access)).status_code == 200

        # one live token: the successor rotates normally, and the family was not forked
        following = await refreshed(api, successor)
        assert following.refresh not in (successor, tokens.refresh)
        assert (await api.me(following.access)).status_code == 200

    async def test_parallel_refreshes_by_the_oauth_token_endpoint_converge_too(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh}
        responses = await asyncio.gather(
            *(api.client.post("/auth/token", data=form) for _ in range(20))
        )
        assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
        assert len({r.json()["refresh_token"] for r in responses}) == 1


class TestGraceReplay:
    async def test_parent_replay_within_grace_returns_the_same_successor(self, api: Api) -> None:
        tokens = await api.signed_in()
        first = await refreshed(api, tokens.refresh)
        again = await refreshed(api, tokens.refresh)

        assert again.refresh == first.refresh
        assert jti_of(again.access) != jti_of(first.access)
        assert (await api.me(again.access)).status_code == 200
        assert (await api.me(first.access)).status_code == 200
        # the successor is still the live token
        assert (await api.refresh(first.refresh)).status_code == 200

    @pytest.mark.requirement("ASVS-10.4.5", "RFC9700-2.2.2")
    async def test_parent_replay_after_grace_revokes_the_session(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(refresh_reuse_grace_seconds=0) as api:
            tokens = await api.signed_in()
            successor = await refreshed(api, tokens.refresh)
            await asyncio.sleep(0.01)  # past a zero-second window even at millisecond precision

            assert_problem(await api.refresh(tokens.refresh), 401, "refresh_token_reused")
            assert_problem(await api.refresh(successor.refresh), 401, "invalid_refresh_token")
            assert_problem(await api.me(successor.access), 401, "invalid_token")
            assert_problem(await api.me(tokens.access), 401, "invalid_token")


class TestReuse:
    @pytest.mark.requirement("ASVS-10.4.5", "RFC6749-10.4", "RFC9457-3.1.2", "RFC9700-2.2.2")
    async def test_grandparent_replay_revokes_the_session(self, api: Api) -> None:
        tokens = await api.signed_in()
        child = await refreshed(api, tokens.refresh)
        grandchild = await refreshed(api, child.refresh)

        assert_problem(await api.refresh(tokens.refresh), 401, "refresh_token_reused")
        assert_problem(await api.refresh(grandchild.refresh), 401, "invalid_refresh_token")
        assert_problem(await api.refresh(child.refresh), 401, "invalid_refresh_token")
        for access in (tokens.access, child.access, grandchild.access):
            response = await api.me(access)
            assert_problem(response, 401, "invalid_token")
            assert 'error="invalid_token"' in response.headers["www-authenticate"]

    async def test_reuse_revokes_only_that_session(self, api: Api) -> None:
        email = await api.create_user()
        victim = await api.signed_in(email)
        other = await api.signed_in(email)
        child = await refreshed(api, victim.refresh)
        await refreshed(api, child.refresh)

        assert_problem(await api.refresh(victim.refresh), 401, "refresh_token_reused")

        assert (await api.me(other.access)).status_code == 200
        assert (await api.refresh(other.refresh)).status_code == 200

    @pytest.mark.requirement("ASVS-16.3.3")
    async def test_reuse_is_recorded_and_the_session_marked_revoked(self, api: Api) -> None:
        tokens = await api.signed_in()
        user_id = (await api.me(tokens.access)).json()["id"]
        child = await refreshed(api, tokens.refresh)
        await refreshed(api, child.refresh)
        session_id = session_of(tokens.refresh)
        assert await reuse_events(api, session_id) == []

        assert_problem(await api.refresh(tokens.refresh), 401, "refresh_token_reused")

        events = await reuse_events(api, session_id)
        assert len(events) == 1
        assert str(events[0].user_id) == user_id
        async with api.app.state.resources.sessionmaker() as db:
            row = await db.get(UserSession, uuid.UUID(session_id))
        assert row is not None
        assert row.revoked_at is not None
        assert row.revoke_reason == "refresh_token_reused"

    async def test_reuse_emails_the_user(self, api: Api) -> None:
        tokens = await api.signed_in()
        child = await refreshed(api, tokens.refresh)
        await refreshed(api, child.refresh)
        assert not [m for m in api.mail.to(tokens.email) if REUSE_SUBJECT in str(m["Subject"])]

        assert_problem(await api.refresh(tokens.refresh), 401, "refresh_token_reused")

        message = await api.mail.wait_for(tokens.email, subject=REUSE_SUBJECT)
        assert tokens.refresh not in str(message)  # no token in the notice

    async def test_second_replay_of_a_reused_token_is_just_invalid(self, api: Api) -> None:
        tokens = await api.signed_in()
        child = await refreshed(api, tokens.refresh)
        await refreshed(api, child.refresh)
        assert_problem(await api.refresh(tokens.refresh), 401, "refresh_token_reused")
        # the session is gone: nothing left to revoke or report again
        assert_problem(await api.refresh(tokens.refresh), 401, "invalid_refresh_token")
        assert len(await reuse_events(api, session_of(tokens.refresh))) == 1


class TestInvalidTokens:
    @pytest.mark.requirement("ASVS-7.2.1", "RFC6749-10.4")
    async def test_forged_mac_is_invalid_and_does_not_revoke_the_session(self, api: Api) -> None:
        tokens = await api.signed_in()
        session_id, secret, mac = tokens.refresh.split(".")
        forged_mac = f"{session_id}.{secret}.{'A' * len(mac)}"
        forged_secret = f"{session_id}.{'B' * len(secret)}.{mac}"

        for forged in (forged_mac, forged_secret):
            assert_problem(await api.refresh(forged), 401, "invalid_refresh_token")

        assert await reuse_events(api, session_id) == []
        assert (await api.me(tokens.access)).status_code == 200
        assert (await api.refresh(tokens.refresh)).status_code == 200

    @pytest.mark.parametrize(
        "request_kwargs",
        [{}, {"json": {}}, {"json": {"refresh_token": None}}],
        ids=["no-body", "empty-object", "null-token"],
    )
    async def test_refresh_without_a_token_is_401(
        self, api: Api, request_kwargs: dict[str, Any]
    ) -> None:
        response = await api.client.post("/auth/refresh", **request_kwargs)
        assert_problem(response, 401, "invalid_refresh_token")

    @pytest.mark.parametrize(
        "garbage",
        ["x", "a.b.c", f"{uuid.uuid4()}.secret.mac", "é" * 10],
        ids=["one-part", "non-uuid", "unsigned", "non-ascii"],
    )
    async def test_garbage_refresh_token_is_401(self, api: Api, garbage: str) -> None:
        assert_problem(await api.refresh(garbage), 401, "invalid_refresh_token")


class TestSessionLifetime:
    @pytest.mark.requirement(
        "ASVS-10.4.8", "ASVS-7.3.2", "ASVS-7.4.1", "NIST-63B-2.1.3", "NIST-63B-5.1.1-b"
    )
    async def test_refresh_expiry_is_capped_by_the_absolute_session_lifetime(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(session_lifetime_seconds=120, refresh_token_ttl_seconds=100) as api:
            email = await api.create_user()
            browser = await api.login(email, delivery="cookie")
            assert browser.status_code == 200
            cookie = browser.headers["set-cookie"]
            max_age = int(cookie.split("Max-Age=", 1)[1].split(";", 1)[0])
            assert 98 <= max_age <= 100

            started_at = time.time()
            tokens = await api.signed_in(email)
            resources = api.app.state.resources
            parent = resources.refresh_tokens.parse(tokens.refresh)
            assert parent is not None
            successor = resources.refresh_tokens.successor(parent)

            # a refresh 50 s later would slide to +150 s; the session ends at +120 s
            later = await resources.store.rotate(
                parent.session_id,
                presented_hash=token_hash(tokens.refresh),
                successor_hash=successor.hash,
                now=started_at + 50,
                grace_seconds=api.settings.refresh_reuse_grace_seconds,
                ttl_seconds=api.settings.refresh_token_ttl_seconds,
            )
            assert later.outcome is Outcome.ROTATED
            assert later.expires_at == pytest.approx(started_at + 120, abs=2)

            listed = await api.client.get("/auth/sessions", headers=bearer(tokens.access))
            (view,) = [s for s in listed.json()["sessions"] if s["id"] == parent.session_id]
            lifetime = datetime.fromisoformat(view["expires_at"]) - datetime.fromisoformat(
                view["created_at"]
            )
            assert lifetime <= timedelta(seconds=121)

            # past the absolute end, the successor no longer rotates and the session is over
            ended = await resources.store.rotate(
                parent.session_id,
                presented_hash=successor.hash,
                successor_hash=resources.refresh_tokens.successor(successor).hash,
                now=started_at + 121,
                grace_seconds=api.settings.refresh_reuse_grace_seconds,
                ttl_seconds=api.settings.refresh_token_ttl_seconds,
            )
            assert ended.outcome is Outcome.UNKNOWN
            assert_problem(await api.refresh(successor.value), 401, "invalid_refresh_token")
            assert_problem(await api.me(tokens.access), 401, "invalid_token")


class TestOAuthRefreshGrant:
    @pytest.mark.requirement("ASVS-7.2.2", "RFC6749-5.1", "RFC6749-6", "RFC9700-2.2.2")
    async def test_refresh_grant_rotates_and_replays_like_refresh(self, api: Api) -> None:
        tokens = await api.signed_in()
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh}
        first = await api.client.post("/auth/token", data=form)
        assert first.status_code == 200, first.text
        assert first.headers["cache-control"] == "no-store"
        body = first.json()
        assert body["token_type"] == "bearer"
        assert body["refresh_token"] != tokens.refresh
        assert (await api.me(body["access_token"])).status_code == 200

        replay = await api.client.post("/auth/token", data=form)
        assert replay.status_code == 200, replay.text
        assert replay.json()["refresh_token"] == body["refresh_token"]
        assert jti_of(replay.json()["access_token"]) != jti_of(body["access_token"])

    @pytest.mark.requirement("ASVS-10.4.5", "RFC6749-6", "RFC9700-2.2.2")
    async def test_refresh_grant_grandparent_is_invalid_grant_and_revokes(self, api: Api) -> None:
        tokens = await api.signed_in()
        child = await refreshed(api, tokens.refresh)
        grandchild = await refreshed(api, child.refresh)

        response = await api.client.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh}
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
        assert response.json()["code"] == "refresh_token_reused"
        assert_problem(await api.refresh(grandchild.refresh), 401, "invalid_refresh_token")
        assert_problem(await api.me(grandchild.access), 401, "invalid_token")
        assert len(await reuse_events(api, session_of(tokens.refresh))) == 1

    @pytest.mark.requirement("RFC6749-5.2-a", "RFC6749-6")
    async def test_refresh_grant_with_a_forged_token_is_invalid_grant(self, api: Api) -> None:
        tokens = await api.signed_in()
        session_id, secret, _ = tokens.refresh.split(".")
        response = await api.client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": f"{session_id}.{secret}.AAAA"},
        )
        assert response.status_code == 400
        assert response.json() | {"error_description": ""} == {
            "error": "invalid_grant",
            "error_description": "",
            "code": "invalid_refresh_token",
        }
        assert (await api.refresh(tokens.refresh)).status_code == 200

    @pytest.mark.requirement("RFC6749-6")
    async def test_refresh_grant_without_the_token_is_invalid_request(self, api: Api) -> None:
        response = await api.client.post("/auth/token", data={"grant_type": "refresh_token"})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
