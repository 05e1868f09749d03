"""`authapi users …` and `authapi sessions prune` as an operator runs them (issue 7).

The CLI runs as a real subprocess against the run's PostgreSQL database and Redis key
space; the app runs in-process on the same database and Redis (the production backend),
so what the command does is seen by a running service without a restart:

- `users list` / `users show EMAIL` describe accounts;
- `users disable EMAIL` ends the account's sessions at once (its access and refresh
  tokens are refused by the running app) and refuses sign-in (403 account_disabled)
  until `users enable EMAIL`;
- `users revoke-sessions EMAIL` ends the sessions but the account still signs in;
- `users reset-mfa EMAIL` turns two-factor authentication off, ends the sessions,
  records the event and emails the owner;
- an unknown address is exit 2 with one line on stderr;
- `sessions prune` deletes security events and ended sessions past their retention and
  spent email links, and nothing recent or live.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from sqlalchemy import select

from authapi.models import EmailToken, SecurityEvent, UserSession, utcnow
from authapi.settings import Settings
from tests.conftest import (
    ENCRYPTION_KEY,
    Api,
    Mailbox,
    PostgresDatabase,
    RedisSpace,
    SmtpServer,
    Tokens,
    assert_problem,
    bearer,
    common_settings,
    open_api,
    unique_email,
    unique_ip,
)
from tests.live.conftest import authapi_env, production_env, run_cli
from tests.mfa import mfa_user, next_code, signed_in_with_mfa, user_id_of

pytestmark = pytest.mark.live

CLIENT = "rs:" + secrets.token_urlsafe(24)
ERROR_PREFIX = "authapi: error: "


# --- the app and the command -----------------------------------------------------------------
@pytest.fixture
async def app(
    postgres: PostgresDatabase, redis_space: RedisSpace, smtp_server: SmtpServer, tmp_path: Path
) -> AsyncIterator[Api]:
    """The service in-process, on the run's PostgreSQL database and Redis (production)."""
    settings = Settings(
        **{
            **common_settings(tmp_path),
            "database_url": postgres.url,
            "redis_url": redis_space.url,
            "redis_prefix": redis_space.prefix,
            "smtp_url": smtp_server.url,
            "introspection_clients": [CLIENT],
        }
    )
    async with open_api(settings, Mailbox(smtp=smtp_server), client_ip=unique_ip()) as api:
        yield api


@pytest.fixture
def cli_env(
    postgres: PostgresDatabase, redis_space: RedisSpace, smtp_server: SmtpServer, tmp_path: Path
) -> dict[str, str]:
    """The operator's environment: the same database, Redis space and keys as the app."""
    return production_env(
        database=postgres,
        redis_space=redis_space,
        smtp_server=smtp_server,
        data_dir=tmp_path / "cli-data",
    )


async def authapi(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, *args, env=env, cwd=cwd)


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that exited 0 without a traceback."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result.stdout


def assert_one_error_line(result: subprocess.CompletedProcess[str], mentions: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR_PREFIX), result.stderr
    assert mentions in lines[0], result.stderr
    assert result.stdout == "", result.stdout


def details(stdout: str) -> dict[str, str]:
    """`users show` output as {field: value}."""
    rows = {}
    for line in stdout.strip().splitlines():
        name, colon, value = line.partition(":")
        assert colon, f"not a `field: value` line: {line!r}"
        rows[name.strip()] = value.strip()
    return rows


async def introspect(api: Api, token: str) -> dict[str, object]:
    client_id, _, secret = CLIENT.partition(":")
    response = await api.client.post(
        "/auth/introspect", data={"token": token}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def assert_sessions_ended(api: Api, *sessions: Tokens) -> None:
    for tokens in sessions:
        assert_problem(await api.me(tokens.access), 401, "invalid_token")
        assert_problem(await api.refresh(tokens.refresh), 401, "invalid_refresh_token")
        assert await introspect(api, tokens.access) == {"active": False}
        assert await introspect(api, tokens.refresh) == {"active": False}


# --- users list / show ----------------------------------------------------------------------------
class TestLook:
    async def test_list_shows_the_account(
        self, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        email = await app.create_user(unique_email("cli-list"))
        user_id = await user_id_of(app, email)

        stdout = succeeded(await authapi(cli_env, tmp_path, "users", "list"))

        header, *rows = stdout.strip().splitlines()
        assert header.split() == ["ID", "CREATED", "STATE", "EMAIL"], header
        (row,) = [line for line in rows if line.endswith(f"  {email}")]
        assert row.split()[0] == str(user_id)
        assert " verified " in row, row
        assert email not in succeeded(
            await authapi(cli_env, tmp_path, "users", "list", "--disabled")
        )

    async def test_show_describes_the_account(
        self, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        tokens = await app.signed_in()
        await app.signed_in(tokens.email)
        profile = (await app.me(tokens.access)).json()

        # the address is normalised as sign-in normalises it
        shown = details(
            succeeded(await authapi(cli_env, tmp_path, "users", "show", tokens.email.upper()))
        )

        assert shown["id"] == profile["id"]
        assert shown["email"] == tokens.email
        assert shown["email verified"] == "yes"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", shown["created"]), shown
        assert shown["disabled"] == "no"
        assert shown["password"] == "set"
        assert shown["two-factor"] == "off"
        assert shown["providers"] == "none"
        assert shown["open sessions"] == "2"
        assert shown["last sign-in"].endswith(" UTC"), shown
        # nothing secret is shown
        assert "$2" not in " ".join(shown.values())  # no bcrypt hash


# --- users disable / enable / revoke-sessions -----------------------------------------------------
class TestDisable:
    @pytest.mark.requirement("ASVS-7.4.2")
    async def test_disable_ends_sessions_at_once_and_refuses_sign_in_until_enabled(
        self, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        first = await app.signed_in()
        second = await app.signed_in(first.email)
        bystander = await app.signed_in()

        disabled = await authapi(cli_env, tmp_path, "users", "disable", first.email)

        assert succeeded(disabled).strip() == f"{first.email}: disabled; 2 session(s) ended"
        assert disabled.stderr == "", disabled.stderr  # Redis is configured: no restart note
        # the running app sees it at once, without a restart
        await assert_sessions_ended(app, first, second)
        assert_problem(await app.login(first.email), 403, "account_disabled")
        assert (await app.me(bystander.access)).status_code == 200

        shown = details(succeeded(await authapi(cli_env, tmp_path, "users", "show", first.email)))
        assert shown["disabled"].endswith(" UTC"), shown
        assert shown["open sessions"] == "0"
        listed = succeeded(await authapi(cli_env, tmp_path, "users", "list", "--disabled"))
        (row,) = [line for line in listed.splitlines() if line.endswith(f"  {first.email}")]
        assert " disabled " in row, row

        enabled = await authapi(cli_env, tmp_path, "users", "enable", first.email)
        assert succeeded(enabled).strip() == f"{first.email}: enabled"
        again = await app.signed_in(first.email)
        assert (await app.me(again.access)).status_code == 200
        assert (await app.refresh(again.refresh)).status_code == 200
        # the sessions ended by disabling stay ended
        await assert_sessions_ended(app, first, second)

        twice = await authapi(cli_env, tmp_path, "users", "enable", first.email)
        assert succeeded(twice).strip() == f"{first.email}: was not disabled"
        shown = details(succeeded(await authapi(cli_env, tmp_path, "users", "show", first.email)))
        assert shown["disabled"] == "no"

    async def test_revoke_sessions_ends_them_but_sign_in_still_works(
        self, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        first = await app.signed_in()
        second = await app.signed_in(first.email)

        revoked = await authapi(cli_env, tmp_path, "users", "revoke-sessions", first.email)

        assert succeeded(revoked).strip() == f"{first.email}: 2 session(s) ended"
        await assert_sessions_ended(app, first, second)
        again = await app.signed_in(first.email)
        assert (await app.me(again.access)).status_code == 200
        shown = details(succeeded(await authapi(cli_env, tmp_path, "users", "show", first.email)))
        assert shown["disabled"] == "no"
        assert shown["open sessions"] == "1"

    async def test_the_owner_sees_the_operator_actions(
        self, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        tokens = await app.signed_in()
        for action in ("disable", "enable", "revoke-sessions"):
            succeeded(await authapi(cli_env, tmp_path, "users", action, tokens.email))
        after = await app.signed_in(tokens.email)
        response = await app.client.get(
            "/users/me/events",
            params={"limit": 10},
            headers={"Authorization": f"Bearer {after.access}"},
        )
        assert response.status_code == 200, response.text
        operator = [e for e in response.json()["events"] if e["user_agent"] == "authapi-cli"]
        # newest first: revoke-sessions, enable, disable (which also ended the one session)
        assert [(e["type"], e["details"]) for e in operator] == [
            ("sessions_revoked", {"count": 0}),
            ("account_enabled", None),
            ("sessions_revoked", {"count": 1}),
            ("account_disabled", None),
        ], operator

    async def test_reset_mfa_turns_it_off_ends_sessions_and_tells_the_owner(
        self, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        user = await mfa_user(app)
        other = await signed_in_with_mfa(app, user.email, next_code(user.app))

        reset = await authapi(cli_env, tmp_path, "users", "reset-mfa", user.email)

        assert succeeded(reset).strip() == (
            f"{user.email}: two-factor authentication off; 2 session(s) ended"
        )
        await assert_sessions_ended(app, user.tokens, other)
        await app.mail.wait_for(user.email, subject="Two-factor authentication was reset")
        # the password alone signs in now, and the owner sees what the operator did
        again = await app.signed_in(user.email)
        assert (await app.me(again.access)).json()["mfa_enabled"] is False
        events = await app.client.get(
            "/users/me/events", params={"limit": 5}, headers=bearer(again.access)
        )
        operator = [e for e in events.json()["events"] if e["user_agent"] == "authapi-cli"]
        assert [(e["type"], e["details"]) for e in operator] == [("mfa_reset", {"count": 2})]

    @pytest.mark.parametrize(
        "action", ["show", "disable", "enable", "revoke-sessions", "reset-mfa"]
    )
    async def test_an_unknown_address_is_one_line_and_exit_2(
        self, action: str, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        unknown = unique_email("cli-nobody")
        result = await authapi(cli_env, tmp_path, "users", action, unknown)
        assert_one_error_line(result, unknown)
        not_an_address = await authapi(cli_env, tmp_path, "users", action, "not-an-address")
        assert_one_error_line(not_an_address, "not-an-address")

    async def test_without_redis_disable_says_a_restart_is_needed(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        """Embedded: the sessions live inside the server process, which the command cannot
        reach; it still disables the account (refused at the next sign-in) and says so."""
        mailbox = Mailbox(outbox=tmp_path / "data" / "outbox")
        settings = Settings(**{**common_settings(tmp_path), "database_url": sqlite_url})
        async with open_api(settings, mailbox, client_ip=unique_ip()) as api:
            email = await api.create_user(unique_email("cli-embedded"))
            env = authapi_env(
                AUTHAPI_DATABASE_URL=sqlite_url,
                AUTHAPI_DATA_DIR=tmp_path / "cli-data",
                AUTHAPI_ENCRYPTION_KEYS=ENCRYPTION_KEY,
            )
            result = await authapi(env, tmp_path, "users", "disable", email)
            assert succeeded(result).strip() == f"{email}: disabled; 0 session(s) ended"
            assert "AUTHAPI_REDIS_URL" in result.stderr, result.stderr
            assert "restart" in result.stderr
            assert_problem(await api.login(email), 403, "account_disabled")


# --- sessions prune -------------------------------------------------------------------------------
PRUNED = re.compile(
    r"deleted (\d+) ended session record\(s\) older than (\d+) days, (\d+) security event\(s\) "
    r"older than (\d+) days and (\d+) spent email link\(s\)"
)


class TestPrune:
    async def test_prune_deletes_old_rows_and_keeps_recent_and_live_ones(
        self, app: Api, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        tokens = await app.signed_in()  # a live session; its verification link used just now
        user_id = await user_id_of(app, tokens.email)
        now = utcnow()
        old_event, recent_event = uuid.uuid4(), uuid.uuid4()  # told apart by session_id
        old_session, recent_session = uuid.uuid4(), uuid.uuid4()
        old_link, recent_link = uuid.uuid4(), uuid.uuid4()
        async with app.app.state.resources.sessionmaker.begin() as db:
            db.add_all(
                [
                    SecurityEvent(
                        user_id=user_id,
                        session_id=old_event,
                        type="login_succeeded",
                        created_at=now - timedelta(days=400),
                    ),
                    SecurityEvent(
                        user_id=user_id,
                        session_id=recent_event,
                        type="login_succeeded",
                        created_at=now - timedelta(days=300),
                    ),
                    UserSession(
                        id=old_session,
                        user_id=user_id,
                        created_at=now - timedelta(days=130),
                        expires_at=now - timedelta(days=100),
                        revoked_at=now - timedelta(days=120),
                        revoke_reason="logout",
                    ),
                    UserSession(
                        id=recent_session,
                        user_id=user_id,
                        created_at=now - timedelta(days=10),
                        expires_at=now + timedelta(days=20),
                        revoked_at=now - timedelta(days=9),
                        revoke_reason="logout",
                    ),
                    EmailToken(
                        id=old_link,
                        user_id=user_id,
                        purpose="reset_password",
                        token_hash=hashlib.sha256(old_link.bytes).hexdigest(),
                        created_at=now - timedelta(days=5),
                        expires_at=now - timedelta(days=5) + timedelta(hours=1),
                        used_at=now - timedelta(days=5),
                    ),
                    EmailToken(
                        id=recent_link,
                        user_id=user_id,
                        purpose="reset_password",
                        token_hash=hashlib.sha256(recent_link.bytes).hexdigest(),
                        created_at=now - timedelta(minutes=5),
                        expires_at=now + timedelta(minutes=55),
                    ),
                ]
            )

        pruned = await authapi(cli_env, tmp_path, "sessions", "prune")

        match = PRUNED.fullmatch(succeeded(pruned).strip())
        assert match, pruned.stdout
        sessions, session_days, events, event_days, links = map(int, match.groups())
        assert (session_days, event_days) == (90, 365)
        assert sessions >= 1
        assert events >= 1
        assert links >= 1
        async with app.app.state.resources.sessionmaker() as db:
            event_sessions = set(
                await db.scalars(
                    select(SecurityEvent.session_id).where(SecurityEvent.user_id == user_id)
                )
            )
            session_ids = set(
                await db.scalars(select(UserSession.id).where(UserSession.user_id == user_id))
            )
            links_left = set(
                await db.scalars(select(EmailToken.id).where(EmailToken.user_id == user_id))
            )
            verify_links = await db.scalars(
                select(EmailToken.id).where(
                    EmailToken.user_id == user_id, EmailToken.purpose == "verify_email"
                )
            )
            verify_links_left = list(verify_links)
        assert old_event not in event_sessions
        assert recent_event in event_sessions
        assert old_session not in session_ids
        assert recent_session in session_ids
        live_sid = uuid.UUID(jwt.decode(tokens.access, options={"verify_signature": False})["sid"])
        assert live_sid in session_ids
        assert old_link not in links_left
        assert recent_link in links_left
        assert verify_links_left, "the verification link used a moment ago was deleted"
        # the live session is untouched
        assert (await app.me(tokens.access)).status_code == 200
        assert (await app.refresh(tokens.refresh)).status_code == 200

        # idempotent
        second = await authapi(cli_env, tmp_path, "sessions", "prune")
        assert PRUNED.fullmatch(succeeded(second).strip()), second.stdout
