"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from authapi.api.deps import ResourcesDep
from authapi.db import check_database
from authapi.errors import PROBLEM_JSON
from authapi.schemas import Health, Readiness

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {"model": Readiness, "description": "A dependency is unavailable (named in `checks`)."}
    },
    summary="Readiness: the database and the token store answer",
)
async def readyz(resources: ResourcesDep) -> JSONResponse:
    checks = {
        "database": await _check(check_database(resources.engine)),
        "token_store": await _check(resources.store.ping()),
    }
    ready = all(value == "ok" for value in checks.values())
    body = Readiness(status="ok" if ready else "unavailable", checks=checks)
    if ready:
        return JSONResponse(body.model_dump())
    return JSONResponse(
        {
            **body.model_dump(),
            "type": "about:blank",
            "title": "Service unavailable",
            "status": 503,
            "code": "service_unavailable",
            "detail": "Unavailable: " + ", ".join(k for k, v in checks.items() if v != "ok"),
        },
        status_code=503,
        media_type=PROBLEM_JSON,
    )


async def _check(probe: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception:
        return "unavailable"
    return "ok"
