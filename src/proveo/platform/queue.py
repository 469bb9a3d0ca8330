"""Dramatiq bound explicitly: actors are declared here and bound to *our* broker.

``actor`` only records a function; ``bind`` creates the Dramatiq actors on a
broker built from settings, once per process. Nothing touches Redis at import,
and Dramatiq's implicit global broker is never used. The web role does not need
actor objects at all: it enqueues by name (``enqueue``) from the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    SkipMessage,
    TimeLimit,
)
from periodiq import PeriodiqMiddleware

from proveo.platform import logs
from proveo.platform.errors import DomainError

__all__ = [
    "ActorSpec",
    "CorrelationMiddleware",
    "OnceMiddleware",
    "actor",
    "bind",
    "build_broker",
    "enqueue",
    "registry",
]

F = TypeVar("F", bound=Callable[..., Any])

log = logs.get_logger("proveo.queue")


@dataclass(frozen=True)
class ActorSpec:
    """A declared actor: its function and Dramatiq options."""

    name: str
    fn: Callable[..., Any]
    queue_name: str
    options: dict[str, Any] = field(default_factory=dict)


_registry: dict[str, ActorSpec] = {}


def actor(
    name: str, *, queue_name: str = "default", **options: Any
) -> Callable[[F], F]:
    """Declare ``fn`` as the actor ``name`` ("<module>.<function>").

    Business failures (``DomainError``) are never retried; infrastructure errors
    are, with exponential back-off (defaults below, overridable per actor).
    """
    options.setdefault("throws", (DomainError,))
    options.setdefault("max_retries", 10)
    options.setdefault("min_backoff", 500)
    options.setdefault("max_backoff", 300_000)

    def register(fn: F) -> F:
        _registry[name] = ActorSpec(
            name=name, fn=fn, queue_name=queue_name, options=options
        )
        return fn

    return register


def registry() -> dict[str, ActorSpec]:
    """Every declared actor by name."""
    return dict(_registry)


class CorrelationMiddleware(dramatiq.Middleware):  # type: ignore[misc]
    """Carry the request's correlation id inside the message and bind it in the worker."""

    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int
    ) -> None:
        cid = logs.correlation_id()
        if cid and "correlation_id" not in message.options:
            message.options["correlation_id"] = cid

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        logs.clear()
        logs.bind(
            correlation_id=message.options.get("correlation_id"),
            message_id=message.message_id,
            actor=message.actor_name,
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        logs.clear()

    after_skip_message = after_process_message  # type: ignore[assignment]


class OnceMiddleware(dramatiq.Middleware):  # type: ignore[misc]
    """A job from the outbox runs to success once, even if the outbox sent it twice.

    The outbox can hand a row to the queue twice: Redis took the first push but
    its answer timed out, so the row stayed unsent and the relay sent it again
    (two verification mails with two tokens). Such messages carry their row's
    ``once_key``; a success leaves a marker in Redis for a week, and a copy
    that comes later is skipped. Failures leave none, so retries still run.
    """

    TTL_SECONDS = 7 * 24 * 3600

    @staticmethod
    def _marker(message: Any) -> str | None:
        key = message.options.get("once_key")
        return f"proveo:once:{key}" if key else None

    def before_process_message(self, broker: Any, message: Any) -> None:
        marker = self._marker(message)
        if marker and broker.client.exists(marker):
            log.info("duplicate outbox message skipped", once_key=marker)
            raise SkipMessage()

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        marker = self._marker(message)
        if marker and exception is None:
            broker.client.set(marker, "1", ex=self.TTL_SECONDS)


def build_broker(
    redis_url: str, *, extra_middleware: list[Any] | None = None
) -> RedisBroker:
    """A Redis broker with explicit middleware; dead workers' jobs return within seconds.

    ``heartbeat_timeout`` 15 s and a 5 % maintenance chance mean a SIGKILLed
    worker's messages are requeued in well under a minute (see ECOSYSTEM §2).
    ``PeriodiqMiddleware`` is on every broker so that actors may declare the
    ``periodic`` option (only the scheduler process sends those messages) and
    workers drop schedule ticks that waited longer than a minute.
    """
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=120_000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(),
        CorrelationMiddleware(),
        OnceMiddleware(),
        PeriodiqMiddleware(skip_delay=60),
        *(extra_middleware or []),
    ]
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=redis_url,
        middleware=middleware,
        heartbeat_timeout=15_000,
        maintenance_chance=50_000,
        socket_timeout=5,
        socket_connect_timeout=2,
    )
    dramatiq.set_broker(broker)
    return broker


def bind(broker: dramatiq.Broker) -> dict[str, dramatiq.Actor[Any, Any]]:
    """Create a Dramatiq actor on ``broker`` for every declared actor."""
    actors: dict[str, dramatiq.Actor[Any, Any]] = {}
    for spec in _registry.values():
        if spec.name in broker.actors:
            actors[spec.name] = broker.get_actor(spec.name)
            continue
        actors[spec.name] = dramatiq.Actor(
            spec.fn,
            broker=broker,
            actor_name=spec.name,
            queue_name=spec.queue_name,
            priority=0,
            options=dict(spec.options),
        )
    return actors


def enqueue(
    broker: dramatiq.Broker,
    *,
    actor_name: str,
    queue_name: str,
    kwargs: dict[str, Any],
    correlation_id: str | None = None,
    once_key: str | None = None,
) -> None:
    """Enqueue a message by actor name (the web role has no actor objects).

    ``once_key`` (an outbox row's): once a message with it succeeded, later
    copies are skipped (see ``OnceMiddleware``).
    """
    options: dict[str, Any] = {}
    if correlation_id:
        options["correlation_id"] = correlation_id
    if once_key:
        options["once_key"] = once_key
    if queue_name not in broker.get_declared_queues():
        broker.declare_queue(queue_name)
    broker.enqueue(
        dramatiq.Message(
            queue_name=queue_name,
            actor_name=actor_name,
            args=(),
            kwargs=kwargs,
            options=options,
        )
    )
