"""The README stays true: its walkthrough runs as printed, its configuration table is complete,
its capacity table is what bench/capacity.py renders from bench/capacity.json."""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from authapi.settings import Settings
from tests.conftest import free_port, wait_until_answering

README = Path(__file__).resolve().parents[1] / "README.md"
BENCH = README.parent / "bench"


def walkthrough_script() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- walkthrough:start -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S
    )
    assert block, "README has no walkthrough block"
    return block.group(1)


@dataclass(frozen=True)
class Server:
    base: str
    directory: Path


@pytest.fixture
def embedded_server(tmp_path: Path) -> Iterator[Server]:
    """`authapi serve` with nothing configured, as `make run` starts it, in an empty directory."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHAPI_")}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "authapi", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/healthz", process, tmp_path / "server.log", timeout=30)
        yield Server(base=base, directory=tmp_path)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.mark.live
def test_readme_walkthrough_runs_as_printed(embedded_server: Server) -> None:
    """In the server's directory, as the README says (the outbox is relative to it)."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough_script()],
        cwd=embedded_server.directory,
        env={**os.environ, "BASE": embedded_server.base},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '"code":"validation_error"' not in result.stdout
    assert lines[0].startswith('{"detail":"If this address can be registered')
    assert lines[1] == '{"detail":"Your email address is confirmed."}'
    assert '"email":"ada@example.com","email_verified":true' in lines[2]
    assert lines[3] == "refreshed; new access token expires in 900 s"
    assert lines[4] == "logout: 204"
    assert '"status":401,"code":"invalid_refresh_token"' in lines[5]


@pytest.mark.requirement("ASVS-2.1.3")
def test_readme_configuration_table_lists_every_setting() -> None:
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(AUTHAPI_[A-Z0-9_]+)` \|", text, re.M))
    settings = {f"AUTHAPI_{name.upper()}" for name in Settings.model_fields}
    assert documented == settings


@pytest.fixture
def capacity(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/capacity.py, imported as the bench scripts import each other (from their folder)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("capacity")


def test_readme_capacity_table_is_what_the_script_renders(capacity: ModuleType) -> None:
    data = json.loads((BENCH / "capacity.json").read_text(encoding="utf-8"))
    printed = capacity.readme_block(README.read_text(encoding="utf-8"))
    assert printed == capacity.render_table(data), (
        "README's capacity table is not what bench/capacity.json gives: "
        "run `.venv/bin/python bench/capacity.py --write-readme`"
    )


def test_capacity_arithmetic(capacity: ModuleType) -> None:
    """Round numbers through `needs`: 700,000 users on 3 devices signing in once a week make
    300,000 sign-ins a day."""
    day = 86_400
    data = {
        "settings": {
            "known_sign_in_seconds": 30 * day,
            "login_ip_windows_seconds": [60, 3600],
            "session_lifetime_seconds": 30 * day,
            "session_retention_days": 90,
            "audit_retention_days": 365,
        },
        "redis": {
            "session": {"memory_usage": 400, "keyspace_growth": 500},
            "known_sign_in": {"memory_usage": 150, "keyspace_growth": 100},
            "rate_limit_key": {"memory_usage": 200, "keyspace_growth": 300},
            "kept_profile": {"memory_usage": 500, "keyspace_growth": 600},
        },
        "postgres": {
            "users": {"per_row": 400},
            "sessions": {"per_row": 300},
            "security_events": {"per_row": 250},
        },
        "bcrypt": {"seconds": 0.25},
        "bench": {"login_to_bcrypt_bound": 1.05},  # above 1 is noise: counted as 1
    }
    assume = capacity.Assumptions(
        devices_per_user=3,
        sign_ins_per_device_per_day=1 / 7,
        peak_to_average=2.0,
        events_per_sign_in=2.0,
        profile_readers_per_hour=0.25,
    )
    row = capacity.needs(data, 700_000, assume)
    per_day, peak = 300_000, 300_000 / day * 2
    assert row.sessions == 2_100_000
    assert row.sign_ins_per_day == pytest.approx(per_day)
    assert row.peak_sign_ins == pytest.approx(peak)
    # each figure takes the larger of MEMORY USAGE and the keyspace's growth
    assert row.redis_sessions == pytest.approx(2_100_000 * 500)
    assert row.known_keys == pytest.approx(per_day * 30)
    assert row.redis_known == pytest.approx(per_day * 30 * 150)
    assert row.rate_limit_keys == pytest.approx(peak * 3660)
    # a quarter of the users read /users/me in the busiest hour: one kept profile each
    assert row.kept_profiles == pytest.approx(175_000)
    assert row.redis_profiles == pytest.approx(175_000 * 600)
    assert row.redis == pytest.approx(
        2_100_000 * 500 + per_day * 30 * 150 + peak * 3660 * 300 + 175_000 * 600
    )
    # records stay for the session's 30 days plus 90 of retention
    assert row.session_rows == pytest.approx(per_day * 120)
    assert row.events == pytest.approx(per_day * 2 * 365)
    assert row.postgres == pytest.approx(
        700_000 * 400 + per_day * 120 * 300 + per_day * 2 * 365 * 250
    )
    assert row.sign_in_cores == math.ceil(peak / 4)  # 4 checks a second a core, never more
