"""Prometheus metrics: what `/metrics` shows, and the counters the services move.

Labels are few and bounded: routes are labelled by their template
(`/auth/sessions/{session_id}`, never the id), unmatched paths by one value,
results by a fixed vocabulary. Nothing about a user is ever a label.

Several workers: `authapi serve` points PROMETHEUS_MULTIPROC_DIR at an empty
directory before the workers start, so each worker writes its samples there and
any worker's `/metrics` answers the sum over all of them. The variable must be
set before `prometheus_client` is imported, which is why the CLI does it first.
Without it (tests, one process) the default registry is used.

Values computed when scraped (the mail outbox backlog) come from a collector
that asks the database then, so they are right whichever worker answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "authapi_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "authapi_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOGINS = Counter(
    "authapi_logins_total",
    "Sign-in attempts by method (password, oidc:<provider>, password+totp, …) and result.",
    ["method", "result"],
)
REFRESHES = Counter(
    "authapi_refreshes_total",
    "Refresh-token presentations by outcome (rotated, replayed, reused, unknown, throttled, …).",
    ["result"],
)
MFA_VERIFICATIONS = Counter(
    "authapi_mfa_verifications_total",
    "Second-factor codes checked, by kind (totp, recovery_code) and result.",
    ["kind", "result"],
)
RATE_LIMITED = Counter(
    "authapi_rate_limited_total",
    "Requests refused by a rate limit, by budget (login:ip, email:address, …).",
    ["rule"],
)
EMAILS = Counter(
    "authapi_emails_total",
    "Email delivery attempts by result (sent, failed).",
    ["result"],
)
HASH_QUEUE = Gauge(
    "authapi_password_hash_queue_depth",
    "Password hashes waiting for or running on the hashing threads.",
    multiprocess_mode="livesum",
)
HASH_SECONDS = Histogram(
    "authapi_password_hash_seconds",
    "Time a password hash or check took, including the wait for a hashing thread.",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(extra: Collector | None = None) -> tuple[bytes, str]:
    """The text to answer a scrape with, and its content type."""
    if multiprocess_dir() is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if extra is not None:
        scraped = CollectorRegistry()
        scraped.register(extra)
        text += generate_latest(scraped)
    return text, CONTENT_TYPE_LATEST


class ScrapeTimeGauges(Collector):
    """Gauges read when scraped; `values` was computed just before."""

    def __init__(self, values: dict[str, tuple[str, float]]) -> None:
        self._values = values

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, value) in self._values.items():
            yield GaugeMetricFamily(name, documentation, value=value)


async def timed_hash(operation: str, work: Callable[[], Awaitable[Any]]) -> Any:
    HASH_QUEUE.inc()
    started = time.perf_counter()
    try:
        return await work()
    finally:
        HASH_QUEUE.dec()
        HASH_SECONDS.labels(operation).observe(time.perf_counter() - started)


# each (method, route, status)'s counter and histogram: `labels()` takes a lock and checks
# its arguments on every call, a cost on every request. Bounded: the routes' templates
# (one value for anything unmatched), the known methods, the statuses answered.
_REQUEST_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered HTTP request (called by the outermost layer, authapi.middleware)."""
    route = route_template(scope)
    method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
    series = _REQUEST_SERIES.get((method, route, status))
    if series is None:
        series = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_DURATION.labels(method, route),
        )
        _REQUEST_SERIES[method, route, status] = series
    count, duration = series
    count.inc()
    duration.observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template, or one value for everything unmatched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE
