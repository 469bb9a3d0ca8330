"""search: rank on a small vector of names, products and commune.

``ts_rank`` reads the whole document vector of every match, and the
descriptions make up most of it: ranking 2,500 matches of a common word spent
more time in ``ts_rank`` than in finding them. ``rank_tsv`` holds only what
ranking needs to put name matches first (names A, products B, commune D), so
ranking is ~2x cheaper; matching still uses ``tsv``. A document that matches
only in its descriptions ranks after every name, product or commune match.

Adding a stored generated column rewrites ``search.documents`` under an
exclusive lock (8.6 s for 100k documents on a 2-core machine): run it in a
quiet window, before the new code serves searches (docs/operations.md).

Revision ID: 0006_search_rank
Revises: 0005_moderation
"""

from __future__ import annotations

from alembic import op

revision = "0006_search_rank"
down_revision = "0005_moderation"
branch_labels = None
depends_on = None

UPGRADE: list[str] = [
    # The document vector without the descriptions: one definition of the parts
    # and weights, in search.document_vector.
    """
    CREATE FUNCTION search.rank_vector(
        name text, product_name_es text, product_name_en text, commune_name text
    ) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT search.document_vector(
        name, NULL, NULL, product_name_es, product_name_en, commune_name) $$
    """,
    """
    ALTER TABLE search.documents ADD COLUMN rank_tsv tsvector
        GENERATED ALWAYS AS (search.rank_vector(
            name, product_name_es, product_name_en, commune_name)) STORED
    """,
]

DOWNGRADE: list[str] = [
    "ALTER TABLE search.documents DROP COLUMN rank_tsv",
    "DROP FUNCTION search.rank_vector(text, text, text, text)",
]


def upgrade() -> None:
    """Add the rank vector."""
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    """Drop the rank vector."""
    for statement in DOWNGRADE:
        op.execute(statement)
