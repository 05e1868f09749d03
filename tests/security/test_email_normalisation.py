"""Emails are normalised (case, Unicode NFKC, surrounding space) before lookup and
uniqueness; NUL bytes and other control characters in any string field get 422
`validation_error`, never a 500 (PostgreSQL cannot store NUL); error bodies never
echo a submitted password."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from authapi.models import User
from tests.conftest import PASSWORD, Api, body_of, link_token

NOTICE = "Someone tried to sign up"
# C0 (NUL included), DEL, C1, and a lone surrogate (only expressible as a JSON escape)
CONTROL_CHARACTERS = ["\x00", "\x01", "\x08", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f", "\ud800"]


def fullwidth(text: str) -> str:
    """The full-width form of ASCII text (NFKC maps it back)."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def canonical_email() -> str:
    return f"ada-{uuid.uuid4().hex[:12]}@example.com"


def spellings(email: str) -> list[str]:
    local, domain = email.split("@")
    return [
        f"{local.capitalize()}@{domain.upper()} ",
        f"  {email.upper()}\u00a0",  # NBSP is surrounding space too (NFKC: U+0020)
        fullwidth(local) + "@" + domain,
        fullwidth(email),
    ]


async def rows_for(api: Api, email: str) -> int:
    marker = email.split("@")[0].split("-")[-1]
    async with api.app.state.resources.sessionmaker() as db:
        count = await db.scalar(
            select(func.count()).select_from(User).where(User.email.contains(marker))
        )
    assert count is not None
    return count


class TestNormalisation:
    async def test_other_spellings_register_as_the_same_account(self, api: Api) -> None:
        email = await api.create_user(canonical_email())
        for number, spelling in enumerate(spellings(email), start=1):
            response = await api.register(spelling, "someone else's passphrase")
            assert response.status_code == 202, (spelling, response.text)
            # the owner is told; no second account appears
            await api.mail.wait_for(email, subject=NOTICE, count=number)
        assert await rows_for(api, email) == 1
        assert (await api.login(email, "someone else's passphrase")).status_code == 401

    async def test_other_spellings_sign_in_to_the_same_account(self, api: Api) -> None:
        email = await api.create_user(canonical_email())
        for spelling in spellings(email):
            response = await api.login(spelling, PASSWORD)
            assert response.status_code == 200, (spelling, response.text)
            me = await api.me(response.json()["access_token"])
            assert me.json()["email"] == email

    async def test_a_registration_is_stored_and_mailed_under_the_normalised_address(
        self, api: Api
    ) -> None:
        email = canonical_email()
        assert (await api.register(fullwidth(email.upper()) + " ")).status_code == 202
        message = await api.mail.wait_for(email, subject="Confirm")
        assert await rows_for(api, email) == 1
        async with api.app.state.resources.sessionmaker() as db:
            stored = await db.scalar(select(User.email).where(User.email == email))
        assert stored == email
        verified = await api.client.post("/auth/verify-email", json={"token": link_token(message)})
        assert verified.status_code == 200
        assert (await api.login(email, PASSWORD)).status_code == 200

    async def test_resend_finds_the_account_under_another_spelling(self, api: Api) -> None:
        email = canonical_email()
        assert (await api.register(email)).status_code == 202
        await api.mail.wait_for(email, subject="Confirm")
        response = await api.client.post(
            "/auth/verify-email/resend", json={"email": spellings(email)[2]}
        )
        assert response.status_code == 202
        second = await api.mail.wait_for(email, subject="Confirm", count=2)
        assert "?token=" in body_of(second)


def _with(value: str, char: str) -> str:
    middle = len(value) // 2
    return value[:middle] + char + value[middle:]


# (path, body, field that gets the control character)
FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("/auth/register", {"email": "ctl@example.com", "password": PASSWORD}, "email"),
    ("/auth/register", {"email": "ctl@example.com", "password": PASSWORD}, "password"),
    ("/auth/login", {"email": "ctl@example.com", "password": PASSWORD}, "email"),
    ("/auth/login", {"email": "ctl@example.com", "password": PASSWORD}, "password"),
    ("/auth/verify-email/resend", {"email": "ctl@example.com"}, "email"),
]
# Tokens a client presents are any string: one with a control character is refused as
# any other wrong token (tests/security/test_malformed_input.py).


async def post_raw(api: Api, path: str, body: dict[str, Any]) -> httpx.Response:
    # json.dumps escapes everything (a lone surrogate becomes "\ud800"), as a client may send it
    return await api.client.post(
        path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


class TestControlCharacters:
    @pytest.mark.parametrize(
        ("path", "body", "field"),
        FIELDS,
        ids=[f"{path}:{field}" for path, _, field in FIELDS],
    )
    @pytest.mark.requirement("ASVS-2.2.2")
    async def test_control_characters_in_a_string_field_are_422(
        self, api: Api, path: str, body: dict[str, Any], field: str
    ) -> None:
        for char in CONTROL_CHARACTERS:
            response = await post_raw(api, path, {**body, field: _with(body[field], char)})
            assert response.status_code == 422, (repr(char), response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "validation_error"
            assert response.json()["errors"][0]["loc"][-1] == field

    async def test_nul_in_an_existing_accounts_email_and_password_is_422(self, api: Api) -> None:
        email = await api.create_user()
        for body in (
            {"email": email + "\x00", "password": PASSWORD},
            {"email": email, "password": PASSWORD + "\x00"},
        ):
            response = await post_raw(api, "/auth/login", body)
            assert response.status_code == 422, response.text
        # and the account is unharmed
        assert (await api.login(email)).status_code == 200

    async def test_control_characters_in_form_fields_are_400_not_500(self, api: Api) -> None:
        password_grant = {"grant_type": "password", "username": "a@example.com"}
        forms = [
            (
                "/auth/token",
                {**password_grant, "username": "a\x00@example.com", "password": PASSWORD},
            ),
            ("/auth/token", {**password_grant, "password": PASSWORD + "\x00"}),
            ("/auth/revoke", {"token": "abc\x00def"}),
        ]
        for path, form in forms:
            response = await api.client.post(path, data=form)
            assert response.status_code == 400, (path, form, response.text)
            assert response.json()["error"] == "invalid_request"


class TestNoEcho:
    @pytest.mark.requirement("ASVS-16.5.1")
    async def test_error_bodies_never_echo_the_submitted_password(self, api: Api) -> None:
        secret = "echo-canary-" + uuid.uuid4().hex
        email = await api.create_user()
        attempts = [
            ("/auth/register", {"email": "x@example.com", "password": secret + "\x00"}),
            ("/auth/register", {"email": "x@example.com", "password": secret[:10]}),
            ("/auth/register", {"email": "not an email", "password": secret}),
            ("/auth/register", {"email": "x@example.com", "password": secret, "extra": secret}),
            ("/auth/login", {"email": email, "password": secret + "\x00"}),
            ("/auth/login", {"email": email, "password": secret}),
            ("/auth/login", {"email": email, "password": secret * 200}),
            ("/auth/login", {"email": email + "\x00", "password": secret}),
            ("/auth/login", {"email": email, "password": [secret]}),
            ("/auth/login", {"email": email, "password": {"value": secret}}),
        ]
        for path, body in attempts:
            response = await post_raw(api, path, body)
            assert 400 <= response.status_code < 500, (path, body, response.text)
            assert secret not in response.text
            assert secret[:10] not in response.text
