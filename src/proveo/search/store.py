"""All of the search module's SQL: keeping documents in step, and querying them.

Matching itself (folding, the document vector, what one query word matches) is
defined once in SQL functions created by migration 0004_search, and a trigger
(0007_search_matches) derives each document's match row; this file only combines
them. User text reaches the database only as bound parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from proveo.search.data import SearchDocument, SearchHit, SearchPage, SearchQuery
from proveo.search.tables import documents, matches, state, words

__all__ = [
    "MAX_WORDS",
    "MAX_WORD_LENGTH",
    "bump_version",
    "count_documents",
    "data_version",
    "delete_document",
    "indexed_products",
    "list_indexed_ids_after",
    "move_matches",
    "next_matches_of_product",
    "page_statement",
    "query_words",
    "search",
    "update_commune_name",
    "update_product_names",
    "upsert_document",
    "upsert_documents",
    "vacuum_matches",
]

#: Words of ``q`` beyond this many are ignored: each costs an index probe and a
#: vocabulary lookup, and eight words already pin a company down.
MAX_WORDS = 8
#: Longer runs of letters are cut: no real word is longer, and the cut keeps
#: tsvector lexeme limits far away.
MAX_WORD_LENGTH = 64

# Letters and digits in any script; everything else (tsquery operators, LIKE
# wildcards, quotes, backslashes, punctuation, underscores) separates words.
_WORD = re.compile(r"[^\W_]+")

_DOCUMENT_FIELDS = (
    "name",
    "description_es",
    "description_en",
    "address",
    "email",
    "phone",
    "image_key",
    "product_id",
    "product_name_es",
    "product_name_en",
    "commune_id",
    "commune_name",
)


class Tx(Protocol):
    """What the store needs from a transaction (a ReadTx, WriteTx or Connection)."""

    def execute(self, statement: Any, parameters: Any = ..., /) -> Any:
        """Run one statement in the open transaction."""


def query_words(q: str | None) -> list[str]:
    """Split ``q`` into at most ``MAX_WORDS`` distinct words, in order.

    Folding (case, accents) happens in SQL, with the same function the
    documents use; here words are only compared case-insensitively to drop
    repeats.
    """
    if not q:
        return []
    seen: set[str] = set()
    result: list[str] = []
    for match in _WORD.finditer(unicodedata.normalize("NFKC", q)):
        word = match.group()[:MAX_WORD_LENGTH]
        key = word.casefold()
        if key not in seen:
            seen.add(key)
            result.append(word)
            if len(result) == MAX_WORDS:
                break
    return result


def _row(doc: SearchDocument) -> dict[str, Any]:
    return {"company_id": doc.company_id} | {
        name: getattr(doc, name) for name in _DOCUMENT_FIELDS
    }


def _document_words(*columns: Any) -> Any:
    return sa.func.search.document_words(*columns)


def _learn_words_of(tx: Tx, condition: sa.ColumnElement[bool]) -> None:
    # Sorted inserts: two transactions learning overlapping new words take the
    # unique-index locks in the same order, so they wait instead of deadlocking.
    listed = (
        sa.select(
            sa.func.unnest(
                _document_words(
                    documents.c.name,
                    documents.c.description_es,
                    documents.c.description_en,
                    documents.c.product_name_es,
                    documents.c.product_name_en,
                    documents.c.commune_name,
                )
            ).label("word")
        )
        .where(condition)
        .subquery()
    )
    found = sa.select(listed.c.word).distinct().order_by(listed.c.word)
    tx.execute(pg_insert(words).from_select(["word"], found).on_conflict_do_nothing())


def _learn_words(tx: Tx, *texts: str | None) -> None:
    word = sa.func.unnest(
        _document_words(*(sa.literal(t, sa.Text) for t in texts))
    ).column_valued("word")
    found = sa.select(word).order_by(word)
    tx.execute(pg_insert(words).from_select(["word"], found).on_conflict_do_nothing())


def upsert_document(tx: Tx, doc: SearchDocument) -> None:
    """Insert or replace the document of one company."""
    upsert_documents(tx, [doc])


def upsert_documents(tx: Tx, docs: Iterable[SearchDocument]) -> None:
    """Insert or replace many documents in one round of statements (reindex)."""
    rows = [_row(doc) for doc in docs]
    if not rows:
        return
    stmt = pg_insert(documents)
    stmt = stmt.on_conflict_do_update(
        index_elements=[documents.c.company_id],
        set_={name: stmt.excluded[name] for name in _DOCUMENT_FIELDS},
    )
    tx.execute(stmt, rows)
    ids = [row["company_id"] for row in rows]
    _learn_words_of(tx, documents.c.company_id.in_(ids))


def delete_document(tx: Tx, company_id: uuid.UUID) -> None:
    """Forget one company; a missing document is not an error."""
    tx.execute(sa.delete(documents).where(documents.c.company_id == company_id))


def update_product_names(
    tx: Tx, product_id: uuid.UUID, name_es: str, name_en: str
) -> None:
    """Rename a product in every document that uses it."""
    tx.execute(
        sa.update(documents)
        .where(documents.c.product_id == product_id)
        .values(product_name_es=name_es, product_name_en=name_en)
    )
    _learn_words(tx, None, None, None, name_es, name_en, None)


def update_commune_name(tx: Tx, commune_id: uuid.UUID, name: str) -> None:
    """Rename a commune in every document located there."""
    tx.execute(
        sa.update(documents)
        .where(documents.c.commune_id == commune_id)
        .values(commune_name=name)
    )
    _learn_words(tx, None, None, None, None, None, name)


def count_documents(tx: Tx) -> int:
    """Return how many companies are indexed."""
    return int(
        tx.execute(sa.select(sa.func.count()).select_from(documents)).scalar_one()
    )


def list_indexed_ids_after(
    tx: Tx, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Return up to ``limit`` indexed company ids greater than ``after``, ascending."""
    stmt = sa.select(documents.c.company_id).order_by(documents.c.company_id)
    if after is not None:
        stmt = stmt.where(documents.c.company_id > after)
    return list(tx.execute(stmt.limit(limit)).scalars())


def indexed_products(tx: Tx) -> list[uuid.UUID]:
    """Every product some document uses, ascending."""
    stmt = sa.select(documents.c.product_id).distinct().order_by(documents.c.product_id)
    return list(tx.execute(stmt).scalars())


def next_matches_of_product(
    tx: Tx, product_id: uuid.UUID, after: tuple[str, uuid.UUID] | None, limit: int
) -> list[tuple[str, uuid.UUID]]:
    """Up to ``limit`` (name, company_id) of one product after ``after``, in order."""
    key = sa.tuple_(documents.c.name, documents.c.company_id)
    stmt = (
        sa.select(documents.c.name, documents.c.company_id)
        .where(documents.c.product_id == product_id)
        .order_by(documents.c.name, documents.c.company_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(key > sa.tuple_(*after))
    return [(row.name, row.company_id) for row in tx.execute(stmt)]


def move_matches(tx: Tx, company_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Delete and re-insert these match rows in (product, name, id) order.

    Returns the ids in the order they were written.

    New row versions go to the end of the table (or to space a VACUUM freed),
    so moving a product's rows chunk after chunk lays them out next to each
    other. Locks are taken as every writer takes them, documents before match
    rows, each in ``company_id`` order, so a concurrent write waits instead of
    deadlocking: ``FOR KEY SHARE`` on the documents lets edits through and
    holds a delete (whose cascade would race the re-insert's foreign key)
    until this chunk commits. Readers see the old rows until COMMIT.
    """
    ids = sorted(company_ids)
    tx.execute(
        sa.select(documents.c.company_id)
        .where(documents.c.company_id.in_(ids))
        .order_by(documents.c.company_id)
        .with_for_update(read=True, key_share=True)
    ).all()
    tx.execute(
        sa.select(matches.c.company_id)
        .where(matches.c.company_id.in_(ids))
        .order_by(matches.c.company_id)
        .with_for_update()
    ).all()
    gone = (
        sa.delete(matches)
        .where(matches.c.company_id.in_(ids))
        .returning(*matches.c)
        .cte("gone")
    )
    moved = (
        sa.insert(matches)
        .from_select(
            [c.name for c in matches.c],
            sa.select(*gone.c).order_by(
                gone.c.product_id, gone.c.name, gone.c.company_id
            ),
        )
        .returning(matches.c.company_id)
    )
    return list(tx.execute(moved).scalars())


def vacuum_matches(conn: Tx) -> None:
    """VACUUM ``search.matches`` on an autocommit connection, without a time limit.

    Until the moved rows' old versions leave the GIN index, a bitmap scan still
    visits the pages they left. ``RESET`` restores the pool's own statement
    timeout (set at connect), so the connection goes back to the pool unchanged.
    """
    conn.execute(sa.text("SET statement_timeout = 0"))
    try:
        conn.execute(sa.text("VACUUM (ANALYZE) search.matches"))
    finally:
        conn.execute(sa.text("RESET statement_timeout"))


class _Shape(NamedTuple):
    """What decides a search statement's SQL; values are bound at execution.

    Statements are built once per shape (there are few) and reused: building
    them costs more Python time than PostgreSQL needs to answer a filter query.
    """

    words: int
    commune: bool
    product: bool
    lang: str


class _FilterIds(NamedTuple):
    """Scalar subqueries that resolve the filter names to ids (None if unused)."""

    commune: sa.ScalarSelect[Any] | None
    #: The product whose Spanish name, and the one whose English name, it is.
    products: tuple[sa.ScalarSelect[Any], sa.ScalarSelect[Any]] | None


def _probe(id_column: Any, key_column: Any, parameter: str) -> sa.ScalarSelect[Any]:
    key = sa.func.search.fold(sa.bindparam(parameter, type_=sa.Text))
    return sa.select(id_column).where(key_column == key).limit(1).scalar_subquery()


def _filter_ids(shape: _Shape) -> _FilterIds:
    """Resolve ``commune`` to one id and ``product`` to at most two.

    Names are unique among communes and, per language, among products, and a
    rename rewrites every document at once: so a name resolves to an id with
    one index probe per language (a scalar InitPlan, not a join: the planner
    then sees an equality and reads the id indexes). A product name may be one
    product's Spanish name and another's English name, hence two. (Resolving
    them once in a CTE for a statement that reads them several times was
    measured: no faster.)
    """
    c = documents.c
    return _FilterIds(
        commune=_probe(c.commune_id, c.commune_key, "commune")
        if shape.commune
        else None,
        products=(
            _probe(c.product_id, c.product_es_key, "product"),
            _probe(c.product_id, c.product_en_key, "product"),
        )
        if shape.product
        else None,
    )


def _filters(source: sa.Table, ids: _FilterIds) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if ids.commune is not None:
        conditions.append(source.c.commune_id == ids.commune)
    if ids.products is not None:
        conditions.append(source.c.product_id.in_(ids.products))
    return conditions


_HIT_FIELDS = len(dataclasses.fields(SearchHit))


def _hit_columns(lang: str) -> list[sa.ColumnElement[Any]]:
    # lang was checked when the shape was made (_shape_and_params).
    c = documents.c
    return [
        c.company_id,
        c.name,
        c[f"description_{lang}"].label("description"),
        c.address,
        c.email,
        c.phone,
        c.image_key,
        c[f"product_name_{lang}"].label("product_name"),
        c.commune_name,
    ]


def _text_matching(
    shape: _Shape,
) -> tuple[list[sa.ColumnElement[bool]], sa.ColumnElement[Any]]:
    """The conditions on ``matches`` for a query with words, and the rank.

    ``matches`` is a narrow copy of what matching and ranking need (migration
    0007_search_matches), so a common word touches ~500 bytes per match instead
    of a 1.2 kB document; documents are joined for the one page shown.
    """
    conditions = _filters(matches, _filter_ids(shape))
    tsquery: sa.ColumnElement[Any] = sa.func.search.word_query(
        sa.bindparam("w0", type_=sa.Text)
    )
    for i in range(1, shape.words):
        word = sa.func.search.word_query(sa.bindparam(f"w{i}", type_=sa.Text))
        tsquery = tsquery.op("&&")(word)
    # Built once (a materialized CTE), then used as the GIN index condition and
    # for ranking.
    prepared = (
        sa.select(tsquery.label("tsq")).cte("prepared").prefix_with("MATERIALIZED")
    )
    tsq = sa.select(prepared.c.tsq).scalar_subquery()
    conditions.append(matches.c.match_tsv.bool_op("@@")(tsq))
    # ts_rank's default weights: name (A) 1.0, product (B) 0.4, commune (D)
    # 0.1, over rank_tsv, which leaves the descriptions out: reading them for
    # every match cost more than finding the matches. Description-only matches
    # rank last. Corrected typos count like the word they fix.
    return conditions, sa.func.ts_rank(matches.c.rank_tsv, tsq)


def _filter_count(ids: _FilterIds) -> sa.Select[Any]:
    """How many documents pass the filters: an index-only count."""
    return (
        sa.select(sa.func.count())
        .select_from(documents)
        .where(*_filters(documents, ids))
    )


def _filter_page(shape: _Shape) -> sa.Select[Any]:
    """A page of filter-only results: read in name order, stop at the page.

    The page walks a documents index on ``(commune_id and/or product_id, name,
    company_id)`` and stops after ``offset + limit`` entries; the total is a
    separate index-only count. (A count window over the page's scan read and
    buffered every match: at 1M companies a commune has ~20,000.) When the
    product name selects two products, each is read in order and the two are
    merged.
    """
    c = documents.c
    ids = _filter_ids(shape)
    enough = sa.bindparam("limit", type_=sa.Integer) + sa.bindparam(
        "offset", type_=sa.Integer
    )
    common = [c.commune_id == ids.commune] if ids.commune is not None else []

    def in_order(*conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return (
            sa.select(c.company_id, c.name)
            .where(*common, *conditions)
            .order_by(c.name, c.company_id)
            .limit(enough)
        )

    if ids.products is not None:
        es, en = ids.products
        candidates = sa.union_all(
            in_order(c.product_id == es),
            in_order(c.product_id == en, en.is_distinct_from(es)),
        ).subquery("candidates")
    else:
        candidates = in_order().subquery("candidates")
    page = (
        sa.select(candidates.c.company_id, candidates.c.name)
        .order_by(candidates.c.name, candidates.c.company_id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .subquery("page")
    )
    total = _filter_count(ids).scalar_subquery()
    return (
        sa.select(*_hit_columns(shape.lang), total.label("total"))
        .join_from(documents, page, page.c.company_id == documents.c.company_id)
        .order_by(page.c.name, page.c.company_id)
    )


@functools.lru_cache(maxsize=256)
def _page(shape: _Shape) -> sa.Select[Any]:
    return _text_page(shape) if shape.words else _filter_page(shape)


def _text_page(shape: _Shape) -> sa.Select[Any]:
    """A page of results for words.

    Rank, sort and count narrow match rows, then fetch the full documents of
    the one page.
    """
    conditions, rank = _text_matching(shape)
    # Rank each match where it is read: the OFFSET 0 fence keeps the planner
    # from moving ts_rank above the count's window, which would copy every
    # match's rank vector into the window's buffer (pgbench at 100k: 3-letter
    # prefixes +16 %, typos +7 %).
    hits = (
        sa.select(matches.c.company_id, matches.c.name, rank.label("rank"))
        .where(*conditions)
        .offset(0)
        .subquery("hits")
    )
    page = (
        sa.select(hits, sa.func.count().over().label("total"))
        .order_by(hits.c.rank.desc(), hits.c.name, hits.c.company_id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .subquery("page")
    )
    return (
        sa.select(*_hit_columns(shape.lang), page.c.total)
        .join_from(documents, page, page.c.company_id == documents.c.company_id)
        .order_by(page.c.rank.desc(), page.c.name, page.c.company_id)
    )


@functools.lru_cache(maxsize=256)
def _total(shape: _Shape) -> sa.Select[Any]:
    """The number of matches alone, for a page past the end."""
    if shape.words:
        conditions, _ = _text_matching(shape)
        return sa.select(sa.func.count()).select_from(matches).where(*conditions)
    return _filter_count(_filter_ids(shape))


def _shape_and_params(
    query: SearchQuery, terms: Sequence[str]
) -> tuple[_Shape, dict[str, Any]]:
    if query.lang not in ("es", "en"):
        raise ValueError(f"unsupported language: {query.lang!r}")
    shape = _Shape(
        len(terms), query.commune is not None, query.product is not None, query.lang
    )
    params: dict[str, Any] = {f"w{i}": term for i, term in enumerate(terms)}
    if query.commune is not None:
        params["commune"] = query.commune
    if query.product is not None:
        params["product"] = query.product
    return shape, params


def page_statement(query: SearchQuery) -> sa.Select[Any]:
    """The page query ``search`` runs for ``query``, values bound (for EXPLAIN)."""
    shape, params = _shape_and_params(query, query_words(query.q))
    return _page(shape).params(**params, limit=query.limit, offset=query.offset)


def search(tx: Tx, query: SearchQuery) -> SearchPage:
    """Return one page of companies matching ``query``, best first.

    Every word of ``q`` must match; ``commune``/``product`` are exact folded
    names (unknown ones simply match nothing). Order is rank, then name, then
    id, so consecutive pages never repeat or skip a company.
    """
    terms = query_words(query.q)
    if query.q is not None and query.q.strip() and not terms:
        return SearchPage(items=[], total=0)
    shape, params = _shape_and_params(query, terms)
    rows = tx.execute(
        _page(shape), {**params, "limit": query.limit, "offset": query.offset}
    ).all()
    if rows:
        total = int(rows[0].total)
    elif query.offset > 0:
        total = int(tx.execute(_total(shape), params).scalar_one())
    else:
        total = 0
    # The page selects exactly SearchHit's fields, in order, then the total.
    items = [SearchHit(*row[:_HIT_FIELDS]) for row in rows]
    return SearchPage(items=items, total=total)


def data_version(tx: Tx) -> int:
    """The documents' version as of this statement (read before the page it keys)."""
    return int(
        tx.execute(sa.select(state.c.version).where(state.c.id == 1)).scalar_one()
    )


def bump_version(tx: Tx) -> None:
    """Mark the documents changed (invalidates cached result pages on COMMIT)."""
    tx.execute(
        sa.update(state).where(state.c.id == 1).values(version=state.c.version + 1)
    )
