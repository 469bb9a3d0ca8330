"""All of the moderation module's SQL (Core over ``tables``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from proveo.moderation.data import Verdict
from proveo.moderation.tables import renditions, verdicts
from proveo.platform.db import ReadTx, WriteTx

_VERDICT_FIELDS = tuple(Verdict.__dataclass_fields__)


def lock_image(tx: WriteTx, image_id: uuid.UUID) -> None:
    """Serialise every decision about one image until the transaction ends.

    An advisory lock in our own namespace: the worker, operators and requeues
    take it before reading the image's status, so a decision is only ever
    made about the status it was made for.
    """
    tx.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended(f"moderation.image:{image_id}", 0)
            )
        )
    )


def lock_key(tx: WriteTx, key: str) -> None:
    """Serialise publishing and deleting one public object."""
    tx.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended(f"moderation.key:{key}", 0)
            )
        )
    )


def try_lock_slot(tx: WriteTx, name: str) -> bool:
    """Take a transaction-scoped advisory lock if free (maintenance jobs)."""
    return bool(
        tx.execute(
            sa.select(
                sa.func.pg_try_advisory_xact_lock(
                    sa.func.hashtextextended(f"moderation.slot:{name}", 0)
                )
            )
        ).scalar_one()
    )


def add_verdict(tx: WriteTx, values: dict[str, Any]) -> None:
    """Append a decision to the log."""
    tx.execute(sa.insert(verdicts).values(**values))


def withdrawn_reason(tx: ReadTx, key: str) -> str | None:
    """The reason, if an operator's latest verdict on rendition ``key`` is a rejection."""
    row = tx.execute(
        sa.select(verdicts.c.verdict, verdicts.c.reason)
        .where(
            verdicts.c.source == "admin",
            verdicts.c.public_key == key,
        )
        .order_by(verdicts.c.id.desc())
        .limit(1)
    ).first()
    if row is None or row.verdict != "rejected":
        return None
    return str(row.reason or "")


def last_verdicts_at(
    tx: ReadTx, image_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each image's latest decision (or requeue) was logged; absent if never."""
    if not image_ids:
        return {}
    last = sa.func.max(verdicts.c.created_at).label("at")
    rows = tx.execute(
        sa.select(verdicts.c.image_id, last)
        .where(verdicts.c.image_id.in_(image_ids))
        .group_by(verdicts.c.image_id)
    )
    return {row.image_id: row.at for row in rows}


def list_verdicts(tx: ReadTx, image_id: uuid.UUID) -> list[Verdict]:
    """The image's decisions, oldest first."""
    rows = tx.execute(
        sa.select(verdicts)
        .where(verdicts.c.image_id == image_id)
        .order_by(verdicts.c.id)
    )
    return [
        Verdict(**{name: row._mapping[name] for name in _VERDICT_FIELDS})
        for row in rows
    ]


def claim_rendition(tx: WriteTx, values: dict[str, Any]) -> None:
    """Record that ``values["key"]`` is being published now (insert or refresh)."""
    stmt = pg_insert(renditions).values(**values, claimed_at=sa.func.now())
    tx.execute(
        stmt.on_conflict_do_update(
            index_elements=[renditions.c.key],
            set_={"claimed_at": sa.func.now()},
        )
    )


def release_claim(tx: WriteTx, key: str) -> None:
    """The decision about the key committed: it is no longer being published."""
    tx.execute(
        sa.update(renditions).where(renditions.c.key == key).values(claimed_at=None)
    )


def rendition(tx: ReadTx, key: str) -> dict[str, Any] | None:
    """The rendition row as a mapping, or ``None``."""
    row = tx.execute(sa.select(renditions).where(renditions.c.key == key)).first()
    return dict(row._mapping) if row is not None else None


def claimed_recently(tx: ReadTx, key: str, *, seconds: float) -> bool:
    """True while a worker's claim on ``key`` is younger than ``seconds``."""
    row = tx.execute(
        sa.select(sa.literal(1)).where(
            renditions.c.key == key,
            renditions.c.claimed_at.is_not(None),
            renditions.c.claimed_at
            > sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds),
        )
    ).first()
    return row is not None


def delete_rendition(tx: WriteTx, key: str) -> None:
    """Forget a deleted object."""
    tx.execute(sa.delete(renditions).where(renditions.c.key == key))


def count_renditions_of_image(tx: ReadTx, image_id: uuid.UUID) -> int:
    """How many rendition rows name the image (tests and diagnostics)."""
    return int(
        tx.execute(
            sa.select(sa.func.count())
            .select_from(renditions)
            .where(renditions.c.image_id == image_id)
        ).scalar_one()
    )


def db_now(tx: ReadTx) -> datetime:
    """The database clock (object ages are compared with it)."""
    value: datetime = tx.execute(sa.select(sa.func.now())).scalar_one()
    return value
