"""Turning request bodies and parameters into validated values, or precise errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import falcon
import marshmallow

from proveo.platform.errors import (
    BadRequest,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)

__all__ = [
    "JSON_LIMIT",
    "load_json",
    "load_query",
    "parse_uuid",
    "read_json",
    "validation_fields",
]

JSON_LIMIT = 1024 * 1024


def validation_fields(messages: Any, prefix: str) -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into ``{"body.email": [...]}``."""
    out: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if key != "_schema" else path)
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            out.setdefault(path, []).extend(node)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}.{index}")
        else:
            out.setdefault(path, []).append(str(node))

    walk(messages, prefix)
    return out


def read_json(req: falcon.Request, *, required: bool = True) -> Any:
    """The parsed JSON body: 415 for another type, 413 over 1 MiB, 400 if malformed."""
    length = req.content_length
    if length is not None and length > JSON_LIMIT:
        raise PayloadTooLarge("JSON body larger than 1 MiB")
    raw = req.bounded_stream.read(JSON_LIMIT + 1)
    if len(raw) > JSON_LIMIT:
        raise PayloadTooLarge("JSON body larger than 1 MiB")
    if not raw.strip():
        if required:
            raise BadRequest("A JSON body is required")
        return {}
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType("Send the body as application/json")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("Malformed JSON body", code="BAD_REQUEST") from exc


def load_json(
    schema: marshmallow.Schema, req: falcon.Request, *, required: bool = True
) -> Any:
    """Parse and validate the JSON body with ``schema`` (422 names each field)."""
    data = read_json(req, required=required)
    if not isinstance(data, dict):
        raise Invalid(
            "The body must be a JSON object", fields={"body": ["Must be an object."]}
        )
    try:
        return schema.load(data)
    except marshmallow.ValidationError as exc:
        raise Invalid(
            "Invalid request body", fields=validation_fields(exc.messages, "body")
        ) from exc


def load_query(schema: marshmallow.Schema, req: falcon.Request) -> Any:
    """Validate query parameters with ``schema`` (422 names each parameter)."""
    params: dict[str, Any] = {}
    for key, value in req.params.items():
        params[key] = value[-1] if isinstance(value, list) else value
    try:
        return schema.load(params)
    except marshmallow.ValidationError as exc:
        raise Invalid(
            "Invalid query parameters", fields=validation_fields(exc.messages, "query")
        ) from exc


def parse_uuid(value: str, name: str) -> uuid.UUID:
    """A path UUID, or 422 (spec §0.1: never 404 for a malformed id)."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as exc:
        raise Invalid(
            "Invalid identifier", fields={f"path.{name}": ["Not a valid UUID."]}
        ) from exc
