"""Search subscribes to companies' events inside the writing transaction.

A committed create, update or delete is therefore searchable at once: no refresh
job, no lag beyond replication. ``search.compact_matches`` (periodiq, nightly)
only re-lays the match rows physically; it never changes a result.
"""

from __future__ import annotations

import uuid

from periodiq import cron

from proveo import companies
from proveo.platform import events, logs, queue, runtime
from proveo.platform.db import WriteTx
from proveo.search import service

log = logs.get_logger("proveo.search")

_COMPACT_SLOT_SECONDS = 24 * 3600


@events.in_transaction(companies.CompanyChanged)
def _company_changed(tx: WriteTx, event: companies.CompanyChanged) -> None:
    service.index_company(tx, uuid.UUID(event.company_id))


@events.in_transaction(companies.CompanyDeleted)
def _company_deleted(tx: WriteTx, event: companies.CompanyDeleted) -> None:
    service.index_company(tx, uuid.UUID(event.company_id))


@events.in_transaction(companies.ProductChanged)
def _product_changed(tx: WriteTx, event: companies.ProductChanged) -> None:
    service.reindex_product(tx, uuid.UUID(event.product_id))


@events.in_transaction(companies.CommuneChanged)
def _commune_changed(tx: WriteTx, event: companies.CommuneChanged) -> None:
    service.reindex_commune(tx, uuid.UUID(event.commune_id))


@queue.actor(
    "search.compact_matches",
    max_retries=0,
    time_limit=3_600_000,
    periodic=cron("17 3 * * *"),
)
def compact_matches() -> int | None:
    """Re-lay the match rows in product order, once a night across all replicas."""
    services = runtime.services()
    if services.cache.claim_slot("search:compact", _COMPACT_SLOT_SECONDS) is None:
        log.info("match compaction already ran in this slot")
        return None
    moved = service.compact(services.db)
    log.info("match compaction done", moved=moved)
    return moved
