"""Turning request bodies and parameters into validated values, or precise errors."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import falcon
import marshmallow
from marshmallow import fields, validate

from proveo.platform.errors import (
    BadRequest,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)

__all__ = [
    "JSON_LIMIT",
    "MAX_JSON_DEPTH",
    "MAX_OFFSET",
    "Body",
    "Offset",
    "body_stream",
    "load_json",
    "load_query",
    "parse_uuid",
    "read_body",
    "read_json",
    "validation_fields",
]

JSON_LIMIT = 1024 * 1024

#: Larger page offsets are clamped to this. No list is that long, so the page
#: is the same (empty, with the true total), and the value stays inside
#: PostgreSQL's ``integer`` with any limit added.
MAX_OFFSET = 2_000_000_000
_MANY_DIGITS = re.compile(r"[0-9]{19,}")


class Offset(fields.Integer):
    """A page offset: any integer ≥ 0 (the spec sets no maximum), default 0."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("load_default", 0)
        super().__init__(strict=False, validate=validate.Range(min=0), **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> int:
        # Python refuses to parse integers of more than 4,300 digits; every
        # one of them is past the end anyway.
        if isinstance(value, str) and _MANY_DIGITS.fullmatch(value.strip()):
            return MAX_OFFSET
        return min(int(super()._deserialize(value, attr, data, **kwargs)), MAX_OFFSET)


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


class Body(Protocol):
    """A request body to read from: ``read(size)`` returns ``b""`` at its end."""

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left for ``None`` or a negative size)."""


class _Capped:
    """A body of unknown length (chunked), cut at ``limit`` bytes: 413 beyond."""

    def __init__(self, stream: Body, limit: int, too_large: str) -> None:
        self._stream = stream
        self._left = limit
        self._too_large = too_large

    def read(self, size: int | None = -1, /) -> bytes:
        wanted = self._left + 1 if size is None or size < 0 else size
        data = self._stream.read(min(wanted, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise PayloadTooLarge(self._too_large)
        return data


def body_stream(req: falcon.Request, limit: int, too_large: str = "") -> Body:
    """The request body as a stream of at most ``limit`` bytes (413 beyond).

    Falcon's ``bounded_stream`` trusts Content-Length only, so a chunked body
    would read as empty. The server must have decoded the chunks and marked
    the end (``wsgi.input_terminated``, as gunicorn does); such a body is cut
    at ``limit``. A declared length over the limit is refused at once.
    """
    too_large = too_large or f"Request body larger than {limit} bytes"
    length = req.content_length
    if length is not None:
        if length > limit:
            raise PayloadTooLarge(too_large)
        return req.bounded_stream
    chunked = "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
    if chunked and req.env.get("wsgi.input_terminated"):
        return _Capped(req.stream, limit, too_large)
    return io.BytesIO()


def read_body(req: falcon.Request, limit: int, too_large: str) -> bytes:
    """The whole body (Content-Length or chunked); 413 with ``too_large`` over ``limit``."""
    return body_stream(req, limit, too_large).read(limit + 1)


#: Deeper JSON is refused as malformed (400) before parsing: Python's parser
#: stops at a depth that depends on the interpreter (about 1,000 frames on 3.11,
#: more on 3.13), and our bodies are flat objects.
MAX_JSON_DEPTH = 512
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def _too_deep(raw: bytes) -> bool:
    """Whether arrays/objects nest deeper than ``MAX_JSON_DEPTH`` (strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False  # the common case, at C speed
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        depth += 1 if bracket[0] in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json(req: falcon.Request, *, required: bool = True) -> Any:
    """The parsed JSON body: 415 for another type, 413 over 1 MiB, 400 if malformed.

    ``NaN`` and ``Infinity`` (which Python's parser accepts) and nesting deeper
    than ``MAX_JSON_DEPTH`` are malformed JSON too.
    """
    raw = read_body(req, JSON_LIMIT, "JSON body larger than 1 MiB")
    if not raw.strip():
        if required:
            raise BadRequest("A JSON body is required")
        return {}
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType("Send the body as application/json")
    if _too_deep(raw):
        raise BadRequest("JSON body nested too deeply", code="BAD_REQUEST")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except RecursionError as exc:
        raise BadRequest("JSON body nested too deeply", code="BAD_REQUEST") from exc
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


# The hyphenated form only (any case): Python's UUID() also takes braces, a
# "urn:uuid:" prefix and 32 bare hex digits, which are not ids we hand out.
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I
)


def parse_uuid(value: str, name: str) -> uuid.UUID:
    """A path UUID, or 422 (spec §0.1: never 404 for a malformed id)."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise Invalid(
            "Invalid identifier", fields={f"path.{name}": ["Not a valid UUID."]}
        )
    return uuid.UUID(value)
