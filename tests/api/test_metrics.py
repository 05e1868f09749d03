"""`/metrics`: Prometheus text, counters that move by exactly what happened, bounded labels.

The app's counters live in the process's default registry, shared by every app a
test process starts, so each test compares a scrape before and after its own
requests. Several workers are covered by tests/live/test_metrics_workers.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PASSWORD, Api, assert_problem, bearer
from tests.mfa import challenge, mfa_user, next_code, submit, wrong_code

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
METRICS_TOKEN = "a-metrics-token-of-some-length"


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


class TestCounters:
    async def test_login_failure_refresh_and_reuse_move_their_counters(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(refresh_reuse_grace_seconds=0) as api:
            address = await api.create_user()
            before = await scrape(api.client)

            tokens = await api.signed_in(address)
            assert (await api.login(address, "not the password at all")).status_code == 401
            first = await api.refresh(tokens.refresh)
            assert first.status_code == 200, first.text
            assert (await api.refresh(tokens.refresh)).status_code == 401  # reuse

            after = await scrape(api.client)
        logins = "authapi_logins_total"
        assert moved(before, after, logins, method="password", result="success") == 1
        assert moved(before, after, logins, method="password", result="invalid_credentials") == 1
        refreshes = "authapi_refreshes_total"
        assert moved(before, after, refreshes, result="rotated") == 1
        assert moved(before, after, refreshes, result="reused") == 1
        requests = "authapi_http_requests_total"
        login_route = {"method": "POST", "route": "/auth/login"}
        assert moved(before, after, requests, **login_route, status="200") == 1
        assert moved(before, after, requests, **login_route, status="401") == 1
        assert (
            moved(before, after, requests, method="POST", route="/auth/refresh", status="401") == 1
        )
        duration = "authapi_http_request_duration_seconds_count"
        assert moved(before, after, duration, **login_route) == 2
        # two password checks, each timed with its wait for a hashing thread
        assert moved(before, after, "authapi_password_hash_seconds_count", operation="verify") == 2

    @pytest.mark.requirement("ASVS-16.3.3")
    async def test_rate_limits_are_counted_by_budget(self, make_api: Callable[..., Any]) -> None:
        async with make_api(login_rate_limit_per_account_ip="1/minute") as api:
            address = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
            before = await scrape(api.client)
            assert (await api.login(address, "a wrong password here")).status_code == 401
            assert (await api.login(address, "a wrong password here")).status_code == 429
            after = await scrape(api.client)
        assert moved(before, after, "authapi_rate_limited_total", rule="login:account_ip") == 1
        assert (
            moved(before, after, "authapi_logins_total", method="password", result="rate_limited")
            == 1
        )

    async def test_mfa_codes_and_emails_are_counted(self, api: Api) -> None:
        before = await scrape(api.client)
        user = await mfa_user(api)
        mfa_token = await challenge(api, user.tokens.email)
        assert (await submit(api, mfa_token, wrong_code(user.app))).status_code == 401
        right = await submit(api, mfa_token, next_code(user.app))
        assert right.status_code == 200, right.text
        await api.settle()
        after = await scrape(api.client)
        mfa = "authapi_mfa_verifications_total"
        assert moved(before, after, mfa, kind="totp", result="failure") == 1
        assert moved(before, after, mfa, kind="totp", result="success") == 1
        logins = "authapi_logins_total"
        assert moved(before, after, logins, method="password", result="mfa_required") == 1
        assert moved(before, after, logins, method="password+totp", result="success") == 1
        # the confirmation email and the "two-factor is on" notice, at least
        assert moved(before, after, "authapi_emails_total", result="sent") >= 2
        assert value(after, "authapi_outbox_backlog") == 0
        assert value(after, "authapi_database_up") == 1


class TestLabels:
    async def test_unknown_paths_share_one_series(self, api: Api) -> None:
        for _ in range(20):
            assert (await api.client.get(f"/nowhere/{uuid.uuid4().hex}")).status_code == 404
        await api.client.request("BREW", "/auth/login")
        samples = await scrape(api.client)
        routes = {dict(labels).get("route") for (name, labels) in samples if "http" in name}
        assert "<unmatched>" in routes
        assert not any(route and "nowhere" in route for route in routes)
        methods = {dict(labels).get("method") for (name, labels) in samples if "http" in name}
        assert "BREW" not in methods

    async def test_routes_are_labelled_by_template(self, api: Api) -> None:
        tokens = await api.signed_in()
        other = uuid.uuid4()
        response = await api.client.delete(f"/auth/sessions/{other}", headers=bearer(tokens.access))
        assert response.status_code == 404
        samples = await scrape(api.client)
        routes = {dict(labels).get("route") for (name, labels) in samples}
        assert "/auth/sessions/{session_id}" in routes
        assert not any(route and str(other) in route for route in routes)

    async def test_no_user_data_in_any_label(self, api: Api) -> None:
        tokens = await api.signed_in()
        samples = await scrape(api.client)
        text = repr(samples)
        for secret in (tokens.email, tokens.access, tokens.refresh, PASSWORD):
            assert secret not in text


class TestAccess:
    async def test_metrics_are_not_in_the_openapi_document(self, api: Api) -> None:
        document = (await api.client.get("/openapi.json")).json()
        assert "/metrics" not in document["paths"]

    async def test_a_metrics_token_protects_the_endpoint(
        self, make_api: Callable[..., Any]
    ) -> None:
        async with make_api(metrics_token=METRICS_TOKEN) as api:
            assert_problem(await api.client.get("/metrics"), 401, "not_authenticated")
            wrong = await api.client.get("/metrics", headers=bearer("x" * len(METRICS_TOKEN)))
            assert_problem(wrong, 401, "not_authenticated")
            samples = await scrape(api.client, Authorization=f"Bearer {METRICS_TOKEN}")
            assert any(name == "authapi_http_requests_total" for name, _ in samples)
