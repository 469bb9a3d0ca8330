"""search: indexes that let filter-only pages stop at the page.

Filter-only searches now read a page in name order from an index and stop at
``offset + limit`` rows (the total is a separate index-only count), instead of
reading and counting every match under a window. Two shapes had no ordered
index: a commune *and* a product filter (``(commune_id, product_id, name,
company_id)``; each single-id index had to be read whole and intersected), and
no filter at all, the plain listing (``(name, company_id)``; a sequential scan
and a sort of every document).

Built ``CONCURRENTLY`` outside the migration's transaction, so writes to
``search.documents`` go on while they build; an index left invalid by an
interrupted run is dropped and rebuilt on the next.

Revision ID: 0009_search_filter_indexes
Revises: 0008_search_documents_slim
"""

from __future__ import annotations

from alembic import op

revision = "0009_search_filter_indexes"
down_revision = "0008_search_documents_slim"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_documents_commune_product_name": "(commune_id, product_id, name, company_id)",
    "ix_documents_name": "(name, company_id)",
}

UPGRADE: list[str] = [
    statement
    for name, columns in INDEXES.items()
    for statement in (
        f"DROP INDEX CONCURRENTLY IF EXISTS search.{name}",
        f"CREATE INDEX CONCURRENTLY {name} ON search.documents {columns}",
    )
]

DOWNGRADE: list[str] = [
    f"DROP INDEX CONCURRENTLY IF EXISTS search.{name}" for name in INDEXES
]


def upgrade() -> None:
    """Build both indexes without blocking writers."""
    with op.get_context().autocommit_block():
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    """Drop both indexes without blocking writers."""
    with op.get_context().autocommit_block():
        for statement in DOWNGRADE:
            op.execute(statement)
