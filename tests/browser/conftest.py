"""The browser half, in a real browser: Debian's Chromium driven by Playwright.

Every test gets a live `authapi serve` (tests/live) on both backends: the embedded
default (SQLite, the in-process store) and production (PostgreSQL, Redis). Its public
URL is its own address, http://127.0.0.1:<port>, so the built-in pages, the API and the
refresh cookie are one site, as in a real deployment; 127.0.0.1 is a secure context to
Chromium, so a `Secure` cookie is kept over plain http. Passkeys need a domain name
instead (a relying-party id is never an IP address): `start_site(host="localhost")`
serves the site as http://localhost:<port>, also a secure context. Mail goes to the run's SMTP
server, and the tests open the emailed links in the browser.

Each tab (`Tab`) records what went wrong in it: page errors, console errors and CSP
violations (a `securitypolicyviolation` listener puts them on the console); a test fails
at teardown if any tab saw one. Chromium's "Failed to load resource" lines are not
problems: it logs every 4xx answer so, and the tests check the answers themselves.

Chromium is Debian's package (`make browser` installs it; `make test` and `.ci/run` run
it): Playwright only drives it (`executable_path`), it never downloads a browser. A
missing Chromium skips these tests, or fails them with AUTHAPI_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
    expect,
)

from tests.conftest import (
    ENCRYPTION_KEY,
    Mailbox,
    PostgresDatabase,
    RedisSpace,
    SmtpServer,
    body_of,
    free_port,
    service_missing,
)
from tests.live.conftest import LiveServer, ServerPool, authapi_env, production_env

CHROMIUM = os.environ.get("AUTHAPI_TEST_CHROMIUM") or shutil.which("chromium") or ""
HAVE_CHROMIUM = bool(CHROMIUM) and Path(CHROMIUM).exists()
# another site than the API's, for the cross-site tests (resolved by Chromium itself)
OTHER_SITE = "other-site.test"
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root
    "--disable-gpu",
    # no calls home: this machine's network is closed, and they would only be refused
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {OTHER_SITE} 127.0.0.1",
]
PAGES = "/account/"
# reports a CSP violation to the tab's record (added before any page script runs)
WATCH_CSP = """
document.addEventListener('securitypolicyviolation', (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class Site:
    """A live server whose public URL is its own address, and its mail."""

    server: LiveServer
    mailbox: Mailbox
    backend: str
    host: str = "127.0.0.1"  # the host of its public URL, which the browser opens

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{urlsplit(self.server.base).port}"

    def page(self, name: str = "") -> str:
        """The address of a built-in page ("" is the account page)."""
        return f"{self.origin}{PAGES}{name}"

    async def link_in_mail(self, address: str, subject: str, count: int = 1) -> str:
        """The link of the `count`-th mail to `address` with `subject` (waits for it)."""
        message = await self.mailbox.wait_for(
            address, subject=subject, count=count, wait_seconds=10
        )
        links = [word for word in body_of(message).split() if word.startswith("http")]
        assert links, f"no link in the mail:\n{body_of(message)}"
        return links[0]

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of a Prometheus counter's samples with these labels, read from /metrics."""
        async with httpx.AsyncClient(base_url=self.server.base, timeout=10) as client:
            response = await client.get("/metrics")
        assert response.status_code == 200, response.text
        total = 0.0
        for line in response.text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            sample, _, value = line.rpartition(" ")
            if all(f'{key}="{wanted}"' in sample for key, wanted in labels.items()):
                total += float(value)
        return total

    async def rotations(self) -> float:
        """Refresh tokens rotated so far (each POST /auth/refresh that issued a new one)."""
        return await self.metric("authapi_refreshes_total", result="rotated")


@dataclass
class Tab:
    """A page, and what went wrong in it."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def watch(self) -> Tab:
        def console(message: ConsoleMessage) -> None:
            # Chromium logs every 4xx/5xx answer as an error; the tests check the answers
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                self.problems.append(f"console: {message.text} ({message.location})")

        self.page.on("console", console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        return self

    async def says(self, text: str, where: str = "#status") -> None:
        """The status line (the page's, or a `where` of a section) comes to say `text`."""
        await expect(self.page.locator(where)).to_contain_text(text)


@dataclass
class Browsing:
    """The test's browser: contexts (each a separate profile) and their tabs."""

    browser: Browser
    tabs: list[Tab] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    async def context(self, **options: Any) -> BrowserContext:
        context = await self.browser.new_context(**options)
        await context.add_init_script(WATCH_CSP)
        self.contexts.append(context)
        return context

    async def tab(self, context: BrowserContext | None = None) -> Tab:
        context = context or await self.context()
        tab = Tab(await context.new_page()).watch()
        self.tabs.append(tab)
        return tab

    def problems(self) -> list[str]:
        return [problem for tab in self.tabs for problem in tab.problems]


@pytest.fixture
async def browsing() -> AsyncIterator[Browsing]:
    """Chromium for this test; fails the test if any tab logged an error or a CSP violation."""
    if not HAVE_CHROMIUM:
        service_missing("Chromium", FileNotFoundError("no chromium on PATH (make browser)"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        browsing = Browsing(browser)
        try:
            yield browsing
        finally:
            for context in browsing.contexts:
                await context.close()
            await browser.close()
    assert browsing.problems() == [], "errors or CSP violations in the browser"


# --- the live server ------------------------------------------------------------------
def site_env(
    backend: str,
    *,
    origin: str,
    data_dir: Path,
    smtp_server: SmtpServer,
    request: pytest.FixtureRequest,
) -> dict[str, str]:
    """The server's environment on `backend`, with `origin` as its public URL."""
    if backend == "production":
        database: PostgresDatabase = request.getfixturevalue("postgres")
        redis_space: RedisSpace = request.getfixturevalue("redis_space")
        env = production_env(
            database=database, redis_space=redis_space, smtp_server=smtp_server, data_dir=data_dir
        )
        # every browser is 127.0.0.1: a key space per server keeps their per-IP budgets
        # apart (the run's cleanup still covers it)
        env["AUTHAPI_REDIS_PREFIX"] = f"{redis_space.prefix}:{secrets.token_hex(4)}"
    else:
        env = authapi_env(
            AUTHAPI_SMTP_URL=smtp_server.url,
            AUTHAPI_ENCRYPTION_KEYS=ENCRYPTION_KEY,
            AUTHAPI_BCRYPT_ROUNDS="4",
            AUTHAPI_HASH_WORKERS="1",
            AUTHAPI_DATA_DIR=data_dir,
        )
    env["AUTHAPI_PUBLIC_URL"] = origin
    env["AUTHAPI_APP_URL"] = f"{origin}{PAGES.rstrip('/')}"
    return env


@dataclass
class SiteStarter:
    """`start_site(provider=None, host="127.0.0.1", AUTHAPI_X=…)`: a live server on this
    test's backend.

    `provider`: a callable of the server's origin that starts an OpenID provider for it and
    returns its AUTHAPI_OIDC_PROVIDERS entry. `host`: the name its public URL (and so the
    browser) uses for it; "localhost" for passkeys, whose relying-party id it becomes."""

    backend: str
    pool: ServerPool
    smtp_server: SmtpServer
    request: pytest.FixtureRequest

    def __call__(
        self,
        provider: Callable[[str], dict[str, Any]] | None = None,
        *,
        host: str = "127.0.0.1",
        **variables: str,
    ) -> Site:
        port = free_port()
        origin = f"http://{host}:{port}"
        env = site_env(
            self.backend,
            origin=origin,
            data_dir=self.pool.directory / f"data-{port}",
            smtp_server=self.smtp_server,
            request=self.request,
        )
        if provider is not None:
            env["AUTHAPI_OIDC_PROVIDERS"] = json.dumps([provider(origin)])
        env.update(variables)
        server = self.pool.start(env, name=f"{self.backend}-site", port=port)
        return Site(
            server=server, mailbox=Mailbox(smtp=self.smtp_server), backend=self.backend, host=host
        )


@pytest.fixture(params=["embedded", "production"])
def start_site(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer
) -> Iterator[SiteStarter]:
    pool = ServerPool(directory=tmp_path)
    try:
        yield SiteStarter(str(request.param), pool, smtp_server, request)
    finally:
        pool.close()


@pytest.fixture
def site(start_site: SiteStarter) -> Site:
    """A live server with the default settings on this test's backend."""
    return start_site()
