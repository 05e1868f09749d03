"""With the README's production settings, every URL the service hands out starts at the
base it belongs to: the API's (AUTHAPI_PUBLIC_URL) in the metadata and the provider
redirect, the application's (AUTHAPI_APP_URL) in every email."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import PASSWORD, Api, bearer, body_of, unique_email
from tests.oidc import OidcProvider

README = Path(__file__).resolve().parents[2] / "README.md"
URL = re.compile(r"https?://[^\s\"'<>)]+")
EXPORT = re.compile(r"^export (AUTHAPI_[A-Z_]+)=(\S+)", re.M)


def readme_production_settings() -> dict[str, str]:
    """The `export AUTHAPI_…=` lines of the README's "Production setup" block."""
    section = README.read_text(encoding="utf-8").split("## Production setup", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return dict(EXPORT.findall(block))


def urls_of(api: Api, *addresses: str) -> list[str]:
    found = []
    for address in addresses:
        for message in api.mail.to(address):
            found += [url.rstrip(".,;") for url in URL.findall(body_of(message))]
    return found


async def test_every_url_starts_at_the_base_it_belongs_to(
    make_api: Callable[..., Any], oidc_provider: OidcProvider
) -> None:
    production = readme_production_settings()
    api_base, app_base = production["AUTHAPI_PUBLIC_URL"], production["AUTHAPI_APP_URL"]
    assert urlsplit(api_base).hostname != urlsplit(app_base).hostname  # two bases, two hosts
    async with make_api(
        public_url=api_base,
        app_url=app_base,
        allowed_origins=[production["AUTHAPI_ALLOWED_ORIGINS"]],
        oidc_providers=[oidc_provider.provider_setting("local")],
        allowed_redirects=[f"{app_base}/signed-in"],
    ) as api:
        # the metadata: the issuer and every endpoint are the API's
        metadata = (await api.client.get("/.well-known/oauth-authorization-server")).json()
        assert metadata["issuer"] == api_base
        listed = [value for value in metadata.values() if isinstance(value, str) and "://" in value]
        assert len(listed) >= 5, metadata
        assert all(url.startswith(f"{api_base}/") for url in listed if url != api_base), listed

        # the provider redirect: its callback is the API's
        authorize = await api.client.get(
            "/auth/oauth/local/authorize",
            params={"redirect_to": f"{app_base}/signed-in"},
            follow_redirects=False,
        )
        assert authorize.status_code == 302, authorize.text
        query = parse_qs(urlsplit(authorize.headers["location"]).query)
        assert query["redirect_uri"] == [f"{api_base}/auth/oauth/local/callback"]

        # the emails: verification, "already registered", reset, email change, notices
        address, new_address = unique_email("urls"), unique_email("urls-new")
        await api.create_user(address)
        assert (await api.register(address)).status_code == 202
        forgot = await api.client.post("/auth/forgot-password", json={"email": address})
        assert forgot.status_code == 202
        tokens = await api.signed_in(address)
        moved = await api.client.post(
            "/users/me/email",
            json={"password": PASSWORD, "new_email": new_address},
            headers=bearer(tokens.access),
        )
        assert moved.status_code == 202, moved.text
        await api.settle()

        urls = urls_of(api, address, new_address)
        assert any(url.startswith(f"{app_base}/verify-email?token=") for url in urls), urls
        assert any(url.startswith(f"{app_base}/reset-password?token=") for url in urls), urls
        assert all(url == app_base or url.startswith(f"{app_base}/") for url in urls), urls
