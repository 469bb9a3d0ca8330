"""Shared benchmark plumbing: a private server stack, gunicorn, and wrk on loopback.

Every load run targets 127.0.0.1 only and stops by itself (fixed duration).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from proveo.entrypoints import gunicorn_argv
from proveo.platform.devservers import DevStack, find_free_port

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-0123456789abcdef-0123456789"


@dataclass
class LoadResult:
    """What one wrk run measured."""

    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int

    def row(self) -> str:
        return (
            f"| {self.label} | {self.requests_per_second:,.0f} | {self.p50_ms:.2f} | "
            f"{self.p99_ms:.2f} | {self.errors} |"
        )


@contextmanager
def stack() -> Iterator[tuple[DevStack, dict[str, str]]]:
    """A migrated private stack and the environment pointing at it."""
    base = Path(tempfile.mkdtemp(prefix="proveo-bench-"))
    os.chmod(base, 0o755)  # noqa: S103 (the postgres user must traverse it)
    dev = DevStack(base / "servers", s3=False, smtp=False)
    dev.start()
    env = {
        **os.environ,
        **dev.env(),
        "PROVEO_SECRET_KEY": SECRET,
        "PROVEO_PUBLIC_URL": "http://127.0.0.1:8000",
        "PROVEO_COOKIE_SECURE": "false",
        "PROVEO_DEBUG": "true",
        "PROVEO_STORAGE": "local",
        "PROVEO_STORAGE_DIR": str(base / "storage"),
        "PROVEO_MAIL": "console",
        "PROVEO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    try:
        subprocess.run([sys.executable, "-m", "proveo", "migrate"], check=True, env=env)
        yield dev, env
    finally:
        dev.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def gunicorn(
    target: str, env: dict[str, str], *, workers: int = 2, threads: int = 4
) -> Iterator[str]:
    """Serve ``target`` (module:app) with the web role's gunicorn config."""
    port = find_free_port()
    argv = gunicorn_argv(
        target,
        bind=f"127.0.0.1:{port}",
        workers=workers,
        threads=threads,
        extra=("--log-level", "warning"),
    )
    proc = subprocess.Popen(argv, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/health", timeout=1):  # noqa: S310
                    break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn for {target} did not start") from exc
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        return float("nan")
    return float(match[1]) * _UNITS[match[2]]


def wrk(
    label: str,
    url: str,
    *,
    connections: int = 64,
    seconds: int = 10,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Run wrk (Debian package ``wrk``) against a loopback URL for a fixed time."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    argv = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*argv, url], check=True, capture_output=True, text=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"99%\s+(\S+)", out)[1])  # type: ignore[index]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    errors = int(errors_match[1]) if errors_match else 0
    errors += int(socket_errors[1]) if socket_errors else 0
    return LoadResult(label, rps, p50, p99, errors)


def table(results: list[LoadResult]) -> str:
    """A Markdown table of results."""
    lines = [
        "| target | req/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [r.row() for r in results]
    return "\n".join(lines)
