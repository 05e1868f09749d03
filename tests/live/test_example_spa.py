"""examples/spa on Vite's dev server, with the API proxied as its README says.

The SPA's origin is the Vite server's, and the API runs with AUTHAPI_PUBLIC_URL set
to it: everything a browser does (the page, the API calls, the emailed links) goes
through the proxy, so the refresh cookie (SameSite=Strict, Path=/auth) is first-party
and the CSRF check sees the page's own Origin.

Vite comes from examples/spa/node_modules (`make pytest` installs it; or `npm ci
--prefix examples/spa`): without it, or without node, the test is skipped, or fails
with AUTHAPI_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import (
    PASSWORD,
    Mailbox,
    SmtpServer,
    assert_problem,
    bearer,
    body_of,
    free_port,
    link_token,
    service_missing,
    unique_email,
    wait_until_answering,
)
from tests.live.conftest import START_TIMEOUT_SECONDS, ServerPool, authapi_env

pytestmark = pytest.mark.live

SPA_DIR = Path(__file__).resolve().parents[2] / "examples" / "spa"
VITE = SPA_DIR / "node_modules" / ".bin" / "vite"
SERVICE_NAME = "Vite (examples/spa)"
COOKIE = "authapi_refresh"
CSRF = {"X-Requested-With": "fetch"}


def vite_command(port: int) -> list[str]:
    node = shutil.which("node")
    if node is None:
        service_missing(SERVICE_NAME, FileNotFoundError("node is not on PATH"))
    if not VITE.exists():
        service_missing(
            SERVICE_NAME,
            FileNotFoundError(
                "examples/spa/node_modules is not installed "
                "(make pytest, or npm ci --prefix examples/spa)"
            ),
        )
    assert node is not None
    return [node, str(VITE), "--port", str(port), "--strictPort", "--host", "127.0.0.1"]


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to vite's process group (vite and its esbuild service), SIGKILL if slow."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break  # the whole group is gone already
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue
    process.wait(timeout=5)


@pytest.fixture
def vite_origin(servers: ServerPool, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[str]:
    """The Vite server's origin: the SPA, and the API behind its proxy."""
    port = free_port()
    command = vite_command(port)
    origin = f"http://127.0.0.1:{port}"
    api = servers.start(
        authapi_env(
            AUTHAPI_DATA_DIR=tmp_path / "spa-data",  # the embedded default: SQLite, in-process
            AUTHAPI_SMTP_URL=smtp_server.url,
            AUTHAPI_PUBLIC_URL=origin,  # callbacks, cookie, emailed links: via the proxy
            AUTHAPI_BCRYPT_ROUNDS="4",
        ),
        name="spa-api",
    )
    log_path = tmp_path / "vite.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=SPA_DIR,
            env=authapi_env(AUTHAPI_URL=api.base, NO_COLOR="1"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, so its children stop with it
        )
    try:
        wait_until_answering(f"{origin}/", process, log_path, timeout=START_TIMEOUT_SECONDS)
        yield origin
    finally:
        stop_group(process)
        print(f"----- vite (examples/spa) -----\n{log_path.read_text()}")


def refresh_cookie(response: httpx.Response) -> str:
    """The refresh cookie's Set-Cookie header, as it came through the proxy."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


def attributes(set_cookie: str) -> dict[str, str]:
    pairs = [part.strip().partition("=") for part in set_cookie.split(";")[1:]]
    return {name.lower(): value for name, _, value in pairs}


async def test_the_spa_and_the_api_share_the_vite_origin(
    vite_origin: str, smtp_server: SmtpServer
) -> None:
    async with httpx.AsyncClient(base_url=vite_origin, timeout=10) as browser:
        page = await browser.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/src/main.js">' in page.text
        # the client package (a link to clients/js) resolves, and Vite serves its build
        main = await browser.get("/src/main.js")
        assert main.status_code == 200, main.text
        client_path = next(
            line.split('"')[1] for line in main.text.splitlines() if "clients/js/dist" in line
        )
        client = await browser.get(client_path)
        assert client.status_code == 200, client.text
        assert "AuthClient" in client.text

        # register and verify: the emailed link opens the built-in page through the proxy
        address = unique_email("spa")
        registered = await browser.post(
            "/auth/register", json={"email": address, "password": PASSWORD}
        )
        assert registered.status_code == 202, registered.text
        message = await Mailbox(smtp=smtp_server).wait_for(
            address, subject="Confirm", wait_seconds=10
        )
        token = link_token(message)
        link = f"{vite_origin}/account/verify-email?token={token}"
        assert link in body_of(message)
        opened = await browser.get(urlsplit(link).path, params={"token": token})
        assert opened.status_code == 200
        assert opened.headers["content-type"].startswith("text/html")
        verified = await browser.post("/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text

        # sign in with the cookie: it comes back through the proxy, first-party, Path=/auth
        login = await browser.post(
            "/auth/login",
            json={"email": address, "password": PASSWORD, "refresh_token_delivery": "cookie"},
        )
        assert login.status_code == 200, login.text
        assert "refresh_token" not in login.json()
        set_cookie = refresh_cookie(login)
        cookie = attributes(set_cookie)
        assert cookie["path"] == "/auth"
        assert cookie["samesite"].lower() == "strict"
        assert "httponly" in cookie
        assert "domain" not in cookie  # host-only: the Vite origin's host
        first = browser.cookies.get(COOKIE, domain="127.0.0.1", path="/auth")
        assert first
        me = await browser.get("/users/me", headers=bearer(login.json()["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["email"] == address

        # the page's own origin may use the cookie (it is AUTHAPI_PUBLIC_URL's origin)
        rotated = await browser.post("/auth/refresh", headers={**CSRF, "Origin": vite_origin})
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["access_token"]
        assert attributes(refresh_cookie(rotated))["path"] == "/auth"
        second = browser.cookies.get(COOKIE, domain="127.0.0.1", path="/auth")
        assert second
        assert second != first

        # another site may not: the proxy passes its Origin through untouched
        evil = await browser.post(
            "/auth/refresh", headers={**CSRF, "Origin": "http://evil.example"}
        )
        assert_problem(evil, 403, "csrf_failed")
        assert_problem(
            await browser.post("/auth/refresh", headers={"Origin": vite_origin}), 403, "csrf_failed"
        )
        # refused before the cookie was spent: the page's origin still rotates it
        again = await browser.post("/auth/refresh", headers={**CSRF, "Origin": vite_origin})
        assert again.status_code == 200, again.text
