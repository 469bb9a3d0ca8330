"""Transactional outbox: jobs written with the data, relayed to the queue later.

``add`` inserts a row inside the caller's write transaction. ``relay`` (run by
the worker role) and ``deliver`` (run by the web role right after COMMIT, to cut
latency) lock pending rows with ``SKIP LOCKED``, hand them to a sender and mark
them sent in the same short transaction, so a row is delivered at least once and,
short of a crash between send and COMMIT, exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from proveo.platform import logs
from proveo.platform.tables import outbox as outbox_table

if TYPE_CHECKING:
    from proveo.platform.db import Database, WriteTx

__all__ = ["OutboxMessage", "add", "backlog", "deliver", "pending_ids", "relay"]

PENDING_IDS_KEY = "outbox_ids"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One job to hand to the queue."""

    id: int
    actor: str
    queue: str
    kwargs: dict[str, Any]
    correlation_id: str | None
    #: Names this row among every database's rows: the job runs once per key.
    once_key: str | None = None


Sender = Callable[[OutboxMessage], None]


def add(tx: WriteTx, *, actor: str, queue: str, kwargs: dict[str, Any]) -> int:
    """Write one job in ``tx``; it exists only if ``tx`` commits."""
    new_id = tx.execute(
        sa.insert(outbox_table)
        .values(
            actor=actor,
            queue=queue,
            kwargs=kwargs,
            correlation_id=logs.correlation_id(),
        )
        .returning(outbox_table.c.id)
    ).scalar_one()
    tx.state.setdefault(PENDING_IDS_KEY, []).append(new_id)
    return int(new_id)


def pending_ids(tx: WriteTx) -> list[int]:
    """Outbox ids written by ``tx`` (for immediate delivery after COMMIT)."""
    return list(tx.state.get(PENDING_IDS_KEY, ()))


def _send_locked(db: Database, where: Any, limit: int, send: Sender) -> int:
    t = outbox_table
    with db.primary.begin() as conn:
        rows = conn.execute(
            sa.select(
                t.c.id,
                t.c.actor,
                t.c.queue,
                t.c.kwargs,
                t.c.correlation_id,
                t.c.created_at,
            )
            .where(t.c.sent_at.is_(None), where)
            .order_by(t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        sent: list[int] = []
        failure: Exception | None = None
        for row in rows:
            message = OutboxMessage(
                row.id,
                row.actor,
                row.queue,
                dict(row.kwargs),
                row.correlation_id,
                once_key=f"{row.id}@{row.created_at.isoformat()}",
            )
            try:
                send(message)
            except Exception as exc:  # the broker is down: keep the row, note why
                conn.execute(
                    sa.update(t)
                    .where(t.c.id == row.id)
                    .values(
                        attempts=t.c.attempts + 1, last_error=type(exc).__name__[:500]
                    )
                )
                failure = exc
                break
            sent.append(row.id)
        if sent:
            conn.execute(
                sa.update(t).where(t.c.id.in_(sent)).values(sent_at=sa.func.now())
            )
    if failure is not None:  # after COMMIT: what was sent stays marked
        raise failure
    return len(sent)


def deliver(db: Database, ids: Sequence[int], send: Sender) -> int:
    """Send the given just-committed rows now; rows another relay holds are skipped."""
    if not ids:
        return 0
    return _send_locked(db, outbox_table.c.id.in_(list(ids)), len(ids), send)


def relay(db: Database, send: Sender, *, limit: int = 100) -> int:
    """Send up to ``limit`` pending rows, oldest first; returns how many were sent.

    Raises the sender's error (after recording it on the row) when the queue is down.
    """
    return _send_locked(db, sa.true(), limit, send)


def backlog(db: Database) -> tuple[int, float]:
    """(pending rows, age in seconds of the oldest) for metrics and health."""
    t = outbox_table
    with db.primary.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(
                    sa.func.extract(
                        "epoch", sa.func.now() - sa.func.min(t.c.created_at)
                    ),
                    0,
                ),
            ).where(t.c.sent_at.is_(None))
        ).one()
    return int(row[0]), float(row[1])
