"""Prometheus metrics, safe under gunicorn's several processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the entry point wipes it at start) every
process writes its samples there and ``/metrics`` aggregates them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

import falcon
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "CACHE_EVENTS",
    "DB_FALLBACKS",
    "MODERATION_LATENCY",
    "MODERATION_VERDICTS",
    "OUTBOX_AGE",
    "OUTBOX_BACKLOG",
    "RATE_LIMITED",
    "REQUESTS",
    "REQUEST_LATENCY",
    "Metrics",
    "MetricsMiddleware",
]

REQUESTS = Counter(
    "proveo_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
REQUEST_LATENCY = Histogram(
    "proveo_http_request_duration_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_FALLBACKS = Counter(
    "proveo_db_replica_fallbacks_total",
    "Reads sent to the primary instead of the replica",
    ["reason"],
)
REPLICA_LAG = Gauge(
    "proveo_db_replica_lag_seconds",
    "Replica lag seen at scrape",
    multiprocess_mode="mostrecent",
)
DB_POOL_IN_USE = Gauge(
    "proveo_db_pool_connections_in_use",
    "Checked-out connections",
    ["engine"],
    multiprocess_mode="livesum",
)
CACHE_EVENTS = Counter(
    "proveo_cache_events_total", "Cache hits, misses and errors", ["namespace", "event"]
)
RATE_LIMITED = Counter(
    "proveo_rate_limited_total", "Requests refused by a rate limit", ["rule"]
)
OUTBOX_BACKLOG = Gauge(
    "proveo_outbox_backlog",
    "Outbox rows not yet relayed",
    multiprocess_mode="mostrecent",
)
OUTBOX_AGE = Gauge(
    "proveo_outbox_oldest_age_seconds",
    "Age of the oldest unrelayed outbox row",
    multiprocess_mode="mostrecent",
)
QUEUE_DEPTH = Gauge(
    "proveo_queue_depth",
    "Messages waiting in a Dramatiq queue",
    ["queue"],
    multiprocess_mode="mostrecent",
)
MODERATION_LATENCY = Histogram(
    "proveo_moderation_seconds",
    "Time to classify and publish one image",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MODERATION_VERDICTS = Counter(
    "proveo_moderation_verdicts_total", "Moderation outcomes", ["verdict"]
)


class MetricsMiddleware:
    """Count requests and time them by route template (never by raw path)."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        route = req.uri_template or ("unmatched" if resource is None else "unknown")
        status = str(resp.status)[:3]
        REQUESTS.labels(req.method, route, status).inc()
        started = getattr(req.context, "metrics_started", None)
        if started is not None:
            REQUEST_LATENCY.labels(route).observe(time.perf_counter() - started)


class Metrics:
    """``GET /metrics``: every process's samples; gauges sampled at scrape time."""

    def __init__(self, samplers: list[Callable[[], None]] | None = None) -> None:
        self._samplers = samplers or []

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        for sample in self._samplers:
            with contextlib.suppress(
                Exception
            ):  # a scrape survives a dependency outage
                sample()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            data = generate_latest(registry)
        else:
            data = generate_latest()
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = data
