"""The per-process service container and its lazy locator (for actors only).

Resources get their collaborators injected by the composition root; Dramatiq
actors cannot, so they call ``services()``, which builds the container once per
process, after the fork, with the factory ``install`` registered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proveo.platform.db import Database
from proveo.platform.settings import Settings

__all__ = ["Services", "install", "reset", "services"]


@dataclass
class Services:
    """Everything a unit of work may need, built from settings once per process."""

    settings: Settings
    db: Database
    cache: Any
    limiter: Any
    storage: Any
    mailer: Any
    broker: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def send_job(self, message: Any) -> None:
        """Hand one outbox message to the queue."""
        from proveo.platform import queue

        queue.enqueue(
            self.broker,
            actor_name=message.actor,
            queue_name=message.queue,
            kwargs=message.kwargs,
            correlation_id=message.correlation_id,
            once_key=message.once_key,
        )


_factory: Callable[[], Services] | None = None
_services: Services | None = None
_lock = threading.Lock()


def install(factory: Callable[[], Services] | Services) -> None:
    """Register how to build the container (or the container itself, in tests)."""
    global _factory, _services
    with _lock:
        if isinstance(factory, Services):
            _services = factory
            _factory = None
        else:
            _factory = factory
            _services = None


def services() -> Services:
    """The process's container, built on first use."""
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                if _factory is None:
                    raise RuntimeError("runtime.install() was not called")
                _services = _factory()
    return _services


def reset() -> None:
    """Forget the container (tests)."""
    global _factory, _services
    with _lock:
        _factory = None
        _services = None
