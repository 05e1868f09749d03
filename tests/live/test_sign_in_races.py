"""Sign-ins racing credential changes and account deletion, on a live server (issue 12,
items 4 and 11).

Real concurrent requests against `authapi serve --workers 2` on PostgreSQL and Redis.
Each trial sends a change and a sign-in with the password the change replaces, each
after a random few milliseconds; bcrypt at cost 8 (about 15 ms a hash here) keeps the sign-in's
first step and its session start far enough apart for the two to interleave.

- A sign-in with the old password that answers 200 read the account before the change
  committed (after it, the old password is wrong): its session must not outlive the
  change. Otherwise a reset would leave the thief signed in. With the fix most such
  sign-ins are refused when their session would start (401 `invalid_credentials`,
  "changed while signing in"); both outcomes count as a race the trial caught, and
  some trials must catch one.
- A sign-in racing `DELETE /users/me` answers 200 (and its session ends with the
  account) or 401, never 500, and the server logs no traceback.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pyotp
import pytest

from tests.conftest import PASSWORD, Mailbox, SmtpServer, bearer, link_token
from tests.live.conftest import LiveServer, create_verified_user, login

pytestmark = pytest.mark.live

TRIALS = 16
NEW_PASSWORD = "the passphrase after the change"
MAX_DELAY_SECONDS = 0.03


@pytest.fixture
def server(production_server: Callable[..., LiveServer]) -> LiveServer:
    return production_server(
        name="races",
        args=("--workers", "2"),
        AUTHAPI_BCRYPT_ROUNDS="8",
        AUTHAPI_HASH_WORKERS="2",
    )


async def after_a_moment(request: Awaitable[httpx.Response]) -> httpx.Response:
    """`request`, sent after a random few milliseconds: each side of a race gets one."""
    await asyncio.sleep(random.uniform(0, MAX_DELAY_SECONDS))
    return await request


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(
        "/auth/login",
        json={"email": email, "password": password, "refresh_token_delivery": "body"},
    )


def raced(signed_in: httpx.Response) -> bool:
    """Whether the sign-in read the account before the change committed."""
    if signed_in.status_code == 200:
        return True
    return signed_in.status_code == 401 and "changed while signing in" in signed_in.text


async def assert_session_ended(client: httpx.AsyncClient, signed_in: httpx.Response) -> None:
    """The session a 200 sign-in opened is over: its access and refresh tokens are refused."""
    tokens = signed_in.json()
    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401, f"the raced sign-in's session is live: {me.text}"
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401, refreshed.text


# --- the changes, each given a signed-in account and its email -----------------------------
Change = Callable[[httpx.AsyncClient, str, dict[str, Any]], Awaitable[httpx.Response]]


async def prepare_reset(client: httpx.AsyncClient, email: str, smtp: SmtpServer) -> dict[str, Any]:
    asked = await client.post("/auth/forgot-password", json={"email": email})
    assert asked.status_code == 202, asked.text
    message = await Mailbox(smtp=smtp).wait_for(email, subject="Reset", wait_seconds=10)
    return {"token": link_token(message)}


async def reset(client: httpx.AsyncClient, email: str, state: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/auth/reset-password", json={"token": state["token"], "new_password": NEW_PASSWORD}
    )


async def change_password(
    client: httpx.AsyncClient, email: str, state: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(state["access"]),
    )


async def prepare_mfa(client: httpx.AsyncClient, access: str) -> dict[str, Any]:
    setup = await client.post(
        "/auth/mfa/totp/setup", json={"password": PASSWORD}, headers=bearer(access)
    )
    assert setup.status_code == 200, setup.text
    return {"access": access, "app": pyotp.TOTP(setup.json()["secret"])}


async def turn_mfa_on(
    client: httpx.AsyncClient, email: str, state: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/auth/mfa/totp/confirm",
        json={"code": state["app"].now()},
        headers=bearer(state["access"]),
    )


class TestNoSessionFromAReplacedCredential:
    async def run_trials(
        self, server: LiveServer, smtp_server: SmtpServer, kind: str, change: Change
    ) -> None:
        async def trial() -> bool:
            async with server.client() as client:
                email = await create_verified_user(client, smtp_server)
                access = (await login(client, email))["access_token"]
                if kind == "reset":
                    state = await prepare_reset(client, email, smtp_server)
                elif kind == "mfa_on":
                    state = await prepare_mfa(client, access)
                else:
                    state = {"access": access}
                changed, signed_in = await asyncio.gather(
                    after_a_moment(change(client, email, state)),
                    after_a_moment(sign_in(client, email, PASSWORD)),
                )
                assert changed.status_code in (200, 204), changed.text
                # 401 (old password after a reset or change) or 403 mfa_required: too late
                assert signed_in.status_code in (200, 401, 403), signed_in.text
                if signed_in.status_code == 200:
                    await assert_session_ended(client, signed_in)
                return raced(signed_in)

        outcomes = await asyncio.gather(*(trial() for _ in range(TRIALS)))
        assert any(outcomes), "no trial raced: the test proved nothing"

    @pytest.mark.requirement("ASVS-2.3.4")
    async def test_no_session_starts_from_a_password_a_reset_replaced(
        self, server: LiveServer, smtp_server: SmtpServer
    ) -> None:
        await self.run_trials(server, smtp_server, "reset", reset)

    async def test_no_session_starts_from_a_password_a_change_replaced(
        self, server: LiveServer, smtp_server: SmtpServer
    ) -> None:
        await self.run_trials(server, smtp_server, "change_password", change_password)

    async def test_no_session_starts_without_the_second_factor_turned_on_meanwhile(
        self, server: LiveServer, smtp_server: SmtpServer
    ) -> None:
        await self.run_trials(server, smtp_server, "mfa_on", turn_mfa_on)


class TestSignInRacingDeletion:
    async def test_a_sign_in_racing_account_deletion_is_401_never_500(
        self, server: LiveServer, smtp_server: SmtpServer
    ) -> None:
        log_start = server.output_size()

        async def trial() -> None:
            async with server.client() as client:
                email = await create_verified_user(client, smtp_server)
                access = (await login(client, email))["access_token"]
                deleted, signed_in = await asyncio.gather(
                    after_a_moment(
                        client.request(
                            "DELETE",
                            "/users/me",
                            json={"password": PASSWORD},
                            headers=bearer(access),
                        )
                    ),
                    after_a_moment(sign_in(client, email, PASSWORD)),
                )
                assert deleted.status_code == 204, deleted.text
                assert signed_in.status_code in (200, 401), signed_in.text
                if signed_in.status_code == 200:
                    await assert_session_ended(client, signed_in)

        await asyncio.gather(*(trial() for _ in range(TRIALS)))
        output = server.output(log_start)
        assert "Traceback" not in output, output
        assert '"level": "error"' not in output, output
