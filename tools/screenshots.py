"""Screenshots of every built-in page at desktop and phone width (`make screenshots`).

    python tools/screenshots.py build/screenshots

Starts `authapi serve` on the embedded default (a fresh data folder, console email),
signs a user up through the API and confirms the address from the console outbox, then
opens each page in Debian's Chromium (Playwright drives it) and saves
`<page>-<width>.png`: sign-in, sign-up, forgot-password, verify-email, reset-password,
and the account page signed in, with two-factor authentication being set up. Nothing
here is committed: look at the files, or open them in any image viewer.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

PASSWORD = "correct horse battery staple, for screenshots"  # noqa: S105 (a throwaway user)
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHAPI_")}
    env |= {
        "AUTHAPI_DATA_DIR": str(data_dir),
        "AUTHAPI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AUTHAPI_BCRYPT_ROUNDS": "4",
    }
    command = [sys.executable, "-m", "authapi", "serve", "--port", str(port)]
    log = (data_dir / "server.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"authapi serve exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("authapi serve did not answer within 30 s")


def emailed_token(outbox: Path) -> str:
    """The token of the newest message's link in the console outbox."""
    for _ in range(50):
        messages = sorted(outbox.glob("*.eml")) if outbox.is_dir() else []
        if messages:
            message = email.message_from_bytes(
                messages[-1].read_bytes(), policy=email.policy.default
            )
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            match = re.search(r"\?token=([A-Za-z0-9_-]+)", str(body.get_content()))
            if match:
                return match.group(1)
        time.sleep(0.2)
    raise SystemExit("no confirmation email arrived in the outbox")


async def shoot(page: Page, url: str, path: Path) -> None:
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=path, full_page=True)
    print(path)


async def take(base: str, address: str, folder: Path) -> None:
    chromium = os.environ.get("AUTHAPI_TEST_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no chromium on PATH: make browser")
    pages = f"{base}/account/"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width, (x, y) in WIDTHS.items():
            context = await browser.new_context(viewport={"width": x, "height": y})
            page = await context.new_page()
            for name in ("sign-in", "sign-up", "forgot-password"):
                await shoot(page, pages + name, folder / f"{name}-{width}.png")
            for name in ("verify-email", "reset-password"):
                await shoot(
                    page, f"{pages}{name}?token=from-the-email", folder / f"{name}-{width}.png"
                )
            await page.goto(pages + "sign-in")
            await page.get_by_label("Email").fill(address)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            await page.wait_for_url(pages)
            await page.locator("#who").wait_for()
            await shoot(page, pages, folder / f"account-{width}.png")
            await page.locator("#totp-start").get_by_label("Current password").fill(PASSWORD)
            await page.get_by_role("button", name="Set up an authenticator app").click()
            await page.locator("#totp-qr").wait_for()
            await page.screenshot(path=folder / f"account-totp-{width}.png", full_page=True)
            print(folder / f"account-totp-{width}.png")
            await context.close()
        await browser.close()


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "build/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="authapi-screenshots-") as data:
        data_dir = Path(data)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = serve(data_dir, port)
        try:
            wait_until_up(base, server)
            address = f"ada-{port}@example.com"
            registered = httpx.post(
                f"{base}/auth/register", json={"email": address, "password": PASSWORD}
            )
            registered.raise_for_status()
            token = emailed_token(data_dir / "outbox")
            httpx.post(f"{base}/auth/verify-email", json={"token": token}).raise_for_status()
            asyncio.run(take(base, address, folder))
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
