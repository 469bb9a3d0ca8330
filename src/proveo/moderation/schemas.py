"""HTTP shapes of the moderation admin API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from proveo import companies
from proveo.moderation.data import ModeratedImage
from proveo.platform.http import Offset

__all__ = ["ImageListQuery", "ModeratedImageOut", "RejectIn", "image_view"]

_STATUSES = list(companies.IMAGE_STATUSES)


def image_view(image: ModeratedImage, *, public_url: str) -> dict[str, Any]:
    """One upload as operators see it."""
    return {
        "uuid": str(image.id),
        "company_uuid": str(image.company_id) if image.company_id else None,
        "status": image.status,
        "score": image.score,
        "reason": image.reason,
        "content_type": image.content_type,
        "extension": image.extension,
        "size": image.size,
        "width": image.width,
        "height": image.height,
        "image_url": (
            f"{public_url}/images/{image.public_key}"
            if image.public_key and image.shown
            else None
        ),
        "created_at": image.created_at.isoformat(),
        "decided_at": image.decided_at.isoformat() if image.decided_at else None,
    }


class ModeratedImageOut(Schema):
    """An upload with the moderation verdict."""

    uuid = fields.UUID()
    company_uuid = fields.UUID(allow_none=True)
    status = fields.String(validate=validate.OneOf(_STATUSES))
    score = fields.Float(allow_none=True)
    reason = fields.String(allow_none=True)
    content_type = fields.String()
    extension = fields.String()
    size = fields.Integer()
    width = fields.Integer()
    height = fields.Integer()
    image_url = fields.String(allow_none=True)
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)


class ImageListQuery(Schema):
    """Filter and paging of the moderation queue."""

    status = fields.String(load_default=None, validate=validate.OneOf(_STATUSES))
    limit = fields.Integer(
        strict=False, load_default=20, validate=validate.Range(min=1, max=100)
    )
    offset = Offset()


class RejectIn(Schema):
    """An operator's rejection; the reason is shown to the company's owner."""

    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=500)
    )
