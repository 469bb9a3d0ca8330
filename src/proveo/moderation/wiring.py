"""Plug moderation into the services: the classifier and the use-case object.

``services.extras["classifier"]`` holds a ``LazyClassifier``: nothing is
loaded at boot (the web role never pays for ONNX Runtime), and the worker
creates its one ``InferenceSession`` on the first image, after the fork.
``PROVEO_CLASSIFIER`` picks the implementation: ``onnx`` (built in, the
default) or the name of a plugin in the entry-point group
``proveo.moderation.classifier`` (a factory with ``from_settings``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from proveo.moderation.data import Classifier
from proveo.moderation.service import Moderation
from proveo.platform import plugins
from proveo.platform.runtime import Services

__all__ = [
    "CLASSIFIER",
    "ENTRY_POINT_GROUP",
    "MODERATION",
    "LazyClassifier",
    "configure",
    "moderation",
]

CLASSIFIER = "classifier"
MODERATION = "moderation"
ENTRY_POINT_GROUP = "proveo.moderation.classifier"


class LazyClassifier:
    """Builds the configured classifier on first use, once per process."""

    def __init__(self, settings: Any) -> None:
        self._settings = settings
        self._instance: Classifier | None = None
        self._lock = threading.Lock()
        flat = settings.plugin_settings
        self.name = (flat.get("classifier") or "onnx").strip().lower()
        custom = settings.nsfw_model
        self.model_path: str | None = custom or None
        self.expected_sha256: str | None = (
            flat.get("nsfw_model_sha256") or None if custom else None
        )

    def _build(self) -> Classifier:
        if self.name != "onnx":
            factory = plugins.load(ENTRY_POINT_GROUP, self.name)
            built: Classifier = factory.from_settings(self._settings.plugin_settings)
            return built
        from proveo.moderation.classifier import (
            DEFAULT_MODEL_PATH,
            MODEL_SHA256,
            OnnxNsfwClassifier,
        )

        path = Path(self.model_path) if self.model_path else DEFAULT_MODEL_PATH
        sha = self.expected_sha256 if self.model_path else MODEL_SHA256
        return OnnxNsfwClassifier(path, threads=self._settings.onnx_threads, sha256=sha)

    def get(self) -> Classifier:
        """The classifier (built now if this is the first call)."""
        if self._instance is None:
            with self._lock:
                if self._instance is None:
                    self._instance = self._build()
        return self._instance

    def score(self, image: Any) -> float:
        """Delegate to the real classifier."""
        return self.get().score(image)

    def model_id(self) -> str | None:
        """The model checksum recorded with each verdict (``None`` if unknown)."""
        if self.name != "onnx":
            return getattr(self.get(), "model_sha256", None) or f"plugin:{self.name}"
        if self.model_path:
            return self.expected_sha256 or f"custom:{Path(self.model_path).name}"
        from proveo.moderation.classifier import MODEL_SHA256

        return MODEL_SHA256


def moderation(services: Services) -> Moderation:
    """The process's ``Moderation`` use cases."""
    found = services.extras.get(MODERATION)
    if found is None:
        configure(services)
        found = services.extras[MODERATION]
    assert isinstance(found, Moderation)
    return found


def configure(services: Services) -> None:
    """Register the lazy classifier and the use cases on ``services``."""
    lazy = LazyClassifier(services.settings)
    services.extras[CLASSIFIER] = lazy

    def current() -> Classifier:
        # Tests and plugins may replace extras["classifier"] at run time.
        chosen = services.extras.get(CLASSIFIER, lazy)
        return chosen  # type: ignore[no-any-return]

    def model_id() -> str | None:
        chosen = services.extras.get(CLASSIFIER, lazy)
        method = getattr(chosen, "model_id", None)
        return method() if callable(method) else None

    services.extras[MODERATION] = Moderation(
        db=services.db,
        storage=services.storage,
        cache=services.cache,
        classifier=current,
        threshold=services.settings.nsfw_threshold,
        model_id=model_id,
    )
