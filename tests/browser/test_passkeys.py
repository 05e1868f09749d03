"""Passkeys on the built-in pages, in Chromium with a virtual authenticator (the DevTools
protocol's WebAuthn domain): a platform authenticator that keeps discoverable
credentials and verifies its user without asking.

WebAuthn needs a secure context and a relying-party id that is a domain name, so these
sites are served as http://localhost:<port>, and their public URL says so: the API's
relying-party id is then `localhost`, and its allowed origin the pages' own.

Chromium hands a virtual authenticator's passkey to a conditional request (the email
field's autofill) at once, as if the person had picked it: a sign-in page that has a
passkey to offer signs in by itself. The tests of the buttons hold the autofill's
request instead (HOLD_AUTOFILL), as a person who has not opened the suggestions, and
check that the page aborts it before the button's request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from playwright.async_api import CDPSession, Request, expect

from tests.browser.conftest import Browsing, Site, SiteStarter, Tab
from tests.browser.test_pages import (
    at_the_provider,
    on_account_page,
    registered_user,
    sign_in,
    sign_out,
)
from tests.conftest import PASSWORD, unique_email
from tests.mfa import next_code
from tests.oidc import OidcProvider, start_provider

pytestmark = pytest.mark.live

PASSKEYS = "section:has(#add-passkey)"
SIGN_IN_OPTIONS = "/auth/passkeys/authentication/options"
# the autofill's passkey request waits (until aborted) as if nobody opened the suggestions;
# every other request goes to the browser; each is told to the test (`passkeyRequest`)
HOLD_AUTOFILL = """
if (navigator.credentials) {
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options) => {
    const mediation = options.mediation ?? 'optional';
    window.passkeyRequest(mediation);
    if (mediation !== 'conditional') return get(options);
    return new Promise((_, reject) => {
      options.signal?.addEventListener('abort', () => {
        window.passkeyRequest(`${mediation} aborted`);
        reject(options.signal.reason);
      });
    });
  };
}
"""


@pytest.fixture
def site(start_site: SiteStarter) -> Site:
    """A site at http://localhost:<port>, where passkeys work."""
    return start_site(host="localhost")


@dataclass
class Authenticator:
    """A virtual authenticator in one tab's browser context."""

    cdp: CDPSession
    id: str
    requests: list[str]  # the page's passkey requests, while the autofill's is held

    async def credentials(self) -> list[dict[str, Any]]:
        answer = await self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        credentials: list[dict[str, Any]] = answer["credentials"]
        return credentials


async def authenticator(tab: Tab, *, hold_autofill: bool = True) -> Authenticator:
    """A platform authenticator with user verification, answering without a person (the
    autofill's request held, unless `hold_autofill` is false)."""
    requests: list[str] = []
    if hold_autofill:
        await tab.page.context.expose_function(
            "passkeyRequest", lambda request: requests.append(request)
        )
        await tab.page.context.add_init_script(HOLD_AUTOFILL)
    cdp = await tab.page.context.new_cdp_session(tab.page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return Authenticator(cdp, added["authenticatorId"], requests)


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait (bounded) until `condition()` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def posts_to(tab: Tab, site: Site, path: str) -> list[Request]:
    """The POST requests the tab sends to `path` from now on."""
    sent: list[Request] = []
    url = f"{site.origin}{path}"
    tab.page.on(
        "request",
        lambda request: (
            sent.append(request) if request.method == "POST" and request.url == url else None
        ),
    )
    return sent


async def add_passkey(tab: Tab, name: str) -> None:
    """On the account page: add a passkey called `name`, confirming with the password."""
    section = tab.page.locator(PASSKEYS)
    await section.get_by_label("Name").fill(name)
    await section.get_by_label("Current password").fill(PASSWORD)
    await section.get_by_role("button", name="Add a passkey").click()
    await tab.says(f"Your passkey {name} is added", f"{PASSKEYS} .status")


async def signed_in_with_a_passkey(
    browsing: Browsing, site: Site, *, hold_autofill: bool = True
) -> tuple[Tab, str, Authenticator]:
    """A registered user, signed in with the password, who added a passkey "Test laptop"."""
    tab = await browsing.tab()
    device = await authenticator(tab, hold_autofill=hold_autofill)
    address = await registered_user(tab, site)
    await sign_in(tab, site, address)
    await on_account_page(tab, site, address)
    await expect(tab.page.locator("#passkeys")).to_have_text("No passkey yet.")
    await add_passkey(tab, "Test laptop")
    return tab, address, device


async def test_add_a_passkey_then_sign_in_with_it_without_typing_the_email(
    browsing: Browsing, site: Site
) -> None:
    tab, address, device = await signed_in_with_a_passkey(browsing, site)
    page = tab.page
    passkeys = page.locator("#passkeys li")
    await expect(passkeys).to_have_count(1)
    await expect(passkeys).to_contain_text("Test laptop: added")
    await expect(passkeys).to_contain_text("last used never")
    await expect(page.locator("#events")).to_contain_text("Passkey added")
    [credential] = await device.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"

    asked = posts_to(tab, site, SIGN_IN_OPTIONS)
    device.requests.clear()
    await sign_out(tab, site)
    await expect(page.get_by_label("Email")).to_have_value("")
    # the autofill's request is waiting: the button's takes its place
    await until(lambda: device.requests == ["conditional"])
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await on_account_page(tab, site, address)

    # discoverable: the options named no account; the browser's passkey said whose it is
    assert [json.loads(request.post_data or "null") for request in asked] == [{}, {}]
    assert device.requests == ["conditional", "conditional aborted", "optional"]
    await expect(page.locator("#events")).to_contain_text("Signed in (passkey)")
    await expect(passkeys).to_have_count(1)
    await expect(passkeys).to_contain_text("Test laptop")
    await expect(passkeys).not_to_contain_text("last used never")


async def test_rename_and_remove_a_passkey(browsing: Browsing, site: Site) -> None:
    tab, _, _ = await signed_in_with_a_passkey(browsing, site)
    page = tab.page
    item = page.locator("#passkeys li").first
    await item.get_by_role("button", name="Rename").click()
    await item.get_by_label("New name for Test laptop").fill("Old laptop")
    await item.get_by_role("button", name="Save the name").click()
    await tab.says("The passkey is now called Old laptop", f"{PASSKEYS} .status")
    await expect(page.locator("#passkeys li")).to_contain_text("Old laptop: added")

    # the password still signs in: removing the passkey is allowed
    await page.locator("#passkeys li").first.get_by_role("button", name="Remove").click()
    await tab.says("Old laptop is removed", f"{PASSKEYS} .status")
    await expect(page.locator("#passkeys")).to_have_text("No passkey yet.")
    await expect(page.locator("#events")).to_contain_text("Passkey removed")


async def test_a_passkey_as_the_second_step_instead_of_a_code(
    browsing: Browsing, site: Site
) -> None:
    tab, address, _ = await signed_in_with_a_passkey(browsing, site)
    page = tab.page
    await page.locator("#totp-start").get_by_label("Current password").fill(PASSWORD)
    await page.get_by_role("button", name="Set up an authenticator app").click()
    await expect(page.locator("#totp-secret")).not_to_be_empty()
    totp = pyotp.TOTP(await page.locator("#totp-secret").inner_text())
    await page.get_by_label("The six-digit code").fill(next_code(totp))
    await page.get_by_role("button", name="Turn on two-factor authentication").click()
    await tab.says("Two-factor authentication is on", "section:has(#totp-start) .status")

    await sign_out(tab, site)
    await sign_in(tab, site, address)
    await expect(page.get_by_label("Code from your authenticator app")).to_be_visible()
    await page.get_by_role("button", name="Use a passkey").click()
    await on_account_page(tab, site, address)
    await expect(page.locator("#events")).to_contain_text("Signed in (password+passkey)")


async def test_without_a_passkey_the_button_says_so_and_the_page_stays(
    browsing: Browsing, site: Site
) -> None:
    tab = await browsing.tab()
    await authenticator(tab)  # an authenticator with no passkey of this site
    await tab.page.goto(site.page("sign-in"))
    await tab.page.get_by_role("button", name="Sign in with a passkey").click()
    await tab.says("cancelled or timed out")
    assert tab.page.url == site.page("sign-in")


async def test_the_email_fields_autofill_offers_the_passkey(browsing: Browsing, site: Site) -> None:
    tab, address, _ = await signed_in_with_a_passkey(browsing, site, hold_autofill=False)
    asked = posts_to(tab, site, SIGN_IN_OPTIONS)
    await tab.page.get_by_role("button", name="Sign out", exact=True).click()
    # the sign-in page offers the passkey in the email field's autofill, where the virtual
    # authenticator picks it at once: signed in, with nothing typed and no button pressed
    await on_account_page(tab, site, address)
    assert [json.loads(request.post_data or "null") for request in asked] == [{}]
    await expect(tab.page.locator("#events")).to_contain_text("Signed in (passkey)")


async def test_the_email_field_is_named_for_passkey_autofill(
    browsing: Browsing, site: Site
) -> None:
    tab = await browsing.tab()
    await tab.page.goto(site.page("sign-in"))
    await expect(tab.page.get_by_label("Email")).to_have_attribute(
        "autocomplete", "username webauthn"
    )
    await expect(tab.page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()


@pytest.fixture
def provider_site(start_site: SiteStarter) -> Iterator[tuple[Site, OidcProvider]]:
    """A localhost site with "Example ID", an OpenID provider that accepts its callback."""
    with ExitStack() as stack:

        def provider_for(origin: str) -> dict[str, Any]:
            provider = stack.enter_context(start_provider(app_urls=(origin,)))
            providers.append(provider)
            return {**provider.provider_setting("local"), "display_name": "Example ID"}

        providers: list[OidcProvider] = []
        site = start_site(provider=provider_for, host="localhost")
        yield site, providers[0]


async def test_an_account_without_a_password_keeps_its_last_passkey(
    browsing: Browsing, provider_site: tuple[Site, OidcProvider]
) -> None:
    site, provider = provider_site
    address = unique_email("passkey-provider")
    sub = f"sub-{address}"
    provider.set_user(sub, email=address, email_verified=True, name="Ada")
    tab = await browsing.tab()
    await authenticator(tab)
    page = tab.page
    await page.goto(site.page("sign-in"))
    await page.get_by_role("button", name="Sign in with Example ID").click()
    await at_the_provider(tab, sub)
    await on_account_page(tab, site, address)

    # no password to confirm with: the sign-in a moment ago is the confirmation
    await expect(page.locator("#no-password")).to_be_visible()
    await expect(page.locator(PASSKEYS).get_by_label("Current password")).to_be_hidden()
    await page.locator(PASSKEYS).get_by_label("Name").fill("Phone")
    await page.get_by_role("button", name="Add a passkey").click()
    await tab.says("Your passkey Phone is added", f"{PASSKEYS} .status")

    # the passkey is a way in: the provider may go, and then the passkey may not
    await page.get_by_role("button", name="Unlink Example ID").click()
    await tab.says("Example ID is unlinked", "section:has(#identities) .status")
    await page.locator("#passkeys li").first.get_by_role("button", name="Remove").click()
    await tab.says("This is the only way to sign in", f"{PASSKEYS} .status")
    await expect(page.locator("#passkeys li")).to_contain_text("Phone: added")
