"""No secret reaches the logs: every flow against a real `authapi serve`, every line scanned.

A server at debug (JSON lines), production-configured (PostgreSQL, Redis, SMTP)
and on the embedded default (SQLite, in-process store), goes through register →
verify → login → refresh → TOTP setup and confirm → login with TOTP → login with
a recovery code → forgot/reset password → login → logout, plus failing requests
that carry secrets where they do not belong (a wrong password, a bad refresh
token, a 422 and a malformed body with a password in them, a query string with
`token` and `code`, garbage `Authorization` headers). Then it is stopped with
SIGTERM and its whole output (stdout and stderr: the app, uvicorn, libraries) is
checked: every line is a JSON object, every access line has the request's id,
uvicorn's start-up and shutdown lines are there, and none of the secrets used
appears in any line, nor any hash or ciphertext the database keeps of them
(aiosqlite printed every SQL parameter at debug).
A canary in a path (not a secret) shows that the scan does see request data.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import signal
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select

from authapi.db import make_engine
from authapi.models import EmailToken, RecoveryCode, TotpCredential, User
from tests.conftest import (
    ENCRYPTION_KEY,
    PUBLIC_URL,
    Mailbox,
    SmtpServer,
    bearer,
    link_token,
    unique_email,
)
from tests.live.conftest import LiveServer, ServerPool, authapi_env
from tests.mfa import code_in, next_code, wait_for_fresh_step, wrong_code

pytestmark = pytest.mark.live

GENEROUS = "10000/minute"


@dataclass
class Secrets:
    """Every secret the flow used; `found_in` scans text for them."""

    values: set[str] = field(default_factory=set)

    def add(self, *values: str) -> None:
        self.values.update(value for value in values if value)

    def token(self, value: str) -> str:
        """A token and the parts of it that are secret on their own; returns it."""
        self.add(value)
        parts = value.split(".")
        if value.startswith("eyJ"):  # JWT: the payload and the signature
            self.add(*parts[1:])
        elif len(parts) > 1:  # `<id>.<secret>[.<mac>]`: the id alone is not a secret
            self.add(*(part for part in parts[1:] if len(part) >= 16))
        return value

    def found_in(self, text: str) -> list[str]:
        """The secrets that occur in `text`. Short ones (TOTP codes) only as a whole word,
        so six digits inside a request id or a timestamp are not taken for a code."""
        found = []
        for value in self.values:
            if len(value) >= 12:
                if value in text:
                    found.append(value)
            elif re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", text):
                found.append(value)
        return found


def strong_password(tag: str) -> str:
    return f"{tag}-{secrets.token_urlsafe(18)}"


AT_DEBUG = {
    "AUTHAPI_LOG_FORMAT": "json",
    "AUTHAPI_LOG_LEVEL": "debug",
    "AUTHAPI_LOGIN_RATE_LIMIT_PER_ACCOUNT_IP": GENEROUS,
    "AUTHAPI_LOGIN_RATE_LIMIT_PER_ACCOUNT": GENEROUS,
    "AUTHAPI_MFA_RATE_LIMIT_PER_USER": GENEROUS,
    "AUTHAPI_EMAIL_RATE_LIMIT_PER_ADDRESS": GENEROUS,
}


@dataclass
class Served:
    server: LiveServer
    database_url: str  # to read what it stored (hashes must not reach the logs either)


@pytest.fixture(params=["production", "embedded"])
def served(
    request: pytest.FixtureRequest,
    production_server: Callable[..., LiveServer],
    servers: ServerPool,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> Served:
    """At debug: PostgreSQL + Redis, or the embedded default (SQLite, in-process store;
    mail to the test's SMTP server, so the console mailer does not print the links)."""
    if request.param == "production":
        server = production_server(name="logs", **AT_DEBUG)
        return Served(server, server.env["AUTHAPI_DATABASE_URL"])
    data_dir = tmp_path / "embedded-data"
    env = authapi_env(
        AUTHAPI_DATA_DIR=data_dir,
        AUTHAPI_SMTP_URL=smtp_server.url,
        AUTHAPI_PUBLIC_URL=PUBLIC_URL,
        AUTHAPI_BCRYPT_ROUNDS="4",
        AUTHAPI_TRUSTED_PROXIES="127.0.0.1/32",
        **AT_DEBUG,
    )
    server = servers.start(env, name="logs-embedded")
    return Served(server, f"sqlite+aiosqlite:///{data_dir / 'authapi.db'}")


async def stored_values(database_url: str, email: str) -> list[str]:
    """What the database keeps of the account: hashes and ciphertexts, none of which may be
    logged (a password hash is as good as the password to an offline guesser)."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            user_id = await connection.scalar(select(User.id).where(User.email == email))
            values = [
                *await connection.scalars(select(User.password_hash).where(User.id == user_id)),
                *await connection.scalars(
                    select(EmailToken.token_hash).where(EmailToken.user_id == user_id)
                ),
                *await connection.scalars(
                    select(TotpCredential.secret).where(TotpCredential.user_id == user_id)
                ),
                *await connection.scalars(
                    select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)
                ),
            ]
    finally:
        await engine.dispose()
    return [value for value in values if value]


class Flow:
    """The client side: one client, every response's request id remembered."""

    def __init__(self, client: httpx.AsyncClient, mailbox: Mailbox, found: Secrets) -> None:
        self.client = client
        self.mailbox = mailbox
        self.secrets = found

    async def call(self, method: str, url: str, expect: int, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)
        assert response.status_code == expect, (method, url, response.text)
        return response

    def tokens(self, response: httpx.Response) -> tuple[str, str]:
        body = response.json()
        return self.secrets.token(body["access_token"]), self.secrets.token(body["refresh_token"])

    async def login(self, email: str, password: str, expect: int = 200) -> httpx.Response:
        return await self.call(
            "POST",
            "/auth/login",
            expect,
            json={"email": email, "password": password, "refresh_token_delivery": "body"},
        )

    async def mfa(self, email: str, password: str, code: str) -> tuple[str, str]:
        challenged = await self.login(email, password, expect=403)
        mfa_token = self.secrets.token(challenged.json()["mfa_token"])
        response = await self.call(
            "POST",
            "/auth/login/mfa",
            200,
            json={"mfa_token": mfa_token, "code": code, "refresh_token_delivery": "body"},
        )
        return self.tokens(response)


async def run_every_flow(flow: Flow, email: str) -> None:
    found = flow.secrets
    password, new_password = strong_password("first"), strong_password("second")
    found.add(password, new_password)

    # register, verify from the emailed link
    await flow.call("POST", "/auth/register", 202, json={"email": email, "password": password})
    verify = link_token(await flow.mailbox.wait_for(email, subject="Confirm", wait_seconds=10))
    await flow.call("POST", "/auth/verify-email", 200, json={"token": found.token(verify)})

    # sign in, refresh, use the token
    access, refresh = flow.tokens(await flow.login(email, password))
    access, refresh = flow.tokens(
        await flow.call("POST", "/auth/refresh", 200, json={"refresh_token": refresh})
    )
    await flow.call("GET", "/users/me", 200, headers=bearer(access))

    # TOTP: set up and confirm with pyotp, then sign in with a code and with a recovery code
    setup = await flow.call(
        "POST", "/auth/mfa/totp/setup", 200, json={"password": password}, headers=bearer(access)
    )
    totp_secret = setup.json()["secret"]
    found.add(totp_secret, setup.json()["otpauth_uri"])
    app = pyotp.TOTP(totp_secret)
    await wait_for_fresh_step()
    confirm_code = code_in(app, 0)
    found.add(confirm_code)
    confirmed = await flow.call(
        "POST", "/auth/mfa/totp/confirm", 200, json={"code": confirm_code}, headers=bearer(access)
    )
    recovery_codes: list[str] = confirmed.json()["recovery_codes"]
    found.add(*recovery_codes, *(code.replace("-", "") for code in recovery_codes))
    login_code = next_code(app)
    found.add(login_code)
    access, refresh = await flow.mfa(email, password, login_code)
    await flow.call("GET", "/auth/mfa", 200, headers=bearer(access))
    access, refresh = await flow.mfa(email, password, recovery_codes[0])
    old_refresh = refresh

    # a wrong TOTP code on a fresh challenge
    challenged = await flow.login(email, password, expect=403)
    mfa_token = found.token(challenged.json()["mfa_token"])
    bad_code = wrong_code(app)
    found.add(bad_code)
    await flow.call("POST", "/auth/login/mfa", 401, json={"mfa_token": mfa_token, "code": bad_code})

    # forgot and reset the password, sign in again (MFA stays on), log out
    await flow.call("POST", "/auth/forgot-password", 202, json={"email": email})
    reset = link_token(await flow.mailbox.wait_for(email, subject="Reset", wait_seconds=10))
    await flow.call(
        "POST",
        "/auth/reset-password",
        200,
        json={"token": found.token(reset), "new_password": new_password},
    )
    access, refresh = await flow.mfa(email, new_password, recovery_codes[1])
    await flow.call("POST", "/auth/logout", 204, json={"refresh_token": refresh})
    await flow.call("POST", "/auth/refresh", 401, json={"refresh_token": refresh})
    await flow.call("POST", "/auth/refresh", 401, json={"refresh_token": old_refresh})
    await flow.call("GET", "/users/me", 401, headers=bearer(access))


async def run_failures(flow: Flow, email: str) -> None:
    found = flow.secrets
    wrong, in_422, in_bad_json, in_form = (strong_password(tag) for tag in ("w", "v", "j", "f"))
    query_token, query_code = secrets.token_urlsafe(24), secrets.token_hex(8)
    garbage = [f"garbage-{secrets.token_urlsafe(16)}" for _ in range(4)]
    found.add(wrong, in_422, in_bad_json, in_form, query_token, query_code, *garbage)
    basic = base64.b64encode(f"{email}:{garbage[1]}".encode()).decode()
    found.add(basic)

    await flow.login(email, wrong, expect=401)
    await flow.call("POST", "/auth/refresh", 401, json={"refresh_token": garbage[0]})
    await flow.call("POST", "/auth/login", 422, json={"email": email, "password": [in_422]})
    await flow.call(
        "POST",
        "/auth/login",
        400,
        content=f'{{"email": "{email}", "password": "{in_bad_json}"'.encode(),
        headers={"Content-Type": "application/json"},
    )
    await flow.call(
        "POST",
        "/auth/token",
        400,
        data={"grant_type": "password", "username": email, "password": in_form},
    )
    await flow.call(
        "GET",
        f"/users/me?token={query_token}&code={query_code}",
        401,
        headers=bearer(garbage[2]),
    )
    await flow.call("GET", "/users/me", 401, headers={"Authorization": f"Basic {basic}"})
    await flow.call("GET", "/users/me", 401, headers={"Authorization": garbage[3]})
    await flow.call(
        "POST", "/auth/reset-password", 400, json={"token": garbage[0], "new_password": wrong}
    )


def lines_of(output: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for line in output.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(entry, dict), line
        yield line, entry


def strings_in(value: Any) -> Iterable[str]:
    """Every string inside a parsed JSON value (so escaped text is scanned decoded too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


@pytest.mark.requirement("ASVS-16.2.5")
async def test_no_secret_reaches_any_log_line(served: Served, smtp_server: SmtpServer) -> None:
    server = served.server
    found = Secrets()
    found.add(ENCRYPTION_KEY)
    request_ids: list[str] = []

    async def remember(response: httpx.Response) -> None:
        request_ids.append(response.headers["x-request-id"])

    email = unique_email("logs")
    canary = f"canary-{uuid.uuid4().hex}"
    async with server.client(event_hooks={"response": [remember]}) as client:
        flow = Flow(client, Mailbox(smtp=smtp_server), found)
        await run_every_flow(flow, email)
        await run_failures(flow, email)
        traced = await flow.call("GET", "/healthz", 200, headers={"X-Request-ID": "trace-me.1"})
        assert traced.headers["x-request-id"] == "trace-me.1"
        await flow.call("GET", f"/{canary}", 404)
    server.stop()
    hashes = await stored_values(served.database_url, email)
    assert any(value.startswith("$2b$") for value in hashes), hashes  # the password hash
    assert len(hashes) >= 8, hashes  # and token hashes, the TOTP ciphertext, code hashes
    found.add(*hashes)
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly
    assert server.process.returncode in (0, -signal.SIGTERM)

    output = server.output()
    entries = []
    for line, entry in lines_of(output):
        assert {"time", "level", "logger", "message"} <= entry.keys(), line
        text = "\n".join([line, *strings_in(entry)])
        assert not found.found_in(text), f"secret in: {line}"
        entries.append(entry)

    # each request: one access line with its id and a route without a query string
    access = [entry for entry in entries if entry["logger"] == "authapi.access"]
    logged_ids = [entry["request_id"] for entry in access]
    assert set(request_ids) <= set(logged_ids)
    assert all("?" not in entry["route"] for entry in access)
    assert {"/users/me", "/auth/login/mfa", "/auth/mfa/totp/confirm"} <= {
        entry["route"] for entry in access
    }
    assert "trace-me.1" in logged_ids

    # uvicorn's own lines went through the same formatter
    uvicorn = [entry["message"] for entry in entries if entry["logger"].startswith("uvicorn")]
    for expected in (
        "Started server process",
        "Application startup complete",
        "Uvicorn running on",
        "Shutting down",
        "Application shutdown complete",
        "Finished server process",
    ):
        assert any(message.startswith(expected) for message in uvicorn), (expected, uvicorn)

    # control: the scan sees request data (a canary path), and it saw the secrets' places
    assert Secrets({canary}).found_in(output) == [canary]
    assert len(found.values) > 40
