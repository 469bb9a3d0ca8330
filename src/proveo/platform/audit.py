"""Audit records for administrative actions: who, what, target, when, before/after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from proveo.platform import logs
from proveo.platform.db import ReadTx, WriteTx
from proveo.platform.tables import audit_log

__all__ = ["AuditEntry", "list_entries", "record"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded administrative action."""

    id: int
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    correlation_id: str | None
    created_at: datetime


def record(
    tx: WriteTx,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Write an audit record in the same transaction as the change it describes."""
    tx.execute(
        sa.insert(audit_log).values(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            correlation_id=logs.correlation_id(),
        )
    )


def list_entries(
    tx: ReadTx, *, limit: int = 100, offset: int = 0, target_type: str | None = None
) -> list[AuditEntry]:
    """Newest first."""
    stmt = (
        sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    )
    if target_type is not None:
        stmt = stmt.where(audit_log.c.target_type == target_type)
    return [AuditEntry(**row._mapping) for row in tx.execute(stmt)]
