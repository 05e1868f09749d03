"""Verification tokens (SPEC "Security properties": reset and verification tokens are
≥ 128 bits, stored hashed, single-use, expiring), superseded by a newer link, and
links built from AUTHAPI_PUBLIC_URL, never from request headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from authapi.models import EmailToken, User, utcnow
from tests.conftest import APP_URL, PASSWORD, PUBLIC_URL, Api, body_of, link_token, unique_email

CONFIRM = "Confirm"
EVIL_HEADERS = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Port": "8443",
    "Forwarded": "for=198.51.100.7;host=evil.example;proto=http",
    "Origin": "https://evil.example",
    "Referer": "https://evil.example/signup",
}


async def registered(api: Api, email: str | None = None) -> tuple[str, str]:
    """Register a new account; returns (email, token from its link)."""
    address = email or unique_email()
    assert (await api.register(address)).status_code == 202
    return address, link_token(await api.mail.wait_for(address, subject=CONFIRM))


async def verify(api: Api, token: str) -> httpx.Response:
    return await api.client.post("/auth/verify-email", json={"token": token})


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_token"


async def token_rows(api: Api, email: str) -> list[EmailToken]:
    async with api.app.state.resources.sessionmaker() as db:
        rows = await db.scalars(
            select(EmailToken).join(User, User.id == EmailToken.user_id).where(User.email == email)
        )
        return list(rows.all())


class TestTokenMaterial:
    @pytest.mark.requirement("ASVS-6.4.1")
    async def test_token_carries_at_least_128_bits(self, api: Api) -> None:
        _, token = await registered(api)
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) >= 16, token
        _, other = await registered(api)
        assert other != token

    async def test_token_is_stored_as_its_sha256_only(self, api: Api) -> None:
        email, token = await registered(api)
        rows = await token_rows(api, email)
        assert len(rows) == 1
        row = rows[0]
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.purpose == "verify_email"
        stored = " ".join(str(value) for value in vars(row).values())
        assert token not in stored


class TestSingleUse:
    @pytest.mark.requirement("ASVS-6.4.1")
    async def test_token_works_once(self, api: Api) -> None:
        email, token = await registered(api)
        assert (await verify(api, token)).status_code == 200
        assert (await api.login(email)).status_code == 200
        assert_invalid_token(await verify(api, token))

    @pytest.mark.requirement("ASVS-2.3.4")
    async def test_concurrent_uses_of_one_token_succeed_once(self, api: Api) -> None:
        _, token = await registered(api)
        responses = await asyncio.gather(*(verify(api, token) for _ in range(5)))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 400, 400, 400, 400]

    async def test_random_token_is_refused(self, api: Api) -> None:
        await registered(api)  # some live token exists
        for token in (secrets.token_urlsafe(32), secrets.token_urlsafe(16), "x"):
            assert_invalid_token(await verify(api, token))

    async def test_a_token_hash_is_not_a_token(self, api: Api) -> None:
        # someone who reads the table must not be able to use what is stored there
        email, token = await registered(api)
        assert_invalid_token(await verify(api, hashlib.sha256(token.encode()).hexdigest()))
        assert (await api.login(email)).json()["code"] == "email_not_verified"


class TestExpiry:
    async def test_expiry_follows_the_configured_ttl(self, make_api: Callable[..., Any]) -> None:
        async with make_api(verification_token_ttl_seconds=60) as api:
            email, _ = await registered(api)
            (row,) = await token_rows(api, email)
            assert row.expires_at - row.created_at == timedelta(seconds=60)

    @pytest.mark.requirement("ASVS-6.4.1")
    async def test_expired_token_is_refused(self, make_api: Callable[..., Any]) -> None:
        async with make_api(verification_token_ttl_seconds=60) as api:
            email, token = await registered(api)
            async with api.app.state.resources.sessionmaker() as db:
                await db.execute(
                    update(EmailToken)
                    .where(EmailToken.token_hash == hashlib.sha256(token.encode()).hexdigest())
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
                await db.commit()
            assert_invalid_token(await verify(api, token))
            assert (await api.login(email)).json()["code"] == "email_not_verified"

            # a fresh link still works
            resent = await api.client.post("/auth/verify-email/resend", json={"email": email})
            assert resent.status_code == 202
            fresh = link_token(await api.mail.wait_for(email, subject=CONFIRM, count=2))
            assert (await verify(api, fresh)).status_code == 200


class TestSuperseded:
    async def test_resend_voids_the_previous_link(self, api: Api) -> None:
        email, first = await registered(api)
        resent = await api.client.post("/auth/verify-email/resend", json={"email": email})
        assert resent.status_code == 202
        second = link_token(await api.mail.wait_for(email, subject=CONFIRM, count=2))
        assert second != first
        assert_invalid_token(await verify(api, first))
        assert (await verify(api, second)).status_code == 200

    async def test_registering_again_voids_the_previous_link(self, api: Api) -> None:
        email, first = await registered(api)
        assert (await api.register(email, "the second registrant's passphrase")).status_code == 202
        choice = link_token(await api.mail.wait_for(email, subject="Choose a password"))
        assert_invalid_token(await verify(api, first))
        # the new link chooses the password (tests/security/test_reregistration_*)
        assert_invalid_token(await verify(api, choice))


class TestLinks:
    async def test_verification_link_uses_the_public_url_whatever_the_request_headers(
        self, api: Api
    ) -> None:
        email = unique_email()
        response = await api.client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}, headers=EVIL_HEADERS
        )
        assert response.status_code == 202
        text = body_of(await api.mail.wait_for(email, subject=CONFIRM))
        assert f"{APP_URL}/verify-email?token=" in text
        assert "evil" not in text
        assert "8443" not in text

    async def test_resent_link_uses_the_public_url_whatever_the_request_headers(
        self, api: Api
    ) -> None:
        email, _ = await registered(api)
        response = await api.client.post(
            "/auth/verify-email/resend", json={"email": email}, headers=EVIL_HEADERS
        )
        assert response.status_code == 202
        text = body_of(await api.mail.wait_for(email, subject=CONFIRM, count=2))
        assert f"{APP_URL}/verify-email?token=" in text
        assert "evil" not in text

    async def test_notice_to_an_existing_owner_uses_the_public_url(self, api: Api) -> None:
        email = await api.create_user()
        response = await api.client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}, headers=EVIL_HEADERS
        )
        assert response.status_code == 202
        text = body_of(await api.mail.wait_for(email, subject="Someone tried to sign up"))
        assert PUBLIC_URL in text
        assert "evil" not in text
