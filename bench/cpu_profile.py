"""Where a hot path's CPU goes: py-spy samples of the server, sorted into parts.

`bench/run.py --profile DIR` records each authapi phase with py-spy (`record --format
raw`: one line per distinct stack, innermost frame last, then its sample count) while
the phase is measured. Each sample is put in the part of its innermost frame that one
of PARTS names (so a JSON dump inside a middleware counts as JSON, the middleware's own
code as middleware); samples in no named part are "other Python". Shares times the
server's CPU per request give microseconds per request for each part.

    .venv/bin/python bench/cpu_profile.py DIR/me.txt      # the breakdown of one recording
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# (part, pattern on a frame's file); the first part whose pattern a frame matches wins,
# reading frames from the innermost outwards
PARTS: tuple[tuple[str, str], ...] = (
    ("signature check / signing (PyJWT, cryptography)", r"^(jwt|cryptography|joserfc)/"),
    ("Redis client (redis-py)", r"^redis/"),
    ("PostgreSQL (SQLAlchemy, asyncpg)", r"^(sqlalchemy|asyncpg)/"),
    ("rate limiter (limits)", r"^limits/"),
    ("JSON and validation (pydantic, json)", r"^(pydantic|pydantic_core|json)/|encoders\.py"),
    ("dependency resolution (FastAPI)", r"^fastapi/dependencies/"),
    ("metrics (prometheus_client)", r"^prometheus_client/|^authapi/metrics\.py"),
    ("access log and request id", r"^authapi/logs\.py|^logging/"),
    (
        "middleware (authapi's, Starlette's, FastAPI's)",
        r"^authapi/middleware\.py|^starlette/middleware/|^starlette/_exception_handler"
        r"|^fastapi/(middleware|telemetry|_body_limit)",
    ),
    ("routing and request handling (FastAPI, Starlette)", r"^(fastapi|starlette)/"),
    ("HTTP server (uvicorn, httptools)", r"^(uvicorn|httptools)/"),
    ("event loop (asyncio, uvloop)", r"^(asyncio|uvloop)/|^<frozen|^contextlib\.py|^typing\.py"),
    ("authapi code (services, tokens, store)", r"^authapi/"),
)
_COMPILED = tuple((part, re.compile(pattern)) for part, pattern in PARTS)
OTHER = "other Python"
# py-spy names a frame "function (path:line)", the path relative to its sys.path entry
_FRAME_FILE = re.compile(r"\(([^()]+?):\d+\)")


def part_of(stack: str) -> str:
    files = _FRAME_FILE.findall(stack)
    for file in reversed(files):
        for part, pattern in _COMPILED:
            if pattern.search(file):
                return part
    return OTHER


def breakdown(recording: Path) -> dict[str, float]:
    """Share of the samples per part (0 to 1), largest first."""
    counts: Counter[str] = Counter()
    for line in recording.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[part_of(stack)] += int(count)
    total = sum(counts.values())
    if not total:
        return {}
    return {part: count / total for part, count in counts.most_common()}


def report(shares: dict[str, float], seconds_per_request: float | None = None) -> str:
    lines = []
    for part, share in shares.items():
        cost = f"{share * seconds_per_request * 1e6:8.0f} µs" if seconds_per_request else ""
        lines.append(f"    {part:<54}{share:>7.1%}{cost}")
    return "\n".join(lines)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(name)
        print(report(breakdown(Path(name))))
