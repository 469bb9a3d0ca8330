"""Reading company forms: multipart with a streamed logo, or url-encoded.

Nothing is ever buffered whole: the logo is copied in small chunks into a
spooled temporary file (memory up to ``SPOOL_MEMORY``, then disk) with a byte
counter that stops at ``IMAGE_LIMIT`` (413), and every other part is read
against a small shared allowance. Only a form that was read to its closing
boundary is used, so a truncated upload never leaves anything behind.
"""

from __future__ import annotations

import tempfile
import urllib.parse
from dataclasses import dataclass, field
from typing import IO, Any

import falcon

from proveo.platform.errors import (
    BadRequest,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from proveo.platform.http import body_stream, read_body

__all__ = [
    "BODY_LIMIT",
    "IMAGE_LIMIT",
    "TEXT_ALLOWANCE",
    "Form",
    "configure_multipart",
    "read_form",
]

IMAGE_LIMIT = 10 * 1024 * 1024
TEXT_ALLOWANCE = 64 * 1024
#: Declared Content-Length beyond this is refused before anything is read.
BODY_LIMIT = IMAGE_LIMIT + TEXT_ALLOWANCE
SPOOL_MEMORY = 256 * 1024
CHUNK = 64 * 1024
MAX_PARTS = 24

TEXT_FIELDS = (
    "name",
    "commune_name",
    "product_name",
    "address",
    "phone",
    "email",
    "description_es",
    "description_en",
    "lang",
)


@dataclass
class Form:
    """The text fields (raw, not yet normalised) and the spooled logo, if any."""

    fields: dict[str, str] = field(default_factory=dict)
    image: IO[bytes] | None = None
    image_size: int = 0

    def close(self) -> None:
        """Drop the spooled logo (its temporary file, if it went to disk)."""
        if self.image is not None:
            self.image.close()
            self.image = None


def configure_multipart(app: falcon.App[Any, Any]) -> None:
    """Bound Falcon's multipart parser: few parts, small buffered parts."""
    handler = app.req_options.media_handlers[falcon.MEDIA_MULTIPART]
    options = handler.parse_options  # type: ignore[attr-defined]
    options.max_body_part_count = MAX_PARTS
    # Only text parts are ever buffered (``part.data``); we stream the rest.
    options.max_body_part_buffer_size = TEXT_ALLOWANCE
    options.max_body_part_headers_size = 8 * 1024


def _duplicate(name: str) -> Invalid:
    return Invalid(
        "A field was sent more than once",
        fields={f"body.{name}": ["Send this field only once."]},
    )


def _decode(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(
            "A field is not valid UTF-8", fields={f"body.{name}": ["Not valid UTF-8."]}
        ) from exc


class _Budget:
    """What is left of the allowance for everything but the logo."""

    def __init__(self) -> None:
        self.left = TEXT_ALLOWANCE

    def read(self, stream: Any) -> bytes:
        data: bytes = stream.read(self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise PayloadTooLarge("Form fields larger than 64 KiB in total")
        return data

    def drain(self, stream: Any) -> None:
        while True:
            chunk = stream.read(min(CHUNK, self.left + 1))
            if not chunk:
                return
            self.left -= len(chunk)
            if self.left < 0:
                raise PayloadTooLarge("Form fields larger than 64 KiB in total")


def _spool(stream: Any) -> tuple[IO[bytes], int]:
    spooled: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - returned
    size = 0
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > IMAGE_LIMIT:
                raise PayloadTooLarge("The image is larger than 10 MiB")
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled, size


def _part_name(part: Any) -> str | None:
    try:
        name = part.name
    except (UnicodeError, ValueError) as exc:
        raise BadRequest("Malformed multipart part headers") from exc
    return name if isinstance(name, str) else None


def _parts(req: falcon.Request) -> Any:
    """Falcon's multipart parser over the body, chunked or not (``body_stream``)."""
    handler = req.options.media_handlers[falcon.MEDIA_MULTIPART]
    # The parser wants a length; a chunked body is cut at the limit (413) anyway.
    length = req.content_length
    return handler.deserialize(
        body_stream(req, BODY_LIMIT),
        req.content_type,
        BODY_LIMIT + 1 if length is None else length,
    )


def _read_multipart(req: falcon.Request, allow_image: bool) -> Form:
    form = Form()
    budget = _Budget()
    try:
        for part in _parts(req):
            name = _part_name(part)
            if name == "image" and allow_image:
                if form.image is not None:
                    raise _duplicate("image")
                form.image, form.image_size = _spool(part.stream)
            elif name in TEXT_FIELDS:
                if name in form.fields:
                    raise _duplicate(name)
                form.fields[name] = _decode(name, budget.read(part.stream))
            else:  # unknown parts are skipped, within the allowance
                budget.drain(part.stream)
    except BaseException:
        form.close()
        raise
    return form


def _read_urlencoded(req: falcon.Request) -> Form:
    raw = read_body(req, TEXT_ALLOWANCE, "Form larger than 64 KiB")
    try:
        text = raw.decode("ascii")
        pairs = urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_PARTS,
        )
    except (UnicodeError, ValueError) as exc:
        raise BadRequest("Malformed url-encoded form") from exc
    form = Form()
    for name, value in pairs:
        if name in TEXT_FIELDS:
            if name in form.fields:
                raise _duplicate(name)
            form.fields[name] = value
    return form


def read_form(req: falcon.Request, *, allow_image: bool = True) -> Form:
    """Read a multipart or url-encoded company form (415 for other types)."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type == falcon.MEDIA_MULTIPART:
        return _read_multipart(req, allow_image)
    if media_type == falcon.MEDIA_URLENCODED:
        return _read_urlencoded(req)
    raise UnsupportedMediaType(
        "Send the form as multipart/form-data (or url-encoded without an image)"
    )
