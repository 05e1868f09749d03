"""examples/resource_server.py, run as its README says, against a live authapi.

It checks authapi's access tokens offline (JWKS) and online (introspection). The
difference is the point of the example: after a logout the offline check still
accepts the token until it expires, the online one refuses it at once.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PUBLIC_URL, SmtpServer, bearer, free_port, wait_until_answering
from tests.live.conftest import LiveServer, create_verified_user, login

pytestmark = pytest.mark.live

REPOSITORY = Path(__file__).resolve().parents[2]
CLIENT = "orders:an-introspection-secret-for-orders"


@pytest.fixture
def authapi(production_server: Callable[..., LiveServer]) -> LiveServer:
    return production_server(AUTHAPI_INTROSPECTION_CLIENTS=CLIENT)


@pytest.fixture
def example(authapi: LiveServer, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path / "example.log"
    env = {
        **authapi.env,
        "AUTHAPI_URL": authapi.base,
        "AUTHAPI_ISSUER": PUBLIC_URL,  # the issuer authapi signs with (its public URL)
        "INTROSPECTION_CLIENT": CLIENT,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.resource_server:app", "--port", str(port)],
            cwd=REPOSITORY,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/openapi.json", process, log_path)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        print(f"----- example resource server -----\n{log_path.read_text()}")


async def test_offline_and_online_checks(
    authapi: LiveServer, example: str, smtp_server: SmtpServer
) -> None:
    async with authapi.client() as client:
        address = await create_verified_user(client, smtp_server)
        tokens = await login(client, address)
        me = (await client.get("/users/me", headers=bearer(tokens["access_token"]))).json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]

    async with httpx.AsyncClient(base_url=example, timeout=10) as resource:
        for mode in ("offline", "online"):
            answer = await resource.get(f"/{mode}/whoami", headers=bearer(access))
            assert answer.status_code == 200, answer.text
            assert answer.json() == {
                "user": me["id"],
                "session": answer.json()["session"],
                "checked": mode,
            }
            for wrong in (None, "garbage", refresh, access[:-4] + "AAAA"):
                headers = bearer(wrong) if wrong else {}
                refused = await resource.get(f"/{mode}/whoami", headers=headers)
                assert refused.status_code == 401, (mode, wrong, refused.text)
                assert refused.headers["www-authenticate"].startswith("Bearer")

        async with authapi.client() as client:
            ended = await client.post("/auth/logout", json={"refresh_token": refresh})
            assert ended.status_code == 204

        # offline: the signature still holds until exp; online: authapi says the session ended
        assert (await resource.get("/offline/whoami", headers=bearer(access))).status_code == 200
        assert (await resource.get("/online/whoami", headers=bearer(access))).status_code == 401
