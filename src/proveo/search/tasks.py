"""Search subscribes to companies' events inside the writing transaction.

A committed create, update or delete is therefore searchable at once: no refresh
job, no lag beyond replication.
"""

from __future__ import annotations

import uuid

from proveo import companies
from proveo.platform import events
from proveo.platform.db import WriteTx
from proveo.search import service


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
