"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response

from authapi import metrics
from authapi.api.deps import ResourcesDep
from authapi.errors import PROBLEM_JSON, NotAuthenticated, ServiceUnavailable, problem_response
from authapi.schemas import Health, Readiness, Unready

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0


@router.get(
    "/healthz",
    operation_id="check_health",
    response_model=Health,
    summary="Liveness: the process answers",
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="check_readiness",
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
    checks = await resources.readiness(CHECK_TIMEOUT_SECONDS)
    failed = [name for name, result in checks.items() if result != "ok"]
    if not failed:
        return JSONResponse(Readiness(status="ok", checks=checks).model_dump())
    return problem_response(ServiceUnavailable(f"Unavailable: {', '.join(failed)}.", checks=checks))


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(
    resources: ResourcesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Prometheus text format; with AUTHAPI_METRICS_TOKEN set, only for `Bearer <token>`."""
    expected = resources.settings.metrics_token
    if expected is not None:
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.encode(), expected.get_secret_value().encode()
        ):
            return problem_response(NotAuthenticated("Send the metrics token as a bearer token."))
    gauges = {}
    try:
        backlog = await asyncio.wait_for(resources.outbox_sender.pending(), CHECK_TIMEOUT_SECONDS)
        gauges["authapi_outbox_backlog"] = ("Emails waiting to be sent.", float(backlog))
    except Exception:  # a scrape must answer even while the database is away
        gauges["authapi_database_up"] = ("Whether the database answered this scrape.", 0.0)
    else:
        gauges["authapi_database_up"] = ("Whether the database answered this scrape.", 1.0)
    body, content_type = metrics.exposition(metrics.ScrapeTimeGauges(gauges))
    return Response(body, media_type=content_type)
