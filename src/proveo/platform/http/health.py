"""Liveness, readiness and database health (spec §5)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

import falcon
import marshmallow
from marshmallow import fields

from proveo import __version__
from proveo.platform.db import Database
from proveo.platform.http.openapi import doc

__all__ = ["Database_", "Health", "Ready"]

Check = Callable[[], Any]


class HealthOut(marshmallow.Schema):
    """Liveness answer."""

    status = fields.String()
    timestamp = fields.String()
    service = fields.String()
    version = fields.String()


class Health:
    """Liveness: the process is up. Touches nothing else."""

    @doc("Liveness", tags=["health"], out=HealthOut, errors=())
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {
            "status": "healthy",
            "timestamp": datetime.now(UTC).isoformat(),
            "service": "Proveo API",
            "version": __version__,
        }


def _timed(check: Check) -> dict[str, Any]:
    started = time.perf_counter()
    value: Any = None
    try:
        value = check()
        ok = True
    except Exception:  # a failing dependency is the answer, not an error
        ok = False
    result = {"ok": ok, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    if value is not None:
        result["value"] = value
    return result


class _Bounded:
    """Named calls run concurrently; results come within ``budget`` seconds.

    A dependency that hangs (a frozen replica, a stalled S3) is reported as
    timed out instead of holding the request, and a call still running from an
    earlier request is awaited again, not started twice, so a hang never piles
    up threads.
    """

    def __init__(self, calls: dict[str, Check], budget: float) -> None:
        self._calls = calls
        self._budget = budget
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(calls)), thread_name_prefix="health"
        )
        self._running: dict[str, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _started(self, name: str) -> Future[dict[str, Any]]:
        with self._lock:
            future = self._running.get(name)
            if future is None or future.done():
                future = self._pool.submit(_timed, self._calls[name])
                self._running[name] = future
            return future

    def run(self) -> dict[str, dict[str, Any]]:
        """``{name: {"ok", "latency_ms", ["value"], ["timed_out"]}}``."""
        futures = {name: self._started(name) for name in self._calls}
        deadline = time.monotonic() + self._budget
        results: dict[str, dict[str, Any]] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(
                    timeout=max(0.0, deadline - time.monotonic())
                )
            except FutureTimeout:
                results[name] = {
                    "ok": False,
                    "latency_ms": round(self._budget * 1000, 2),
                    "timed_out": True,
                }
        return results


class Ready:
    """Readiness: 200 while the primary answers; others only degrade.

    The answer comes within ``budget`` seconds (the orchestrator's probe gives
    up at 3), whatever hangs (see ``_Bounded``).
    """

    def __init__(self, checks: dict[str, Check], *, budget: float = 1.5) -> None:
        self._checks = _Bounded(checks, budget)

    @doc("Readiness", tags=["health"], errors=(503,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        results = {  # whatever a check returns is not part of the answer
            name: {k: v for k, v in result.items() if k != "value"}
            for name, result in self._checks.run().items()
        }
        if not results["primary"]["ok"]:
            status, code = "unavailable", 503
        elif all(r["ok"] for r in results.values()):
            status, code = "ready", 200
        else:
            status, code = "degraded", 200
        resp.status = code
        resp.media = {"status": status, "checks": results}


class Database_:
    """Pool statistics and replica lag, without exception text."""

    def __init__(self, db: Database, *, budget: float = 1.5) -> None:
        self._db = db
        # Bounded like readiness: a frozen replica must not hold this answer.
        self._checks = _Bounded(
            {"primary": lambda: db.ping("primary"), "lag": db.replica_lag}, budget
        )

    @doc("Database health", tags=["health"], errors=(503,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        results = self._checks.run()
        healthy = bool(results["primary"]["ok"])
        lag: float | None = results["lag"].get("value")
        pool = self._db.pool_stats()
        pool["replica_lag_seconds"] = lag
        if lag is None and self._db.has_replica:
            pool["replica_available"] = False
        resp.status = 200 if healthy else 503
        resp.media = {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": datetime.now(UTC).isoformat(),
            "pool": pool,
        }
