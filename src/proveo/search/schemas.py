"""HTTP shapes of the search endpoint."""

from __future__ import annotations

import marshmallow
from marshmallow import fields, validate


class SearchQueryIn(marshmallow.Schema):
    """Query parameters of ``GET /companies/search``."""

    class Meta:
        """Tracking parameters and the like are ignored, not refused."""

        unknown = marshmallow.EXCLUDE

    q = fields.String(load_default=None, validate=validate.Length(max=200))
    commune = fields.String(load_default=None, validate=validate.Length(max=200))
    product = fields.String(load_default=None, validate=validate.Length(max=200))
    lang = fields.String(load_default="es", validate=validate.OneOf(["es", "en"]))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=1_000_000)
    )


class SearchItemOut(marshmallow.Schema):
    """One company in the results, texts in the requested language."""

    uuid = fields.UUID()
    name = fields.String()
    description = fields.String()
    address = fields.String()
    email = fields.String()
    phone = fields.String()
    img_url = fields.String(allow_none=True)
    product_name = fields.String()
    commune_name = fields.String()
