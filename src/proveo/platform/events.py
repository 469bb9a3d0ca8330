"""Domain events: in-transaction subscribers and after-commit jobs.

A lower module *tells* higher ones by publishing events on its ``WriteTx``. Just
before COMMIT, ``dispatch`` runs the in-transaction subscribers (they write in
the same transaction, e.g. the search index) and turns each after-commit
subscription into an outbox row in that same transaction, so the job is never
lost and never sent for a rolled-back change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from proveo.platform import outbox
from proveo.platform.db import WriteTx

__all__ = ["Event", "after_commit", "dispatch", "in_transaction"]

E = TypeVar("E", bound="Event")
InTxHandler = Callable[[WriteTx, Any], None]


@dataclass(frozen=True, slots=True)
class Event:
    """Base class for domain events: frozen dataclasses of ids and primitives."""


@dataclass(frozen=True, slots=True)
class _Job:
    actor: str
    queue: str
    to_kwargs: Callable[[Any], dict[str, Any]]


_in_tx: dict[type[Event], list[InTxHandler]] = {}
_jobs: dict[type[Event], list[_Job]] = {}


def in_transaction(
    event_type: type[E],
) -> Callable[[Callable[[WriteTx, E], None]], Callable[[WriteTx, E], None]]:
    """Register ``handler(tx, event)`` to run inside the publishing transaction."""

    def register(handler: Callable[[WriteTx, E], None]) -> Callable[[WriteTx, E], None]:
        _in_tx.setdefault(event_type, []).append(handler)
        return handler

    return register


def after_commit(
    event_type: type[Event],
    actor: str,
    *,
    queue: str = "default",
    to_kwargs: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Deliver ``event_type`` to the Dramatiq actor ``actor`` through the outbox.

    The event's fields become the actor's keyword arguments unless ``to_kwargs``
    says otherwise; they must be JSON-serialisable (ids as strings).
    """
    convert = to_kwargs or _fields_as_kwargs
    jobs = _jobs.setdefault(event_type, [])
    if not any(job.actor == actor for job in jobs):
        jobs.append(_Job(actor=actor, queue=queue, to_kwargs=convert))


def _fields_as_kwargs(event: Any) -> dict[str, Any]:
    return {
        f.name: _jsonable(getattr(event, f.name)) for f in dataclasses.fields(event)
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def dispatch(tx: WriteTx) -> None:
    """Run subscribers for every event published in ``tx`` (before COMMIT).

    Subscribers may publish further events; each distinct event is handled once.
    """
    seen: set[Any] = set()
    index = 0
    while index < len(tx.events):
        event = tx.events[index]
        index += 1
        if event in seen:
            continue
        seen.add(event)
        for handler in _in_tx.get(type(event), ()):
            handler(tx, event)
        for job in _jobs.get(type(event), ()):
            outbox.add(
                tx, actor=job.actor, queue=job.queue, kwargs=job.to_kwargs(event)
            )
