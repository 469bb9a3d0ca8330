"""Tables owned by the platform kernel: the outbox and the audit log."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from proveo.platform.db import NAMING_CONVENTION

metadata = sa.MetaData(schema="platform", naming_convention=NAMING_CONVENTION)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("queue", sa.String(50), nullable=False),
    sa.Column("kwargs", pg.JSONB, nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=True),
    sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
    ),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Index("ix_outbox_pending", "id", postgresql_where=sa.text("sent_at IS NULL")),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("actor_id", pg.UUID(as_uuid=True), nullable=True),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target_type", sa.String(50), nullable=False),
    sa.Column("target_id", sa.String(100), nullable=True),
    sa.Column("before", pg.JSONB, nullable=True),
    sa.Column("after", pg.JSONB, nullable=True),
    sa.Column("correlation_id", sa.String(64), nullable=True),
    sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
    ),
    sa.Index("ix_audit_log_created_at", "created_at"),
)
