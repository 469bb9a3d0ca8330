"""Deterministic images with known OpenNSFW scores, for moderation tests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

_DATA = Path(__file__).parent / "data"


def make_high_score_image() -> Image.Image:
    """Return blurred skin-toned blobs that score above the 0.2 threshold.

    Found by a seeded search over synthetic images (modelbuild's skin-blob
    generator). FP32 P(nsfw) = 0.585, INT8 P(nsfw) = 0.626 (artefact
    2f8d726f). Nothing explicit: it shows that the threshold also rejects
    benign-looking content.
    """
    with Image.open(_DATA / "high_score.png") as image:
        return image.convert("RGB")


def make_benign_image() -> Image.Image:
    """Return a flat logo-like graphic that scores far below any threshold.

    FP32 P(nsfw) = 0.0010, INT8 P(nsfw) = 0.0008.
    """
    image = Image.new("RGB", (320, 240), (20, 60, 160))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 140, 200), fill=(255, 255, 255))
    draw.ellipse((170, 60, 290, 180), fill=(250, 200, 0))
    draw.text((60, 100), "PROVEO", fill=(20, 60, 160), font_size=24)
    return image
