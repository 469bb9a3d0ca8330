"""HTTP shapes of the search endpoint."""

from __future__ import annotations

import marshmallow
from marshmallow import fields, validate

from proveo.platform.http import Offset


class SearchQueryIn(marshmallow.Schema):
    """Query parameters of ``GET /companies/search``."""

    class Meta:
        """Tracking parameters and the like are ignored, not refused."""

        unknown = marshmallow.EXCLUDE

    q = fields.String(load_default=None, validate=validate.Length(max=200))
    # Names of any length: one that names nothing is no match (spec §4), not
    # an error. The server's request-line limit bounds them.
    commune = fields.String(load_default=None)
    product = fields.String(load_default=None)
    lang = fields.String(load_default="es", validate=validate.OneOf(["es", "en"]))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = Offset()


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
