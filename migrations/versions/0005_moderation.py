"""moderation: the verdict log and the published renditions.

Revision ID: 0005_moderation
Revises: 0004_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005_moderation"
down_revision = "0004_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS moderation")
    op.create_table(
        "verdicts",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_verdicts"),
        sa.CheckConstraint(
            "verdict IN ('approved', 'rejected', 'failed', 'requeued')",
            name="ck_verdicts_verdict",
        ),
        sa.CheckConstraint(
            "source IN ('model', 'admin', 'system')", name="ck_verdicts_source"
        ),
        schema="moderation",
    )
    op.create_index(
        "ix_verdicts_image_id_id",
        "verdicts",
        ["image_id", "id"],
        schema="moderation",
    )
    op.create_table(
        "renditions",
        sa.Column("key", sa.String(200), nullable=False),
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
        sa.PrimaryKeyConstraint("key", name="pk_renditions"),
        schema="moderation",
    )


def downgrade() -> None:
    op.drop_table("renditions", schema="moderation")
    op.drop_table("verdicts", schema="moderation")
    op.execute("DROP SCHEMA IF EXISTS moderation")
