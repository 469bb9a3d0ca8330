"""/metrics under gunicorn with two workers: every process's samples, aggregated."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from proveo.platform.devservers import find_free_port
from proveo.platform.settings import Settings
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
SERIES = [
    "proveo_http_requests_total",
    "proveo_http_request_duration_seconds_bucket",
    "proveo_db_pool_connections_in_use",
    "proveo_db_replica_lag_seconds",
    "proveo_outbox_backlog",
    "proveo_outbox_oldest_age_seconds",
    "proveo_queue_depth",
    "proveo_cache_events_total",
]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_metrics_aggregate_two_gunicorn_workers(
    migrated: Settings, settings_env: dict[str, str], tmp_path: Path
) -> None:
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVEO_")}
    env.update(settings_env)
    env.update(
        {
            "PROVEO_WEB_WORKERS": "2",
            "PROVEO_WEB_THREADS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proveo",
            "web",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(base + "/api/v1/health"), timeout=60)
        sent = 0

        def burst() -> bool:
            # Concurrent fresh connections until both workers have served some.
            nonlocal sent
            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(
                    pool.map(lambda _: _get(base + "/api/v1/health"), range(40))
                )
            assert all(answers)
            sent += len(answers)
            return len(list((tmp_path / "prom").glob("counter_*.db"))) >= 2

        wait_for(burst, timeout=60, interval=0)
        requests = sent
        for _ in range(3):
            _get(base + "/api/v1/products")  # exercises the cache when the route exists
        text = _get(base + "/metrics") or ""
        pids = {p.name.split("_")[-1] for p in (tmp_path / "prom").glob("counter_*.db")}
        assert len(pids) >= 2, "both workers wrote samples"
        counted = sum(
            float(value)
            for value in re.findall(
                r'proveo_http_requests_total\{[^}]*route="/api/v1/health"[^}]*status="200"[^}]*\} (\S+)',
                text,
            )
        )
        assert counted >= requests + 1  # the readiness poll plus our requests
        for series in SERIES:
            assert series in text, series
    finally:
        proc.terminate()
        proc.wait(timeout=40)
