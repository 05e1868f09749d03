"""A page on another site than the API (a Vite dev server on localhost:5173 against
`make run` on 127.0.0.1:8000) can sign in but never gets the refresh cookie back:
the service says so once in its log, and a refresh without a cookie says why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

VITE = "http://localhost:5173"
MAKE_RUN = "http://127.0.0.1:8000"
CSRF = {"X-Requested-With": "fetch"}


async def test_a_cross_site_page_is_announced_once_and_told_why_refresh_fails(
    make_api: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="authapi.sites")
    async with make_api(public_url=MAKE_RUN, allowed_origins=[VITE]) as api:
        for _ in range(3):
            response = await api.client.post("/auth/refresh", headers={**CSRF, "Origin": VITE})
            assert response.status_code == 401
            assert response.json()["code"] == "invalid_refresh_token"
            assert "another site" in response.json()["detail"]
            assert VITE in response.json()["detail"]
    notices = [record for record in caplog.records if record.name == "authapi.sites"]
    assert len(notices) == 1
    message = notices[0].getMessage()
    assert VITE in message
    assert MAKE_RUN in message


async def test_a_same_site_page_is_not_announced(
    make_api: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="authapi.sites")
    spa = "https://app.example.com"
    async with make_api(
        public_url="https://auth.example.com", app_url=spa, allowed_origins=[spa]
    ) as api:
        response = await api.client.post("/auth/refresh", headers={**CSRF, "Origin": spa})
        assert response.status_code == 401
        assert "another site" not in response.json()["detail"]
    assert not [record for record in caplog.records if record.name == "authapi.sites"]
