"""HTTP shapes: JSON inputs for the catalogue, and every output view.

Views are built by plain functions (cheap on hot lists); the marshmallow
classes describe the same shapes for the OpenAPI document and validate inputs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from proveo import accounts
from proveo.companies.data import Commune, Company, Product
from proveo.platform.http import Offset

__all__ = [
    "AdminListQuery",
    "CommuneIn",
    "CommuneOut",
    "CompanyDeletedOut",
    "CompanyForm",
    "CompanyOut",
    "OwnerCompanyOut",
    "ProductIn",
    "ProductOut",
    "commune_view",
    "company_view",
    "product_view",
]


def _iso(value: datetime) -> str:
    return value.isoformat()


def product_view(product: Product) -> dict[str, Any]:
    """``{uuid, name_es, name_en, created_at}``."""
    return {
        "uuid": str(product.id),
        "name_es": product.name_es,
        "name_en": product.name_en,
        "created_at": _iso(product.created_at),
    }


def commune_view(commune: Commune) -> dict[str, Any]:
    """``{uuid, name, created_at}``."""
    return {
        "uuid": str(commune.id),
        "name": commune.name,
        "created_at": _iso(commune.created_at),
    }


def company_view(
    company: Company, *, public_url: str, owner: Any = None
) -> dict[str, Any]:
    """The public view, or the owner/admin view when ``owner`` (a User) is given."""
    view: dict[str, Any] = {
        "uuid": str(company.id),
        "product_uuid": str(company.product_id),
        "commune_uuid": str(company.commune_id),
        "name": company.name,
        "description_es": company.description_es,
        "description_en": company.description_en,
        "address": company.address,
        "phone": company.phone,
        "email": company.email,
        "image_url": (
            f"{public_url}/images/{company.image_key}" if company.image_key else None
        ),
        "image_extension": company.image_extension if company.image_key else None,
        "image_status": company.image_status,
        "created_at": _iso(company.created_at),
        "updated_at": _iso(company.updated_at),
        "product_name_es": company.product_name_es,
        "product_name_en": company.product_name_en,
        "commune_name": company.commune_name,
    }
    if owner is not None:
        view["user_uuid"] = str(company.user_id)
        view["user_name"] = owner.name
        view["user_email"] = owner.email
        view["image_rejection_reason"] = (
            company.image_rejection_reason
            if company.image_status == "rejected"
            else None
        )
    return view


# --- inputs -------------------------------------------------------------------


class ProductIn(Schema):
    """``{name_es?, name_en?}``: at least one; the other is machine-translated."""

    name_es = accounts.NameField(load_default=None, allow_none=True)
    name_en = accounts.NameField(load_default=None, allow_none=True)

    @validates_schema
    def _one_name(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("name_es") is None and data.get("name_en") is None:
            raise ValidationError(
                {"name_es": ["Give name_es, name_en or both."]},
            )


class CommuneIn(Schema):
    """``{name}``."""

    name = accounts.NameField(required=True)


class AdminListQuery(Schema):
    """Paging of the administrator's list."""

    limit = fields.Integer(
        strict=False, load_default=100, validate=validate.Range(min=1, max=500)
    )
    offset = Offset()


class CompanyForm(Schema):
    """Create/update fields (multipart/form-data, or url-encoded without image)."""

    name = fields.String()
    commune_name = fields.String()
    product_name = fields.String()
    address = fields.String()
    phone = fields.String()
    email = fields.String()
    description_es = fields.String()
    description_en = fields.String()
    lang = fields.String(validate=validate.OneOf(["es", "en"]))
    image = fields.Raw(metadata={"type": "string", "format": "binary"})


# --- outputs (documentation) --------------------------------------------------


class ProductOut(Schema):
    """A product."""

    uuid = fields.UUID()
    name_es = fields.String()
    name_en = fields.String()
    created_at = fields.DateTime()


class CommuneOut(Schema):
    """A commune."""

    uuid = fields.UUID()
    name = fields.String()
    created_at = fields.DateTime()


class CompanyOut(Schema):
    """The public view of a company (no owner data)."""

    uuid = fields.UUID()
    product_uuid = fields.UUID()
    commune_uuid = fields.UUID()
    name = fields.String()
    description_es = fields.String()
    description_en = fields.String()
    address = fields.String()
    phone = fields.String()
    email = fields.String()
    image_url = fields.String(allow_none=True)
    image_extension = fields.String(allow_none=True)
    image_status = fields.String(
        allow_none=True,
        validate=validate.OneOf(["pending", "approved", "rejected", "failed"]),
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    product_name_es = fields.String()
    product_name_en = fields.String()
    commune_name = fields.String()


class OwnerCompanyOut(CompanyOut):
    """The owner's (or an administrator's) view."""

    user_uuid = fields.UUID()
    user_name = fields.String()
    user_email = fields.String()
    image_rejection_reason = fields.String(allow_none=True)


class CompanyDeletedOut(Schema):
    """What a deletion answers."""

    uuid = fields.UUID()
    name = fields.String()
    message = fields.String()


class ProductDeletedOut(Schema):
    """What deleting a product answers."""

    message = fields.String()
    uuid = fields.UUID()
    name_es = fields.String()
    name_en = fields.String()


class CommuneDeletedOut(Schema):
    """What deleting a commune answers."""

    message = fields.String()
    uuid = fields.UUID()
    name = fields.String()
