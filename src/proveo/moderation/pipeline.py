"""Decode, check and re-encode an uploaded logo: pure functions, bytes in and out.

Every way an upload can be broken or hostile ends in ``BadImage`` (a
``DomainError``: the image is rejected, the job is not retried); nothing else
escapes. Pixels are never decoded before the header passed the size limits, so
memory stays bounded (16 MP at 4 bytes per pixel, plus a copy or two).

Choices (see docs/moderation.md):

* Animated images (APNG, animated WebP) are rejected: moderating only the first
  frame would let later frames through unchecked.
* The output keeps the input's format: JPEG at quality 90 (progressive,
  optimized), PNG at compression level 6, WebP at quality 90. Nothing from the
  original file is copied (no EXIF, XMP, ICC, text chunks, trailing bytes); the
  EXIF orientation is applied to the pixels first, and colour profiles are
  converted to sRGB when they can be.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps

from proveo.moderation.data import BadImage

__all__ = [
    "FORMATS",
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "Rendition",
    "for_classification",
    "open_checked",
    "render",
    "sniff",
]

MAX_SIDE = 4000
MAX_PIXELS = 16_000_000
#: Largest original the worker reads (the upload limit is 10 MB of content).
MAX_BYTES = 10 * 1024 * 1024

# Pillow raises DecompressionBombError above twice this, warns above it; the
# explicit checks in ``open_checked`` come first and are stricter anyway.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False

#: Pillow format name → (content type, extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}

_JPEG_OPTIONS = {"quality": 90, "optimize": True, "progressive": True}
_PNG_OPTIONS = {"compress_level": 6}
_WEBP_OPTIONS = {"quality": 90, "method": 4}
_TOO_LARGE = (
    f"Images of at most {MAX_SIDE}x{MAX_SIDE} pixels and "
    f"{MAX_PIXELS // 1_000_000} megapixels are accepted."
)
_SRGB = ImageCms.createProfile("sRGB")
#: Modes each output format stores as they are; others are converted.
_KEEP_MODES = {
    "JPEG": ("L", "RGB"),
    "PNG": ("1", "L", "LA", "RGB", "RGBA"),
    "WEBP": ("RGB", "RGBA"),
}


@dataclass(frozen=True, slots=True)
class Rendition:
    """The re-encoded image that may be published, named by its content."""

    data: bytes
    content_type: str
    extension: str
    sha256: str
    width: int
    height: int

    @property
    def key(self) -> str:
        """The content-addressed storage key ``public/<sha256>.<ext>``."""
        return f"public/{self.sha256}.{self.extension}"


def sniff(data: bytes) -> str:
    """The Pillow format name from the magic bytes (``BadImage`` otherwise)."""
    if not data:
        raise BadImage("The image file is empty.")
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise BadImage("The file is not a JPEG, PNG or WebP image.")


def open_checked(data: bytes) -> Image.Image:
    """Open lazily and check format, size and frames; no pixel is decoded yet."""
    if len(data) > MAX_BYTES:
        raise BadImage("The image file is larger than 10 MB.")
    kind = sniff(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size
            frames = int(getattr(image, "n_frames", 1) or 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(_TOO_LARGE) from exc
    # Pillow signals broken headers with many exception types (OSError,
    # SyntaxError, struct.error, ValueError, EOFError, DecompressionBomb*...).
    except Exception as exc:
        raise BadImage(f"The file is not a readable {kind} image.") from exc
    if width < 1 or height < 1:
        raise BadImage("The image has no pixels.")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise BadImage(f"The image is {width}x{height} pixels. {_TOO_LARGE}")
    if frames > 1 or getattr(image, "is_animated", False):
        raise BadImage("Animated images are not accepted.")
    return image


def _load(image: Image.Image) -> Image.Image:
    """Decode the pixels and apply the EXIF orientation."""
    fmt = image.format or "image"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            oriented = ImageOps.exif_transpose(image)
    except Exception as exc:
        raise BadImage(f"The {fmt} image is truncated or corrupt.") from exc
    return oriented if oriented is not None else image


def for_classification(data: bytes) -> Image.Image:
    """The decoded, upright RGB picture the classifier scores.

    JPEGs decode at reduced scale (``draft``): the model only sees 256x256, and
    a 12 MP JPEG then decodes about 3 times faster.
    """
    from proveo.moderation.classifier import prepare

    image = open_checked(data)
    try:
        prepare(image)
    except Exception as exc:
        raise BadImage("The JPEG image is corrupt.") from exc
    picture = _load(image)
    try:
        return _to_rgb(picture)
    except Exception as exc:
        raise BadImage("The image's colours cannot be decoded.") from exc


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit (or 32-bit) greyscale → 8-bit, keeping the full range."""
    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
    scaled = np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8)
    return Image.fromarray(scaled, "L")


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert from an embedded colour profile to sRGB; unchanged if impossible."""
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        if image.mode == "L":
            return image  # greyscale profiles: the grey values are kept
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=out_mode)
    except Exception:  # broken or exotic profile: keep the raw values
        return image
    return converted if converted is not None else image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _scale_to_8bit(image)
    return image if image.mode == "RGB" else image.convert("RGB")


def _normalise(image: Image.Image, fmt: str) -> Image.Image:
    """A mode the output format stores faithfully, colours in sRGB."""
    icc = image.info.get("icc_profile")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _scale_to_8bit(image)
    elif image.mode == "P" or image.mode == "PA":
        has_alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif image.mode in ("1", "LA", "La", "RGBa") and fmt != "PNG":
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    image = _to_srgb(image, icc if isinstance(icc, bytes) else None)
    if image.mode == "CMYK":
        image = image.convert("RGB")
    if image.mode not in _KEEP_MODES[fmt]:
        image = image.convert("RGBA" if "A" in image.mode and fmt != "JPEG" else "RGB")
    return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    clean = image.copy()
    clean.info = {}  # nothing of the original's metadata may follow the pixels
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, format="JPEG", **_JPEG_OPTIONS)
    elif fmt == "PNG":
        clean.save(out, format="PNG", **_PNG_OPTIONS)
    else:
        clean.save(out, format="WEBP", **_WEBP_OPTIONS)
    return out.getvalue()


def render(data: bytes) -> Rendition:
    """Re-encode an upload into the bytes that will be published."""
    image = open_checked(data)
    fmt = image.format or sniff(data)
    picture = _load(image)
    try:
        normalised = _normalise(picture, fmt)
        encoded = _encode(normalised, fmt)
    except BadImage:
        raise
    except Exception as exc:
        raise BadImage("The image could not be re-encoded.") from exc
    content_type, extension = FORMATS[fmt]
    return Rendition(
        data=encoded,
        content_type=content_type,
        extension=extension,
        sha256=hashlib.sha256(encoded).hexdigest(),
        width=normalised.width,
        height=normalised.height,
    )
