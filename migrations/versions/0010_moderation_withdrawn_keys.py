"""moderation: find an operator's last word on a rendition by its key.

An operator who withdraws an approved logo rejects its rendition, whose key is
the hash of the re-encoded picture; the same picture uploaded again renders to
the same key, and the model must not approve it again. The worker asks "was
this key's latest operator verdict a rejection?" on every approval, so the
verdict log gets a partial index on operator verdicts that name a key.

Built ``CONCURRENTLY`` outside the migration's transaction, so moderation goes
on while it builds; an index left invalid by an interrupted run is dropped and
rebuilt on the next.

Revision ID: 0010_moderation_withdrawn_keys
Revises: 0009_search_filter_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0010_moderation_withdrawn_keys"
down_revision = "0009_search_filter_indexes"
branch_labels = None
depends_on = None

INDEX = "ix_verdicts_admin_public_key"

UPGRADE: list[str] = [
    f"DROP INDEX CONCURRENTLY IF EXISTS moderation.{INDEX}",
    f"CREATE INDEX CONCURRENTLY {INDEX} ON moderation.verdicts (public_key, id)"
    " WHERE source = 'admin' AND public_key IS NOT NULL",
]

DOWNGRADE: list[str] = [f"DROP INDEX CONCURRENTLY IF EXISTS moderation.{INDEX}"]


def upgrade() -> None:
    """Build the index without blocking the worker."""
    with op.get_context().autocommit_block():
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    """Drop the index without blocking the worker."""
    with op.get_context().autocommit_block():
        for statement in DOWNGRADE:
            op.execute(statement)
