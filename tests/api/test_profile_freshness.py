"""`/users/me` is served from the token store, and never stale (issue 18).

Two instances of the service share PostgreSQL and Redis, as two replicas behind a
load balancer do. Instance B answers `/users/me` until its profile is kept in Redis;
then a change goes through instance A, and B's very next request must show it: a
profile change (address confirmed, address changed, two-factor on and off), a
logout, an account disabled by the operator, an account deleted. And once the
profile is kept, `/users/me` asks PostgreSQL nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import event

from authapi.services.admin import AdminService
from authapi.services.profiles import KEPT_FORMAT, transaction
from tests.api.test_credentials import CONFIRM_NEW_ADDRESS, change_email, delete_account, verify
from tests.conftest import (
    PASSWORD,
    Api,
    Tokens,
    assert_problem,
    bearer,
    link_token,
    unique_email,
)
from tests.mfa import enable_totp, next_code


@pytest.fixture
def backend() -> str:
    return "production"  # two instances share what PostgreSQL and Redis hold


@pytest.fixture
async def instances(make_api: Callable[..., Any]) -> AsyncIterator[tuple[Api, Api]]:
    async with make_api() as first, make_api() as second:
        yield first, second


async def kept_profile(api: Api, tokens: Tokens) -> dict[str, Any]:
    """`/users/me` on `api`, twice: the first read keeps the profile, the second is
    served from it; returns the body."""
    first = await api.me(tokens.access)
    assert first.status_code == 200, first.text
    second = await api.me(tokens.access)
    assert second.json() == first.json()
    user_id = first.json()["id"]
    seen = await api.app.state.resources.store.session_profile(str(uuid.uuid4()), user_id)
    assert seen.profile is not None, "the profile was not kept"
    body: dict[str, Any] = first.json()
    return body


async def test_a_kept_profile_is_served_without_a_database_query(
    instances: tuple[Api, Api],
) -> None:
    writer, reader = instances
    tokens = await writer.signed_in()
    await kept_profile(reader, tokens)
    statements: list[str] = []
    engine = reader.app.state.resources.reader.sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement…)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(3):
            assert (await reader.me(tokens.access)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []


async def test_a_profile_change_is_seen_by_the_next_request_on_another_instance(
    instances: tuple[Api, Api],
) -> None:
    writer, reader = instances
    tokens = await writer.signed_in()
    assert (await kept_profile(reader, tokens))["mfa_enabled"] is False

    user = await enable_totp(writer, tokens)  # a bulk UPDATE of the TOTP credential
    assert (await reader.me(tokens.access)).json()["mfa_enabled"] is True

    await kept_profile(reader, tokens)
    disabled = await writer.client.post(
        "/auth/mfa/totp/disable",
        json={"password": PASSWORD, "code": next_code(user.app)},
        headers=bearer(tokens.access),
    )
    assert disabled.status_code == 204, disabled.text
    assert (await reader.me(tokens.access)).json()["mfa_enabled"] is False

    await kept_profile(reader, tokens)
    new_email = unique_email("moved")
    assert (await change_email(writer, tokens.access, new_email)).status_code == 202
    confirm = link_token(await writer.mail.wait_for(new_email, subject=CONFIRM_NEW_ADDRESS))
    assert (await verify(writer, confirm)).status_code == 200  # an ORM change of the user
    assert (await reader.me(tokens.access)).json()["email"] == new_email


async def test_a_confirmed_address_is_seen_by_the_next_request_on_another_instance(
    make_api: Callable[..., Any],
) -> None:
    async with (
        make_api(require_verified_email=False) as writer,
        make_api(require_verified_email=False) as reader,
    ):
        address = await writer.create_unverified_user()
        tokens = await writer.signed_in(address)
        assert (await kept_profile(reader, tokens))["email_verified"] is False
        token = link_token(await writer.mail.wait_for(address, subject="Confirm"))
        assert (await verify(writer, token)).status_code == 200
        assert (await reader.me(tokens.access)).json()["email_verified"] is True


async def end_session(writer: Api, tokens: Tokens, how: str) -> None:
    """Sign out, have the operator disable the account, or delete it, through `writer`."""
    if how == "logout":
        logout = await writer.client.post("/auth/logout", json={"refresh_token": tokens.refresh})
        assert logout.status_code == 204
    elif how == "disable":
        resources = writer.app.state.resources
        async with transaction(resources) as db:  # as `authapi users disable` does
            assert await AdminService(db, resources).disable(tokens.email) == 1
    else:
        assert (await delete_account(writer, tokens.access)).status_code == 204


@pytest.mark.parametrize("how", ["logout", "disable", "deletion"])
async def test_a_logout_a_disable_and_a_deletion_are_seen_by_the_next_request_on_another_instance(
    instances: tuple[Api, Api], how: str
) -> None:
    writer, reader = instances
    tokens = await writer.signed_in()
    await kept_profile(reader, tokens)
    await end_session(writer, tokens, how)
    assert_problem(await reader.me(tokens.access), 401, "invalid_token")


async def test_a_profile_kept_by_a_version_with_another_user_out_is_not_served(
    instances: tuple[Api, Api],
) -> None:
    """After a deploy that changes what /users/me shows, what the previous version kept
    is read afresh (a kept profile starts with a digest of UserOut's schema)."""
    writer, reader = instances
    tokens = await writer.signed_in()
    body = await kept_profile(reader, tokens)
    store = reader.app.state.resources.store
    seen = await store.session_profile(str(uuid.uuid4()), body["id"])
    assert seen.profile is not None
    assert seen.profile.startswith(KEPT_FORMAT)
    stale = "0000000:" + json.dumps({**body, "email": "old-version@example.com"})
    await store.forget_profiles([body["id"]], ttl_seconds=60)
    assert await store.keep_profile(
        body["id"], stale, generation=seen.generation + 1, ttl_seconds=60
    )
    assert (await reader.me(tokens.access)).json()["email"] == tokens.email
