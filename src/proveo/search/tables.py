"""The search module's tables: a document and a match row per company, a vocabulary."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID

from proveo.platform.db import NAMING_CONVENTION

metadata = sa.MetaData(schema="search", naming_convention=NAMING_CONVENTION)

# The generated expressions call search.fold (migration 0004_search), the single
# definition of folding. Documents are what a result shows; matching and ranking
# read the narrow search.matches below.
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("company_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description_es", sa.Text, nullable=False),
    sa.Column("description_en", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("image_key", sa.Text, nullable=True),
    sa.Column("product_id", UUID(as_uuid=True), nullable=False),
    sa.Column("product_name_es", sa.Text, nullable=False),
    sa.Column("product_name_en", sa.Text, nullable=False),
    sa.Column("commune_id", UUID(as_uuid=True), nullable=False),
    sa.Column("commune_name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, sa.Computed("search.fold(name)", persisted=True)),
    sa.Column(
        "commune_key",
        sa.Text,
        sa.Computed("search.fold(commune_name)", persisted=True),
    ),
    sa.Column(
        "product_es_key",
        sa.Text,
        sa.Computed("search.fold(product_name_es)", persisted=True),
    ),
    sa.Column(
        "product_en_key",
        sa.Text,
        sa.Computed("search.fold(product_name_en)", persisted=True),
    ),
    sa.Index("ix_documents_commune_key", "commune_key"),
    sa.Index("ix_documents_product_es_key", "product_es_key"),
    sa.Index("ix_documents_product_en_key", "product_en_key"),
    sa.Index("ix_documents_product_id_name", "product_id", "name", "company_id"),
    sa.Index("ix_documents_commune_id_name", "commune_id", "name", "company_id"),
    # Filter-only pages read in name order and stop at the page (0009).
    sa.Index(
        "ix_documents_commune_product_name",
        "commune_id",
        "product_id",
        "name",
        "company_id",
    ),
    sa.Index("ix_documents_name", "name", "company_id"),
)

# What matching and ranking read, one narrow row per document, written by the
# statement triggers of migration 0007_search_matches (search.upsert_matches) in
# the same statement as the document: match_tsv is the document vector stripped
# of positions and weights, rank_tsv names (A), products (B) and commune (D).
matches = sa.Table(
    "matches",
    metadata,
    sa.Column(
        "company_id",
        UUID(as_uuid=True),
        sa.ForeignKey(documents.c.company_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("product_id", UUID(as_uuid=True), nullable=False),
    sa.Column("commune_id", UUID(as_uuid=True), nullable=False),
    sa.Column("rank_tsv", TSVECTOR, nullable=False),
    sa.Column("match_tsv", TSVECTOR, nullable=False),
    sa.Index("ix_matches_match_tsv", "match_tsv", postgresql_using="gin"),
    sa.Index("ix_matches_commune_id", "commune_id"),
    sa.Index("ix_matches_product_id", "product_id"),
)

# Every folded word of 5..40 characters ever indexed: what a typo is corrected to.
# Append-only (a stale word only expands to a lexeme no document has). The "C"
# collation makes prefix ranges byte ranges.
words = sa.Table(
    "words",
    metadata,
    sa.Column("word", sa.Text(collation="C"), primary_key=True),
)
sa.Index(
    "ix_words_length_word",
    sa.func.length(words.c.word),
    words.c.word,
)
sa.Index(
    "ix_words_length_reverse",
    sa.func.length(words.c.word),
    sa.func.reverse(words.c.word),
)

# One row: a counter bumped in every transaction that changes documents. Read
# before a query on the same connection, it keys cached result pages, so a cached
# page can never be older than the data the reader would otherwise see.
state = sa.Table(
    "state",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, server_default="1"),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("id = 1", name="single_row"),
)
