"""SIGTERM: the server stops accepting connections, finishes the requests in flight
(within uvicorn's bound, `timeout_graceful_shutdown`), and exits.

The request in flight is a sign-in at a high bcrypt cost, so it is still running
when the signal arrives. Nothing is lost by stopping: emails wait in the
database outbox (tests/mail covers a sender stopped mid-delivery).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

import httpx
import pytest

from tests.live.conftest import LiveServer

pytestmark = pytest.mark.live

SLOW_BCRYPT_ROUNDS = "14"  # about a second per hash here: still running at SIGTERM
SHUTDOWN_BOUND_SECONDS = 12  # uvicorn's graceful timeout (10 s) plus start-up slack


async def test_sigterm_finishes_the_request_in_flight_then_exits(
    production_server: Callable[..., LiveServer],
) -> None:
    server = production_server(AUTHAPI_BCRYPT_ROUNDS=SLOW_BCRYPT_ROUNDS)
    async with server.client() as client:
        in_flight = asyncio.create_task(
            client.post(
                "/auth/login",
                json={"email": "nobody@example.com", "password": "a slow wrong password"},
            )
        )
        await asyncio.sleep(0.3)  # the request is being handled (hashing) now
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        response = await in_flight
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_credentials"

    await asyncio.to_thread(server.process.wait, SHUTDOWN_BOUND_SECONDS)
    assert time.monotonic() - signalled < SHUTDOWN_BOUND_SECONDS
    async with httpx.AsyncClient(timeout=2) as fresh:
        with pytest.raises(httpx.ConnectError):
            await fresh.get(f"{server.base}/healthz")
    output = server.output()
    assert "Shutting down" in output
    assert "Application shutdown complete" in output
