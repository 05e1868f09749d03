"""Schemathesis fuzzes the running service from its own openapi.json.

Thousands of generated requests — valid, invalid, NUL bytes, wrong types, odd
encodings — against PostgreSQL + Redis, with a signed-in user's bearer token so
the protected routes are reached too. Every answer must be documented (status,
content type, body schema) and none may be a 500. The coverage phase probes every
declared bound from both sides (an unbounded page cursor once reached the database
as 2^63, a 500). `positive_data_acceptance` is
left out: a random but well-formed token is rightly refused.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from authapi.openapi import openapi_document
from tests.conftest import PostgresDatabase, RedisSpace, SmtpServer
from tests.live.conftest import ServerPool, create_verified_user, login, production_env

pytestmark = pytest.mark.live

SCHEMATHESIS = Path(sys.executable).parent / "st"


@pytest.mark.requirement("ASVS-2.1.1")
async def test_fuzzed_requests_get_only_documented_answers_and_never_a_500(
    servers: ServerPool,
    postgres: PostgresDatabase,
    redis_space: RedisSpace,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    server = servers.start(
        production_env(
            database=postgres,
            redis_space=redis_space,
            smtp_server=smtp_server,
            data_dir=tmp_path / "data",
        )
    )
    async with server.client() as client:
        tokens = await login(client, await create_verified_user(client, smtp_server))

    result = await asyncio.to_thread(
        subprocess.run,
        [
            str(SCHEMATHESIS),
            "run",
            f"{server.base}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            # the coverage phase sends each declared bound and the value just past it
            # (every integer parameter has both: tests/test_openapi.py); negative mode
            # sends the invalid values, which must be 4xx
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--mode",
            "all",
            "--max-examples",
            "30",
            "--seed",
            "20261127",
            "--header",
            f"Authorization: Bearer {tokens['access_token']}",
            # one worker: CPython 3.11's ast.parse is not thread-safe (gh-106905), and
            # hypothesis parses lambdas' source while describing strategies, so two
            # schemathesis threads now and then die with "AST constructor recursion depth
            # mismatch" (a crash of the fuzzer, not a finding)
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    operations = sum(len(methods) for methods in openapi_document()["paths"].values())
    assert f"Tested: {operations}" in result.stdout, result.stdout[-3000:]
    assert " 500" not in server.output()
