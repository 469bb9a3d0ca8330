"""Fail closed: a broken model or classifier never approves; retries end in failed."""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

import proveo.moderation as moderation
from proveo.moderation.classifier import DEFAULT_MODEL_PATH, MODEL_SHA256
from proveo.moderation.wiring import CLASSIFIER, LazyClassifier
from proveo.platform.runtime import Services
from tests.companies.helpers import admin_session
from tests.moderation.helpers import (
    benign_image,
    encode,
    renditions_of,
    upload,
    verdicts_of,
    wait_status,
)


class Counting:
    """Wraps a classifier (or an exception) and counts calls."""

    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour
        self.calls = 0
        self._lock = threading.Lock()

    def score(self, image: Any) -> float:
        with self._lock:
            self.calls += 1
        if isinstance(self.behaviour, BaseException):
            raise self.behaviour
        return float(self.behaviour.score(image))


@pytest.fixture
def fast_retries(services: Services) -> Iterator[None]:
    """Shrink the moderation actor's back-off so six attempts take a second."""
    actor = services.broker.get_actor("moderation.moderate_logo")
    saved = dict(actor.options)
    actor.options.update(min_backoff=20, max_backoff=100)
    yield
    actor.options.clear()
    actor.options.update(saved)


@pytest.fixture
def swap_classifier(services: Services) -> Iterator[Any]:
    original = services.extras[CLASSIFIER]

    def swap(replacement: Any) -> None:
        services.extras[CLASSIFIER] = replacement

    yield swap
    services.extras[CLASSIFIER] = original


def _corrupt_model(tmp_path: Path) -> Path:
    path = tmp_path / "open-nsfw-int8.onnx"
    shutil.copyfile(DEFAULT_MODEL_PATH, path)
    with path.open("r+b") as fp:
        fp.seek(4096)
        fp.write(b"\x00" * 512)
    return path


def test_corrupted_model_fails_closed_and_requeue_recovers(
    client: falcon.testing.TestClient,
    services: Services,
    worker: Any,
    fast_retries: None,
    swap_classifier: Any,
    tmp_path: Path,
) -> None:
    bad = _corrupt_model(tmp_path)
    settings = dataclasses.replace(
        services.settings,
        nsfw_model=str(bad),
        extra={**services.settings.extra, "nsfw_model_sha256": MODEL_SHA256},
    )
    lazy = LazyClassifier(settings)
    classifier = Counting(lazy)
    original = services.extras[CLASSIFIER]
    swap_classifier(classifier)
    up = upload(client, services, encode(benign_image(), "JPEG"))
    failed = wait_status(services, up.image_id, "failed", timeout=60)
    # One try and five retries for this image, as its own record says; the
    # counter is shared with any retry another test left in the queue.
    assert failed.reason is not None and "after 5 retries" in failed.reason
    assert classifier.calls >= 6
    assert failed.public_key is None
    assert renditions_of(services, up.image_id) == 0

    # Operators see it, fix the model, and requeue from the command line.
    admin = admin_session(services)
    listed = client.simulate_get(
        "/api/v1/moderation/admin/images",
        params={"status": "failed", "limit": "100"},
        headers=admin.bearer(),
    )
    assert listed.status_code == 200, listed.text
    assert str(up.image_id) in {item["uuid"] for item in listed.json}

    swap_classifier(original)
    assert moderation.requeue_images(services.db, status="failed") >= 1
    approved = wait_status(services, up.image_id, "approved", timeout=30)
    assert approved.public_key is not None
    assert verdicts_of(services, up.image_id)[-3:] == [
        "failed",
        "requeued",
        "approved",
    ]


@pytest.mark.parametrize(
    "behaviour",
    [RuntimeError("onnxruntime exploded"), float("nan"), 1.5],
    ids=["raises", "nan", "out-of-range"],
)
def test_broken_classifier_never_approves(
    client: falcon.testing.TestClient,
    services: Services,
    worker: Any,
    fast_retries: None,
    swap_classifier: Any,
    behaviour: Any,
) -> None:
    class Constant:
        def score(self, image: Any) -> float:
            return float(behaviour)

    inner = behaviour if isinstance(behaviour, BaseException) else Constant()
    classifier = Counting(inner)
    swap_classifier(classifier)
    up = upload(client, services, encode(benign_image(), "PNG"))
    failed = wait_status(services, up.image_id, "failed", timeout=60)
    # One try and five retries for this image, as its own record says; the
    # counter is shared with any retry another test left in the queue.
    assert failed.reason is not None and "after 5 retries" in failed.reason
    assert classifier.calls >= 6
    assert failed.public_key is None
    assert renditions_of(services, up.image_id) == 0
