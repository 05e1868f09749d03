"""Same-site as browsers decide it for cookies (authapi.sites)."""

from __future__ import annotations

import pytest

from authapi.settings import Settings
from authapi.sites import same_site


@pytest.mark.parametrize(
    ("page", "api"),
    [
        ("https://app.example.com", "https://auth.example.com"),
        ("https://example.com", "https://auth.example.com:8443"),
        ("http://localhost:5173", "http://localhost:8000"),  # ports do not count
        ("https://shop.example.co.uk", "https://api.example.co.uk"),
    ],
)
def test_one_site(page: str, api: str) -> None:
    assert same_site(page, api)


@pytest.mark.parametrize(
    ("page", "api"),
    [
        ("http://localhost:5173", "http://127.0.0.1:8000"),  # the Vite-against-make-run trap
        ("https://app.example.com", "https://auth.example.org"),
        ("http://app.example.com", "https://auth.example.com"),  # schemeful
        ("https://a.github.io", "https://b.github.io"),  # a private public suffix
        ("https://a.example.co.uk", "https://b.other.co.uk"),
        ("http://127.0.0.1:5173", "http://127.0.0.2:8000"),
    ],
)
def test_two_sites(page: str, api: str) -> None:
    assert not same_site(page, api)


def test_settings_name_the_allowed_origins_on_another_site() -> None:
    settings = Settings(
        public_url="https://auth.example.com",
        allowed_origins="https://app.example.com,https://partner.example.org",
    )
    assert settings.cross_site_origins == {"https://partner.example.org"}
