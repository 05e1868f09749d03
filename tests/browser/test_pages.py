"""The built-in pages in Chromium, as a person uses them: the emailed links opened in the
browser, forms filled by their labels, buttons pressed by their names, and what the
page says read back."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from playwright.async_api import Request, expect

from tests.browser.conftest import Browsing, Site, SiteStarter, Tab
from tests.conftest import PASSWORD, unique_email
from tests.mfa import next_code
from tests.oidc import OidcProvider, start_provider

pytestmark = pytest.mark.live

NEW_PASSWORD = "a brand new passphrase for this account"


# --- steps a person takes ---------------------------------------------------------------
async def sign_up(tab: Tab, site: Site) -> str:
    address = unique_email("browser")
    await tab.page.goto(site.page("sign-up"))
    await tab.page.get_by_label("Email").fill(address)
    await tab.page.get_by_label("Password").fill(PASSWORD)
    await tab.page.get_by_role("button", name="Create account").click()
    await tab.says("Check your email")
    return address


async def confirm_address(tab: Tab, site: Site, address: str) -> None:
    """Open the emailed link; the address is confirmed only by the button."""
    link = await site.link_in_mail(address, "Confirm your email address")
    assert link.startswith(site.page("verify-email?token="))
    posted: list[Request] = []
    tab.page.on(
        "request", lambda request: posted.append(request) if request.method == "POST" else None
    )
    await tab.page.goto(link)
    await expect(tab.page.get_by_role("button", name="Confirm my address")).to_be_enabled()
    assert posted == [], "opening the link posted something: a link scanner would spend it"
    await tab.page.get_by_role("button", name="Confirm my address").click()
    await tab.says("Your address is confirmed")
    assert [request.url for request in posted] == [f"{site.origin}/auth/verify-email"]


async def sign_in(tab: Tab, site: Site, address: str, password: str = PASSWORD) -> None:
    await tab.page.goto(site.page("sign-in"))
    await tab.page.get_by_label("Email").fill(address)
    await tab.page.get_by_label("Password").fill(password)
    await tab.page.get_by_role("button", name="Sign in", exact=True).click()


async def on_account_page(tab: Tab, site: Site, address: str) -> None:
    await tab.page.wait_for_url(site.page())
    await expect(tab.page.locator("#who")).to_have_text(address)


async def sign_out(tab: Tab, site: Site) -> None:
    await tab.page.get_by_role("button", name="Sign out", exact=True).click()
    await tab.page.wait_for_url(site.page("sign-in"))


async def registered_user(tab: Tab, site: Site) -> str:
    address = await sign_up(tab, site)
    await confirm_address(tab, site, address)
    return address


# --- the flows --------------------------------------------------------------------------
async def test_register_confirm_by_the_emailed_link_sign_in_and_out(
    browsing: Browsing, site: Site
) -> None:
    tab = await browsing.tab()
    address = await sign_up(tab, site)
    await confirm_address(tab, site, address)

    await sign_in(tab, site, address)
    await on_account_page(tab, site, address)
    await expect(tab.page.locator("#verified")).to_have_text("confirmed")
    await expect(tab.page.locator("#sessions li")).to_have_count(1)
    await expect(tab.page.locator("#sessions")).to_contain_text("(this device)")
    await expect(tab.page.locator("#events")).to_contain_text("Signed in")

    await sign_out(tab, site)
    # the cookie went with the session: the account page sends the browser back
    await tab.page.goto(site.page())
    await tab.page.wait_for_url(site.page("sign-in"))


async def test_a_wrong_password_is_said_on_the_page(browsing: Browsing, site: Site) -> None:
    tab = await browsing.tab()
    address = await registered_user(tab, site)
    await sign_in(tab, site, address, password="not the password at all, sorry")
    await tab.says("incorrect")
    assert tab.page.url == site.page("sign-in")


async def test_reset_the_password_from_the_emailed_link(browsing: Browsing, site: Site) -> None:
    tab = await browsing.tab()
    address = await registered_user(tab, site)

    await tab.page.goto(site.page("forgot-password"))
    await tab.page.get_by_label("Email").fill(address)
    await tab.page.get_by_role("button", name="Send me a link").click()
    await tab.says("we sent it a link")

    link = await site.link_in_mail(address, "Reset your password")
    assert link.startswith(site.page("reset-password?token="))
    await tab.page.goto(link)
    await tab.page.get_by_label("New password").fill(NEW_PASSWORD)
    await tab.page.get_by_role("button", name="Set the new password").click()
    await tab.says("Your password is changed")

    await sign_in(tab, site, address, password=PASSWORD)
    await tab.says("incorrect")
    await sign_in(tab, site, address, password=NEW_PASSWORD)
    await on_account_page(tab, site, address)


async def test_change_the_password_on_the_account_page(browsing: Browsing, site: Site) -> None:
    tab = await browsing.tab()
    address = await registered_user(tab, site)
    await sign_in(tab, site, address)
    await on_account_page(tab, site, address)

    await tab.page.locator("#change-password").get_by_label("Current password").fill(PASSWORD)
    await tab.page.get_by_label("New password").fill(NEW_PASSWORD)
    await tab.page.get_by_role("button", name="Change password").click()
    await tab.says("Your password is changed", "section:has(#change-password) .status")
    await expect(tab.page.locator("#events")).to_contain_text("Password changed")

    await sign_out(tab, site)
    await sign_in(tab, site, address, password=NEW_PASSWORD)
    await on_account_page(tab, site, address)


async def test_totp_enrolment_on_the_account_page_then_an_mfa_sign_in(
    browsing: Browsing, site: Site
) -> None:
    tab = await browsing.tab()
    address = await registered_user(tab, site)
    await sign_in(tab, site, address)
    await on_account_page(tab, site, address)
    page = tab.page
    await expect(page.locator("#mfa-state")).to_contain_text("Off")
    await page.locator("#totp-start").get_by_label("Current password").fill(PASSWORD)
    await page.get_by_role("button", name="Set up an authenticator app").click()
    qr = page.get_by_role("img", name="QR code")
    await expect(qr).to_be_visible()
    assert (await qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    # the QR code was drawn (an image that failed to load has no natural width)
    assert await qr.evaluate("image => image.complete && image.naturalWidth > 0")
    secret = await page.locator("#totp-secret").inner_text()
    totp = pyotp.TOTP(secret)
    await page.get_by_label("The six-digit code").fill(totp.now())
    await page.get_by_role("button", name="Turn on two-factor authentication").click()
    await tab.says("Two-factor authentication is on", "section:has(#totp-start) .status")
    codes = await page.locator("#recovery-codes li").all_inner_texts()
    assert len(set(codes)) == len(codes) == 10
    await expect(page.locator("#mfa-state")).to_contain_text("Recovery codes left: 10")

    await sign_out(tab, site)
    await sign_in(tab, site, address)
    await expect(page.get_by_label("Code from your authenticator app")).to_be_visible()
    # the next step's code: the one that turned TOTP on cannot be used twice
    await page.get_by_label("Code from your authenticator app").fill(next_code(totp))
    await page.get_by_role("button", name="Continue").click()
    await on_account_page(tab, site, address)
    await expect(page.locator("#mfa-state")).to_contain_text("On")
    await expect(page.locator("#events")).to_contain_text("Signed in (password+totp)")


async def test_sign_out_one_device_from_the_sessions_list(browsing: Browsing, site: Site) -> None:
    laptop = await browsing.tab()
    address = await registered_user(laptop, site)
    await sign_in(laptop, site, address)
    await on_account_page(laptop, site, address)
    phone = await browsing.tab()  # another profile: another device
    await sign_in(phone, site, address)
    await on_account_page(phone, site, address)

    await laptop.page.reload()
    await expect(laptop.page.locator("#sessions li")).to_have_count(2)
    await laptop.page.get_by_role("button", name="Sign out this device").click()
    await laptop.says("That device is signed out", "section:has(#sessions) .status")
    await expect(laptop.page.locator("#sessions li")).to_have_count(1)
    # the phone's session is over: its next page load finds no session
    await phone.page.reload()
    await phone.page.wait_for_url(site.page("sign-in"))


# --- signing in with a provider ------------------------------------------------------------
@pytest.fixture
def provider_site(start_site: SiteStarter) -> Any:
    """A site with "local", an OpenID provider of its own that accepts this site's callback."""
    providers: list[OidcProvider] = []
    with_provider = []

    def provider_for(origin: str) -> dict[str, Any]:
        context = start_provider(app_urls=(origin,))
        providers.append(context.__enter__())
        with_provider.append(context)
        return {**providers[0].provider_setting("local"), "display_name": "Example ID"}

    site = start_site(provider=provider_for)
    try:
        yield site, providers[0]
    finally:
        for context in with_provider:
            context.__exit__(None, None, None)


async def at_the_provider(tab: Tab, sub: str) -> None:
    """The provider's development login and consent forms, filled in by the user."""
    page = tab.page
    await page.locator("input[name=login]").fill(sub)
    await page.locator("input[name=password]").fill("any")
    await page.locator("button[type=submit]").click()
    await page.locator("button[type=submit]").click()  # consent


async def test_sign_in_with_a_provider_from_the_sign_in_page(
    browsing: Browsing, provider_site: tuple[Site, OidcProvider]
) -> None:
    site, provider = provider_site
    address = unique_email("provider")
    sub = f"sub-{address}"
    provider.set_user(sub, email=address, email_verified=True, name="Ada")
    tab = await browsing.tab()
    await tab.page.goto(site.page("sign-in"))
    await tab.page.get_by_role("button", name="Sign in with Example ID").click()
    await tab.page.wait_for_url(re.compile(re.escape(provider.issuer)))
    await at_the_provider(tab, sub)
    await on_account_page(tab, site, address)
    await expect(tab.page.locator("#identities")).to_contain_text(f"Example ID: {address}")
    await expect(tab.page.locator("#no-password")).to_be_visible()


# --- password fields -----------------------------------------------------------------------
SIGNED_OUT_PAGES = ["sign-in", "sign-up", "reset-password?token=t"]


async def assert_password_fields_masked_and_named(tab: Tab) -> None:
    fields = tab.page.locator("input[name*=password]")
    await expect(fields.first).to_be_attached()
    for field in await fields.all():
        # masked, and named for password managers: which password this is
        assert await field.get_attribute("type") == "password"
        assert await field.get_attribute("autocomplete") in ("current-password", "new-password")
        label = tab.page.locator(f"label[for='{await field.get_attribute('id')}']")
        await expect(label).to_have_count(1)


@pytest.mark.requirement("ASVS-6.2.6", "ASVS-6.2.7")
async def test_password_fields_are_masked_and_take_paste_and_password_managers(
    browsing: Browsing, site: Site
) -> None:
    context = await browsing.context(permissions=["clipboard-read", "clipboard-write"])
    tab = await browsing.tab(context)
    for name in SIGNED_OUT_PAGES:  # (signed in, the sign-in page moves on to the account)
        await tab.page.goto(site.page(name))
        await assert_password_fields_masked_and_named(tab)
    address = await registered_user(tab, site)

    # a password pasted from the clipboard (a password manager's copy) arrives whole
    await tab.page.goto(site.page("sign-in"))
    await tab.page.evaluate("text => navigator.clipboard.writeText(text)", PASSWORD)
    await tab.page.get_by_label("Email").fill(address)
    await tab.page.get_by_label("Password").focus()
    await tab.page.keyboard.press("ControlOrMeta+V")
    await expect(tab.page.get_by_label("Password")).to_have_value(PASSWORD)
    await tab.page.get_by_role("button", name="Sign in", exact=True).click()
    await on_account_page(tab, site, address)
    await assert_password_fields_masked_and_named(tab)
