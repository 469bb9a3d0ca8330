"""search: drop the document vector columns that matching no longer reads.

Since ``0007_search_matches`` the store matches and ranks on
``search.matches``; ``documents.tsv``, ``documents.rank_tsv`` and the GIN index
on ``tsv`` are only read by code from before it. Dropping them ends computing
each vector twice per write and keeps the documents (read for one page of
results, and by filter-only searches) about 700 bytes a row narrower once rows
are rewritten. Run it after every web pod runs code from 0007 on
(docs/operations.md): dropping columns and an index is instant, but old code
would fail on them.

Revision ID: 0008_search_documents_slim
Revises: 0007_search_matches
"""

from __future__ import annotations

from alembic import op

revision = "0008_search_documents_slim"
down_revision = "0007_search_matches"
branch_labels = None
depends_on = None

UPGRADE: list[str] = [
    "DROP INDEX search.ix_documents_tsv",
    "ALTER TABLE search.documents DROP COLUMN tsv, DROP COLUMN rank_tsv",
]

DOWNGRADE: list[str] = [
    """
    ALTER TABLE search.documents
        ADD COLUMN tsv tsvector GENERATED ALWAYS AS (search.document_vector(
            name, description_es, description_en,
            product_name_es, product_name_en, commune_name)) STORED,
        ADD COLUMN rank_tsv tsvector GENERATED ALWAYS AS (search.rank_vector(
            name, product_name_es, product_name_en, commune_name)) STORED
    """,
    "CREATE INDEX ix_documents_tsv ON search.documents USING gin (tsv)",
]


def upgrade() -> None:
    """Drop the old vector columns and their index."""
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    """Restore the vector columns (rewrites the table) and the index."""
    for statement in DOWNGRADE:
        op.execute(statement)
