"""Actors and event subscriptions of the companies module."""

from __future__ import annotations

import uuid
from typing import Any

from proveo import accounts
from proveo.companies import catalogue, service
from proveo.companies.data import CommuneChanged, ObjectsOrphaned, ProductChanged
from proveo.companies.wiring import current_cache
from proveo.platform import events, logs, queue, runtime
from proveo.platform.db import WriteTx

__all__ = ["delete_objects", "on_account_deleted"]

log = logs.get_logger("proveo.companies")


@queue.actor("companies.delete_objects", queue_name="default", max_retries=20)
def delete_objects(keys: list[str]) -> None:
    """Delete stored objects nothing refers to any more. Idempotent.

    Public renditions are content-addressed and may be shared by another company
    that published the same picture meanwhile: the moderation module deletes
    those under its claim lock, so they are skipped here.
    """
    private = [key for key in keys if not key.startswith("public/")]
    runtime.services().storage.delete_many(private)
    log.info("deleted orphaned objects", count=len(private))


events.after_commit(ObjectsOrphaned, "companies.delete_objects")


@events.in_transaction(accounts.AccountDeleted)
def on_account_deleted(tx: WriteTx, event: Any) -> None:
    """Delete (and archive) the departing user's company in the same transaction."""
    deleted = service.delete_companies_of_user(tx, uuid.UUID(event.user_id))
    tx.state[accounts.COMPANIES_DELETED_KEY] = (
        tx.state.get(accounts.COMPANIES_DELETED_KEY, 0) + deleted
    )


def _invalidate_after_commit(namespace: str) -> Any:
    def handler(tx: WriteTx, event: Any) -> None:
        cache = current_cache()
        if cache is not None:
            # After COMMIT, never inside: a reader could otherwise cache the
            # pre-commit list under the new version.
            tx.after_commit(lambda: cache.invalidate(namespace))

    return handler


events.in_transaction(ProductChanged)(
    _invalidate_after_commit(catalogue.PRODUCTS_CACHE)
)
events.in_transaction(CommuneChanged)(
    _invalidate_after_commit(catalogue.COMMUNES_CACHE)
)
