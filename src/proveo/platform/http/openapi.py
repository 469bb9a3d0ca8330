"""OpenAPI 3.1 generated from the marshmallow schemas the responders declare.

Responders are annotated with ``@doc(...)``; modules add routes with
``route(app, template, resource)``, which registers the route with Falcon and
remembers it for the document. ``/docs`` is Swagger UI and ``/redoc`` ReDoc,
both served from packaged assets (no CDN).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import falcon
import marshmallow
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

__all__ = ["ApiDoc", "build_spec", "doc", "route"]

F = TypeVar("F", bound=Callable[..., Any])
# Routes per app (Falcon's App has __slots__, so the list cannot live on it).
_documented: dict[int, list[tuple[str, object, str]]] = {}
_PARAM = re.compile(r"{(\w+)(?::(\w+))?[^}]*}")
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    304: "Not Modified",
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation error",
    429: "Rate limited",
    503: "Service unavailable",
}


@dataclass
class ApiDoc:
    """What ``@doc`` records on a responder."""

    summary: str
    tags: Sequence[str] = ()
    body: Any = None
    body_type: str = "application/json"
    query: Any = None
    out: Any = None
    status: int = 200
    out_type: str = "application/json"
    errors: Sequence[int] = (422,)
    auth: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def doc(summary: str, **kwargs: Any) -> Callable[[F], F]:
    """Describe a responder for the OpenAPI document."""

    def wrap(fn: F) -> F:
        fn.__apidoc__ = ApiDoc(summary=summary, **kwargs)  # type: ignore[attr-defined]
        return fn

    return wrap


def route(
    app: falcon.App[Any, Any], template: str, resource: object, **kwargs: Any
) -> None:
    """Add a route and remember it for the OpenAPI document."""
    app.add_route(template, resource, **kwargs)
    routes = _documented.setdefault(id(app), [])
    routes.append((template, resource, kwargs.get("suffix") or ""))


def _path_schema(name: str) -> dict[str, str]:
    """Identifiers named ``*uuid`` / ``id`` / ``*_id`` are UUIDs (422 otherwise)."""
    if name == "id" or name.endswith(("uuid", "_id")):
        return {"type": "string", "format": "uuid"}
    return {"type": "string"}


def _schema_ref(spec: APISpec, schema: Any) -> Any:
    if schema is None:
        return None
    if isinstance(schema, dict):
        return schema
    many = isinstance(schema, marshmallow.Schema) and schema.many
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=cls)
    ref = {"$ref": f"#/components/schemas/{name}"}
    return {"type": "array", "items": ref} if many else ref


def build_spec(
    app: falcon.App[Any, Any], *, title: str, version: str, error_schema: type
) -> dict[str, Any]:
    """The OpenAPI document for every route added with ``route``."""
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
    )
    spec.components.schema("Error", schema=error_schema)
    spec.components.security_scheme(
        "cookieAuth", {"type": "apiKey", "in": "cookie", "name": "access_token"}
    )
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    error_ref = {"$ref": "#/components/schemas/Error"}
    for template, resource, suffix in _documented.get(id(app), []):
        params = [
            {"in": "path", "name": name, "required": True, "schema": _path_schema(name)}
            for name, _conv in _PARAM.findall(template)
        ]
        operations: dict[str, Any] = {}
        for verb in ("get", "head", "post", "put", "patch", "delete"):
            responder = getattr(
                resource, f"on_{verb}{'_' + suffix if suffix else ''}", None
            )
            meta: ApiDoc | None = getattr(responder, "__apidoc__", None)
            if meta is None:
                continue
            op: dict[str, Any] = {"summary": meta.summary, "tags": list(meta.tags)}
            op_params = list(params)
            if meta.query is not None:
                op_params.append({"in": "query", "schema": meta.query})
            if op_params:
                op["parameters"] = op_params
            success: dict[str, Any] = {
                "description": _STATUS_TEXT.get(meta.status, "OK")
            }
            out = _schema_ref(spec, meta.out)
            if out is not None:
                success["content"] = {meta.out_type: {"schema": out}}
            elif meta.out_type != "application/json":
                success["content"] = {meta.out_type: {"schema": {"type": "string"}}}
            op["responses"] = {str(meta.status): success}
            codes = set(meta.errors) | {500}
            if (
                meta.body is not None
            ):  # every body can be malformed, too big or mistyped
                codes |= {400, 413, 415, 422}
            if meta.auth:
                codes |= {401, 403}
                op["security"] = [{"cookieAuth": []}, {"bearerAuth": []}]
            for code in sorted(codes):
                op["responses"][str(code)] = {
                    "description": _STATUS_TEXT.get(code, "Error"),
                    "content": {"application/json": {"schema": error_ref}},
                }
            if meta.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        meta.body_type: {"schema": _schema_ref(spec, meta.body)}
                    },
                }
            operations[verb] = op
        if operations:
            path = _PARAM.sub(lambda m: "{" + m[1] + "}", template)
            spec.path(path=path, operations=operations, parameters=[])
    return spec.to_dict()
