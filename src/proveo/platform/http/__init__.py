"""HTTP plumbing shared by every module: parsing, errors, auth guards, OpenAPI."""

from proveo.platform.http.auth import (
    Authenticator,
    Principal,
    current_principal,
    require,
)
from proveo.platform.http.openapi import doc, route
from proveo.platform.http.params import (
    Offset,
    body_stream,
    load_json,
    load_query,
    parse_uuid,
    read_body,
)

__all__ = [
    "Authenticator",
    "Offset",
    "Principal",
    "body_stream",
    "current_principal",
    "doc",
    "load_json",
    "load_query",
    "parse_uuid",
    "read_body",
    "require",
    "route",
]
