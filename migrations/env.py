"""Alembic environment: one history for every module's schema."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from proveo import bootstrap

config = context.config
SCHEMAS = {"platform", "accounts", "companies", "search", "moderation"}


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get(
        "PROVEO_DATABASE_URL", ""
    )
    if not url:
        raise SystemExit("PROVEO_DATABASE_URL is required to run migrations")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _include_name(
    name: str | None, type_: str, parent_names: dict[str, str | None]
) -> bool:
    if type_ == "schema":
        return name in SCHEMAS
    return True


def run_migrations_online() -> None:
    """Run with a real connection, serialised by an advisory lock (several Jobs may race)."""
    engine = sa.create_engine(_url(), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text("select pg_advisory_lock(724001)"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=bootstrap.metadata(),
            include_schemas=True,
            include_name=_include_name,
            version_table_schema="platform",
            compare_type=True,
        )
        connection.execute(sa.text("create schema if not exists platform"))
        connection.commit()
        with context.begin_transaction():
            context.run_migrations()
        connection.execute(sa.text("select pg_advisory_unlock(724001)"))
        connection.commit()


run_migrations_online()
