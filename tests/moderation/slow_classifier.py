"""A classifier plugin for process tests: the real model, made slow on purpose.

Registered through a throw-away ``*.dist-info`` directory put on the worker
subprocess's ``PYTHONPATH`` (see ``test_worker_kill``), exactly as a third-party
plugin would be. Each call appends ``<pid> start|done <time>`` to the marker
file so the test knows when the job is in progress.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from proveo.moderation.classifier import MODEL_SHA256, OnnxNsfwClassifier

ENTRY_POINT = "slow-test = tests.moderation.slow_classifier:SlowClassifier"


class SlowClassifier:
    """Waits ``PROVEO_TEST_CLASSIFIER_DELAY`` seconds, then scores for real."""

    model_sha256 = MODEL_SHA256

    def __init__(self, delay: float, marker: Path) -> None:
        self.delay = delay
        self.marker = marker
        self.inner = OnnxNsfwClassifier(threads=1, sha256=MODEL_SHA256)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SlowClassifier:
        return cls(
            float(settings.get("test_classifier_delay", "0")),
            Path(settings["test_classifier_marker"]),
        )

    def _mark(self, what: str) -> None:
        with self.marker.open("a", encoding="ascii") as fp:
            fp.write(f"{os.getpid()} {what} {time.time():.3f}\n")

    def score(self, image: Any) -> float:
        self._mark("start")
        # Artificial slowness so the test can kill the process mid-job; in
        # small steps so the kill is the only thing that ends it early.
        deadline = time.monotonic() + self.delay
        while time.monotonic() < deadline:
            time.sleep(0.05)
        value = self.inner.score(image)
        self._mark("done")
        return value
