"""Security property: a passkey signs in only for this service's origin and relying-party
id, with user verification, in answer to a fresh challenge of the same browser, once, and
with a signature counter and backup flags that WebAuthn Level 3 accepts.

A software authenticator (tests/webauthn_authenticator.py) signs what a phishing page,
a replaying attacker or a cloned device would send; each one is refused, and what may
point at a stolen key (a counter that went back) is recorded and mailed to the owner.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import select

from authapi.models import Passkey, SecurityEvent
from tests.conftest import (
    Api,
    Tokens,
    assert_problem,
    client_from,
    expire_stashed,
    stash_keys,
)
from tests.passkeys import (
    ORIGIN,
    PASSKEY_COOKIE,
    add_passkey,
    answer,
    passkey_sign_in,
    register,
    registration_options,
    sign_in_options,
)
from tests.webauthn_authenticator import SoftAuthenticator

PHISHING_ORIGIN = "https://app.example.com.evil.test"
# what a page on another site would sign: its own host as the RP id
FOREIGN_RP_ID = "evil.test"


async def with_passkey(api: Api, **device: Any) -> tuple[Tokens, SoftAuthenticator]:
    tokens = await api.signed_in()
    authenticator = SoftAuthenticator(**device)
    await add_passkey(api, tokens, authenticator)
    return tokens, authenticator


async def stored(api: Api, authenticator: SoftAuthenticator) -> Passkey:
    async with api.app.state.resources.sessionmaker() as db:
        passkey = await db.scalar(
            select(Passkey).where(Passkey.credential_id == authenticator.credentials[0].id)
        )
    assert passkey is not None
    return passkey


@pytest.mark.requirement("NIST-63B-2.2.2")
class TestOriginAndRelyingParty:
    """Phishing resistance: what a look-alike site makes the browser sign does not work here."""

    async def test_a_sign_in_signed_for_another_origin_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api)
        response = await passkey_sign_in(api, device, origin=PHISHING_ORIGIN)
        assert_problem(response, 401, "invalid_passkey")

    async def test_a_sign_in_signed_for_another_rp_id_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api)
        response = await passkey_sign_in(api, device, rp_id=FOREIGN_RP_ID)
        assert_problem(response, 401, "invalid_passkey")

    async def test_a_registration_for_another_origin_or_rp_id_is_refused(self, api: Api) -> None:
        tokens = await api.signed_in()
        for wrong in ({"origin": PHISHING_ORIGIN}, {"rp_id": FOREIGN_RP_ID}):
            options = (await registration_options(api, tokens.access)).json()
            response = await register(api, tokens.access, options, SoftAuthenticator(), **wrong)
            assert_problem(response, 400, "passkey_refused")

    async def test_an_extra_origin_from_settings_is_accepted(self, make_api: Any, api: Api) -> None:
        other_origin = "https://login.app.example.com"
        async with make_api(
            webauthn_rp_id="app.example.com", webauthn_origins=f"{ORIGIN},{other_origin}"
        ) as configured:
            _, device = await with_passkey(configured)
            response = await passkey_sign_in(configured, device, origin=other_origin)
            assert response.status_code == 200, response.text


class TestUserVerification:
    async def test_a_sign_in_without_user_verification_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api)
        response = await passkey_sign_in(api, device, user_verified=False)
        assert_problem(response, 401, "invalid_passkey")

    async def test_a_registration_without_user_verification_is_refused(self, api: Api) -> None:
        tokens = await api.signed_in()
        options = (await registration_options(api, tokens.access)).json()
        response = await register(
            api, tokens.access, options, SoftAuthenticator(), user_verified=False
        )
        assert_problem(response, 400, "passkey_refused")


class TestChallenges:
    async def test_a_replayed_answer_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api)
        options = await sign_in_options(api.client)
        credential = device.get(options, origin=ORIGIN)
        assert (await answer(api.client, credential)).status_code == 200
        assert_problem(await answer(api.client, credential), 400, "invalid_passkey_challenge")

    async def test_a_failed_answer_uses_the_challenge_up(self, api: Api) -> None:
        _, device = await with_passkey(api)
        options = await sign_in_options(api.client)
        bad = device.get(options, origin=PHISHING_ORIGIN)
        assert_problem(await answer(api.client, bad), 401, "invalid_passkey")
        good = device.get(options, origin=ORIGIN)
        assert_problem(await answer(api.client, good), 400, "invalid_passkey_challenge")

    async def test_another_browsers_challenge_is_refused_and_left_to_that_browser(
        self, api: Api
    ) -> None:
        _, device = await with_passkey(api)
        options = await sign_in_options(api.client)  # the victim's browser asked
        credential = device.get(options, origin=ORIGIN)
        async with client_from(api, "203.0.113.99") as other:
            assert_problem(await answer(other, credential), 400, "invalid_passkey_challenge")
            other.cookies.set(PASSKEY_COOKIE, "a-guessed-secret", domain="testserver")
            assert_problem(await answer(other, credential), 400, "invalid_passkey_challenge")
        # a wrong browser finds nothing, so spends nothing: the right one still can
        assert (await answer(api.client, credential)).status_code == 200

    async def test_an_answer_without_the_cookie_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api)
        options = await sign_in_options(api.client)
        credential = device.get(options, origin=ORIGIN)
        api.client.cookies.clear()
        assert_problem(await answer(api.client, credential), 400, "invalid_passkey_challenge")

    async def test_an_expired_challenge_is_refused(
        self,
        make_api: Callable[..., Any],
        redis_client: redis.Redis | None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The challenge lives as long as the setting says, then is refused."""
        async with make_api(passkey_challenge_ttl_seconds=30) as api:
            _, device = await with_passkey(api)
            before = await stash_keys(api, redis_client)
            options = await sign_in_options(api.client)
            (key,) = await stash_keys(api, redis_client) - before
            credential = device.get(options, origin=ORIGIN)
            if redis_client is not None:
                remaining = redis_client.pttl(key) / 1000
            else:
                remaining = (
                    api.app.state.resources.store._stash._items[key].expires_at - time.time()
                )
            assert 20 < remaining <= 30, remaining
            await expire_stashed(api, key, redis_client, monkeypatch)
            assert_problem(await answer(api.client, credential), 400, "invalid_passkey_challenge")

    async def test_a_registration_challenge_belongs_to_the_session_that_asked(
        self, api: Api
    ) -> None:
        tokens = await api.signed_in()
        other_session = await api.signed_in(tokens.email)
        options = (await registration_options(api, tokens.access)).json()
        response = await register(api, other_session.access, options, SoftAuthenticator())
        assert_problem(response, 400, "invalid_passkey_challenge")
        replay = await register(api, tokens.access, options, SoftAuthenticator())
        assert replay.status_code == 201, replay.text
        again = await register(api, tokens.access, options, SoftAuthenticator())
        assert_problem(again, 400, "invalid_passkey_challenge")


class TestCounterAndBackupFlags:
    async def test_a_sign_count_that_goes_backwards_is_refused_recorded_and_mailed(
        self, api: Api
    ) -> None:
        tokens, device = await with_passkey(api, backup_eligible=False, backed_up=False)
        assert (await passkey_sign_in(api, device, sign_count=7)).status_code == 200
        cloned = await passkey_sign_in(api, device, sign_count=5)
        assert_problem(cloned, 401, "invalid_passkey")
        same = await passkey_sign_in(api, device, sign_count=7)
        assert_problem(same, 401, "invalid_passkey")
        assert (await stored(api, device)).sign_count == 7
        async with api.app.state.resources.sessionmaker() as db:
            refused = list(
                await db.scalars(
                    select(SecurityEvent.details).where(SecurityEvent.type == "passkey_refused")
                )
            )
        assert {"passkey": (await stored(api, device)).name, "reason": "sign_count_went_back"} in (
            refused
        )
        await api.mail.wait_for(tokens.email, subject="A sign-in with your passkey was refused")
        assert (await passkey_sign_in(api, device, sign_count=8)).status_code == 200

    async def test_authenticators_without_a_counter_keep_signing_in(self, api: Api) -> None:
        _, device = await with_passkey(api)
        for _ in range(2):
            assert (await passkey_sign_in(api, device, sign_count=0)).status_code == 200

    async def test_a_backup_eligible_flag_that_changes_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api, backup_eligible=True, backed_up=True)
        response = await passkey_sign_in(api, device, backup_eligible=False, backed_up=False)
        assert_problem(response, 401, "invalid_passkey")
        assert (await stored(api, device)).backup_eligible is True

    async def test_backed_up_without_backup_eligible_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api, backup_eligible=False, backed_up=False)
        response = await passkey_sign_in(api, device, backup_eligible=False, backed_up=True)
        assert_problem(response, 401, "invalid_passkey")
        tokens = await api.signed_in()
        options = (await registration_options(api, tokens.access)).json()
        odd = SoftAuthenticator(backup_eligible=False, backed_up=True)
        assert_problem(await register(api, tokens.access, options, odd), 400, "passkey_refused")

    async def test_the_backup_state_may_change_and_is_kept(self, api: Api) -> None:
        _, device = await with_passkey(api, backup_eligible=True, backed_up=False)
        assert (await stored(api, device)).backed_up is False
        assert (await passkey_sign_in(api, device, backed_up=True)).status_code == 200
        assert (await stored(api, device)).backed_up is True


class TestOwnership:
    async def test_a_user_handle_of_another_account_is_refused(self, api: Api) -> None:
        _, device = await with_passkey(api)
        options = await sign_in_options(api.client)
        credential = device.get(options, origin=ORIGIN)
        credential["response"]["userHandle"] = "AAAAAAAAAAAAAAAAAAAAAA"  # 16 zero bytes
        assert_problem(await answer(api.client, credential), 401, "invalid_passkey")
