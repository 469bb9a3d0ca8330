"""Every HTTP route of the companies module (spec §2 and §3), in one place.

``/companies/search`` belongs to search and ``/images/{key}`` to moderation.
"""

from __future__ import annotations

from typing import Any

import falcon

from proveo.companies.forms import configure_multipart
from proveo.companies.http_catalogue import (
    CommuneItem,
    CommuneList,
    ProductItem,
    ProductList,
)
from proveo.companies.http_companies import (
    AdminCompanies,
    AdminCompany,
    Companies,
    Company,
    MyCompany,
)
from proveo.platform.http import route
from proveo.platform.runtime import Services

__all__ = ["install"]

API = "/api/v1"


def install(app: falcon.App[Any, Any], services: Services) -> None:
    """Mount the routes (plain ``{..._uuid}`` params, checked by ``parse_uuid``)."""
    configure_multipart(app)
    route(app, f"{API}/products", ProductList(services))
    route(app, f"{API}/products/{{product_uuid}}", ProductItem(services))
    route(app, f"{API}/communes", CommuneList(services))
    route(app, f"{API}/communes/{{commune_uuid}}", CommuneItem(services))
    route(app, f"{API}/companies", Companies(services))
    route(app, f"{API}/companies/{{company_uuid}}", Company(services))
    route(app, f"{API}/companies/user/my-company", MyCompany(services))
    route(app, f"{API}/companies/admin/all-companies", AdminCompanies(services))
    route(
        app, f"{API}/companies/admin/companies/{{company_uuid}}", AdminCompany(services)
    )
