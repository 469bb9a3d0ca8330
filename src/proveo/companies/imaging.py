"""What an uploaded logo really is: type by magic bytes, size from the header.

Nothing here decodes pixels. JPEG and PNG headers are read with Pillow's lazy
``Image.open``; WebP headers are parsed directly because Pillow's WebP plugin
reads the whole file into memory on open.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO

from PIL import Image as PILImage

from proveo.platform.errors import Invalid

__all__ = ["MAX_PIXELS", "MAX_SIDE", "ImageInfo", "inspect"]

MAX_SIDE = 4000
MAX_PIXELS = 16_000_000

_TYPES = {
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "webp": ("image/webp", "webp"),
}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """The real type and size of an upload."""

    content_type: str
    extension: str
    width: int
    height: int


def _invalid(message: str) -> Invalid:
    return Invalid(message, fields={"body.image": [message]})


def sniff(head: bytes) -> str | None:
    """``jpeg``, ``png`` or ``webp`` from the first bytes, else ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _png_size(head: bytes) -> tuple[int, int]:
    """From IHDR, which the PNG format requires first (so before any decoding)."""
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise _invalid("Not a valid PNG image.")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _webp_size(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise _invalid("Not a valid WebP image.")


def _too_large() -> Invalid:
    return _invalid(
        f"The image must be at most {MAX_SIDE}x{MAX_SIDE} pixels and "
        f"{MAX_PIXELS // 1_000_000} megapixels."
    )


def _pillow_size(stream: IO[bytes], kind: str) -> tuple[int, int]:
    stream.seek(0)
    try:
        with PILImage.open(stream, formats=[kind.upper()]) as picture:
            width, height = picture.size
    # A header declaring more than twice Pillow's pixel cap: the size is the
    # problem, and the message should say so.
    except PILImage.DecompressionBombError as exc:
        raise _too_large() from exc
    # Pillow reports broken headers with many exception types (OSError,
    # SyntaxError, struct.error, ValueError, ...); for a hostile upload every
    # one of them means "not a valid image".
    except Exception as exc:
        raise _invalid(f"Not a valid {kind.upper()} image.") from exc
    return width, height


def inspect(stream: IO[bytes]) -> ImageInfo:
    """Check an upload is a JPEG, PNG or WebP within the size limits.

    Raises:
        Invalid: (``body.image``) another type, a broken header, or too large.
    """
    stream.seek(0)
    head = stream.read(64)
    kind = sniff(head)
    if kind is None:
        raise _invalid("The image must be a JPEG, PNG or WebP file.")
    if kind == "webp":
        width, height = _webp_size(head)
    elif kind == "png":
        width, height = _png_size(head)
    else:
        width, height = _pillow_size(stream, kind)
    if width < 1 or height < 1:
        raise _invalid("The image has no pixels.")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise _too_large()
    if kind == "png":  # within the limits: now check Pillow can read the header
        _pillow_size(stream, kind)
    stream.seek(0)
    content_type, extension = _TYPES[kind]
    return ImageInfo(content_type, extension, width, height)
