"""One browser, many tabs, one session: the JavaScript client's cross-tab behaviour in
Chromium (Web Locks, BroadcastChannel, the shared refresh cookie), and where the tokens
live (the refresh token only in the HttpOnly cookie, the access token only in memory)."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import BrowserContext, Response

from tests.browser.conftest import Browsing, Site, SiteStarter, Tab
from tests.browser.test_pages import on_account_page, registered_user, sign_in

pytestmark = pytest.mark.live

TABS = 5
ACCESS_TTL_SECONDS = 10  # the shortest the settings allow


async def signed_in_tabs(browsing: Browsing, site: Site, context: BrowserContext) -> list[Tab]:
    """TABS tabs of one context on the account page, signed in once (in the first)."""
    first = await browsing.tab(context)
    address = await registered_user(first, site)
    await sign_in(first, site, address)
    await on_account_page(first, site, address)
    tabs = [first]
    for _ in range(TABS - 1):
        tab = await browsing.tab(context)
        await tab.page.goto(site.page())
        await on_account_page(tab, site, address)
        tabs.append(tab)
    return tabs


def refresh_requests(context: BrowserContext, site: Site) -> list[str]:
    """The POST /auth/refresh requests any tab of `context` sends from now on."""
    sent: list[str] = []
    context.on(
        "request",
        lambda request: (
            sent.append(request.url) if request.url == f"{site.origin}/auth/refresh" else None
        ),
    )
    return sent


async def test_five_tabs_whose_tokens_expired_together_rotate_once(
    browsing: Browsing, start_site: SiteStarter
) -> None:
    site = start_site(
        AUTHAPI_ACCESS_TOKEN_TTL_SECONDS=str(ACCESS_TTL_SECONDS), AUTHAPI_CLOCK_LEEWAY_SECONDS="0"
    )
    context = await browsing.context()
    # the pages' clocks are Playwright's, so that they can stand still: a laptop asleep
    await context.clock.install()
    tabs = await signed_in_tabs(browsing, site, context)

    # asleep: no timer runs, no proactive refresh, and every access token expires
    await context.clock.pause_at(time.time() + 1)
    await asyncio.sleep(ACCESS_TTL_SECONDS + 1)
    rotations = await site.rotations()
    refreshes = refresh_requests(context, site)
    served = [
        asyncio.ensure_future(
            tab.page.wait_for_event(
                "response",
                lambda response: (
                    response.url == f"{site.origin}/users/me" and response.status == 200
                ),
            )
        )
        for tab in tabs
    ]
    # awake: every tab comes back into view at once and reads the account again
    await asyncio.gather(
        *(
            tab.page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
            for tab in tabs
        )
    )
    answers: list[Response] = await asyncio.wait_for(asyncio.gather(*served), timeout=15)
    assert all(answer.ok for answer in answers)

    assert len(refreshes) == 1, f"{len(refreshes)} refresh requests from {TABS} tabs"
    assert await site.rotations() == rotations + 1
    for tab in tabs:
        assert tab.page.url == site.page(), "a tab was signed out"
        assert await tab.page.locator("#status").inner_text() == ""


async def test_sign_out_in_one_tab_signs_out_the_others_within_a_second(
    browsing: Browsing, site: Site
) -> None:
    context = await browsing.context()
    tabs = await signed_in_tabs(browsing, site, context)
    rotations = await site.rotations()

    await tabs[0].page.get_by_role("button", name="Sign out", exact=True).click()
    await asyncio.gather(
        *(tab.page.wait_for_url(site.page("sign-in"), timeout=1_000) for tab in tabs)
    )
    # and the server ended the session: no tab finds one
    reopened = await browsing.tab(context)
    await reopened.page.goto(site.page())
    await reopened.page.wait_for_url(site.page("sign-in"))
    assert await site.rotations() == rotations


@pytest.mark.requirement("ASVS-10.1.1", "RFC6750-5.3-b")
async def test_the_refresh_cookie_as_stored_and_no_token_in_page_storage(
    browsing: Browsing, start_site: SiteStarter
) -> None:
    # production: Secure, as behind https; the embedded default on plain http: not Secure
    secure = start_site.backend == "production"
    site = start_site(**({"AUTHAPI_COOKIE_SECURE": "true"} if secure else {}))
    context = await browsing.context()
    tabs = await signed_in_tabs(browsing, site, context)

    cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
    refresh = cookies.pop("authapi_refresh")
    assert refresh["httpOnly"] is True
    assert refresh["sameSite"] == "Strict"
    assert refresh["path"] == "/auth"
    assert refresh["secure"] is secure
    assert refresh["domain"] == "127.0.0.1"  # host-only: no Domain attribute
    assert cookies == {}, "other cookies than the refresh cookie"

    for tab in tabs:
        stored = await tab.page.evaluate(
            """async () => ({
                local: Object.keys(localStorage).length,
                session: Object.keys(sessionStorage).length,
                cookie: document.cookie,
                databases: (await indexedDB.databases()).length,
            })"""
        )
        assert stored == {"local": 0, "session": 0, "cookie": "", "databases": 0}
