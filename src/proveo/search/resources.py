"""``GET /api/v1/companies/search``."""

from __future__ import annotations

from typing import Any

import falcon

from proveo import accounts
from proveo.platform.http import doc, load_query, route
from proveo.platform.runtime import Services
from proveo.search import service
from proveo.search.data import SearchQuery
from proveo.search.schemas import SearchItemOut, SearchQueryIn

__all__ = ["install"]


def _clean(value: str | None) -> str | None:
    """Normalise like every other text input (spec §0.4); blank means absent."""
    if value is None:
        return None
    return accounts.normalize_text(value) or None


# One instance for every request: building a Schema deep-copies its fields.
_QUERY_SCHEMA = SearchQueryIn()


class CompanySearch:
    """Full text + typo-tolerant search over companies (spec §4)."""

    def __init__(self, services: Services) -> None:
        self._db = services.db
        self._cache = services.cache if services.settings.search_cache else None
        self._public_url = services.settings.public_url

    @doc(
        "Search companies",
        tags=["search"],
        query=SearchQueryIn,
        out=SearchItemOut(many=True),
        errors=(422,),
        headers={"X-Total-Count": "total number of matches"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        params: dict[str, Any] = load_query(_QUERY_SCHEMA, req)
        query = SearchQuery(
            q=_clean(params["q"]),
            commune=_clean(params["commune"]),
            product=_clean(params["product"]),
            lang=params["lang"],
            limit=params["limit"],
            offset=params["offset"],
        )
        # Statements need not share a snapshot (see service.search), so skip
        # BEGIN/ROLLBACK: two round trips of a ~1 ms request.
        with self._db.read(autocommit=True) as tx:
            page = service.search(tx, query, cache=self._cache)
        resp.set_header("X-Total-Count", str(page.total))
        resp.media = [
            {
                "uuid": str(hit.company_id),
                "name": hit.name,
                "description": hit.description,
                "address": hit.address,
                "email": hit.email,
                "phone": hit.phone,
                "img_url": f"{self._public_url}/images/{hit.image_key}"
                if hit.image_key
                else None,
                "product_name": hit.product_name,
                "commune_name": hit.commune_name,
            }
            for hit in page.items
        ]


def install(app: falcon.App[Any, Any], services: Services) -> None:
    """Mount the search route."""
    route(app, "/api/v1/companies/search", CompanySearch(services))
