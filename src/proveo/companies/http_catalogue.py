"""HTTP resources of the reference data: ``/products`` and ``/communes``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import falcon

from proveo import accounts
from proveo.companies import catalogue, schemas, store
from proveo.companies.translation import translate_or_copy
from proveo.companies.wiring import TRANSLATOR
from proveo.platform.http import doc, load_json, parse_uuid, require
from proveo.platform.runtime import Services

__all__ = ["CommuneItem", "CommuneList", "ProductItem", "ProductList"]

#: Lists live 72 h in Redis; every change invalidates them (versioned keys).
LIST_TTL = 72 * 3600
TAGS = ["reference data"]


class _CachedList:
    """A public list served from the cache with an ETag and ``max-age=60``."""

    namespace = ""

    def __init__(self, services: Services) -> None:
        self._db = services.db
        self._cache = services.cache

    def _load(self) -> dict[str, Any]:
        # The primary, not the replica: a list loaded from a lagging replica
        # after an invalidation would be cached stale for the whole TTL.
        with store.primary_read(self._db) as tx:
            items = self._items(tx)
        body = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
        etag = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
        return {"etag": etag, "body": body}

    def _items(self, tx: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def respond(self, req: falcon.Request, resp: falcon.Response) -> None:
        entry = self._cache.get_or_load(self.namespace, "all", self._load, LIST_TTL)
        etag = f'"{entry["etag"]}"'
        resp.etag = etag
        resp.cache_control = ["public", "max-age=60"]
        if _matches(req.get_header("If-None-Match"), etag):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = falcon.MEDIA_JSON
        resp.text = entry["body"]


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _translated_pair(
    services: Services, name_es: str | None, name_en: str | None
) -> tuple[str, str]:
    """Fill the missing name by machine translation (a copy when that fails)."""
    translator = services.extras[TRANSLATOR]

    def fill(text: str, source: str, target: str) -> str:
        return translate_or_copy(
            translator,
            text,
            source=source,
            target=target,
            clean=accounts.clean_name,
            limit=100,
        )

    if name_es is None:
        assert name_en is not None
        name_es = fill(name_en, "en", "es")
    if name_en is None:
        name_en = fill(name_es, "es", "en")
    return name_es, name_en


class ProductList(_CachedList):
    """``GET|POST /products``."""

    namespace = catalogue.PRODUCTS_CACHE

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._services = services

    def _items(self, tx: Any) -> list[dict[str, Any]]:
        return [schemas.product_view(p) for p in catalogue.list_products(tx)]

    @doc("All products, by English name", tags=TAGS, out=schemas.ProductOut(many=True))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.respond(req, resp)

    @doc(
        "Add a product (admin)",
        tags=TAGS,
        body=schemas.ProductIn,
        out=schemas.ProductOut,
        status=201,
        errors=(400, 409, 413, 415, 422),
        auth=True,
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req, admin=True)
        data = load_json(schemas.ProductIn(), req)
        name_es, name_en = _translated_pair(
            self._services, data["name_es"], data["name_en"]
        )
        with self._db.write() as tx:
            product = catalogue.create_product(
                tx, name_es=name_es, name_en=name_en, actor_id=principal.user_id
            )
        resp.status = falcon.HTTP_201
        resp.media = schemas.product_view(product)


class ProductItem:
    """``PUT|DELETE /products/{product_uuid}``."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._db = services.db

    @doc(
        "Rename a product (admin)",
        tags=TAGS,
        body=schemas.ProductIn,
        out=schemas.ProductOut,
        errors=(400, 404, 409, 413, 415, 422),
        auth=True,
    )
    def on_put(
        self, req: falcon.Request, resp: falcon.Response, product_uuid: str
    ) -> None:
        principal = require(req, admin=True)
        product_id = parse_uuid(product_uuid, "product_uuid")
        data = load_json(schemas.ProductIn(), req)
        name_es, name_en = _translated_pair(
            self._services, data["name_es"], data["name_en"]
        )
        with self._db.write() as tx:
            product = catalogue.update_product(
                tx,
                product_id,
                name_es=name_es,
                name_en=name_en,
                actor_id=principal.user_id,
            )
        resp.media = schemas.product_view(product)

    @doc(
        "Delete an unused product (admin)",
        tags=TAGS,
        out=schemas.ProductDeletedOut,
        errors=(404, 409, 422),
        auth=True,
    )
    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, product_uuid: str
    ) -> None:
        principal = require(req, admin=True)
        product_id = parse_uuid(product_uuid, "product_uuid")
        with self._db.write() as tx:
            product = catalogue.delete_product(
                tx, product_id, actor_id=principal.user_id
            )
        resp.media = {
            "message": "Product deleted",
            "uuid": str(product.id),
            "name_es": product.name_es,
            "name_en": product.name_en,
        }


class CommuneList(_CachedList):
    """``GET|POST /communes``."""

    namespace = catalogue.COMMUNES_CACHE

    def _items(self, tx: Any) -> list[dict[str, Any]]:
        return [schemas.commune_view(c) for c in catalogue.list_communes(tx)]

    @doc("All communes, by name", tags=TAGS, out=schemas.CommuneOut(many=True))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.respond(req, resp)

    @doc(
        "Add a commune (admin)",
        tags=TAGS,
        body=schemas.CommuneIn,
        out=schemas.CommuneOut,
        status=201,
        errors=(400, 409, 413, 415, 422),
        auth=True,
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req, admin=True)
        data = load_json(schemas.CommuneIn(), req)
        with self._db.write() as tx:
            commune = catalogue.create_commune(
                tx, name=data["name"], actor_id=principal.user_id
            )
        resp.status = falcon.HTTP_201
        resp.media = schemas.commune_view(commune)


class CommuneItem:
    """``PUT|DELETE /communes/{commune_uuid}``."""

    def __init__(self, services: Services) -> None:
        self._db = services.db

    @doc(
        "Rename a commune (admin)",
        tags=TAGS,
        body=schemas.CommuneIn,
        out=schemas.CommuneOut,
        errors=(400, 404, 409, 413, 415, 422),
        auth=True,
    )
    def on_put(
        self, req: falcon.Request, resp: falcon.Response, commune_uuid: str
    ) -> None:
        principal = require(req, admin=True)
        commune_id = parse_uuid(commune_uuid, "commune_uuid")
        data = load_json(schemas.CommuneIn(), req)
        with self._db.write() as tx:
            commune = catalogue.update_commune(
                tx, commune_id, name=data["name"], actor_id=principal.user_id
            )
        resp.media = schemas.commune_view(commune)

    @doc(
        "Delete an unused commune (admin)",
        tags=TAGS,
        out=schemas.CommuneDeletedOut,
        errors=(404, 409, 422),
        auth=True,
    )
    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, commune_uuid: str
    ) -> None:
        principal = require(req, admin=True)
        commune_id = parse_uuid(commune_uuid, "commune_uuid")
        with self._db.write() as tx:
            commune = catalogue.delete_commune(
                tx, commune_id, actor_id=principal.user_id
            )
        resp.media = {
            "message": "Commune deleted",
            "uuid": str(commune.id),
            "name": commune.name,
        }
