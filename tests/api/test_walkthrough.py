"""The README's walkthrough, on both backends: register → verify → login → me → refresh → logout."""

from __future__ import annotations

from tests.conftest import PASSWORD, Api, bearer, link_token, unique_email


async def test_register_verify_login_refresh_logout(api: Api) -> None:
    email = unique_email()
    assert (await api.register(email)).status_code == 202
    token = link_token(await api.mail.wait_for(email, subject="Confirm"))
    assert (await api.client.post("/auth/verify-email", json={"token": token})).status_code == 200

    login = await api.login(email, PASSWORD)
    assert login.status_code == 200
    assert login.headers["cache-control"] == "no-store"
    tokens = login.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == api.settings.access_token_ttl_seconds

    me = await api.me(tokens["access_token"])
    assert me.status_code == 200
    assert me.json()["email"] == email
    assert me.json()["email_verified"] is True
    assert me.json()["mfa_enabled"] is False

    refreshed = await api.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200
    successor = refreshed.json()["refresh_token"]
    assert successor != tokens["refresh_token"]

    logout = await api.client.post("/auth/logout", json={"refresh_token": successor})
    assert logout.status_code == 204

    after = await api.refresh(successor)
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_refresh_token"
    assert (
        await api.client.get("/users/me", headers=bearer(refreshed.json()["access_token"]))
    ).status_code == 401
