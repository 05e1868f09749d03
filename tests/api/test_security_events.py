"""`GET /users/me/events`: a user's own security events, newest first, paginated (issue 7).

Two users act in turn, each from an IP and a user agent of its own, through the same app
(both backends): register, verify, sign in, a wrong password, sign out, sign in, change
the password, turn on two-factor authentication. Each then sees exactly its own events,
in order, with time, IP, user agent and session, never the other's (compared by id with
the database); `limit`/`before` walk the list page by page without gaps or repeats; no
event shows a password, a token, a code or a secret that was used.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from authapi.models import SecurityEvent
from tests.conftest import Api, assert_problem, bearer, client_from, link_token, unique_email
from tests.mfa import code_in, confirm, start_setup, user_id_of, wait_for_fresh_step

WRONG_PASSWORD = "certainly not the password at all"

# what each actor's trail holds at the end, newest first
EXPECTED_TYPES = [
    "mfa_enabled",
    "mfa_setup_started",
    "password_changed",
    "login_succeeded",
    "logout",
    "login_failed",
    "login_succeeded",
    "email_verified",
    "user_registered",
]


@dataclass
class Actor:
    """One user with a client of its own (IP and user agent), and every secret it used."""

    api: Api
    ip: str
    user_agent: str
    password: str
    new_password: str
    email: str = field(default_factory=lambda: unique_email("events"))
    secrets: list[str] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    access: str = ""
    refresh: str = ""

    def used(self, *values: str) -> None:
        self.secrets.extend(value for value in values if value)


@asynccontextmanager
async def actor(api: Api, ip: str, tag: str) -> AsyncIterator[Actor]:
    async with client_from(api, ip) as client:
        client.headers["User-Agent"] = f"events-test/{tag}"
        yield Actor(
            api=dataclasses.replace(api, client=client),
            ip=ip,
            user_agent=f"events-test/{tag}",
            password=f"the first passphrase of {tag} {uuid.uuid4().hex[:8]}",
            new_password=f"the second passphrase of {tag} {uuid.uuid4().hex[:8]}",
        )


async def events_page(
    api: Api, access: str | None, **params: Any
) -> httpx.Response:  # as it is answered
    headers = bearer(access) if access else {}
    return await api.client.get("/users/me/events", params=params, headers=headers)


async def all_events(api: Api, access: str) -> list[dict[str, Any]]:
    response = await events_page(api, access, limit=100)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_before"] is None, body
    events: list[dict[str, Any]] = body["events"]
    return events


async def stored_ids(api: Api, email: str) -> set[int]:
    user_id = await user_id_of(api, email)
    async with api.app.state.resources.sessionmaker() as db:
        rows = await db.scalars(select(SecurityEvent.id).where(SecurityEvent.user_id == user_id))
        return set(rows.all())


def sid_of(access: str) -> str:
    sid: str = jwt.decode(access, options={"verify_signature": False})["sid"]
    return sid


# --- what each actor does (one step at a time, so that two actors interleave) -------------
async def register(who: Actor) -> None:
    response = await who.api.register(who.email, who.password)
    assert response.status_code == 202, response.text
    who.used(who.password)


async def verify(who: Actor) -> None:
    token = link_token(await who.api.mail.wait_for(who.email, subject="Confirm"))
    response = await who.api.client.post("/auth/verify-email", json={"token": token})
    assert response.status_code == 200, response.text
    who.used(token)


async def login(who: Actor, password: str | None = None) -> None:
    response = await who.api.login(who.email, password or who.password)
    assert response.status_code == 200, response.text
    who.access = response.json()["access_token"]
    who.session_ids.append(sid_of(who.access))
    who.refresh = response.json()["refresh_token"]
    who.used(who.access, who.refresh)


async def fail_login(who: Actor) -> None:
    response = await who.api.login(who.email, WRONG_PASSWORD)
    assert_problem(response, 401, "invalid_credentials")


async def logout(who: Actor) -> None:
    response = await who.api.client.post("/auth/logout", json={"refresh_token": who.refresh})
    assert response.status_code == 204, response.text


async def change_password(who: Actor) -> None:
    response = await who.api.client.post(
        "/users/me/password",
        json={"current_password": who.password, "new_password": who.new_password},
        headers=bearer(who.access),
    )
    assert response.status_code == 204, response.text
    who.used(who.new_password)


async def enable_mfa(who: Actor) -> None:
    app = await start_setup(who.api, who.access, who.new_password)
    await wait_for_fresh_step()
    code = code_in(app, 0)
    response = await confirm(who.api, who.access, code)
    assert response.status_code == 200, response.text
    who.used(app.secret, code, *response.json()["recovery_codes"])


STEPS = [register, verify, login, fail_login, logout, login, change_password, enable_mfa]


@pytest.fixture
async def two_actors(api: Api) -> AsyncIterator[tuple[Actor, Actor, datetime, datetime]]:
    """Two users who did every step in turn; with the time before and after."""
    async with (
        actor(api, "198.51.100.21", "alice") as alice,
        actor(api, "2001:db8:e7::b0b", "bob") as bob,
    ):
        started = datetime.now(UTC)
        for step in STEPS:
            await step(alice)
            await step(bob)
        finished = datetime.now(UTC)
        yield alice, bob, started, finished


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.tzinfo is not None, f"{value} has no time zone"
    return moment


# --- each sees its own --------------------------------------------------------------------
class TestOwnEvents:
    @pytest.mark.requirement("ASVS-16.2.1", "ASVS-16.2.2")
    async def test_each_user_sees_its_own_events_newest_first(
        self, two_actors: tuple[Actor, Actor, datetime, datetime]
    ) -> None:
        alice, bob, started, finished = two_actors
        for who in (alice, bob):
            events = await all_events(who.api, who.access)

            assert [event["type"] for event in events] == EXPECTED_TYPES, events
            ids = [event["id"] for event in events]
            assert ids == sorted(ids, reverse=True), ids
            assert len(set(ids)) == len(ids)
            times = [parse_time(event["created_at"]) for event in events]
            assert times == sorted(times, reverse=True), times
            for event, moment in zip(events, times, strict=True):
                assert started.replace(microsecond=0) <= moment <= finished, event
                assert event["ip"] == who.ip, event
                assert event["user_agent"] == who.user_agent, event

    @pytest.mark.requirement("ASVS-16.3.1")
    async def test_details_and_sessions_of_the_events(
        self, two_actors: tuple[Actor, Actor, datetime, datetime]
    ) -> None:
        alice, bob, _, _ = two_actors
        for who in (alice, bob):
            events = await all_events(who.api, who.access)
            by_type: dict[str, list[dict[str, Any]]] = {}
            for event in events:
                by_type.setdefault(event["type"], []).append(event)

            logins = by_type["login_succeeded"]  # newest first
            assert [event["details"] for event in logins] == [{"method": "password"}] * 2
            assert [event["session_id"] for event in logins] == who.session_ids[::-1]
            (failed,) = by_type["login_failed"]
            assert failed["details"]["reason"] == "invalid_credentials", failed
            assert failed["details"].get("method") == "password", failed
            (logged_out,) = by_type["logout"]
            assert logged_out["session_id"] == who.session_ids[0]

    @pytest.mark.requirement("ASVS-10.3.2")
    async def test_never_another_users_events(
        self, two_actors: tuple[Actor, Actor, datetime, datetime]
    ) -> None:
        alice, bob, _, _ = two_actors
        seen = {}
        for who in (alice, bob):
            events = await all_events(who.api, who.access)
            seen[who.email] = {event["id"] for event in events}
            # exactly the account's own rows, none missing, none foreign
            assert seen[who.email] == await stored_ids(who.api, who.email)
        assert not seen[alice.email] & seen[bob.email]
        # the two trails interleave (the actors took turns), yet neither shows the other's
        assert min(seen[bob.email]) < max(seen[alice.email])

        # a `before` past the other's newest event still shows one's own only
        for who, other in ((alice, bob), (bob, alice)):
            beyond = max(seen[other.email]) + 1
            response = await events_page(who.api, who.access, before=beyond, limit=100)
            assert response.status_code == 200, response.text
            listed = {event["id"] for event in response.json()["events"]}
            assert listed <= seen[who.email]
            assert not listed & seen[other.email]

    async def test_no_event_shows_a_secret_that_was_used(
        self, two_actors: tuple[Actor, Actor, datetime, datetime]
    ) -> None:
        alice, bob, _, _ = two_actors
        used = [*alice.secrets, *bob.secrets, WRONG_PASSWORD]
        assert len(used) > 20  # passwords, tokens, the link, the TOTP secret, codes
        for who in (alice, bob):
            pages = []
            for limit in (100, 1):
                before = None
                while True:
                    params: dict[str, Any] = {"limit": limit}
                    if before is not None:
                        params["before"] = before
                    response = await events_page(who.api, who.access, **params)
                    assert response.status_code == 200, response.text
                    pages.append(response.text)
                    before = response.json()["next_before"]
                    if before is None:
                        break
            text = "\n".join(pages)
            for secret in used:
                assert secret not in text, f"an event shows a secret ({secret[:4]}…)"
                assert json.dumps(secret)[1:-1] not in text


# --- pagination -------------------------------------------------------------------------------
class TestPagination:
    async def test_pages_cover_every_event_exactly_once_in_order(
        self, two_actors: tuple[Actor, Actor, datetime, datetime]
    ) -> None:
        alice, _, _, _ = two_actors
        everything = [event["id"] for event in await all_events(alice.api, alice.access)]
        assert len(everything) == len(EXPECTED_TYPES) == 9
        # 9 events: limits that divide them, leave a remainder, hold them exactly or more
        for limit in (1, 2, 3, 4, 8, 9, 10, 100):
            walked: list[int] = []
            before = None
            pages = 0
            while True:
                params: dict[str, Any] = {"limit": limit}
                if before is not None:
                    params["before"] = before
                response = await events_page(alice.api, alice.access, **params)
                assert response.status_code == 200, response.text
                page = response.json()
                ids = [event["id"] for event in page["events"]]
                pages += 1
                assert 1 <= len(ids) <= limit, (limit, page)
                walked.extend(ids)
                before = page["next_before"]
                if before is None:
                    break
                assert before == ids[-1], (limit, page)  # the oldest of the page
                assert len(ids) == limit, (limit, page)
                assert pages <= len(everything), f"pagination with limit={limit} does not end"

            assert walked == everything, limit
            assert pages == -(-len(everything) // limit), limit  # no empty last page

    async def test_limit_two_gives_a_cursor(
        self, two_actors: tuple[Actor, Actor, datetime, datetime]
    ) -> None:
        alice, _, _, _ = two_actors
        response = await events_page(alice.api, alice.access, limit=2)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [event["type"] for event in body["events"]] == EXPECTED_TYPES[:2]
        assert isinstance(body["next_before"], int)
        assert body["next_before"] == body["events"][-1]["id"]

    async def test_the_default_page_holds_twenty(
        self, two_actors: tuple[Actor, Actor, datetime, datetime]
    ) -> None:
        alice, _, _, _ = two_actors
        response = await events_page(alice.api, alice.access)
        assert response.status_code == 200, response.text
        assert len(response.json()["events"]) == len(EXPECTED_TYPES)
        assert response.json()["next_before"] is None

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 101},
            {"limit": -1},
            {"limit": "two"},
            {"before": "garbage"},
            {"before": 0},
            {"before": -5},
            {"before": "1.5"},
            # beyond a BIGINT: was a 500 on both backends (issue 12, item 10)
            {"before": 2**63},
            {"before": 10**30},
        ],
        ids=str,
    )
    async def test_bad_parameters_are_422(self, api: Api, params: dict[str, Any]) -> None:
        tokens = await api.signed_in()
        assert_problem(await events_page(api, tokens.access, **params), 422, "validation_error")

    async def test_the_limits_themselves_are_accepted(self, api: Api) -> None:
        tokens = await api.signed_in()
        for limit in (1, 100):
            response = await events_page(api, tokens.access, limit=limit)
            assert response.status_code == 200, response.text
        largest = await events_page(api, tokens.access, before=2**63 - 1)
        assert largest.status_code == 200, largest.text
        assert largest.json()["events"], "every event is older than the largest cursor"


class TestAuthentication:
    async def test_no_bearer_is_401(self, api: Api) -> None:
        response = await events_page(api, None)
        assert_problem(response, 401, "not_authenticated")
        assert "events" not in response.json()

    async def test_a_bad_or_ended_bearer_is_401(self, api: Api) -> None:
        tokens = await api.signed_in()
        assert_problem(await events_page(api, "not-a-token"), 401, "invalid_token")
        assert_problem(await events_page(api, tokens.refresh), 401, "invalid_token")
        ended = await api.client.post("/auth/logout-all", headers=bearer(tokens.access))
        assert ended.status_code == 204
        assert_problem(await events_page(api, tokens.access), 401, "invalid_token")

    async def test_the_answer_is_not_cached(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await events_page(api, tokens.access)
        assert response.status_code == 200
        assert "no-store" in response.headers["cache-control"]
