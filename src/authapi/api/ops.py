"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from authapi.api.deps import ResourcesDep
from authapi.db import check_database
from authapi.errors import PROBLEM_JSON, ServiceUnavailable, problem_response
from authapi.schemas import Health, Readiness, Unready

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Unready,
            "description": "A dependency is unavailable (named in `checks`).",
            "content": {PROBLEM_JSON: {}},
        }
    },
    summary="Readiness: the database and the token store answer",
)
async def readyz(resources: ResourcesDep) -> Response:
    checks = {
        "database": await _check(check_database(resources.engine)),
        "token_store": await _check(resources.store.ping()),
    }
    failed = [name for name, result in checks.items() if result != "ok"]
    if not failed:
        return JSONResponse(Readiness(status="ok", checks=checks).model_dump())
    return problem_response(ServiceUnavailable(f"Unavailable: {', '.join(failed)}.", checks=checks))


async def _check(probe: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception:
        return "unavailable"
    return "ok"
