"""The steps of the passkey tests: a software authenticator (tests/webauthn_authenticator.py)
plays the browser and the device; the ceremonies run through the API."""

from __future__ import annotations

from typing import Any

import httpx

from authapi.api.cookies import PASSKEY_COOKIE
from tests.conftest import PASSWORD, PUBLIC_URL, Api, Tokens, bearer
from tests.webauthn_authenticator import SoftAuthenticator

ORIGIN = PUBLIC_URL  # the built-in pages' origin: the default (and only) allowed one
RP_ID = "app.example.com"


async def registration_options(
    api: Api, access: str, *, password: str | None = PASSWORD
) -> httpx.Response:
    body = {"password": password} if password is not None else {}
    return await api.client.post(
        "/auth/passkeys/registration/options", json=body, headers=bearer(access)
    )


async def register(
    api: Api, access: str, options: dict[str, Any], authenticator: SoftAuthenticator, **create: Any
) -> httpx.Response:
    """Answer registration `options` with a new credential of `authenticator`."""
    origin = create.pop("origin", ORIGIN)
    name = create.pop("name", None)
    credential = authenticator.create(options, origin=origin, **create)
    body: dict[str, Any] = {"credential": credential}
    if name is not None:
        body["name"] = name
    return await api.client.post("/auth/passkeys/registration", json=body, headers=bearer(access))


async def add_passkey(
    api: Api,
    tokens: Tokens,
    authenticator: SoftAuthenticator,
    *,
    password: str | None = PASSWORD,
    name: str | None = None,
) -> dict[str, Any]:
    """Register a passkey of `authenticator` for the signed-in account; returns it."""
    options = await registration_options(api, tokens.access, password=password)
    assert options.status_code == 200, options.text
    added = await register(api, tokens.access, options.json(), authenticator, name=name)
    assert added.status_code == 201, added.text
    passkey: dict[str, Any] = added.json()
    return passkey


async def sign_in_options(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """POST /auth/passkeys/authentication/options (the cookie lands in `client`'s jar)."""
    response = await client.post("/auth/passkeys/authentication/options", json=body)
    assert response.status_code == 200, response.text
    assert PASSKEY_COOKIE in response.cookies
    options: dict[str, Any] = response.json()
    return options


async def answer(
    client: httpx.AsyncClient,
    credential: dict[str, Any],
    *,
    mfa_token: str | None = None,
    delivery: str = "body",
) -> httpx.Response:
    body: dict[str, Any] = {"credential": credential, "refresh_token_delivery": delivery}
    if mfa_token is not None:
        body["mfa_token"] = mfa_token
    return await client.post("/auth/passkeys/authentication", json=body)


async def passkey_sign_in(
    api: Api,
    authenticator: SoftAuthenticator,
    *,
    email: str | None = None,
    mfa_token: str | None = None,
    **get: Any,
) -> httpx.Response:
    """Both steps of a passkey sign-in in `api.client`'s browser, as the second is answered."""
    body: dict[str, Any] = {}
    if email is not None:
        body["email"] = email
    if mfa_token is not None:
        body["mfa_token"] = mfa_token
    options = await sign_in_options(api.client, **body)
    origin = get.pop("origin", ORIGIN)
    credential = authenticator.get(options, origin=origin, **get)
    return await answer(api.client, credential, mfa_token=mfa_token)


def tokens_of(email: str, response: httpx.Response) -> Tokens:
    assert response.status_code == 200, response.text
    body = response.json()
    return Tokens(email=email, access=body["access_token"], refresh=body["refresh_token"])
