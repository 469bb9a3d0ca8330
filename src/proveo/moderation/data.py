"""The moderation module's public vocabulary: DTOs, errors and the classifier protocol."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from proveo.platform.errors import Conflict, DomainError

__all__ = [
    "BadImage",
    "Classifier",
    "ClassifierFactory",
    "ModeratedImage",
    "OriginalMissing",
    "Verdict",
]


class Classifier(Protocol):
    """Gives the probability that a picture is NSFW.

    Plugins register a factory (``from_settings(settings) -> Classifier``) in
    the entry-point group ``proveo.moderation.classifier``. Any exception from
    ``score`` means "could not decide": the image is never approved because of it.
    """

    def score(self, image: Any) -> float:
        """Return P(nsfw) in [0, 1] for a decoded RGB ``PIL.Image``."""
        ...


class ClassifierFactory(Protocol):
    """What a classifier plugin's entry point names."""

    @classmethod
    def from_settings(cls, settings: Any) -> Classifier:
        """Build a classifier from the flat ``PROVEO_*`` settings mapping."""
        ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """One logged moderation decision about an image."""

    id: int
    image_id: uuid.UUID
    verdict: str
    source: str
    score: float | None
    threshold: float | None
    model_sha256: str | None
    latency_ms: int | None
    reason: str | None
    public_key: str | None
    actor_id: uuid.UUID | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ModeratedImage:
    """An uploaded logo as operators see it (admin list)."""

    id: uuid.UUID
    company_id: uuid.UUID | None
    status: str
    score: float | None
    reason: str | None
    content_type: str
    extension: str
    size: int
    width: int
    height: int
    public_key: str | None
    created_at: datetime
    decided_at: datetime | None
    #: Whether a company shows ``public_key`` now (a rejected or replaced
    #: rendition keeps its key but is no longer served).
    shown: bool = False


class BadImage(DomainError):
    """The upload's content cannot be published (broken, hostile, too large).

    Raised by the pipeline and turned into a rejection with this message as the
    reason; never retried.
    """

    status = 422
    code = "IMAGE_REJECTED"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class OriginalMissing(Conflict):
    """The quarantined original is gone, so the image cannot be moderated again."""

    def __init__(
        self, message: str = "The original upload is no longer stored"
    ) -> None:
        super().__init__(message, code="ORIGINAL_MISSING")
