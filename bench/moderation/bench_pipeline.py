"""Benchmark the moderation pipeline: per-image throughput and upload-to-approved.

Usage: ``PYTHONPATH=src:. python bench/moderation/bench_pipeline.py
[--uploads 50] [--rounds 3] [--skip-e2e]``

1. **Pipeline throughput** (no servers): decode → classify → re-encode of a
   ~1 MP and a 12 MP photo-like JPEG, in one thread, as the worker does it;
   also the classify-only part (a rejected image is never re-encoded).
2. **Upload to approved** through the real queue on an idle private stack:
   each logo is POSTed to ``/api/v1/companies`` in process (the web role's
   code, including its immediate outbox delivery), a real ``dramatiq`` worker
   subprocess moderates it, and the time until the image is ``approved`` on the
   primary is recorded; p50/p95 over ``--uploads`` sequential uploads.

Prints numbers only; nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from proveo.moderation import pipeline
from proveo.moderation.classifier import MODEL_SHA256, OnnxNsfwClassifier

ROOT = Path(__file__).resolve().parents[2]


def photo(size: tuple[int, int]) -> bytes:
    """A photo-like JPEG (a bundled scikit-image photo, resized, with grain)."""
    try:
        from skimage import data as skdata

        base = Image.fromarray(skdata.astronaut())
    except ImportError:  # a smooth synthetic scene instead
        ramp = np.linspace(0, 255, 512, dtype=np.uint8)
        base = Image.fromarray(np.dstack([np.tile(ramp, (512, 1))] * 3))
    picture = base.resize(size, Image.Resampling.BICUBIC)
    rng = np.random.default_rng(7)
    grain = rng.normal(0, 4, (size[1], size[0], 3))
    noisy = np.clip(np.asarray(picture, dtype=np.float32) + grain, 0, 255)
    out = io.BytesIO()
    Image.fromarray(noisy.astype(np.uint8)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def throughput(rounds: int, threads: int) -> None:
    classifier = OnnxNsfwClassifier(threads=threads, sha256=MODEL_SHA256)
    classifier.score(Image.new("RGB", (64, 64)))  # load the session first
    cases = {
        "~1 MP JPEG (1152x864)": (photo((1152, 864)), 60),
        "12 MP JPEG (4000x3000)": (photo((4000, 3000)), 12),
    }
    print(f"\n## Pipeline throughput (1 worker thread, onnx threads={threads})\n")
    print("| image | file | classify only img/s | classify + re-encode img/s |")
    print("|---|---|---|---|")
    for label, (data, count) in cases.items():
        only: list[float] = []
        full: list[float] = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(count):
                classifier.score(pipeline.for_classification(data))
            only.append(count / (time.perf_counter() - started))
            started = time.perf_counter()
            for _ in range(count):
                classifier.score(pipeline.for_classification(data))
                pipeline.render(data)
            full.append(count / (time.perf_counter() - started))
        print(
            f"| {label} | {len(data) / 1e6:.2f} MB | {statistics.median(only):.1f} "
            f"| {statistics.median(full):.1f} |"
        )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def end_to_end(uploads: int) -> None:
    from bench.common import stack

    with stack() as (_dev, env):
        os.environ.update({k: v for k, v in env.items() if k.startswith("PROVEO_")})
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "proveo.entrypoints.worker:broker",
                "-p",
                "1",
                "-t",
                "2",
            ],
            cwd=ROOT,
            env={**env, "PROVEO_ROLE": "worker"},
            start_new_session=True,
        )
        try:
            latencies = _measure(uploads)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    print(f"\n## Upload to approved, real queue, idle stack ({uploads} uploads)\n")
    print("| p50 ms | p95 ms | min ms | max ms |")
    print("|---|---|---|---|")
    print(
        f"| {statistics.median(latencies):.0f} | {_percentile(latencies, 0.95):.0f} "
        f"| {min(latencies):.0f} | {max(latencies):.0f} |"
    )


def _measure(uploads: int) -> list[float]:
    import falcon.testing

    from proveo import accounts, bootstrap, companies
    from proveo.companies import catalogue
    from proveo.companies import store as companies_store
    from proveo.platform import runtime
    from proveo.platform.settings import Settings
    from tests.companies.helpers import fields_for, form
    from tests.moderation.images import make_benign_image

    settings = Settings.from_env()
    services = bootstrap.build_services(settings)
    runtime.install(services)
    client = falcon.testing.TestClient(bootstrap.create_app(services))
    token = uuid.uuid4().hex[:8]
    with services.db.write() as tx:
        product = catalogue.create_product(
            tx, name_es=f"Bench {token}", name_en=f"Bench {token}", actor_id=None
        )
        commune = catalogue.create_commune(tx, name=f"Bench {token}", actor_id=None)
    logo = io.BytesIO()
    make_benign_image().resize((640, 480)).save(logo, format="JPEG", quality=90)
    latencies: list[float] = []
    for index in range(uploads + 2):  # the first two warm the worker up
        with services.db.write() as tx:
            user = accounts.ensure_demo_user(
                tx,
                email=f"bench{index}-{token}@example.com",
                name="Bench User",
                password="bench password 123",
                verified=True,
            )
            issued = accounts.issue_session(
                tx,
                user,
                secret=settings.secret_key,
                lifetime_minutes=settings.access_token_minutes,
            )
        body, ctype = form(fields_for(product, commune), logo.getvalue())
        started = time.perf_counter()
        result = client.simulate_post(
            "/api/v1/companies",
            body=body,
            headers={
                "Content-Type": ctype,
                "Authorization": f"Bearer {issued.token}",
            },
        )
        assert result.status_code == 201, result.text
        company_id = uuid.UUID(result.json["uuid"])
        with services.db.write() as tx:
            image_id = companies_store.latest_image_id(tx, company_id)
        assert image_id is not None
        status = _wait_decided(services, image_id, companies)
        elapsed = (time.perf_counter() - started) * 1000
        if status != "approved":
            raise RuntimeError(f"upload {index} ended {status}")
        if index >= 2:
            latencies.append(elapsed)
    return latencies


def _wait_decided(services: Any, image_id: uuid.UUID, companies: Any) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with services.db.write() as tx:
            status = str(companies.get_image(tx, image_id).status)
        if status != "pending":
            return status
        time.sleep(0.005)
    raise RuntimeError("no verdict within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    for threads in (1, 2):
        throughput(args.rounds, threads)
    if not args.skip_e2e:
        end_to_end(args.uploads)


if __name__ == "__main__":
    main()
