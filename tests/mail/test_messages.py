"""What the emails look like: a plain-text and an HTML part, the same links in both,
proper headers, no secret but the one link, and bodies encrypted at rest until sent.

`every_email` drives each flow that sends mail (registration, re-registration,
refresh-token reuse, password change, reset, two-factor on / recovery-code
sign-in / new codes / off, a provider linked / unlinked, email change, refused
email change, account deletion) for one account and returns every message it received, with every
secret the flows handled, on both backends.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import httpx
import pyotp

from authapi.encryption import Encryptor
from tests.conftest import (
    APP_URL,
    ENCRYPTION_KEY,
    PASSWORD,
    PUBLIC_URL,
    Api,
    bearer,
    body_of,
    link_token,
    unique_email,
)
from tests.mail.conftest import ProductionApi, SmtpService, eventually, outbox_rows
from tests.oidc import REDIRECT, OidcBrowser, OidcProvider, oidc_settings

EMAIL_FROM = "Example Accounts <accounts@example.com>"
REREGISTER_PASSWORD = "an attempt to register again"
CHANGED_PASSWORD = "the first new passphrase"
RESET_PASSWORD = "the passphrase set by reset"
URL = re.compile(r"https?://[^\s<>\"]+")
SENTENCE_END = ".,;:!?)'\""
# every subject the service sends, so a new kind of email is noticed here
SUBJECTS = {
    "Confirm your email address",
    "Someone tried to sign up with your email address",
    "We signed out one of your sessions",
    "Your password was changed",
    "Reset your password",
    "Your password was reset",
    "Confirm your new email address",
    "A change of your email address was requested",
    "Your email address was changed",
    "Someone tried to move an account to your email address",
    "Your account was deleted",
    "Two-factor authentication is on",
    "A recovery code was used to sign in",
    "New recovery codes",
    "Two-factor authentication is off",
    "Local sign-in was added to your account",
    "Local sign-in was removed from your account",
}


@dataclass
class Transcript:
    messages: list[EmailMessage] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)  # never in any email
    link_tokens: set[str] = field(default_factory=set)  # each in its own email only


def text_urls(message: EmailMessage) -> list[str]:
    """The URLs of the plain-text part, as a reader reads them (without a sentence's full stop)."""
    return [url.rstrip(SENTENCE_END) for url in URL.findall(body_of(message))]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value or "" for name, value in attrs if name == "href")


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, f"no HTML part in {message['Subject']!r}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def html_links(message: EmailMessage) -> list[str]:
    parser = _Links()
    parser.feed(html_of(message))
    return parser.hrefs


def tokens_of(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    body = response.json()
    return body["access_token"], body["refresh_token"]


async def every_email(
    api: Api, provider: OidcProvider, *, user_agent: str = "Mail-Test/1.0"
) -> Transcript:
    """Run every flow that sends mail for one account; returns what arrived and what is secret."""
    client, transcript = api.client, Transcript()
    transcript.secrets |= {PASSWORD, REREGISTER_PASSWORD, CHANGED_PASSWORD, RESET_PASSWORD}

    async def link(to: str, subject: str) -> str:
        token = link_token(await api.mail.wait_for(to, subject=subject))
        transcript.link_tokens.add(token)
        return token

    async def login(address: str, password: str) -> tuple[str, str]:
        response = await client.post(
            "/auth/login",
            json={"email": address, "password": password, "refresh_token_delivery": "body"},
            headers={"User-Agent": user_agent},
        )
        access, refresh = tokens_of(response)
        transcript.secrets |= {access, refresh}
        return access, refresh

    address, new_address, other = unique_email("old"), unique_email("new"), unique_email("other")
    assert (await api.register(address)).status_code == 202
    verify = {"token": await link(address, "Confirm your email")}
    assert (await client.post("/auth/verify-email", json=verify)).status_code == 200
    assert (await api.register(address, REREGISTER_PASSWORD)).status_code == 202

    # refresh-token reuse (grace 0): the first token comes back after rotation
    access, first_refresh = await login(address, PASSWORD)
    transcript.secrets |= set(tokens_of(await api.refresh(first_refresh)))
    assert (await api.refresh(first_refresh)).status_code == 401

    access, _ = await login(address, PASSWORD)
    changed = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": CHANGED_PASSWORD},
        headers=bearer(access),
    )
    assert changed.status_code == 204, changed.text

    assert (await client.post("/auth/forgot-password", json={"email": address})).status_code == 202
    await api.settle()
    reset = {"token": await link(address, "Reset your password"), "new_password": RESET_PASSWORD}
    assert (await client.post("/auth/reset-password", json=reset)).status_code == 200

    # two-factor authentication: on, a sign-in with a recovery code, new codes, off
    access, _ = await login(address, RESET_PASSWORD)
    setup = await client.post(
        "/auth/mfa/totp/setup", json={"password": RESET_PASSWORD}, headers=bearer(access)
    )
    secret = setup.json()["secret"]
    confirmed = await client.post(
        "/auth/mfa/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=bearer(access)
    )
    codes = confirmed.json()["recovery_codes"]
    challenge = await client.post(
        "/auth/login", json={"email": address, "password": RESET_PASSWORD}
    )
    mfa_token = challenge.json()["mfa_token"]
    second_step = {"mfa_token": mfa_token, "code": codes[0], "refresh_token_delivery": "body"}
    access, refresh = tokens_of(await client.post("/auth/login/mfa", json=second_step))
    renewed = await client.post(
        "/auth/mfa/recovery-codes", json={"code": codes[1]}, headers=bearer(access)
    )
    new_codes = renewed.json()["recovery_codes"]
    disable = {"password": RESET_PASSWORD, "code": new_codes[0]}
    turned_off = await client.post("/auth/mfa/totp/disable", json=disable, headers=bearer(access))
    assert turned_off.status_code == 204, turned_off.text
    transcript.secrets |= {secret, mfa_token, access, refresh, *codes, *new_codes}

    access, _ = await login(address, RESET_PASSWORD)
    subject = uuid.uuid4().hex
    provider.set_user(subject, email=unique_email("idp"), email_verified=True)
    linked = await OidcBrowser(client).link(access, sub=subject, password=RESET_PASSWORD)
    assert linked.headers["location"] == f"{REDIRECT}?linked=local", linked.text
    listed = await client.get("/users/me/identities", headers=bearer(access))
    (identity,) = listed.json()["identities"]
    unlinked = await client.delete(f"/users/me/identities/{identity['id']}", headers=bearer(access))
    assert unlinked.status_code == 204, unlinked.text

    move = {"password": RESET_PASSWORD, "new_email": new_address}
    assert (
        await client.post("/users/me/email", json=move, headers=bearer(access))
    ).status_code == 202
    confirm = {"token": await link(new_address, "Confirm your new")}
    assert (await client.post("/auth/verify-email", json=confirm)).status_code == 200

    await api.create_user(other)
    transcript.link_tokens.add(link_token(await api.mail.wait_for(other, subject="Confirm")))
    clash = {"password": RESET_PASSWORD, "new_email": other}
    assert (
        await client.post("/users/me/email", json=clash, headers=bearer(access))
    ).status_code == 202

    deleted = await client.request(
        "DELETE", "/users/me", json={"password": RESET_PASSWORD}, headers=bearer(access)
    )
    assert deleted.status_code == 204, deleted.text
    await api.settle()

    transcript.messages = [m for a in (address, new_address, other) for m in api.mail.to(a)]
    return transcript


class TestEveryEmail:
    async def test_every_email_has_a_plain_text_and_an_html_part_and_proper_headers(
        self, make_api: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        async with make_api(
            email_from=EMAIL_FROM, refresh_reuse_grace_seconds=0, **oidc_settings(oidc_provider)
        ) as api:
            transcript = await every_email(api, oidc_provider)
        messages = transcript.messages
        assert {str(m["Subject"]) for m in messages} == SUBJECTS

        now = datetime.now(UTC)
        for message in messages:
            subject = message["Subject"]
            assert message.get_content_type() == "multipart/alternative", subject
            assert [p.get_content_type() for p in message.iter_parts()] == [
                "text/plain",
                "text/html",
            ], subject
            assert body_of(message).strip(), subject
            assert "<html" in html_of(message), subject
            assert message["From"] == EMAIL_FROM
            sent = parsedate_to_datetime(str(message["Date"]))
            if sent.tzinfo is None:  # "-0000": UTC, origin's zone unknown (RFC 5322 3.3)
                sent = sent.replace(tzinfo=UTC)
            assert abs(sent - now) < timedelta(minutes=5), subject
            assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(message["Message-ID"])), subject
        assert len({str(m["Message-ID"]) for m in messages}) == len(messages)

    async def test_html_links_are_exactly_the_links_of_the_text(
        self, make_api: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        async with make_api(refresh_reuse_grace_seconds=0, **oidc_settings(oidc_provider)) as api:
            transcript = await every_email(api, oidc_provider)
        for message in transcript.messages:
            assert html_links(message) == text_urls(message), message["Subject"]

    async def test_no_email_holds_a_secret_except_its_own_link(
        self, make_api: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        async with make_api(refresh_reuse_grace_seconds=0, **oidc_settings(oidc_provider)) as api:
            transcript = await every_email(api, oidc_provider)
        assert len(transcript.link_tokens) == 4
        # 4 passwords; 4 sign-ins' and 1 refresh's token pairs; a TOTP secret,
        # an mfa_token and the token pair it gave; 20 recovery codes
        assert len(transcript.secrets) == 38
        for message in transcript.messages:
            raw = message.as_string()
            for secret in transcript.secrets:
                assert secret not in raw, f"a password or token in {message['Subject']!r}"
            own = [token for token in transcript.link_tokens if token in raw]
            assert len(own) <= 1, f"several links in {message['Subject']!r}"
            for token in own:
                # once in the text, once as href and once as the anchor's text in the HTML
                assert body_of(message).count(token) == 1
                assert html_of(message).count(token) == 2
                assert f"{PUBLIC_URL}/" in text_urls(message)[0]

    async def test_links_lead_only_to_the_public_url_even_with_a_hostile_user_agent(
        self, make_api: Callable[..., Any], oidc_provider: OidcProvider
    ) -> None:
        hostile = "Mozilla/5.0 (update needed: https://evil.example/login?next=account)"
        async with make_api(refresh_reuse_grace_seconds=0, **oidc_settings(oidc_provider)) as api:
            transcript = await every_email(api, oidc_provider, user_agent=hostile)
        for message in transcript.messages:
            # a plain-text reader would make it a link too
            assert "evil.example" not in message.as_string(), message["Subject"]
            # (a sentence's full stop caught in a link has a test of its own above)
            for href in (link.rstrip(SENTENCE_END) for link in html_links(message)):
                assert href == PUBLIC_URL or href.startswith(f"{PUBLIC_URL}/"), (
                    f"{message['Subject']!r} links to {href!r}"
                )


class TestOutboxAtRest:
    async def test_a_queued_body_is_encrypted_and_erased_once_sent(
        self, production_api: ProductionApi, smtp_service: SmtpService
    ) -> None:
        async with production_api(smtp_service) as api:
            address = await api.create_user()
            smtp_service.stop()  # keeps the reset email in the outbox
            response = await api.client.post("/auth/forgot-password", json={"email": address})
            assert response.status_code == 202

            async def queued() -> Any:
                rows = [r for r in await outbox_rows(api, address) if r.subject.startswith("Reset")]
                return rows[0] if rows and rows[0].attempts >= 1 else None

            row = await eventually(queued, within=5, what="the reset email queued")
            stored = row.body
            assert stored is not None
            assert row.recipient == address

            smtp_service.start()
            message = await api.mail.wait_for(address, subject="Reset your password")
            token = link_token(message)
            assert token not in stored
            assert PUBLIC_URL not in stored
            assert address not in stored
            # ... yet it is that very message, under the configured key
            plain = json.loads(Encryptor([ENCRYPTION_KEY.encode()]).decrypt(stored))
            assert f"{APP_URL}/reset-password?token={token}" in plain["text"]
            assert plain["subject"] == "Reset your password"

            async def sent() -> Any:
                rows = [r for r in await outbox_rows(api, address) if r.id == row.id]
                return rows[0] if rows[0].sent_at is not None else None

            done = await eventually(sent, within=5, what="the row marked sent")
            assert done.body is None
