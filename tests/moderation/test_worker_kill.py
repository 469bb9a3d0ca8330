"""SIGKILL a real ``dramatiq`` worker mid-job: the job comes back, one rendition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

from proveo.moderation import store
from proveo.platform.runtime import Services
from proveo.platform.storage import BlobNotFound
from tests.helpers import wait_for
from tests.moderation.helpers import (
    benign_image,
    encode,
    upload,
    verdicts_of,
    wait_status,
)
from tests.moderation.slow_classifier import ENTRY_POINT

REPO = Path(__file__).resolve().parents[2]


def _plugin_path(tmp_path: Path) -> Path:
    """A directory that registers the slow classifier as an installed plugin."""
    root = tmp_path / "plugins"
    info = root / "proveo_test_slow_classifier-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: proveo-test-slow-classifier\nVersion: 0.0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[proveo.moderation.classifier]\n{ENTRY_POINT}\n"
    )
    return root


class Worker:
    """A ``dramatiq`` worker subprocess in its own process group."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "proveo.entrypoints.worker:broker",
                "-p",
                "1",
                "-t",
                "1",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def paused(worker: Any) -> Iterator[None]:
    """The in-process worker must not take the job from the subprocesses."""
    worker.pause()
    yield
    worker.resume()


def _marks(marker: Path) -> list[tuple[int, str, float]]:
    if not marker.exists():
        return []
    rows = []
    for line in marker.read_text().splitlines():
        pid, what, at = line.split()
        rows.append((int(pid), what, float(at)))
    return rows


@pytest.mark.slow
def test_sigkill_mid_job_is_redelivered_and_publishes_once(
    client: falcon.testing.TestClient,
    services: Services,
    settings_env: dict[str, str],
    paused: None,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "marks.txt"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROVEO_")},
        **settings_env,
        "PYTHONPATH": os.pathsep.join([str(_plugin_path(tmp_path)), str(REPO)]),
        "PROVEO_CLASSIFIER": "slow-test",
        "PROVEO_TEST_CLASSIFIER_MARKER": str(marker),
        "PROVEO_TEST_CLASSIFIER_DELAY": "60",
        "PROVEO_ROLE": "worker",
    }
    first = Worker(env, tmp_path / "first.log")
    second: Worker | None = None
    try:
        up = upload(client, services, encode(benign_image(), "JPEG"))
        wait_for(lambda: _marks(marker), timeout=60, interval=0.05)
        first.kill()
        killed_at = time.time()
        assert [what for _, what, _ in _marks(marker)] == ["start"]

        second = Worker(
            {**env, "PROVEO_TEST_CLASSIFIER_DELAY": "0"}, tmp_path / "second.log"
        )
        approved = wait_status(services, up.image_id, "approved", timeout=150)
        marks = _marks(marker)
        restarted = [at for pid, what, at in marks if what == "start"][1]
        print(f"\nredelivered {restarted - killed_at:.1f} s after SIGKILL")
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert approved.public_key is not None
    assert len({pid for pid, _, _ in marks}) == 2
    assert verdicts_of(services, up.image_id) == ["approved"]
    with services.db.write() as tx:
        assert store.count_renditions_of_image(tx, up.image_id) == 1
        row = store.rendition(tx, approved.public_key)
    assert row is not None and row["claimed_at"] is None
    assert services.storage.stat(approved.public_key).size == row["size"]
    with pytest.raises(BlobNotFound):
        services.storage.stat(approved.quarantine_key)
