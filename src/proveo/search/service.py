"""Search use cases: keep documents in step with companies, and answer queries."""

from __future__ import annotations

import uuid
from typing import IO

from proveo import companies
from proveo.platform.db import Database, ReadTx, WriteTx
from proveo.search import store
from proveo.search.data import SearchDocument, SearchPage, SearchQuery

__all__ = ["index_company", "reindex", "reindex_commune", "reindex_product", "search"]


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


def index_company(tx: WriteTx, company_id: uuid.UUID) -> None:
    """Make the company's document match the company as this transaction sees it."""
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
    store.update_product_names(tx, product_id, product.name_es, product.name_en)


def reindex_commune(tx: WriteTx, commune_id: uuid.UUID) -> None:
    """Rewrite the commune's name in every document that shows it."""
    try:
        commune = companies.get_commune(tx, commune_id)
    except companies.CommuneNotFound:
        return
    store.update_commune_name(tx, commune_id, commune.name)


def search(tx: ReadTx, query: SearchQuery) -> SearchPage:
    """One page of matching companies, best first, and the total count."""
    return store.search(tx, query)


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
        if progress is not None:
            print(
                f"indexed {done} companies (last id {cursor})",
                file=progress,
                flush=True,
            )
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
