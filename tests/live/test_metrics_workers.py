"""`/metrics` of `authapi serve --workers 2`: whichever worker answers a scrape, the
counters are the sums over both workers (prometheus multiprocess mode).

The test points PROMETHEUS_MULTIPROC_DIR at a directory of its own, so it can see
that both workers wrote samples (one file per process id) and that the directory
was emptied at start (an old sample planted there does not count).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SmtpServer
from tests.live.conftest import LiveServer, create_verified_user, login

pytestmark = pytest.mark.live

ROUNDS = 12  # each on a new connection, so both workers get some


def counter(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_counters_add_up_across_two_workers(
    production_server: Callable[..., LiveServer], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    server = production_server(
        args=("--workers", "2"),
        PROMETHEUS_MULTIPROC_DIR=metrics_dir,
        AUTHAPI_REFRESH_REUSE_GRACE_SECONDS="0",
    )
    assert not (metrics_dir / "counter_999999.db").exists()
    async with server.client() as client:
        address = await create_verified_user(client, smtp_server)

    # every round: a login, a failed login, a refresh and a reuse, each on a new connection
    for _ in range(ROUNDS):
        async with server.client() as client:
            tokens = await login(client, address)
        async with server.client() as client:
            failed = await client.post(
                "/auth/login", json={"email": address, "password": "not the password, no"}
            )
            assert failed.status_code == 401
        async with server.client() as client:
            refreshed = await client.post(
                "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text
        async with server.client() as client:
            reused = await client.post(
                "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert reused.status_code == 401

    pids = {re.sub(r"\D", "", path.stem) for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 2, f"only {pids} wrote samples: the requests did not reach both workers"

    async def scrape() -> str:
        async with server.client() as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        return response.text

    for text in await asyncio.gather(*(scrape() for _ in range(6))):
        logins = "authapi_logins_total"
        assert counter(text, logins, method="password", result="success") == ROUNDS
        assert counter(text, logins, method="password", result="invalid_credentials") == ROUNDS
        assert counter(text, "authapi_refreshes_total", result="rotated") == ROUNDS
        assert counter(text, "authapi_refreshes_total", result="reused") == ROUNDS
        assert (
            counter(
                text,
                "authapi_http_requests_total",
                method="POST",
                route="/auth/login",
                status="200",
            )
            == ROUNDS
        )


async def test_by_default_the_samples_live_in_the_data_directory_emptied_at_start(
    production_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "data" / "metrics"
    metrics_dir.mkdir(parents=True)
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    server = production_server(AUTHAPI_DATA_DIR=tmp_path / "data")
    async with server.client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "authapi_http_requests_total" in response.text
    assert not (metrics_dir / "counter_999999.db").exists()
    assert list(metrics_dir.glob("counter_*.db")), "the worker wrote no samples there"
