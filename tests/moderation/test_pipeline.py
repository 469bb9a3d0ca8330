"""The pure decode/check/re-encode functions against broken and hostile files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from proveo.moderation import pipeline
from proveo.moderation.data import BadImage
from tests.moderation.helpers import encode
from tests.moderation.images import make_benign_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png(width: int, height: int, *, depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` with a tiny IDAT."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def _rejected(data: bytes) -> str:
    for function in (pipeline.for_classification, pipeline.render):
        with pytest.raises(BadImage) as caught:
            function(data)
    return caught.value.message


def test_zero_bytes_and_foreign_formats_are_rejected() -> None:
    assert "empty" in _rejected(b"")
    assert "not a JPEG" in _rejected(b"GIF89a" + b"\x00" * 100)
    assert "not a JPEG" in _rejected(b"<html><script>alert(1)</script></html>")
    gif = encode(make_benign_image(), "GIF")
    assert "not a JPEG" in _rejected(gif)


def test_truncated_and_malformed_files_are_rejected() -> None:
    jpeg = encode(make_benign_image(), "JPEG")
    assert "truncated or corrupt" in _rejected(jpeg[: len(jpeg) // 2])
    png = encode(make_benign_image(), "PNG")
    _rejected(png[: len(png) - 40])
    _rejected(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)  # PNG magic, garbage after
    webp = encode(make_benign_image(), "WEBP")
    _rejected(webp[: len(webp) // 2])


def test_declared_sizes_are_checked_before_any_decoding() -> None:
    # Decompression bombs: a few hundred bytes claiming 400 MP or 1.6 GP.
    assert "at most 4000x4000 pixels" in _rejected(_png(20_000, 20_000))
    assert "at most 4000x4000 pixels" in _rejected(_png(40_000, 40_000, depth=16))
    assert "at most 4000x4000" in _rejected(_png(4001, 10))
    assert "at most 4000x4000" in _rejected(_png(10, 4001))
    # 4000x4000 is allowed by the side limit but the pixel limit is 16 MP: fine;
    # 4000x4001 is not.
    assert "at most 4000x4000" in _rejected(_png(4000, 4001))


def test_too_large_files_are_rejected() -> None:
    data = encode(make_benign_image(), "PNG") + b"\x00" * (pipeline.MAX_BYTES + 1)
    assert "larger than 10 MB" in _rejected(data)


def test_animated_images_are_rejected() -> None:
    frames = [make_benign_image(), make_benign_image().rotate(180)]
    apng = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    webp = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])
    assert "Animated" in _rejected(apng)
    assert "Animated" in _rejected(webp)


def test_polyglot_payloads_do_not_survive_re_encoding() -> None:
    jpeg = encode(make_benign_image(), "JPEG")
    payload = b"<script>alert(document.cookie)</script>PK\x03\x04zipzip"
    rendition = pipeline.render(jpeg + payload)
    assert payload not in rendition.data
    assert b"<script>" not in rendition.data
    assert rendition.content_type == "image/jpeg"


def test_format_follows_content_not_name() -> None:
    png = encode(make_benign_image(), "PNG")
    rendition = pipeline.render(png)
    assert (rendition.extension, rendition.content_type) == ("png", "image/png")
    assert rendition.key == f"public/{rendition.sha256}.png"


def test_metadata_is_stripped_and_orientation_applied() -> None:
    picture = Image.new("RGB", (40, 20), (250, 250, 250))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(picture, "JPEG", exif=exif.tobytes(), icc_profile=icc)
    rendition = pipeline.render(data)
    assert (rendition.width, rendition.height) == (20, 40)
    assert b"SecretCam" not in rendition.data
    with Image.open(io.BytesIO(rendition.data)) as out:
        assert out.size == (20, 40)
        assert "exif" not in out.info
        assert "icc_profile" not in out.info
        assert out.info.get("progressive") or out.info.get("progression")
    upright = pipeline.for_classification(data)
    assert upright.size[0] < upright.size[1]


def test_png_text_chunks_are_stripped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "owner-home-address")
    data = encode(make_benign_image(), "PNG", pnginfo=info)
    rendition = pipeline.render(data)
    assert b"owner-home-address" not in rendition.data


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encode(make_benign_image().convert("CMYK"), "JPEG")
    rendition = pipeline.render(data)
    with Image.open(io.BytesIO(rendition.data)) as out:
        assert out.mode == "RGB"
    assert pipeline.for_classification(data).mode == "RGB"


def test_sixteen_bit_png_keeps_its_range() -> None:
    ramp = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 257).astype(np.uint16)
    data = encode(Image.fromarray(ramp), "PNG")
    with Image.open(io.BytesIO(data)) as source:
        assert source.mode.startswith("I")
    rendition = pipeline.render(data)
    with Image.open(io.BytesIO(rendition.data)) as out:
        assert out.mode == "L"
        values = np.asarray(out)
    assert values.min() == 0 and values.max() == 255
    assert pipeline.for_classification(data).mode == "RGB"


def test_palette_png_with_transparency_keeps_alpha() -> None:
    picture = Image.new("P", (32, 32), 0)
    picture.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    picture.paste(1, (8, 8, 24, 24))
    data = encode(picture, "PNG", transparency=0)
    rendition = pipeline.render(data)
    with Image.open(io.BytesIO(rendition.data)) as out:
        assert out.mode == "RGBA"
        assert out.getpixel((0, 0))[3] == 0
        assert out.getpixel((16, 16)) == (0, 255, 0, 255)


def test_webp_stays_webp_and_output_is_deterministic() -> None:
    data = encode(make_benign_image(), "WEBP", lossless=True)
    first, second = pipeline.render(data), pipeline.render(data)
    assert first.content_type == "image/webp"
    assert first.data == second.data and first.key == second.key


_SEEDS = {
    "JPEG": encode(make_benign_image().resize((64, 48)), "JPEG"),
    "PNG": encode(make_benign_image().resize((64, 48)), "PNG"),
    "WEBP": encode(make_benign_image().resize((64, 48)), "WEBP"),
}


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(_SEEDS[draw(st.sampled_from(sorted(_SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_mutated())
def test_mutated_files_only_ever_raise_bad_image(data: bytes) -> None:
    for function in (pipeline.for_classification, pipeline.render):
        try:
            result = function(data)
        except BadImage:
            continue
        assert result is not None
