"""companies: products, communes, companies, their logos, and the archive.

Revision ID: 0003_companies
Revises: 0002_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003_companies"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None

S = "companies"
STATUSES = "('pending', 'approved', 'rejected', 'failed')"


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


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS companies")
    op.create_table(
        "products",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name_es", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("name_es_key", sa.String(200), nullable=False),
        sa.Column("name_en_key", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("name_es_key", name="uq_products_name_es_key"),
        sa.UniqueConstraint("name_en_key", name="uq_products_name_en_key"),
        schema=S,
    )
    op.create_table(
        "communes",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_communes"),
        sa.UniqueConstraint("name_key", name="uq_communes_name_key"),
        schema=S,
    )
    op.create_table(
        "companies",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("product_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("commune_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description_es", sa.String(1000), nullable=False),
        sa.Column("description_en", sa.String(1000), nullable=False),
        sa.Column(
            "description_es_machine",
            sa.Boolean,
            nullable=False,
            server_default=sa.false(),
        ),
        sa.Column(
            "description_en_machine",
            sa.Boolean,
            nullable=False,
            server_default=sa.false(),
        ),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("image_key", sa.String(200), nullable=True),
        sa.Column("image_extension", sa.String(8), nullable=True),
        sa.Column("image_status", sa.String(16), nullable=True),
        sa.Column("image_rejection_reason", sa.String(500), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_companies"),
        sa.UniqueConstraint("user_id", name="uq_companies_user_id"),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["companies.products.id"],
            name="fk_companies_product_id_products",
        ),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["companies.communes.id"],
            name="fk_companies_commune_id_communes",
        ),
        sa.CheckConstraint(
            f"image_status IN {STATUSES}", name="ck_companies_image_status"
        ),
        schema=S,
    )
    op.create_index(
        "ix_companies_companies_product_id", "companies", ["product_id"], schema=S
    )
    op.create_index(
        "ix_companies_companies_commune_id", "companies", ["commune_id"], schema=S
    )
    op.create_index(
        "ix_companies_companies_image_key", "companies", ["image_key"], schema=S
    )
    op.create_index(
        "ix_companies_created_at_id", "companies", ["created_at", "id"], schema=S
    )
    op.create_table(
        "images",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("company_id", pg.UUID(as_uuid=True), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.companies.id"],
            name="fk_images_company_id_companies",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_images_status"),
        schema=S,
    )
    op.create_index(
        "ix_companies_images_company_id", "images", ["company_id"], schema=S
    )
    op.create_index(
        "ix_images_status_created_at", "images", ["status", "created_at"], schema=S
    )
    op.create_table(
        "archived_companies",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("data", pg.JSONB, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("archived_by", pg.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_archived_companies"),
        schema=S,
    )
    op.create_index(
        "ix_companies_archived_companies_user_id",
        "archived_companies",
        ["user_id"],
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("archived_companies", schema=S)
    op.drop_table("images", schema=S)
    op.drop_table("companies", schema=S)
    op.drop_table("communes", schema=S)
    op.drop_table("products", schema=S)
