"""Tables of the ``companies`` schema (migration 0003_companies mirrors them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from proveo.platform.db import NAMING_CONVENTION

metadata = sa.MetaData(schema="companies", naming_convention=NAMING_CONVENTION)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    ]


# ``*_key`` columns hold keys.name_key(): uniqueness and order ignore case,
# accents and spacing. 200 wide: folding can expand (ß → ss).
products = sa.Table(
    "products",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("name_es", sa.String(100), nullable=False),
    sa.Column("name_en", sa.String(100), nullable=False),
    sa.Column("name_es_key", sa.String(200), nullable=False, unique=True),
    sa.Column("name_en_key", sa.String(200), nullable=False, unique=True),
    *_timestamps(),
)

communes = sa.Table(
    "communes",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("name_key", sa.String(200), nullable=False, unique=True),
    *_timestamps(),
)

companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    # One company per user, enforced here so that racing creates cannot both win.
    sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column(
        "product_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("companies.products.id"),
        nullable=False,
        index=True,
    ),
    sa.Column(
        "commune_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("companies.communes.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description_es", sa.String(1000), nullable=False),
    sa.Column("description_en", sa.String(1000), nullable=False),
    sa.Column(
        "description_es_machine", sa.Boolean, nullable=False, server_default=sa.false()
    ),
    sa.Column(
        "description_en_machine", sa.Boolean, nullable=False, server_default=sa.false()
    ),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(64), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("image_key", sa.String(200), nullable=True, index=True),
    sa.Column("image_extension", sa.String(8), nullable=True),
    sa.Column("image_status", sa.String(16), nullable=True),
    sa.Column("image_rejection_reason", sa.String(500), nullable=True),
    *_timestamps(),
    sa.CheckConstraint(
        "image_status IN ('pending', 'approved', 'rejected', 'failed')",
        name="image_status",
    ),
    sa.Index("ix_companies_created_at_id", "created_at", "id"),
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    # Rows outlive their company (SET NULL): they remember which objects to delete.
    sa.Column(
        "company_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("companies.companies.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("quarantine_key", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(50), nullable=False),
    sa.Column("extension", sa.String(8), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("public_key", sa.String(200), nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
    ),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'approved', 'rejected', 'failed')", name="status"
    ),
    sa.Index("ix_images_status_created_at", "status", "created_at"),
)

# What a deleted company looked like, for support and legal requests.
archived_companies = sa.Table(
    "archived_companies",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("data", pg.JSONB, nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("archived_by", pg.UUID(as_uuid=True), nullable=True),
    sa.Column(
        "archived_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
    ),
)
