"""Search use cases: keep documents in step with companies, and answer queries."""

from __future__ import annotations

import hashlib
import uuid
from typing import IO, Any, Protocol

from proveo import companies
from proveo.platform.db import Database, ReadTx, WriteTx
from proveo.search import store
from proveo.search.data import SearchDocument, SearchHit, SearchPage, SearchQuery


class Cache(Protocol):
    """What search needs from the platform cache."""

    def get(self, namespace: str, key: str) -> Any | None:
        """The cached value or ``None``."""

    def set(self, namespace: str, key: str, value: Any, ttl_seconds: int) -> Any:
        """Cache ``value`` for ``ttl_seconds``."""


__all__ = [
    "compact",
    "index_company",
    "reindex",
    "reindex_commune",
    "reindex_product",
    "search",
]


def _document(company: companies.Company) -> SearchDocument:
    return SearchDocument(
        company_id=company.id,
        name=company.name,
        description_es=company.description_es,
        description_en=company.description_en,
        address=company.address,
        email=company.email,
        phone=company.phone,
        image_key=company.image_key,
        product_id=company.product_id,
        product_name_es=company.product_name_es,
        product_name_en=company.product_name_en,
        commune_id=company.commune_id,
        commune_name=company.commune_name,
    )


_BUMPED = "search_version_bumped"
CACHE_NAMESPACE = "search"
CACHE_SECONDS = 300


def _changed(tx: WriteTx) -> None:
    """Bump the data version once per transaction that touches documents."""
    if not tx.state.get(_BUMPED):
        store.bump_version(tx)
        tx.state[_BUMPED] = True


def index_company(tx: WriteTx, company_id: uuid.UUID) -> None:
    """Make the company's document match the company as this transaction sees it."""
    _changed(tx)
    company = companies.find_company(tx, company_id)
    if company is None:
        store.delete_document(tx, company_id)
    else:
        store.upsert_document(tx, _document(company))


def reindex_product(tx: WriteTx, product_id: uuid.UUID) -> None:
    """Rewrite the product's names in every document that shows them."""
    try:
        product = companies.get_product(tx, product_id)
    except companies.ProductNotFound:  # deleted; only unused products can be
        return
    _changed(tx)
    store.update_product_names(tx, product_id, product.name_es, product.name_en)


def reindex_commune(tx: WriteTx, commune_id: uuid.UUID) -> None:
    """Rewrite the commune's name in every document that shows it."""
    try:
        commune = companies.get_commune(tx, commune_id)
    except companies.CommuneNotFound:
        return
    _changed(tx)
    store.update_commune_name(tx, commune_id, commune.name)


def search(tx: ReadTx, query: SearchQuery, *, cache: Cache | None = None) -> SearchPage:
    """One page of matching companies, best first, and the total count.

    With a cache, pages are kept under the documents' data version, which any
    committed change bumps. The version is read first and the page computed
    after it on the same connection, so a page filed under version v holds data
    at least as new as v: a cached page is never staler than what the reader's
    own query would return (it can be newer, for a reader on a lagging replica).
    """
    if cache is None:
        return store.search(tx, query)
    version = store.data_version(tx)
    key = _cache_key(version, query)
    cached = cache.get(CACHE_NAMESPACE, key)
    if cached is not None:
        return _page_from_json(cached)
    page = store.search(tx, query)
    cache.set(CACHE_NAMESPACE, key, _page_to_json(page), CACHE_SECONDS)
    return page


def _cache_key(version: int, query: SearchQuery) -> str:
    words = " ".join(store.query_words(query.q))
    raw = "\x1f".join(
        [
            str(version),
            words,
            query.q or "",
            query.commune or "",
            query.product or "",
            query.lang,
            str(query.limit),
            str(query.offset),
        ]
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def _page_to_json(page: SearchPage) -> dict[str, Any]:
    return {
        "total": page.total,
        "items": [
            [
                str(h.company_id),
                h.name,
                h.description,
                h.address,
                h.email,
                h.phone,
                h.image_key,
                h.product_name,
                h.commune_name,
            ]
            for h in page.items
        ],
    }


def _page_from_json(data: dict[str, Any]) -> SearchPage:
    items = [SearchHit(uuid.UUID(row[0]), *row[1:]) for row in data["items"]]
    return SearchPage(items=items, total=int(data["total"]))


def reindex(
    db: Database,
    *,
    batch: int = 1000,
    after: uuid.UUID | None = None,
    progress: IO[str] | None = None,
) -> int:
    """Rebuild every document from companies, batch by batch, while the site is live.

    Each batch is one short write transaction on the primary (documents are
    upserted, so a concurrent edit simply wins or is re-applied); documents whose
    company no longer exists are removed afterwards. Resumable: pass the last id
    printed to ``after``.
    """
    done = 0
    cursor = after
    while True:
        with db.write() as tx:
            ids = companies.list_company_ids(tx, after=cursor, limit=batch)
            docs = [
                _document(company)
                for company in (companies.find_company(tx, i) for i in ids)
                if company is not None
            ]
            store.upsert_documents(tx, docs)
        if not ids:
            break
        done += len(docs)
        cursor = ids[-1]
        _report(progress, f"indexed {done} companies (last id {cursor})")
    stale_cursor: uuid.UUID | None = None
    while True:
        with db.write() as tx:
            indexed = store.list_indexed_ids_after(tx, stale_cursor, batch)
            for company_id in indexed:
                if companies.find_company(tx, company_id) is None:
                    store.delete_document(tx, company_id)
        if not indexed:
            break
        stale_cursor = indexed[-1]
    return done


def compact(db: Database, *, batch: int = 1000, progress: IO[str] | None = None) -> int:
    """Lay ``search.matches`` out in product order, chunk by chunk, while live.

    Companies of one product share their words, so a word's matches then sit on
    a few pages instead of one page each: a common word reads ~10x fewer heap
    pages. Rows arrive in random order (inserts, edits), so this runs nightly
    (``search.compact_matches``) and after bulk loads. Results never change:
    the order of a page does not depend on where rows are stored. The table
    is vacuumed before and after, so consecutive runs fill the pages the last
    one emptied instead of growing the table. Returns the number of rows moved.
    """
    _vacuum(db)  # the previous run's dead rows become the space this run fills
    with db.write() as tx:
        products = store.indexed_products(tx)
    moved = 0
    for number, product_id in enumerate(products, start=1):
        after: tuple[str, uuid.UUID] | None = None
        while True:
            with db.write() as tx:
                chunk = store.next_matches_of_product(tx, product_id, after, batch)
                if chunk:
                    moved += len(store.move_matches(tx, [i for _, i in chunk]))
            if not chunk:
                break
            after = chunk[-1]
        _report(progress, f"compacted {number}/{len(products)} products ({moved} rows)")
    # Best effort: rows moved in the last seconds stay in the indexes until
    # autovacuum when a standby's hot_standby_feedback still covers them.
    _vacuum(db)
    return moved


def _report(progress: IO[str] | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)


def _vacuum(db: Database) -> None:
    with db.primary.connect() as conn:
        store.vacuum_matches(conn.execution_options(isolation_level="AUTOCOMMIT"))
