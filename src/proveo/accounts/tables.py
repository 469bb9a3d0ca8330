"""Tables of the ``accounts`` schema: users, sessions, one-time tokens, archive."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from proveo.platform.db import NAMING_CONVENTION

metadata = sa.MetaData(schema="accounts", naming_convention=NAMING_CONVENTION)


def _timestamp(name: str, *, nullable: bool = False, default: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default else None,
    )


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(10), nullable=False, server_default="user"),
    sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("lang", sa.String(2), nullable=False, server_default="es"),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    sa.CheckConstraint("role IN ('user', 'admin')", name="role"),
    sa.CheckConstraint("lang IN ('es', 'en')", name="lang"),
    sa.Index("ix_users_created_at", "created_at"),
)
# Uniqueness is case-insensitive even though e-mails are stored lower-cased:
# a row written by hand or by an older release must not create a twin.
sa.Index("uq_users_email_lower", sa.func.lower(users.c.email), unique=True)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("accounts.users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _timestamp("created_at"),
    _timestamp("expires_at", default=False),
    _timestamp("revoked_at", nullable=True, default=False),
    sa.Index("ix_sessions_user_id", "user_id"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("accounts.users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(10), nullable=False),
    _timestamp("created_at"),
    _timestamp("expires_at", default=False),
    _timestamp("used_at", nullable=True, default=False),
    sa.CheckConstraint("kind IN ('verify', 'reset')", name="kind"),
    sa.Index("ix_tokens_user_id", "user_id"),
)

archived_users = sa.Table(
    "archived_users",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("lang", sa.String(2), nullable=False),
    _timestamp("created_at", default=False),
    _timestamp("deleted_at"),
    sa.Column("deleted_by", pg.UUID(as_uuid=True), nullable=True),
    sa.Index("ix_archived_users_email", "email"),
)
