"""Companies read routes and logo intake, on gunicorn over loopback.

    python -m bench.companies.bench_http [--seconds 8] [--threads 16]

Prints req/s and p50/p99 (threaded Python load generator, keep-alive
connections) for GET /products, /communes and /companies/{uuid} with a warm
cache, next to GET /api/v1/health in the same run; then logo-intake throughput
(PATCH my-company with a 2 MB JPEG) and the web workers' peak RSS for 2 MB and
8 MB uploads (it must not grow with the upload size). Numbers only, no asserts.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

from bench.common import gunicorn, stack
from proveo import accounts, bootstrap, companies
from proveo.platform.settings import Settings


def _load(base: str, method: str, path: str, *, seconds: float, threads: int,
          body: bytes = b"", headers: dict[str, str] | None = None) -> dict[str, float]:  # fmt: skip
    host = urlsplit(base)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run() -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        mine: list[float] = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body or None, headers=headers or {})
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
                continue
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    count = len(latencies)
    return {
        "rps": count / elapsed,
        "p50": latencies[count // 2] * 1000 if count else float("nan"),
        "p99": latencies[min(count - 1, int(count * 0.99))] * 1000
        if count
        else float("nan"),
        "errors": errors[0],
        "count": count,
    }


def _peak_rss_kib(port: int) -> int:
    """Largest VmHWM among the gunicorn processes bound to ``port``."""
    peak = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if f"127.0.0.1:{port}".encode() not in cmdline:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


def _jpeg(target_bytes: int) -> bytes:
    rng = random.Random(7)
    side = 1200
    noise = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(out, format="JPEG", quality=95)
    data = out.getvalue()
    if len(data) < target_bytes:
        data += b"\0" * (target_bytes - len(data))  # trailing bytes after EOI
    return data[: max(target_bytes, 1024)] if len(data) > target_bytes else data


def _form(image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="logo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _seed(env: dict[str, str]) -> tuple[str, str]:
    settings = Settings.from_env(env)
    services = bootstrap.build_services(settings, with_broker=False)
    with services.db.write() as tx:
        companies.seed_catalogue(tx)
        user = accounts.ensure_demo_user(
            tx, email="bench@proveo.com", name="Bench", password="TestPass123!"
        )
        company = companies.seed_demo_company(tx, services.storage, user=user, index=1)
        session = accounts.issue_session(
            tx, user, secret=settings.secret_key, lifetime_minutes=120
        )
    services.db.dispose(close=True)
    return str(company.id), session.token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with stack() as (_dev, env):
        company_id, token = _seed(env)
        with gunicorn("proveo.entrypoints.web:app", env) as base:
            port = urlsplit(base).port
            assert port is not None
            rows = []
            for label, path in (
                ("GET /api/v1/health", "/api/v1/health"),
                ("GET /api/v1/products", "/api/v1/products"),
                ("GET /api/v1/communes", "/api/v1/communes"),
                ("GET /api/v1/companies/{uuid}", f"/api/v1/companies/{company_id}"),
            ):
                _load(base, "GET", path, seconds=1, threads=args.threads)  # warm-up
                rows.append((label, _load(base, "GET", path, seconds=args.seconds,
                                          threads=args.threads)))  # fmt: skip
            print("| route | req/s | p50 ms | p99 ms | errors |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for label, r in rows:
                print(f"| {label} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |")  # fmt: skip
            baseline = _peak_rss_kib(port)
            print(
                f"\nweb processes' peak RSS before uploads: {baseline / 1024:.1f} MiB"
            )
            auth = {"Authorization": f"Bearer {token}"}
            for size in (2 * 1024 * 1024, 8 * 1024 * 1024):
                body, ctype = _form(_jpeg(size))
                headers = {**auth, "Content-Type": ctype}
                result = _load(base, "PATCH", "/api/v1/companies/user/my-company",
                               seconds=args.seconds, threads=4, body=body,
                               headers=headers)  # fmt: skip
                print(
                    f"logo intake {size // (1024 * 1024)} MB JPEG: {result['rps']:.1f} "
                    f"uploads/s ({result['rps'] * len(body) / 1e6:.1f} MB/s), "
                    f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms, "
                    f"errors {result['errors']}; peak RSS "
                    f"{_peak_rss_kib(port) / 1024:.1f} MiB"
                )


if __name__ == "__main__":
    main()
