"""The README stays true: its walkthrough runs as printed, its configuration table is complete."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from authapi.settings import Settings
from tests.conftest import free_port, wait_until_answering

README = Path(__file__).resolve().parents[1] / "README.md"


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
