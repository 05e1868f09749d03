"""The built-in account pages: served by the service with their assets and the JavaScript
client, under a strict policy, accessible forms, and an emailed link that is not spent
by being opened (link scanners open every link in a mail)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.conftest import Api, link_token, unique_email

PAGES = ["sign-in", "sign-up", "verify-email", "forgot-password", "reset-password", ""]
AUTOCOMPLETE = {
    "email",
    "current-password",
    "new-password",
    "one-time-code",
    "username webauthn",  # sign-in's email: passkeys offered in its autofill too
    "off",  # a passkey's name: nothing a browser should fill in
}


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input":
            self.inputs.append(attributes)
        elif tag == "label" and attributes.get("for"):
            self.labels.add(str(attributes["for"]))
        elif tag in ("script", "link") and (attributes.get("src") or attributes.get("href")):
            self.sources.append(str(attributes.get("src") or attributes.get("href")))


@pytest.mark.parametrize("page", PAGES)
async def test_each_page_is_plain_accessible_html_under_a_strict_policy(
    api: Api, page: str
) -> None:
    response = await api.client.get(f"/account/{page}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "*" not in policy
    assert "script-src 'self';" in policy
    assert "<script>" not in response.text  # modules from files only
    form = _Form()
    form.feed(response.text)
    for field in form.inputs:
        assert field.get("id") in form.labels, f"{page}: an input without a label: {field}"
        assert field.get("type"), f"{page}: an input without a type: {field}"
        assert field.get("autocomplete") in AUTOCOMPLETE, f"{page}: {field}"
    for source in form.sources:  # the stylesheet and the module, relative to /account/
        if source.startswith("data:"):
            continue  # the empty icon (no /favicon.ico request)
        asset = await api.client.get(f"/account/{source}")
        assert asset.status_code == 200, source


async def test_the_folder_without_its_slash_redirects_to_it(api: Api) -> None:
    response = await api.client.get("/account", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/account/"


async def test_the_pages_module_and_every_module_of_the_client_are_served(api: Api) -> None:
    pending, seen = ["assets/pages.js"], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await api.client.get(f"/account/{path}")
        assert response.status_code == 200, path
        assert "javascript" in response.headers["content-type"], path
        folder = path.rsplit("/", 1)[0]
        for target in re.findall(r"""from ['"](\.{1,2}/[^'"]+)['"]""", response.text):
            parts = [*folder.split("/"), *target.split("/")]
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part != ".":
                    resolved.append(part)
            pending.append("/".join(resolved))
    assert "client/index.js" in seen
    assert "client/client.js" in seen


async def test_an_unknown_page_is_404(api: Api) -> None:
    assert (await api.client.get("/account/nothing-here")).status_code == 404


async def test_opening_an_emailed_link_does_not_spend_its_token(api: Api) -> None:
    address = unique_email("pages")
    assert (await api.register(address)).status_code == 202
    message = await api.mail.wait_for(address, subject="Confirm")
    token = link_token(message)
    assert f"/account/verify-email?token={token}" in message.as_string()

    for _ in range(3):  # a link scanner, a preview, the user
        opened = await api.client.get("/account/verify-email", params={"token": token})
        assert opened.status_code == 200
        assert token not in opened.text

    verified = await api.client.post("/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
