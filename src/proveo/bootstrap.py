"""Composition root: settings → services → the web app, the worker broker, metadata.

The only module allowed to import module internals (resources, tasks, tables),
so that one file shows every route, every actor and every table.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import dramatiq
import falcon
import sqlalchemy as sa

from proveo.platform import events, logs, outbox, plugins, queue, runtime
from proveo.platform.cache import Cache
from proveo.platform.db import Database, WriteTx
from proveo.platform.http.app import base_app
from proveo.platform.ratelimit import RateLimiter
from proveo.platform.settings import Settings
from proveo.platform.tables import metadata as platform_metadata

__all__ = ["build_services", "create_app", "import_tasks", "metadata", "worker_broker"]

log = logs.get_logger("proveo.bootstrap")

# Feature modules, in dependency order. Each may provide `tables.metadata`,
# `resources.install(app, services)`, `tasks` (actors + subscriptions) and
# `wiring.configure(services)` (plugins it owns).
MODULES = ("accounts", "companies", "search", "moderation")


def _module_part(module: str, part: str) -> Any | None:
    try:
        return importlib.import_module(f"proveo.{module}.{part}")
    except ModuleNotFoundError as exc:
        if exc.name == f"proveo.{module}.{part}" or exc.name == f"proveo.{module}":
            return None
        raise


def metadata() -> list[sa.MetaData]:
    """Every module's MetaData, for Alembic."""
    found = [platform_metadata]
    for module in MODULES:
        tables = _module_part(module, "tables")
        if tables is not None:
            found.append(tables.metadata)
    return found


def import_tasks() -> None:
    """Import every module's actors and event subscriptions (idempotent)."""
    for module in MODULES:
        _module_part(module, "tasks")


def _before_commit(tx: WriteTx) -> None:
    events.dispatch(tx)


def build_services(settings: Settings, *, with_broker: bool = True) -> runtime.Services:
    """Build every collaborator from settings. Cheap: no connection is opened."""
    db = Database(
        settings.database_url,
        settings.database_replica_url,
        pool_size=max(settings.db_pool_size, settings.web_threads),
        max_overflow=settings.db_max_overflow,
        statement_timeout_ms=settings.statement_timeout_ms,
        replica_max_lag_seconds=settings.replica_max_lag_seconds,
        application_name=f"proveo-{settings.role}",
        before_commit=_before_commit,
    )
    storage_cls = plugins.load("proveo.storage", settings.storage)
    mailer_cls = plugins.load("proveo.mail", settings.mail)
    services = runtime.Services(
        settings=settings,
        db=db,
        cache=Cache(settings.redis_url),
        limiter=RateLimiter(settings.redis_url),
        storage=storage_cls.from_settings(settings.plugin_settings),
        mailer=mailer_cls.from_settings(settings.plugin_settings),
        broker=queue.build_broker(settings.redis_url) if with_broker else None,
    )
    for module in MODULES:
        wiring = _module_part(module, "wiring")
        if wiring is not None:
            wiring.configure(services)
    import_tasks()
    return services


def _deliver_after_commit(services: runtime.Services) -> Callable[[WriteTx], None]:
    """Hand a transaction's outbox rows to the queue right after COMMIT.

    The worker's relay would deliver them anyway; doing it here saves its
    polling delay (upload → moderation starts at once). After a failure the
    web process leaves delivery to the relay for a few seconds, so requests
    don't each wait for the broker's connect timeout while Redis is down.
    """
    paused_until = [0.0]

    def hook(tx: WriteTx) -> None:
        ids = outbox.pending_ids(tx)
        if not ids or time.monotonic() < paused_until[0]:
            return

        def deliver() -> None:
            try:
                outbox.deliver(services.db, ids, services.send_job)
            except Exception as exc:  # the relay retries; the request must not fail
                paused_until[0] = time.monotonic() + 5.0
                log.warning(
                    "immediate outbox delivery failed", error=type(exc).__name__
                )

        tx.after_commit(deliver)

    return hook


def create_app(services: runtime.Services) -> falcon.App[Any, Any]:
    """The WSGI app: platform shell plus every module's routes."""
    runtime.install(services)
    authenticator = None
    accounts_resources = _module_part("accounts", "resources")
    if accounts_resources is not None:
        authenticator = accounts_resources.authenticator(services)

    services.db.add_before_commit(_deliver_after_commit(services))

    def storage_ping() -> None:
        services.storage.ping()

    app = base_app(
        services,
        authenticator=authenticator,
        ready_checks={
            "primary": lambda: services.db.ping("primary"),
            "replica": lambda: services.db.ping("replica"),
            "redis": services.cache.ping,
            "storage": storage_ping,
        },
        metric_samplers=[_sample_gauges(services)],
    )
    for module in MODULES:
        resources = _module_part(module, "resources")
        if resources is not None:
            resources.install(app, services)
    return app


def _sample_gauges(services: runtime.Services) -> Callable[[], None]:
    """Gauges read at scrape time: outbox backlog, replica lag, pools, queue depth."""
    from proveo.platform import metrics

    def sample() -> None:
        count, age = outbox.backlog(services.db)
        metrics.OUTBOX_BACKLOG.set(count)
        metrics.OUTBOX_AGE.set(age)
        pools = services.db.pool_stats()
        metrics.DB_POOL_IN_USE.labels("primary").set(pools["write_size"])
        metrics.DB_POOL_IN_USE.labels("replica").set(pools["read_size"])
        lag = services.db.replica_lag()
        if lag is not None:
            metrics.REPLICA_LAG.set(lag)
        if services.broker is not None:
            client = services.broker.client
            names = {spec.queue_name for spec in queue.registry().values()}
            for name in sorted(names):
                depth = client.llen(f"dramatiq:{name}")
                metrics.QUEUE_DEPTH.labels(name).set(depth)

    return sample


class OutboxRelay(threading.Thread):
    """Worker-side loop moving outbox rows to the queue until stopped."""

    def __init__(self, services: runtime.Services, *, idle_wait: float = 0.5) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self._services = services
        self._idle_wait = idle_wait
        self._stop_event = threading.Event()

    def run(self) -> None:
        from proveo.platform import logs

        log = logs.get_logger("proveo.outbox")
        while not self._stop_event.is_set():
            try:
                sent = outbox.relay(self._services.db, self._services.send_job)
            except Exception as exc:  # database or broker down: back off and retry
                log.warning("outbox relay failed", error=type(exc).__name__)
                sent = 0
                self._stop_event.wait(2.0)
            if sent == 0:
                self._stop_event.wait(self._idle_wait)

    def stop(self) -> None:
        """Ask the loop to finish its current batch and exit."""
        self._stop_event.set()


def worker_broker(settings: Settings, *, relay: bool = True) -> Any:
    """The broker for a worker process, with actors bound and the relay running.

    Dramatiq's Prometheus exporter (port 9191) is added when
    ``PROMETHEUS_MULTIPROC_DIR`` is set, i.e. in the deployed worker role.
    """
    services = build_services(settings)
    runtime.install(services)
    broker = services.broker
    if relay and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from dramatiq.middleware.prometheus import Prometheus

        broker.add_middleware(Prometheus())
    queue.bind(broker)
    if not relay:
        return broker

    class RelayMiddleware(dramatiq.Middleware):  # type: ignore[misc]
        """Run the outbox relay inside every worker process."""

        relay: OutboxRelay | None = None

        def after_worker_boot(self, broker: Any, worker: Any) -> None:
            self.relay = OutboxRelay(services)
            self.relay.start()

        def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
            if self.relay is not None:
                self.relay.stop()

    broker.add_middleware(RelayMiddleware())
    return broker
