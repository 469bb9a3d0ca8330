"""The field rules of spec §0.4 applied to company and catalogue input.

The rules themselves belong to accounts (one validator for user and company
e-mails, one normalisation); this file only maps them onto our fields and
collects every failure into one 422 that names each field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from proveo import accounts
from proveo.platform.errors import Invalid

__all__ = ["PHONE_MAX", "clean_fields", "clean_phone"]

#: Characters a phone may have (separators included); the column is this wide.
PHONE_MAX = 64


def clean_phone(value: Any) -> str:
    """A phone (accounts' rule) that also fits its column."""
    phone: str = accounts.clean_phone(value)
    if len(phone) > PHONE_MAX:
        raise accounts.FieldError(f"Length must be at most {PHONE_MAX}.")
    return phone


def _cleaners() -> dict[str, Callable[[Any], str]]:
    return {
        "name": accounts.clean_name,
        "commune_name": accounts.clean_name,
        "product_name": accounts.clean_name,
        "address": accounts.clean_address,
        "phone": clean_phone,
        "email": accounts.clean_email,
        "description_es": accounts.clean_description,
        "description_en": accounts.clean_description,
        "lang": accounts.clean_lang,
        "name_es": accounts.clean_name,
        "name_en": accounts.clean_name,
    }


def clean_fields(
    raw: Mapping[str, Any], *, allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> dict[str, str]:
    """Normalise and check every known field; one ``Invalid`` lists all failures."""
    cleaners = _cleaners()
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for name in allowed:
        if name not in raw or raw[name] is None:
            if name in required:
                errors[f"body.{name}"] = ["Missing data for required field."]
            continue
        try:
            cleaned[name] = cleaners[name](raw[name])
        except accounts.FieldError as exc:
            errors[f"body.{name}"] = [str(exc)]
    if errors:
        raise Invalid("Invalid request body", fields=errors)
    return cleaned
