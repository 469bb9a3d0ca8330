"""search: documents table, vocabulary, and the SQL functions that define matching.

The document vector, the vocabulary extraction and the per-word query live in SQL
functions so that the store, the generated column and the bulk loader share one
definition. ``UPGRADE``/``DOWNGRADE`` are plain statement lists so tests can apply
them without an Alembic environment.

Revision ID: 0004_search
Revises: 0003_companies
"""

from __future__ import annotations

from alembic import op

revision = "0004_search"
down_revision = "0003_companies"
branch_labels = None
depends_on = None

_FOLD_ARGS = (
    "name text, description_es text, description_en text,"
    " product_name_es text, product_name_en text, commune_name text"
)

UPGRADE: list[str] = [
    "CREATE SCHEMA IF NOT EXISTS search",
    "CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
    # unaccent() is STABLE because its dictionary is looked up by name; pinning the
    # dictionary by regdictionary makes the result depend on the input only, which
    # generated columns and indexes require.
    """
    CREATE FUNCTION search.immutable_unaccent(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, value) $$
    """,
    """
    CREATE FUNCTION search.fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(search.immutable_unaccent(value)) $$
    """,
    # The one definition of what is searchable and how it weighs: names A, products
    # B, descriptions C, commune D. Text is folded before stemming on both sides,
    # names and product names also go through 'simple' so proper names survive.
    # Address, e-mail and phone are deliberately absent.
    f"""
    CREATE FUNCTION search.document_vector({_FOLD_ARGS}) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT
        setweight(to_tsvector('pg_catalog.simple', search.fold(coalesce(name, ''))),
                  'A')
     || setweight(to_tsvector('pg_catalog.spanish', search.fold(coalesce(name, ''))),
                  'A')
     || setweight(to_tsvector('pg_catalog.english', search.fold(coalesce(name, ''))),
                  'A')
     || setweight(to_tsvector('pg_catalog.simple', search.fold(
            concat_ws(' ', product_name_es, product_name_en))), 'B')
     || setweight(to_tsvector('pg_catalog.spanish',
            search.fold(coalesce(product_name_es, ''))), 'B')
     || setweight(to_tsvector('pg_catalog.english',
            search.fold(coalesce(product_name_en, ''))), 'B')
     || setweight(to_tsvector('pg_catalog.spanish',
            search.fold(coalesce(description_es, ''))), 'C')
     || setweight(to_tsvector('pg_catalog.english',
            search.fold(coalesce(description_en, ''))), 'C')
     || setweight(to_tsvector('pg_catalog.simple',
            search.fold(coalesce(commune_name, ''))), 'D')
     || setweight(to_tsvector('pg_catalog.spanish',
            search.fold(coalesce(commune_name, ''))), 'D')
    $$
    """,
    # Words that typo tolerance can correct to: folded, 5..40 letters or digits.
    f"""
    CREATE FUNCTION search.document_words({_FOLD_ARGS}) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_agg(w), '{{}}')
          FROM unnest(tsvector_to_array(to_tsvector('pg_catalog.simple', search.fold(
              concat_ws(' ', name, description_es, description_en,
                        product_name_es, product_name_en, commune_name))))) AS w
          WHERE length(w) BETWEEN 5 AND 40 AND w ~ '^[[:alnum:]]+$'
    $$
    """,
    # Optimal string alignment distance <= 1: one letter inserted, deleted,
    # changed, or two neighbours swapped.
    """
    CREATE FUNCTION search.within_one_edit(a text, b text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    DECLARE
        la int := length(a);
        lb int := length(b);
        i int := 1;
    BEGIN
        IF abs(la - lb) > 1 THEN
            RETURN false;
        END IF;
        WHILE i <= least(la, lb) AND substr(a, i, 1) = substr(b, i, 1) LOOP
            i := i + 1;
        END LOOP;
        IF i > least(la, lb) THEN
            RETURN true;
        ELSIF la > lb THEN
            RETURN substr(a, i + 1) = substr(b, i);
        ELSIF la < lb THEN
            RETURN substr(a, i) = substr(b, i + 1);
        END IF;
        RETURN substr(a, i + 1) = substr(b, i + 1)
            OR (substr(a, i, 1) = substr(b, i + 1, 1)
                AND substr(a, i + 1, 1) = substr(b, i, 1)
                AND substr(a, i + 2) = substr(b, i + 2));
    END
    $$
    """,
    # A lexeme as a quoted tsquery operand: quotes doubled, backslashes escaped.
    r"""
    CREATE FUNCTION search.tsquery_quote(lexeme text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT '''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''' $$
    """,
    # What one query word matches: its folded form and its Spanish and English
    # stems, as prefixes from 3 letters on, OR any vocabulary word one edit away
    # (query words of 4+ letters, vocabulary words of 5+). Terms that another
    # prefix term already covers are dropped so the query stays small. Lexemes
    # come from to_tsvector and are quoted here, so no input is ever parsed as
    # tsquery syntax.
    """
    CREATE FUNCTION search.word_query(raw text) RETURNS tsquery
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
    SET client_min_messages = warning
    AS $$
    DECLARE
        f text := search.fold(raw);
        n int := length(f);
        half int := n / 2;
        stems text[];
        typos text[] := '{}';
        terms text;
    BEGIN
        IF n < 3 OR cardinality(tsvector_to_array(
                to_tsvector('pg_catalog.simple', f))) <> 1 THEN
            -- Short words match exactly; text the parser splits into several
            -- tokens (e.g. "1/2") must match as a whole, in either language.
            RETURN plainto_tsquery('pg_catalog.spanish', f)
                || plainto_tsquery('pg_catalog.english', f)
                || plainto_tsquery('pg_catalog.simple', f);
        END IF;
        stems := ARRAY(
            SELECT DISTINCT lexeme
            FROM unnest(tsvector_to_array(to_tsvector('pg_catalog.spanish', f))
                        || tsvector_to_array(to_tsvector('pg_catalog.english', f))
                        || tsvector_to_array(to_tsvector('pg_catalog.simple', f)))
                 AS lexeme);
        stems := ARRAY(
            SELECT s FROM unnest(stems) AS s
            WHERE NOT EXISTS (SELECT 1 FROM unnest(stems) AS o
                              WHERE o <> s AND starts_with(s, o)));
        IF n >= 4 AND n <= 41 THEN
            -- Any word one edit away keeps either the first half of f as its
            -- prefix or everything after position half + 1 as its suffix, so
            -- two index range scans find every candidate.
            typos := ARRAY(
                SELECT DISTINCT lexeme
                FROM search.words AS w,
                     unnest(tsvector_to_array(
                         to_tsvector('pg_catalog.spanish', w.word)
                         || to_tsvector('pg_catalog.english', w.word)
                         || to_tsvector('pg_catalog.simple', w.word))) AS lexeme
                WHERE length(w.word) = ANY (ARRAY[n - 1, n, n + 1])
                  AND ((w.word >= left(f, half)
                        AND w.word < left(f, half) || U&'\\+10FFFF')
                    OR (reverse(w.word) >= reverse(substr(f, half + 2))
                        AND reverse(w.word)
                            < reverse(substr(f, half + 2)) || U&'\\+10FFFF'))
                  AND w.word <> f
                  AND search.within_one_edit(f, w.word)
                  AND NOT EXISTS (SELECT 1 FROM unnest(stems) AS s
                                  WHERE starts_with(lexeme, s))
                LIMIT 32);
        END IF;
        SELECT string_agg(term, ' | ') INTO terms
        FROM (
            SELECT search.tsquery_quote(s) || ':*' AS term FROM unnest(stems) AS s
            UNION ALL
            SELECT search.tsquery_quote(t) FROM unnest(typos) AS t
        ) AS quoted;
        RETURN coalesce(terms, '')::tsquery;
    END
    $$
    """,
    """
    CREATE TABLE search.documents (
        company_id uuid NOT NULL,
        name text NOT NULL,
        description_es text NOT NULL,
        description_en text NOT NULL,
        address text NOT NULL,
        email text NOT NULL,
        phone text NOT NULL,
        image_key text,
        product_id uuid NOT NULL,
        product_name_es text NOT NULL,
        product_name_en text NOT NULL,
        commune_id uuid NOT NULL,
        commune_name text NOT NULL,
        name_key text GENERATED ALWAYS AS (search.fold(name)) STORED,
        commune_key text GENERATED ALWAYS AS (search.fold(commune_name)) STORED,
        product_es_key text GENERATED ALWAYS AS (search.fold(product_name_es)) STORED,
        product_en_key text GENERATED ALWAYS AS (search.fold(product_name_en)) STORED,
        tsv tsvector GENERATED ALWAYS AS (search.document_vector(
            name, description_es, description_en,
            product_name_es, product_name_en, commune_name)) STORED,
        CONSTRAINT pk_documents PRIMARY KEY (company_id)
    )
    """,
    "CREATE INDEX ix_documents_tsv ON search.documents USING gin (tsv)",
    "CREATE INDEX ix_documents_commune_key ON search.documents (commune_key)",
    "CREATE INDEX ix_documents_product_es_key ON search.documents (product_es_key)",
    "CREATE INDEX ix_documents_product_en_key ON search.documents (product_en_key)",
    # Filter-only pages are read in (name, company_id) order straight from these,
    # and counted with index-only scans.
    "CREATE INDEX ix_documents_product_id_name"
    " ON search.documents (product_id, name, company_id)",
    "CREATE INDEX ix_documents_commune_id_name"
    " ON search.documents (commune_id, name, company_id)",
    """
    CREATE TABLE search.words (
        word text COLLATE "C" NOT NULL,
        CONSTRAINT pk_words PRIMARY KEY (word)
    )
    """,
    "CREATE INDEX ix_words_length_word ON search.words (length(word), word)",
    "CREATE INDEX ix_words_length_reverse ON search.words (length(word), reverse(word))",
    # One row, bumped in every transaction that changes documents: read in the
    # same snapshot as a query, it keys cached result pages (never stale).
    """
    CREATE TABLE search.state (
        id smallint DEFAULT 1 NOT NULL,
        version bigint DEFAULT 0 NOT NULL,
        CONSTRAINT pk_state PRIMARY KEY (id),
        CONSTRAINT ck_state_single_row CHECK (id = 1)
    )
    """,
    "INSERT INTO search.state (id, version) VALUES (1, 0)",
]

DOWNGRADE: list[str] = [
    "DROP SCHEMA search CASCADE",
]


def upgrade() -> None:
    """Create the search schema, its functions, tables and indexes."""
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    """Drop the search schema; the shared extensions stay for other users."""
    for statement in DOWNGRADE:
        op.execute(statement)
