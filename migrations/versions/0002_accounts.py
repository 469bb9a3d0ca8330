"""accounts: users, sessions, one-time tokens, archived users.

Revision ID: 0002_accounts
Revises: 0001_platform
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002_accounts"
down_revision = "0001_platform"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, default: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default else None,
    )


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS accounts")
    op.create_table(
        "users",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(10), nullable=False, server_default="user"),
        sa.Column(
            "email_verified", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column("lang", sa.String(2), nullable=False, server_default="es"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.CheckConstraint("role IN ('user', 'admin')", name="ck_users_role"),
        sa.CheckConstraint("lang IN ('es', 'en')", name="ck_users_lang"),
        schema="accounts",
    )
    op.create_index("ix_users_created_at", "users", ["created_at"], schema="accounts")
    op.create_index(
        "uq_users_email_lower",
        "users",
        [sa.text("lower(email)")],
        unique=True,
        schema="accounts",
    )
    op.create_table(
        "sessions",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        _ts("created_at"),
        _ts("expires_at", default=False),
        _ts("revoked_at", nullable=True, default=False),
        sa.PrimaryKeyConstraint("jti", name="pk_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["accounts.users.id"],
            name="fk_sessions_user_id_users",
            ondelete="CASCADE",
        ),
        schema="accounts",
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"], schema="accounts")
    op.create_table(
        "tokens",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        _ts("created_at"),
        _ts("expires_at", default=False),
        _ts("used_at", nullable=True, default=False),
        sa.PrimaryKeyConstraint("hash", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["accounts.users.id"],
            name="fk_tokens_user_id_users",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("kind IN ('verify', 'reset')", name="ck_tokens_kind"),
        schema="accounts",
    )
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"], schema="accounts")
    op.create_table(
        "archived_users",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("email_verified", sa.Boolean, nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        _ts("created_at", default=False),
        _ts("deleted_at"),
        sa.Column("deleted_by", pg.UUID(as_uuid=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_archived_users"),
        schema="accounts",
    )
    op.create_index(
        "ix_archived_users_email", "archived_users", ["email"], schema="accounts"
    )


def downgrade() -> None:
    op.drop_table("archived_users", schema="accounts")
    op.drop_table("tokens", schema="accounts")
    op.drop_table("sessions", schema="accounts")
    op.drop_table("users", schema="accounts")
    op.execute("DROP SCHEMA IF EXISTS accounts")
