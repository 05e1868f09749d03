"""Stopping the servers tests start (redis-server, pgbouncer, the OpenID provider)."""

from __future__ import annotations

import subprocess
from typing import Any

STOP_TIMEOUT_SECONDS = 10.0


def stop_process(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
