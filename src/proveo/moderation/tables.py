"""Tables of the ``moderation`` schema (migration 0005_moderation mirrors them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from proveo.platform.db import NAMING_CONVENTION

metadata = sa.MetaData(schema="moderation", naming_convention=NAMING_CONVENTION)

# Every decision about an image, in order: the model's, an operator's, or the
# worker giving up. The image's current status lives in companies.images.
verdicts = sa.Table(
    "verdicts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("image_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("threshold", sa.Float, nullable=True),
    sa.Column("model_sha256", sa.String(64), nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("public_key", sa.String(200), nullable=True),
    sa.Column("actor_id", pg.UUID(as_uuid=True), nullable=True),
    sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
    ),
    sa.CheckConstraint(
        "verdict IN ('approved', 'rejected', 'failed', 'requeued')", name="verdict"
    ),
    sa.CheckConstraint("source IN ('model', 'admin', 'system')", name="source"),
    sa.Index("ix_verdicts_image_id_id", "image_id", "id"),
    # An operator's latest word on a rendition key (0010).
    sa.Index(
        "ix_verdicts_admin_public_key",
        "public_key",
        "id",
        postgresql_where=sa.text("source = 'admin' AND public_key IS NOT NULL"),
    ),
)

# Published objects (content-addressed, so one row per distinct picture).
# ``claimed_at`` is set while a worker is publishing the key and cleared when
# its decision commits: deletion never touches a claimed key.
renditions = sa.Table(
    "renditions",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("image_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("content_type", sa.String(50), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("etag", sa.String(64), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
    ),
)
