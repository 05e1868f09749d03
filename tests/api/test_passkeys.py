"""Passkeys over the API, on both backends, with a software authenticator as the device.

SPEC (passkeys): registration while signed in (with the password, or a recent sign-in),
sign-in discoverable, email-first and as a second step, the list, rename and delete
(never the last way in), and what is recorded and mailed. The refusals a reviewer
asks about (origin, RP id, challenges, user verification, counters) are in
tests/security/test_passkey_*.py.
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from authapi.models import SecurityEvent, User, UserSession, utcnow
from tests import webauthn_authenticator
from tests.conftest import (
    Api,
    assert_problem,
    assert_throttled,
    bearer,
    body_of,
    client_from,
    unique_email,
)
from tests.mfa import challenge, mfa_user, next_code, submit
from tests.passkeys import (
    ORIGIN,
    RP_ID,
    add_passkey,
    passkey_sign_in,
    register,
    registration_options,
    sign_in_options,
    tokens_of,
)
from tests.webauthn_authenticator import SoftAuthenticator


async def events_of(api: Api, email: str) -> list[SecurityEvent]:
    async with api.app.state.resources.sessionmaker() as db:
        user = await db.scalar(select(User).where(User.email == email))
        assert user is not None
        rows = await db.scalars(
            select(SecurityEvent).where(SecurityEvent.user_id == user.id).order_by(SecurityEvent.id)
        )
        return list(rows)


async def methods_recorded(api: Api, email: str) -> list[tuple[str, str | None]]:
    """(type, method) of the account's events."""
    return [(e.type, (e.details or {}).get("method")) for e in await events_of(api, email)]


async def make_passwordless(api: Api, email: str) -> None:
    """Drop the account's password, as if it had been made through a provider."""
    async with api.app.state.resources.sessionmaker() as db:
        await db.execute(update(User).where(User.email == email).values(password_hash=None))
        await db.commit()


async def age_sessions(api: Api, email: str, minutes: int) -> None:
    """Move the account's sessions' start back, as if they began `minutes` ago."""
    async with api.app.state.resources.sessionmaker() as db:
        user = await db.scalar(select(User).where(User.email == email))
        assert user is not None
        await db.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(created_at=utcnow() - timedelta(minutes=minutes))
        )
        await db.commit()


class TestRegistration:
    async def test_the_options_ask_for_a_discoverable_user_verified_es256_credential(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        response = await registration_options(api, tokens.access)
        assert response.status_code == 200, response.text
        assert "no-store" in response.headers["cache-control"]
        options = response.json()
        assert options["rp"] == {"id": RP_ID, "name": api.settings.webauthn_rp_name}
        assert options["user"]["name"] == tokens.email
        assert options["authenticatorSelection"]["residentKey"] == "required"
        assert options["authenticatorSelection"]["userVerification"] == "required"
        assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"]
        assert options["attestation"] == "none"
        assert options["excludeCredentials"] == []
        assert len(options["challenge"]) >= 43  # 32 random bytes or more

    async def test_register_lists_it_mails_the_owner_and_records_it(self, api: Api) -> None:
        tokens = await api.signed_in()
        passkey = await add_passkey(api, tokens, SoftAuthenticator(), name="Work laptop")
        assert passkey["name"] == "Work laptop"
        assert passkey["backed_up"] is True
        assert passkey["last_used_at"] is None
        listed = await api.client.get("/users/me/passkeys", headers=bearer(tokens.access))
        assert listed.status_code == 200
        assert listed.json()["passkeys"] == [passkey]
        mail = await api.mail.wait_for(tokens.email, subject="A passkey was added")
        assert "Work laptop" in body_of(mail)
        assert [
            e.details for e in await events_of(api, tokens.email) if e.type == "passkey_added"
        ] == [{"passkey": "Work laptop"}]

    async def test_without_a_name_the_passkey_is_named_after_the_device(self, api: Api) -> None:
        tokens = await api.signed_in()
        firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
        api.client.headers["user-agent"] = firefox
        passkey = await add_passkey(api, tokens, SoftAuthenticator())
        assert passkey["name"] == "Firefox on Linux"

    async def test_a_wrong_password_is_invalid_credentials(self, api: Api) -> None:
        tokens = await api.signed_in()
        response = await registration_options(api, tokens.access, password="not the password")
        assert_problem(response, 401, "invalid_credentials")
        response = await registration_options(api, tokens.access, password=None)
        assert_problem(response, 401, "invalid_credentials")

    async def test_without_a_password_a_recent_sign_in_is_needed(self, api: Api) -> None:
        tokens = await api.signed_in()
        await make_passwordless(api, tokens.email)
        assert (await registration_options(api, tokens.access, password=None)).status_code == 200
        await age_sessions(api, tokens.email, minutes=6)
        response = await registration_options(api, tokens.access, password=None)
        assert_problem(response, 401, "reauthentication_required")

    async def test_the_accounts_passkeys_are_excluded_from_new_ones(self, api: Api) -> None:
        tokens = await api.signed_in()
        device = SoftAuthenticator()
        await add_passkey(api, tokens, device)
        options = (await registration_options(api, tokens.access)).json()
        assert [c["id"] for c in options["excludeCredentials"]] == [device.credentials[0].id]

    async def test_a_credential_id_registered_already_is_a_conflict(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two authenticators that make the same credential id (only a broken or a cloned
        one would): the second registration, for another account, is refused."""
        fixed = types.SimpleNamespace(token_bytes=lambda n: b"\x07" * n)
        monkeypatch.setattr(webauthn_authenticator, "secrets", fixed)
        first, second = await api.signed_in(), await api.signed_in()
        await add_passkey(api, first, SoftAuthenticator())
        options = (await registration_options(api, second.access)).json()
        response = await register(api, second.access, options, SoftAuthenticator())
        assert_problem(response, 409, "passkey_exists")

    async def test_a_malformed_credential_is_refused_not_an_error(self, api: Api) -> None:
        tokens = await api.signed_in()
        await registration_options(api, tokens.access)
        for credential in ({}, {"id": "x", "response": {}}, {"response": {"clientDataJSON": 1}}):
            response = await api.client.post(
                "/auth/passkeys/registration",
                json={"credential": credential},
                headers=bearer(tokens.access),
            )
            assert_problem(response, 400, "passkey_refused")

    async def test_registration_needs_an_access_token(self, api: Api) -> None:
        response = await api.client.post("/auth/passkeys/registration/options", json={})
        assert_problem(response, 401, "not_authenticated")


class TestSignIn:
    async def test_discoverable_sign_in_with_no_email_typed(self, api: Api) -> None:
        tokens = await api.signed_in()
        device = SoftAuthenticator()
        passkey = await add_passkey(api, tokens, device)
        options = await sign_in_options(api.client)
        assert options["rpId"] == RP_ID
        assert options["allowCredentials"] == []
        assert options["userVerification"] == "required"
        signed_in = tokens_of(tokens.email, await passkey_sign_in(api, device))
        me = await api.me(signed_in.access)
        assert me.json()["email"] == tokens.email
        listed = await api.client.get("/users/me/passkeys", headers=bearer(signed_in.access))
        (used,) = listed.json()["passkeys"]
        assert used["id"] == passkey["id"]
        assert used["last_used_at"] is not None
        kinds = await methods_recorded(api, tokens.email)
        assert ("passkey_used", None) in kinds
        assert ("login_succeeded", "passkey") in kinds

    async def test_email_first_offers_only_that_accounts_passkeys(self, api: Api) -> None:
        tokens, other = await api.signed_in(), await api.signed_in()
        device = SoftAuthenticator()
        await add_passkey(api, tokens, device)
        await add_passkey(api, other, device)
        options = await sign_in_options(api.client, email=tokens.email)
        assert [c["id"] for c in options["allowCredentials"]] == [device.credentials[0].id]
        credential = device.get(options, origin=ORIGIN)
        response = await api.client.post(
            "/auth/passkeys/authentication",
            json={"credential": credential, "refresh_token_delivery": "body"},
        )
        assert (await api.me(tokens_of(tokens.email, response).access)).json()["email"] == (
            tokens.email
        )

    async def test_email_first_with_another_accounts_passkey_is_refused(self, api: Api) -> None:
        tokens, other = await api.signed_in(), await api.signed_in()
        device = SoftAuthenticator()
        await add_passkey(api, other, device)
        options = await sign_in_options(api.client, email=tokens.email)
        credential = device.get(options, origin=ORIGIN, credential_id=device.credentials[0].id)
        response = await api.client.post(
            "/auth/passkeys/authentication", json={"credential": credential}
        )
        assert_problem(response, 401, "invalid_passkey")

    async def test_email_first_options_do_not_tell_which_addresses_have_passkeys(
        self, api: Api
    ) -> None:
        without = await api.create_user()
        unknown = unique_email("nobody")
        for email in (without, unknown):
            first = await sign_in_options(api.client, email=email)
            second = await sign_in_options(api.client, email=email)
            assert len(first["allowCredentials"]) == 1
            assert first["allowCredentials"] == second["allowCredentials"]
            assert first["challenge"] != second["challenge"]

    async def test_a_passkey_needs_no_second_factor(self, api: Api) -> None:
        user = await mfa_user(api)
        device = SoftAuthenticator()
        await add_passkey(api, user.tokens, device)
        assert_problem(await api.login(user.email), 403, "mfa_required")
        response = await passkey_sign_in(api, device)
        assert response.status_code == 200, response.text
        kinds = await methods_recorded(api, user.email)
        assert ("login_succeeded", "passkey") in kinds

    async def test_a_passkey_can_be_the_second_step_after_the_password(self, api: Api) -> None:
        user = await mfa_user(api)
        device = SoftAuthenticator()
        await add_passkey(api, user.tokens, device)
        mfa_token = await challenge(api, user.email)
        options = await sign_in_options(api.client, mfa_token=mfa_token)
        assert [c["id"] for c in options["allowCredentials"]] == [device.credentials[0].id]
        credential = device.get(options, origin=ORIGIN)
        response = await api.client.post(
            "/auth/passkeys/authentication",
            json={
                "credential": credential,
                "mfa_token": mfa_token,
                "refresh_token_delivery": "body",
            },
        )
        assert response.status_code == 200, response.text
        kinds = await methods_recorded(api, user.email)
        assert ("login_succeeded", "password+passkey") in kinds
        # the challenge is closed: neither a code nor the passkey completes it again
        assert_problem(await submit(api, mfa_token, next_code(user.app)), 401, "invalid_mfa_token")

    async def test_as_a_second_step_only_the_challenged_accounts_passkey_counts(
        self, api: Api
    ) -> None:
        user, other = await mfa_user(api), await api.signed_in()
        device = SoftAuthenticator()
        await add_passkey(api, other, device)
        mfa_token = await challenge(api, user.email)
        options = await sign_in_options(api.client)
        credential = device.get(options, origin=ORIGIN)
        response = await api.client.post(
            "/auth/passkeys/authentication",
            json={"credential": credential, "mfa_token": mfa_token},
        )
        assert_problem(response, 401, "invalid_passkey")

    async def test_a_bad_mfa_token_gets_no_options(self, api: Api) -> None:
        response = await api.client.post(
            "/auth/passkeys/authentication/options", json={"mfa_token": "0" * 32 + ".nope"}
        )
        assert_problem(response, 401, "invalid_mfa_token")

    async def test_the_answer_sets_the_refresh_cookie_for_browsers_and_ends_the_challenge_cookie(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        device = SoftAuthenticator()
        await add_passkey(api, tokens, device)
        options = await sign_in_options(api.client)
        response = await api.client.post(
            "/auth/passkeys/authentication",
            json={"credential": device.get(options, origin=ORIGIN)},
        )
        assert response.status_code == 200, response.text
        assert "refresh_token" not in response.json()
        cookies = response.headers.get_list("set-cookie")
        assert any(c.startswith(f"{api.settings.refresh_cookie_name}=") for c in cookies)
        assert any(c.startswith("authapi_passkey=") and "Max-Age=0" in c for c in cookies)

    async def test_a_deleted_passkey_signs_in_no_more(self, api: Api) -> None:
        tokens = await api.signed_in()
        device = SoftAuthenticator()
        passkey = await add_passkey(api, tokens, device)
        deleted = await api.client.delete(
            f"/users/me/passkeys/{passkey['id']}", headers=bearer(tokens.access)
        )
        assert deleted.status_code == 204, deleted.text
        await api.mail.wait_for(tokens.email, subject="A passkey was removed")
        assert_problem(await passkey_sign_in(api, device), 401, "invalid_passkey")
        failed = [e.details for e in await events_of(api, tokens.email) if e.type == "login_failed"]
        assert failed == []  # an unknown credential names no account
        async with api.app.state.resources.sessionmaker() as db:
            unknown = await db.scalar(
                select(SecurityEvent)
                .where(SecurityEvent.type == "login_failed", SecurityEvent.user_id.is_(None))
                .order_by(SecurityEvent.id.desc())
            )
        assert unknown is not None
        assert unknown.details == {
            "method": "passkey",
            "reason": "unknown_passkey",
        }

    async def test_a_disabled_account_cannot_sign_in_with_its_passkey(self, api: Api) -> None:
        from authapi.services.admin import AdminService

        tokens = await api.signed_in()
        device = SoftAuthenticator()
        await add_passkey(api, tokens, device)
        resources = api.app.state.resources
        async with resources.sessionmaker.begin() as db:
            await AdminService(db, resources).disable(tokens.email)
        assert_problem(await passkey_sign_in(api, device), 403, "account_disabled")


class TestManagement:
    async def test_rename(self, api: Api) -> None:
        tokens = await api.signed_in()
        passkey = await add_passkey(api, tokens, SoftAuthenticator())
        renamed = await api.client.patch(
            f"/users/me/passkeys/{passkey['id']}",
            json={"name": "Phone"},
            headers=bearer(tokens.access),
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json() == {**passkey, "name": "Phone"}
        for bad in ("", "x" * 65, "tab\there"):
            response = await api.client.patch(
                f"/users/me/passkeys/{passkey['id']}",
                json={"name": bad},
                headers=bearer(tokens.access),
            )
            assert_problem(response, 422, "validation_error")

    async def test_another_accounts_passkey_is_not_found(self, api: Api) -> None:
        owner, other = await api.signed_in(), await api.signed_in()
        passkey = await add_passkey(api, owner, SoftAuthenticator())
        for method in ("patch", "delete"):
            response = await api.client.request(
                method,
                f"/users/me/passkeys/{passkey['id']}",
                json={"name": "mine"} if method == "patch" else None,
                headers=bearer(other.access),
            )
            assert_problem(response, 404, "passkey_not_found")
        missing = await api.client.delete(
            f"/users/me/passkeys/{uuid.uuid4()}", headers=bearer(owner.access)
        )
        assert_problem(missing, 404, "passkey_not_found")

    async def test_a_passkey_only_account_works_everywhere_but_keeps_its_last_way_in(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        device = SoftAuthenticator()
        passkey = await add_passkey(api, tokens, device)
        await make_passwordless(api, tokens.email)
        signed_in = tokens_of(tokens.email, await passkey_sign_in(api, device))
        # the re-authentication of a credential change: a fresh passkey sign-in
        second = await add_passkey(api, signed_in, SoftAuthenticator(), password=None)
        removed = await api.client.delete(
            f"/users/me/passkeys/{second['id']}", headers=bearer(signed_in.access)
        )
        assert removed.status_code == 204
        last = await api.client.delete(
            f"/users/me/passkeys/{passkey['id']}", headers=bearer(signed_in.access)
        )
        assert_problem(last, 409, "last_sign_in_method")
        refreshed = await api.refresh(signed_in.refresh)
        assert refreshed.status_code == 200, refreshed.text
        deleted = await api.client.request(
            "DELETE", "/users/me", json={}, headers=bearer(signed_in.access)
        )
        assert deleted.status_code == 204, deleted.text

    async def test_with_a_password_every_passkey_can_go(self, api: Api) -> None:
        tokens = await api.signed_in()
        passkey = await add_passkey(api, tokens, SoftAuthenticator())
        response = await api.client.delete(
            f"/users/me/passkeys/{passkey['id']}", headers=bearer(tokens.access)
        )
        assert response.status_code == 204
        events = [e.type for e in await events_of(api, tokens.email)]
        assert "passkey_removed" in events

    async def test_the_last_provider_cannot_be_unlinked_but_a_passkey_counts_as_a_way_in(
        self, api: Api
    ) -> None:
        """Unlinking counts passkeys among the ways in (authapi.services.credentials.ways_in)."""
        from authapi.models import Identity

        tokens = await api.signed_in()
        await add_passkey(api, tokens, SoftAuthenticator())
        await make_passwordless(api, tokens.email)
        async with api.app.state.resources.sessionmaker() as db:
            user = await db.scalar(select(User).where(User.email == tokens.email))
            assert user is not None
            identity = Identity(
                user_id=user.id, provider="test", issuer="https://idp.test", subject="s"
            )
            db.add(identity)
            await db.commit()
            identity_id = identity.id
        unlinked = await api.client.delete(
            f"/users/me/identities/{identity_id}", headers=bearer(tokens.access)
        )
        assert unlinked.status_code == 204, unlinked.text


async def test_passkeys_are_off_on_an_ip_address(make_api: Callable[..., Any]) -> None:
    async with make_api(public_url="http://127.0.0.1:8000") as api:
        response = await api.client.post("/auth/passkeys/authentication/options", json={})
        assert_problem(response, 404, "passkeys_off")
        tokens = await api.signed_in()
        response = await registration_options(api, tokens.access)
        assert_problem(response, 404, "passkeys_off")


async def test_passkey_sign_in_requests_are_throttled_per_ip(make_api: Callable[..., Any]) -> None:
    async with make_api(passkey_rate_limit_per_ip="3/minute") as api:
        tokens = await api.signed_in()
        device = SoftAuthenticator()
        await add_passkey(api, tokens, device)
        assert (await passkey_sign_in(api, device)).status_code == 200  # options + answer: 2
        await sign_in_options(api.client)  # 3
        throttled = await api.client.post("/auth/passkeys/authentication/options", json={})
        assert_throttled(throttled, window_seconds=60)
        async with client_from(api, "198.51.100.7") as elsewhere:
            assert (await sign_in_options(elsewhere))["challenge"]
