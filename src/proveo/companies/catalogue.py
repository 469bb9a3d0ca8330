"""Reference data use cases: products and communes (admin CRUD, audited).

Every change publishes ``ProductChanged`` / ``CommuneChanged``; the cached
public lists are invalidated after COMMIT by the subscriber ``wiring`` installs,
and search keeps company documents in step by subscribing too.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from proveo.companies import store
from proveo.companies.data import Commune, CommuneChanged, Product, ProductChanged
from proveo.companies.keys import name_key
from proveo.platform import audit
from proveo.platform.db import ReadTx, WriteTx

__all__ = [
    "COMMUNES_CACHE",
    "PRODUCTS_CACHE",
    "create_commune",
    "create_product",
    "delete_commune",
    "delete_product",
    "ensure_commune",
    "ensure_product",
    "get_commune",
    "get_product",
    "list_communes",
    "list_products",
    "update_commune",
    "update_product",
]

#: Cache namespaces of the public lists.
PRODUCTS_CACHE = "companies.products"
COMMUNES_CACHE = "companies.communes"


def _plain(item: Product | Commune) -> dict[str, Any]:
    return {
        key: str(value) if isinstance(value, uuid.UUID | datetime) else value
        for key, value in dataclasses.asdict(item).items()
    }


def _changed(
    tx: WriteTx,
    action: str,
    item: Product | Commune,
    *,
    actor_id: uuid.UUID | None,
    before: Product | Commune | None = None,
) -> None:
    """Audit one change and tell the subscribers (public lists, search).

    ``action`` is ``"<product|commune>.<create|update|delete>"``; ``item`` is
    the state after the change, or for a deletion the state that was deleted.
    """
    target_type, verb = action.split(".")
    after: Product | Commune | None = item
    if verb == "delete":
        before, after = item, None
    audit.record(
        tx,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(item.id),
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
    )
    if isinstance(item, Product):
        tx.publish(ProductChanged(product_id=str(item.id)))
    else:
        tx.publish(CommuneChanged(commune_id=str(item.id)))


def list_products(tx: ReadTx) -> list[Product]:
    """Every product, ordered by English name ignoring case and accents."""
    return store.list_products(tx)


def get_product(tx: ReadTx, product_id: uuid.UUID) -> Product:
    """The product, or ``ProductNotFound``."""
    return store.get_product(tx, product_id)


def _product_values(name_es: str, name_en: str) -> dict[str, Any]:
    return {
        "name_es": name_es,
        "name_en": name_en,
        "name_es_key": name_key(name_es),
        "name_en_key": name_key(name_en),
    }


def create_product(
    tx: WriteTx, *, name_es: str, name_en: str, actor_id: uuid.UUID | None
) -> Product:
    """Add a product. Raises ``DuplicateName`` when either name is taken."""
    product = store.insert_product(
        tx, {"id": uuid.uuid4(), **_product_values(name_es, name_en)}
    )
    _changed(tx, "product.create", product, actor_id=actor_id)
    return product


def update_product(
    tx: WriteTx,
    product_id: uuid.UUID,
    *,
    name_es: str,
    name_en: str,
    actor_id: uuid.UUID | None,
) -> Product:
    """Rename a product. Raises ``ProductNotFound`` / ``DuplicateName``."""
    before = store.get_product(tx, product_id, lock=True)
    product = store.update_product(tx, product_id, _product_values(name_es, name_en))
    _changed(tx, "product.update", product, actor_id=actor_id, before=before)
    return product


def delete_product(
    tx: WriteTx, product_id: uuid.UUID, *, actor_id: uuid.UUID | None
) -> Product:
    """Delete an unused product. Raises ``ProductNotFound`` / ``ProductInUse``."""
    product = store.get_product(tx, product_id, lock=True)
    store.delete_product(tx, product_id)
    _changed(tx, "product.delete", product, actor_id=actor_id)
    return product


def ensure_product(tx: WriteTx, *, name_es: str, name_en: str) -> Product:
    """The product named ``name_es`` (created if missing): idempotent seeding."""
    found = store.find_product_by_key(tx, name_key(name_es), "es")
    if found is not None:
        return found
    return create_product(tx, name_es=name_es, name_en=name_en, actor_id=None)


def list_communes(tx: ReadTx) -> list[Commune]:
    """Every commune, ordered by name ignoring case and accents."""
    return store.list_communes(tx)


def get_commune(tx: ReadTx, commune_id: uuid.UUID) -> Commune:
    """The commune, or ``CommuneNotFound``."""
    return store.get_commune(tx, commune_id)


def create_commune(tx: WriteTx, *, name: str, actor_id: uuid.UUID | None) -> Commune:
    """Add a commune. Raises ``DuplicateName`` when the name is taken."""
    commune = store.insert_commune(
        tx, {"id": uuid.uuid4(), "name": name, "name_key": name_key(name)}
    )
    _changed(tx, "commune.create", commune, actor_id=actor_id)
    return commune


def update_commune(
    tx: WriteTx, commune_id: uuid.UUID, *, name: str, actor_id: uuid.UUID | None
) -> Commune:
    """Rename a commune. Raises ``CommuneNotFound`` / ``DuplicateName``."""
    before = store.get_commune(tx, commune_id, lock=True)
    commune = store.update_commune(
        tx, commune_id, {"name": name, "name_key": name_key(name)}
    )
    _changed(tx, "commune.update", commune, actor_id=actor_id, before=before)
    return commune


def delete_commune(
    tx: WriteTx, commune_id: uuid.UUID, *, actor_id: uuid.UUID | None
) -> Commune:
    """Delete an unused commune. Raises ``CommuneNotFound`` / ``CommuneInUse``."""
    commune = store.get_commune(tx, commune_id, lock=True)
    store.delete_commune(tx, commune_id)
    _changed(tx, "commune.delete", commune, actor_id=actor_id)
    return commune


def ensure_commune(tx: WriteTx, *, name: str) -> Commune:
    """The commune named ``name`` (created if missing): idempotent seeding."""
    found = store.find_commune_by_key(tx, name_key(name))
    if found is not None:
        return found
    return create_commune(tx, name=name, actor_id=None)
