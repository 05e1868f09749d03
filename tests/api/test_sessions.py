"""Sessions: logout (by refresh token, by access token, idempotent), logout-all,
the session list and revoking one session, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from authapi.models import SecurityEvent
from tests.conftest import PASSWORD, Api, Tokens, assert_problem, bearer


def session_of(tokens: Tokens) -> str:
    return tokens.refresh.split(".", 1)[0]


async def assert_session_ended(api: Api, tokens: Tokens) -> None:
    me = await api.me(tokens.access)
    assert_problem(me, 401, "invalid_token")
    assert 'error="invalid_token"' in me.headers["www-authenticate"]
    assert_problem(await api.refresh(tokens.refresh), 401, "invalid_refresh_token")


async def assert_session_live(api: Api, tokens: Tokens) -> None:
    assert (await api.me(tokens.access)).status_code == 200


async def login_from(api: Api, email: str, headers: dict[str, str]) -> Tokens:
    response = await api.client.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD, "refresh_token_delivery": "body"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Tokens(email=email, access=body["access_token"], refresh=body["refresh_token"])


async def list_sessions(api: Api, tokens: Tokens) -> list[dict[str, Any]]:
    response = await api.client.get("/auth/sessions", headers=bearer(tokens.access))
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    return sessions


class TestLogout:
    @pytest.mark.requirement("ASVS-7.2.1", "ASVS-7.4.1", "NIST-63B-5.1-b", "RFC9700-4.14.2")
    async def test_logout_by_refresh_token_ends_the_session_at_once(self, api: Api) -> None:
        tokens = await api.signed_in()
        await assert_session_live(api, tokens)

        response = await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})

        assert response.status_code == 204
        assert response.content == b""
        await assert_session_ended(api, tokens)

    @pytest.mark.requirement("ASVS-7.4.1", "NIST-63B-5.1-b", "RFC6750-2.1")
    async def test_logout_with_only_a_bearer_token_ends_that_session(self, api: Api) -> None:
        email = await api.create_user()
        tokens = await api.signed_in(email)
        other = await api.signed_in(email)

        response = await api.client.post("/auth/logout", headers=bearer(tokens.access))

        assert response.status_code == 204
        await assert_session_ended(api, tokens)
        await assert_session_live(api, other)

    async def test_logout_by_refresh_token_leaves_other_sessions(self, api: Api) -> None:
        email = await api.create_user()
        tokens = await api.signed_in(email)
        other = await api.signed_in(email)
        await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        await assert_session_live(api, other)
        assert (await api.refresh(other.refresh)).status_code == 200

    async def test_logout_is_idempotent(self, api: Api) -> None:
        tokens = await api.signed_in()
        for _ in range(2):
            response = await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
            assert response.status_code == 204
        assert (await api.client.post("/auth/logout")).status_code == 204
        assert (await api.client.post("/auth/logout", json={})).status_code == 204
        await assert_session_ended(api, tokens)

    async def test_logout_with_an_ended_sessions_bearer_is_still_204(self, api: Api) -> None:
        tokens = await api.signed_in()
        await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        response = await api.client.post("/auth/logout", headers=bearer(tokens.access))
        assert response.status_code == 204

    async def test_logout_with_a_forged_refresh_token_revokes_nothing(self, api: Api) -> None:
        tokens = await api.signed_in()
        session_id, secret, mac = tokens.refresh.split(".")
        forged = f"{session_id}.{secret}.{'A' * len(mac)}"
        response = await api.client.post("/auth/logout", json={"refresh_token": forged})
        assert response.status_code == 204
        await assert_session_live(api, tokens)
        assert (await api.refresh(tokens.refresh)).status_code == 200


class TestLogoutWithARotatedToken:
    """Signing out with a refresh token that is no longer current (issue 12, item 16):
    the parent within the grace window (a tab that has not seen the rotation) signs out
    as asked; an older token of a live session is reuse, so the session ends as on a
    refresh, recorded and told to the owner, never silently."""

    async def rotated(self, api: Api) -> tuple[Tokens, Tokens]:
        """A session and the tokens of its first rotation."""
        first = await api.signed_in()
        refreshed = await api.refresh(first.refresh)
        assert refreshed.status_code == 200, refreshed.text
        body = refreshed.json()
        return first, Tokens(first.email, body["access_token"], body["refresh_token"])

    async def test_the_parent_within_the_grace_window_signs_out(self, api: Api) -> None:
        first, second = await self.rotated(api)

        response = await api.client.post("/auth/logout", json={"refresh_token": first.refresh})

        assert response.status_code == 204
        await assert_session_ended(api, second)
        assert await self.events(api, second) == ["logout"]

    @pytest.mark.parametrize(
        ("path", "answer"), [("/auth/logout", 204), ("/auth/revoke", 200)], ids=["logout", "revoke"]
    )
    async def test_an_older_token_is_reuse_not_a_quiet_sign_out(
        self, make_api: Callable[..., Any], path: str, answer: int
    ) -> None:
        async with make_api(refresh_reuse_grace_seconds=0) as api:
            first, second = await self.rotated(api)

            if path == "/auth/logout":
                response = await api.client.post(path, json={"refresh_token": first.refresh})
            else:  # RFC 7009: a form
                response = await api.client.post(path, data={"token": first.refresh})

            assert response.status_code == answer
            await assert_session_ended(api, second)
            assert await self.events(api, second) == ["refresh_token_reused"]
            await api.mail.wait_for(first.email, subject="We signed out one of your sessions")

    async def events(self, api: Api, tokens: Tokens) -> list[str]:
        """The session's own end: the security events recorded with its id, but sign-in."""
        async with api.app.state.resources.sessionmaker() as db:
            types = await db.scalars(
                select(SecurityEvent.type)
                .where(SecurityEvent.session_id == uuid.UUID(session_of(tokens)))
                .order_by(SecurityEvent.id)
            )
            return [kind for kind in types if kind != "login_succeeded"]


class TestLogoutAll:
    @pytest.mark.requirement("ASVS-10.4.9")
    async def test_logout_all_ends_every_session_of_the_user_only(self, api: Api) -> None:
        email = await api.create_user()
        first = await api.signed_in(email)
        second = await api.signed_in(email)
        stranger = await api.signed_in()

        response = await api.client.post("/auth/logout-all", headers=bearer(first.access))

        assert response.status_code == 204
        await assert_session_ended(api, first)
        await assert_session_ended(api, second)
        await assert_session_live(api, stranger)
        assert (await api.refresh(stranger.refresh)).status_code == 200

    async def test_logout_all_needs_a_live_bearer(self, api: Api) -> None:
        assert_problem(await api.client.post("/auth/logout-all"), 401, "not_authenticated")
        tokens = await api.signed_in()
        await api.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        response = await api.client.post("/auth/logout-all", headers=bearer(tokens.access))
        assert_problem(response, 401, "invalid_token")

    async def test_user_can_sign_in_again_after_logout_all(self, api: Api) -> None:
        tokens = await api.signed_in()
        await api.client.post("/auth/logout-all", headers=bearer(tokens.access))
        again = await api.signed_in(tokens.email)
        await assert_session_live(api, again)


class TestSessionList:
    @pytest.mark.requirement("ASVS-7.2.4")
    async def test_sessions_list_shows_each_active_session_with_its_details(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(client_ip="198.51.100.7") as api:
            email = await api.create_user()
            before = datetime.now(UTC) - timedelta(seconds=5)
            laptop = await login_from(api, email, {"User-Agent": "Laptop/1.0"})
            phone = await login_from(api, email, {"User-Agent": "Phone/2.0"})
            await api.signed_in()  # someone else's session is not listed

            sessions = await list_sessions(api, laptop)

            by_id = {s["id"]: s for s in sessions}
            assert set(by_id) == {session_of(laptop), session_of(phone)}
            assert by_id[session_of(laptop)]["user_agent"] == "Laptop/1.0"
            assert by_id[session_of(phone)]["user_agent"] == "Phone/2.0"
            assert [by_id[session_of(t)]["current"] for t in (laptop, phone)] == [True, False]
            for session in sessions:
                assert session["ip"] == "198.51.100.7"
                created = datetime.fromisoformat(session["created_at"])
                last_used = datetime.fromisoformat(session["last_used_at"])
                expires = datetime.fromisoformat(session["expires_at"])
                assert before <= created <= datetime.now(UTC)
                assert last_used >= created - timedelta(seconds=1)
                assert expires > datetime.now(UTC)

    async def test_current_flag_follows_the_caller(self, api: Api) -> None:
        email = await api.create_user()
        first = await api.signed_in(email)
        second = await api.signed_in(email)
        sessions = await list_sessions(api, second)
        current = [s["id"] for s in sessions if s["current"]]
        assert current == [session_of(second)]
        assert session_of(first) in {s["id"] for s in sessions}

    async def test_refresh_updates_last_used(self, api: Api) -> None:
        tokens = await api.signed_in()
        (before,) = await list_sessions(api, tokens)
        refreshed = await api.refresh(tokens.refresh)
        assert refreshed.status_code == 200
        (after,) = await list_sessions(api, tokens)
        assert after["id"] == before["id"]
        assert datetime.fromisoformat(after["last_used_at"]) > datetime.fromisoformat(
            before["last_used_at"]
        )

    async def test_ended_sessions_are_not_listed(self, api: Api) -> None:
        email = await api.create_user()
        keep = await api.signed_in(email)
        gone = await api.signed_in(email)
        await api.client.post("/auth/logout", json={"refresh_token": gone.refresh})
        assert [s["id"] for s in await list_sessions(api, keep)] == [session_of(keep)]

    @pytest.mark.parametrize(
        ("settings", "peer", "expected"),
        [
            ({"trusted_proxies": "10.0.0.0/8"}, "10.1.2.3", "198.51.100.23"),
            ({}, "203.0.113.50", "203.0.113.50"),
        ],
        ids=["trusted-proxy", "untrusted-peer"],
    )
    async def test_ip_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
        self, make_api: Callable[..., Any], settings: dict[str, str], peer: str, expected: str
    ) -> None:
        async with make_api(client_ip=peer, **settings) as api:
            email = await api.create_user()
            tokens = await login_from(api, email, {"X-Forwarded-For": "192.0.2.99, 198.51.100.23"})
            (session,) = await list_sessions(api, tokens)
            assert session["ip"] == expected

    async def test_sessions_list_needs_a_bearer(self, api: Api) -> None:
        response = await api.client.get("/auth/sessions")
        assert_problem(response, 401, "not_authenticated")


class TestRevokeOneSession:
    @pytest.mark.requirement("ASVS-10.4.9")
    async def test_deleting_a_session_ends_only_that_one(self, api: Api) -> None:
        email = await api.create_user()
        mine = await api.signed_in(email)
        lost_phone = await api.signed_in(email)

        response = await api.client.delete(
            f"/auth/sessions/{session_of(lost_phone)}", headers=bearer(mine.access)
        )

        assert response.status_code == 204
        await assert_session_ended(api, lost_phone)
        await assert_session_live(api, mine)
        assert [s["id"] for s in await list_sessions(api, mine)] == [session_of(mine)]

    async def test_deleting_the_current_session_ends_it(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await api.client.delete(
            f"/auth/sessions/{session_of(tokens)}", headers=bearer(tokens.access)
        )
        assert response.status_code == 204
        await assert_session_ended(api, tokens)

    @pytest.mark.requirement("ASVS-10.3.2", "ASVS-10.4.9")
    async def test_another_users_session_is_not_found_and_stays_live(self, api: Api) -> None:
        mine = await api.signed_in()
        theirs = await api.signed_in()
        response = await api.client.delete(
            f"/auth/sessions/{session_of(theirs)}", headers=bearer(mine.access)
        )
        assert_problem(response, 404, "session_not_found")
        await assert_session_live(api, theirs)
        assert (await api.refresh(theirs.refresh)).status_code == 200

    async def test_unknown_or_already_ended_session_is_not_found(self, api: Api) -> None:
        email = await api.create_user()
        mine = await api.signed_in(email)
        ended = await api.signed_in(email)
        await api.client.post("/auth/logout", json={"refresh_token": ended.refresh})
        for session_id in (str(uuid.uuid4()), session_of(ended)):
            response = await api.client.delete(
                f"/auth/sessions/{session_id}", headers=bearer(mine.access)
            )
            assert_problem(response, 404, "session_not_found")

    @pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0" * 40])
    async def test_non_uuid_session_id_is_422(self, api: Api, bad_id: str) -> None:
        tokens = await api.signed_in()
        response = await api.client.delete(
            f"/auth/sessions/{bad_id}", headers=bearer(tokens.access)
        )
        assert_problem(response, 422, "validation_error")
        await assert_session_live(api, tokens)

    async def test_deleting_needs_a_live_bearer(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await api.client.delete(f"/auth/sessions/{session_of(tokens)}")
        assert_problem(response, 401, "not_authenticated")
        await assert_session_live(api, tokens)
