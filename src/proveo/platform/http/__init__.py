"""HTTP plumbing shared by every module: parsing, errors, auth guards, OpenAPI."""

from proveo.platform.http.auth import (
    Authenticator,
    Principal,
    current_principal,
    require,
)
from proveo.platform.http.openapi import doc, route
from proveo.platform.http.params import load_json, load_query, parse_uuid

__all__ = [
    "Authenticator",
    "Principal",
    "current_principal",
    "doc",
    "load_json",
    "load_query",
    "parse_uuid",
    "require",
    "route",
]
