"""search: match and rank on a narrow side table, search.matches.

A text search used to read one ``search.documents`` row per match: 1.2 kB
each, mostly descriptions and the full document vector, to use 200 bytes of
it. ``search.matches`` holds only what matching and ranking read — the
document vector stripped of positions and weights (what the GIN index and
``@@`` need), the rank vector, the name, and the product and commune ids for
combined queries — about 500 bytes a row, so a query touches fewer and
hotter pages (measured with pgbench at 100k companies: common words +24-38 %,
three-letter prefixes +35-48 %, typos +23-27 %). Documents are still read for
the one page of results.

Triggers keep a company's match row in step within the same statement and
transaction as its document, so freshness is unchanged; deleting a document
cascades.

This revision only adds (expand): code from before it keeps working, so it
can run before the new code rolls out. ``0008_search_documents_slim`` then
drops the document vector columns that only the old code reads.

Revision ID: 0007_search_matches
Revises: 0006_search_rank
"""

from __future__ import annotations

from alembic import op

revision = "0007_search_matches"
down_revision = "0006_search_rank"
branch_labels = None
depends_on = None

_MATCH_VALUES = """
    search.rank_vector(d.name, d.product_name_es, d.product_name_en,
                       d.commune_name),
    strip(search.document_vector(d.name, d.description_es, d.description_en,
                                 d.product_name_es, d.product_name_en,
                                 d.commune_name))
"""

UPGRADE: list[str] = [
    """
    CREATE TABLE search.matches (
        company_id uuid NOT NULL,
        name text NOT NULL,
        product_id uuid NOT NULL,
        commune_id uuid NOT NULL,
        rank_tsv tsvector NOT NULL,
        match_tsv tsvector NOT NULL,
        CONSTRAINT pk_matches PRIMARY KEY (company_id),
        CONSTRAINT fk_matches_company_id_documents FOREIGN KEY (company_id)
            REFERENCES search.documents (company_id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX ix_matches_match_tsv ON search.matches USING gin (match_tsv)",
    # Combined queries AND a filter's bitmap with the word's: a common word
    # matches ~2,500 companies at 100k, one commune and product ~30 of them.
    "CREATE INDEX ix_matches_commune_id ON search.matches (commune_id)",
    "CREATE INDEX ix_matches_product_id ON search.matches (product_id)",
    # One definition of what a document's match row is, used by the triggers
    # and the backfill below. Statement-level with a transition table: a bulk
    # statement (a reindex batch, a product rename touching thousands of
    # documents, the bench loader) derives its match rows in one set-based
    # INSERT rather than one per row; sorted so concurrent writers lock match
    # rows in the same order.
    f"""
    CREATE FUNCTION search.upsert_matches() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        INSERT INTO search.matches AS m
            (company_id, name, product_id, commune_id, rank_tsv, match_tsv)
        SELECT d.company_id, d.name, d.product_id, d.commune_id, {_MATCH_VALUES}
        FROM changed AS d
        ORDER BY d.company_id
        ON CONFLICT (company_id) DO UPDATE SET
            name = excluded.name,
            product_id = excluded.product_id,
            commune_id = excluded.commune_id,
            rank_tsv = excluded.rank_tsv,
            match_tsv = excluded.match_tsv;
        RETURN NULL;
    END
    $$
    """,
    # PostgreSQL allows a transition table only on a single-event trigger
    # without a column list, hence two triggers (an INSERT ... ON CONFLICT DO
    # UPDATE fires both, each with its own rows).
    """
    CREATE TRIGGER documents_insert_matches AFTER INSERT ON search.documents
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION search.upsert_matches()
    """,
    """
    CREATE TRIGGER documents_update_matches AFTER UPDATE ON search.documents
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION search.upsert_matches()
    """,
    # The triggers already hold off writers (CREATE TRIGGER locks out writes to
    # the documents until COMMIT), so the backfill sees every document.
    f"""
    INSERT INTO search.matches
        (company_id, name, product_id, commune_id, rank_tsv, match_tsv)
    SELECT d.company_id, d.name, d.product_id, d.commune_id, {_MATCH_VALUES}
    FROM search.documents AS d
    ON CONFLICT (company_id) DO NOTHING
    """,
]

DOWNGRADE: list[str] = [
    "DROP TRIGGER documents_update_matches ON search.documents",
    "DROP TRIGGER documents_insert_matches ON search.documents",
    "DROP FUNCTION search.upsert_matches()",
    "DROP TABLE search.matches",
]


def upgrade() -> None:
    """Add the match table, its triggers, and fill it."""
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    """Drop the match table and its triggers."""
    for statement in DOWNGRADE:
        op.execute(statement)
