"""Benchmark the INT8 moderation model against the FP32 source on this machine.

Usage: ``PYTHONPATH=src python bench/moderation/bench_model.py [--rounds N]``
(needs the ``models`` extra). Variants are interleaved in rounds and medians
are reported, because a shared VM's noise otherwise lands on one variant.
Prints numbers only; nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from proveo.moderation import modelbuild
from proveo.moderation.classifier import (
    DEFAULT_MODEL_PATH,
    OnnxNsfwClassifier,
    prepare,
    preprocess,
)

HERE = Path(__file__).resolve().parent
HELD_OUT_SEED = 777
# Bundled photos that calibration never sees.
HELD_OUT_PHOTOS = (
    "hubble_deep_field.jpg",
    "retina.jpg",
    "motorcycle_right.png",
    "horse.png",
    "clock_motion.png",
    "cell.png",
    "text.png",
    "gravel.png",
    "chessboard_RGB.png",
)
THRESHOLDS = (0.2, 0.5, 0.8)


#: Kinds of held-out image, in the order ``held_out_images`` cycles through them.
HELD_OUT_KINDS = (
    "jittered photo",
    "rotated photo",
    "mosaic",
    "radial",
    "stripes",
    "warm blob",
)


def held_out_images(count: int = 300, seed: int = HELD_OUT_SEED) -> list[Image.Image]:
    """Images made unlike the calibration set: other photos, other transforms.

    Image ``i`` is of kind ``HELD_OUT_KINDS[i % 6]``.
    """
    rng = np.random.default_rng(seed)
    photos = [modelbuild.skimage_photo(name) for name in HELD_OUT_PHOTOS]
    calibration = [modelbuild.skimage_photo(n) for n in modelbuild.CALIBRATION_PHOTOS]
    makers: list[Callable[[], Image.Image]] = [
        lambda: _jittered(rng, photos[int(rng.integers(len(photos)))]),
        lambda: _rotated(rng, calibration[int(rng.integers(len(calibration)))]),
        lambda: _mosaic(rng, photos + calibration),
        lambda: _radial(rng),
        lambda: _stripes(rng),
        lambda: _warm_portrait(rng),
    ]
    return [makers[i % len(makers)]() for i in range(count)]


def _jittered(rng: np.random.Generator, photo: Image.Image) -> Image.Image:
    image = ImageEnhance.Color(photo).enhance(float(rng.uniform(0.3, 1.7)))
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.6, 1.4)))
    with BytesIO() as buf:
        image.save(buf, format="JPEG", quality=int(rng.integers(30, 95)))
        return Image.open(BytesIO(buf.getvalue())).convert("RGB")


def _rotated(rng: np.random.Generator, photo: Image.Image) -> Image.Image:
    image = photo.rotate(float(rng.uniform(-30, 30)), expand=True, fillcolor=(0, 0, 0))
    return ImageOps.flip(image) if rng.random() < 0.3 else image


def _mosaic(rng: np.random.Generator, photos: list[Image.Image]) -> Image.Image:
    tile = int(rng.integers(96, 200))
    image = Image.new("RGB", (2 * tile, 2 * tile))
    for k in range(4):
        photo = photos[int(rng.integers(len(photos)))].resize((tile, tile))
        image.paste(photo, ((k % 2) * tile, (k // 2) * tile))
    return image


def _radial(rng: np.random.Generator) -> Image.Image:
    size = int(rng.integers(200, 600))
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    radius = np.sqrt(x**2 + y**2)[:, :, None]
    inner, outer = rng.integers(0, 256, (2, 3))
    pixels = inner + (outer - inner) * np.clip(radius * 2, 0, 1)
    return Image.fromarray(pixels.astype(np.uint8))


def _stripes(rng: np.random.Generator) -> Image.Image:
    size = int(rng.integers(200, 600))
    period = int(rng.integers(4, 60))
    a, b = (tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2))
    image = Image.new("RGB", (size, size), a)
    draw = ImageDraw.Draw(image)
    for x in range(0, size, 2 * period):
        draw.rectangle((x, 0, x + period - 1, size), fill=b)
    return image.rotate(float(rng.uniform(0, 90)))


def _warm_portrait(rng: np.random.Generator) -> Image.Image:
    """Warm, soft, skin-coloured shapes: the images that score near 0.2-0.6."""
    size = (int(rng.integers(240, 500)), int(rng.integers(240, 500)))
    base = np.array([200, 140, 110]) + rng.normal(0, 25, 3)
    image = Image.new("RGB", size, tuple(int(c) for c in base.clip(0, 255)))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 7))):
        tone = np.array([235, 185, 150]) + rng.normal(0, 20, 3)
        w, h = size
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        rx, ry = int(rng.integers(w // 8, w // 2)), int(rng.integers(h // 8, h // 2))
        draw.ellipse(
            (cx - rx, cy - ry, cx + rx, cy + ry),
            fill=tuple(int(c) for c in tone.clip(0, 255)),
        )
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(4, 20))))


def _scores(classifier: OnnxNsfwClassifier, batch: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [classifier.score_tensors(batch[i : i + 16]) for i in range(0, len(batch), 16)]
    )


def fidelity(paths: dict[str, Path], seed: int = HELD_OUT_SEED) -> dict[str, float]:
    """Mean/max |dP(nsfw)| and decision flips of INT8 against FP32, overall and
    the max per kind of image (the maximum is a tail: it moves with the draw)."""
    images = held_out_images(seed=seed)
    batch = np.stack([preprocess(image) for image in images])
    fp32 = _scores(OnnxNsfwClassifier(paths["fp32"], threads=2), batch)
    int8 = _scores(OnnxNsfwClassifier(paths["int8"], threads=2), batch)
    diff = np.abs(fp32 - int8)
    result = {
        "images": float(len(images)),
        "mean": float(diff.mean()),
        "max": float(diff.max()),
        "p99": float(np.percentile(diff, 99)),
        "near (fp32 in 0.1..0.9)": float(((fp32 > 0.1) & (fp32 < 0.9)).sum()),
    }
    for threshold in THRESHOLDS:
        flips = (fp32 >= threshold) != (int8 >= threshold)
        result[f"flips@{threshold}"] = float(flips.sum())
    kinds = len(HELD_OUT_KINDS)
    for i, kind in enumerate(HELD_OUT_KINDS):
        result[f"max, {kind}"] = float(diff[i::kinds].max())
    return result


def latency(paths: dict[str, Path], rounds: int) -> dict[str, dict[str, float]]:
    """p50/p95 ms at batch 1 and img/s at batch 1 and 8, interleaved."""
    rng = np.random.default_rng(0)
    one = rng.normal(0, 60, (1, 224, 224, 3)).astype(np.float32)
    eight = rng.normal(0, 60, (8, 224, 224, 3)).astype(np.float32)
    out: dict[str, dict[str, float]] = {}
    for threads in (1, 2):
        sessions = {
            name: OnnxNsfwClassifier(path, threads=threads).session()
            for name, path in paths.items()
        }
        single: dict[str, list[float]] = {name: [] for name in paths}
        per_round_b1: dict[str, list[float]] = {name: [] for name in paths}
        per_round_b8: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(rounds):
            for name, session in sessions.items():
                for _ in range(5):
                    session.run(None, {"input:0": one})
                start = time.perf_counter()
                for _ in range(40):
                    t0 = time.perf_counter()
                    session.run(None, {"input:0": one})
                    single[name].append(time.perf_counter() - t0)
                per_round_b1[name].append(40 / (time.perf_counter() - start))
                start = time.perf_counter()
                for _ in range(5):
                    session.run(None, {"input:0": eight})
                per_round_b8[name].append(40 / (time.perf_counter() - start))
        for name in paths:
            out[f"{name} {threads}t"] = {
                "p50 ms": float(np.percentile(single[name], 50) * 1e3),
                "p95 ms": float(np.percentile(single[name], 95) * 1e3),
                "img/s b1": float(np.median(per_round_b1[name])),
                "img/s b8": float(np.median(per_round_b8[name])),
            }
    return out


_RSS_PROBE = """
import json, os, sys
os.environ.update(
    PROVEO_ROLE="worker",
    PROVEO_SECRET_KEY="x" * 40,
    # Nothing connects at import; unreachable addresses prove it.
    PROVEO_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none",
    PROVEO_REDIS_URL="redis://127.0.0.1:1/0",
)
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
{imports}
before = rss()
from PIL import Image
from proveo.moderation.classifier import OnnxNsfwClassifier
c = OnnxNsfwClassifier(sys.argv[1], threads=int(sys.argv[2]))
c.score(Image.new("RGB", (300, 300), (200, 150, 120)))
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(json.dumps({{"before model": before, "VmHWM": int(hwm.split()[1]) / 1024, "VmRSS": rss()}}))
"""

#: What each memory row imports before loading the model. ``libraries`` is the
#: floor of the worker role: the third-party packages its job needs (the design
#: card's database, queue, storage, imaging and inference stack) and no Proveo
#: module, so the gap to ``worker`` is Proveo's own share.
RSS_IMPORTS = {
    "libraries of the worker role": (
        "import numpy, PIL.Image, onnxruntime, sqlalchemy, psycopg, redis, "
        "dramatiq, minio, structlog"
    ),
    "whole worker role": "import proveo.entrypoints.worker",
}


def rss(path: Path, imports: str = "", threads: int = 2) -> dict[str, float]:
    """RSS (MB) of a fresh process after ``imports``, then with the model loaded
    and one inference run."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _RSS_PROBE.format(imports=imports),
            str(path),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    data: dict[str, float] = json.loads(result.stdout)
    return data


def _jpeg(size: tuple[int, int]) -> bytes:
    photo = modelbuild.skimage_photo("motorcycle_right.png")
    with BytesIO() as buf:
        photo.resize(size, Image.Resampling.BICUBIC).save(buf, "JPEG", quality=90)
        return buf.getvalue()


def end_to_end(path: Path, rounds: int) -> dict[str, float]:
    """img/s for decode -> (draft) -> preprocess -> classify, and re-encode ms."""
    classifier = OnnxNsfwClassifier(path, threads=2)
    classifier.session()
    out: dict[str, float] = {}
    for label, size in (("1 MP", (1152, 864)), ("12 MP", (4000, 3000))):
        data = _jpeg(size)
        for draft in (True, False):
            rates = []
            for _ in range(rounds):
                count = 10 if size[0] > 2000 else 40
                start = time.perf_counter()
                for _ in range(count):
                    image = Image.open(BytesIO(data))
                    if draft:
                        image = prepare(image)
                    classifier.score(image)
                rates.append(count / (time.perf_counter() - start))
            mode = "draft" if draft else "no draft"
            out[f"{label} {mode}, 1 pipeline x 2 ORT threads img/s"] = float(
                np.median(rates)
            )
        out[f"{label} draft, 2 pipelines x 1 ORT thread img/s"] = _parallel_rate(
            path, data, 10 if size[0] > 2000 else 80, rounds
        )
        decoded = Image.open(BytesIO(data))
        decoded.load()
        costs = []
        for _ in range(rounds):
            start = time.perf_counter()
            with BytesIO() as buf:
                # No exif= argument: Pillow writes no EXIF unless asked.
                decoded.save(buf, "JPEG", quality=90, progressive=True, optimize=False)
            costs.append(time.perf_counter() - start)
        out[f"{label} re-encode q90 progressive ms"] = float(np.median(costs) * 1e3)
    return out


def _parallel_rate(path: Path, data: bytes, count: int, rounds: int) -> float:
    """img/s of two threads each decoding and classifying, one ORT thread each.

    This is the worker role's default shape (``PROVEO_WORKER_THREADS=2``,
    ``PROVEO_ONNX_THREADS=1``): Pillow's decoder and ONNX Runtime release the
    GIL, so one image decodes while the other is classified.
    """
    classifier = OnnxNsfwClassifier(path, threads=1)
    classifier.session()

    def one(_: int) -> float:
        return classifier.score(prepare(Image.open(BytesIO(data))))

    rates = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, range(4)))
        for _ in range(rounds):
            start = time.perf_counter()
            list(pool.map(one, range(count)))
            rates.append(count / (time.perf_counter() - start))
    return float(np.median(rates))


def _fidelity_table(fids: dict[int, dict[str, float]]) -> str:
    seeds = list(fids)
    lines = ["| measure | " + " | ".join(f"seed {seed}" for seed in seeds) + " |"]
    lines.append("|---" * (len(seeds) + 1) + "|")
    for key in fids[seeds[0]]:
        lines.append(
            f"| {key} | " + " | ".join(f"{fids[s][key]:.4g}" for s in seeds) + " |"
        )
    return "\n".join(lines)


def _speedups(speed: dict[str, dict[str, float]]) -> str:
    """INT8 over FP32 throughput per thread count and batch size."""
    return "\n".join(
        f"- INT8 / FP32 img/s, {threads} thread(s), batch {batch}: "
        f"{speed[f'int8 {threads}t'][f'img/s b{batch}'] / speed[f'fp32 {threads}t'][f'img/s b{batch}']:.2f}x"
        for threads in (1, 2)
        for batch in (1, 8)
    )


def _table(rows: dict[str, dict[str, float]]) -> str:
    columns = list(next(iter(rows.values())))
    lines = ["| variant | " + " | ".join(columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for name, values in rows.items():
        cells = " | ".join(f"{values[c]:.1f}" for c in columns)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, print it and write RESULTS.md."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--held-out-seeds", type=int, nargs="+", default=[HELD_OUT_SEED, 778, 779]
    )
    args = parser.parse_args(argv)
    paths = {"int8": DEFAULT_MODEL_PATH, "fp32": modelbuild.source_model_path()}

    fids = {seed: fidelity(paths, seed) for seed in args.held_out_seeds}
    speed = latency(paths, args.rounds)
    memory = {
        name: {
            "MB file": path.stat().st_size / 1e6,
            **{f"{k} MB": v for k, v in rss(path).items()},
        }
        for name, path in paths.items()
    }
    for label, imports in RSS_IMPORTS.items():
        memory[f"int8, {label}"] = {
            "MB file": paths["int8"].stat().st_size / 1e6,
            **{f"{k} MB": v for k, v in rss(paths["int8"], imports).items()},
        }
    e2e = end_to_end(paths["int8"], max(3, args.rounds // 2))

    cpu = platform.processor() or platform.machine()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    sections = [
        f"Machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}",
        f"Load average at the end (1/5/15 min): {load}",
        "",
        "### Fidelity of INT8 vs FP32 (held-out sets, one per seed)",
        "",
        _fidelity_table(fids),
        "",
        "### Inference latency and throughput (medians of interleaved rounds)",
        "",
        _table(speed),
        "",
        _speedups(speed),
        "",
        "### Memory (fresh process, model loaded, one inference, 2 threads; the last two rows import the worker role's libraries, or the whole role, first)",
        "",
        _table(memory),
        "",
        "### End to end, INT8 (decode -> preprocess -> classify)",
        "",
        "\n".join(f"- {k}: {v:.1f}" for k, v in e2e.items()),
    ]
    text = "\n".join(sections)
    print(text)
    args.results.write_text(
        "# Moderation model benchmark results\n\n"
        "Produced by `bench/moderation/bench_model.py`; re-run on the target node.\n\n"
        + text
        + "\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
