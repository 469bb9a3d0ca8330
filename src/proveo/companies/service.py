"""Company use cases: create, change, delete, read. Every rule lives here.

Callers pass already-normalised fields (see ``fields``) and, for descriptions,
translations made *before* the transaction (no HTTP call inside a transaction).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proveo.companies import store
from proveo.companies.data import (
    Company,
    CompanyChanged,
    CompanyDeleted,
    CompanyNotFound,
    LogoUploaded,
    ObjectsOrphaned,
    UnknownReference,
)
from proveo.companies.keys import name_key
from proveo.platform import audit
from proveo.platform.db import ReadTx, WriteTx

__all__ = [
    "CompanyDraft",
    "NewLogo",
    "company_counts",
    "create_company",
    "delete_companies_of_user",
    "delete_company",
    "delete_company_of_user",
    "find_company",
    "find_company_of_user",
    "get_company",
    "list_companies",
    "list_company_ids",
    "update_company",
]

_TEXT_COLUMNS = ("name", "address", "phone", "email")


@dataclass(frozen=True, slots=True)
class NewLogo:
    """A logo already stored under ``quarantine_key``, checked by content."""

    image_id: uuid.UUID
    quarantine_key: str
    content_type: str
    extension: str
    size: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class CompanyDraft:
    """Normalised form fields; ``None`` means "not supplied".

    ``translated_es`` / ``translated_en`` are machine translations prepared
    outside the transaction, used only where the rules allow a machine text.
    """

    name: str | None = None
    commune_name: str | None = None
    product_name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    description_es: str | None = None
    description_en: str | None = None
    translated_es: str | None = None
    translated_en: str | None = None
    lang: str = "es"


# --- reads --------------------------------------------------------------------


def get_company(tx: ReadTx, company_id: uuid.UUID) -> Company:
    """The company, or ``CompanyNotFound``."""
    return store.get_company(tx, company_id)


def find_company(tx: ReadTx, company_id: uuid.UUID) -> Company | None:
    """The company, or ``None``."""
    return store.find_company(tx, company_id)


def find_company_of_user(tx: ReadTx, user_id: uuid.UUID) -> Company | None:
    """The user's company (there is at most one), or ``None``."""
    return store.find_company_of_user(tx, user_id)


def list_companies(tx: ReadTx, *, limit: int, offset: int) -> list[Company]:
    """Companies newest first."""
    return store.list_companies(tx, limit=limit, offset=offset)


def list_company_ids(
    tx: ReadTx, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Company ids in ascending order after ``after``: a resumable full scan."""
    return store.list_company_ids(tx, after=after, limit=limit)


# --- writes -------------------------------------------------------------------


def _references(tx: ReadTx, draft: CompanyDraft) -> dict[str, Any]:
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if draft.commune_name is not None:
        commune = store.find_commune_by_key(tx, name_key(draft.commune_name))
        if commune is None:
            errors["body.commune_name"] = [f"Unknown commune {draft.commune_name!r}."]
        else:
            values["commune_id"] = commune.id
    if draft.product_name is not None:
        key = name_key(draft.product_name)
        other = "en" if draft.lang == "es" else "es"
        product = store.find_product_by_key(
            tx, key, draft.lang
        ) or store.find_product_by_key(tx, key, other)
        if product is None:
            errors["body.product_name"] = [f"Unknown product {draft.product_name!r}."]
        else:
            values["product_id"] = product.id
    if errors:
        raise UnknownReference("Unknown commune or product", fields=errors)
    return values


def _attach_logo(tx: WriteTx, company_id: uuid.UUID, logo: NewLogo) -> None:
    store.insert_image(
        tx,
        {
            "id": logo.image_id,
            "company_id": company_id,
            "quarantine_key": logo.quarantine_key,
            "content_type": logo.content_type,
            "extension": logo.extension,
            "size": logo.size,
            "width": logo.width,
            "height": logo.height,
            "status": "pending",
        },
    )
    store.update_company(
        tx, company_id, {"image_status": "pending", "image_rejection_reason": None}
    )
    tx.publish(LogoUploaded(image_id=str(logo.image_id), company_id=str(company_id)))


def create_company(
    tx: WriteTx, *, user_id: uuid.UUID, draft: CompanyDraft, logo: NewLogo | None
) -> Company:
    """Create the user's one company, its logo pending moderation.

    Raises:
        CompanyExists: the user already has a company (also when racing).
        UnknownReference: the commune or product name matches nothing.
    """
    refs = _references(tx, draft)
    es, en = draft.description_es, draft.description_en
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        **refs,
        **{column: getattr(draft, column) for column in _TEXT_COLUMNS},
        "description_es": es if es is not None else (draft.translated_es or en),
        "description_en": en if en is not None else (draft.translated_en or es),
        "description_es_machine": es is None,
        "description_en_machine": en is None,
    }
    company = store.insert_company(tx, values)
    if logo is not None:
        _attach_logo(tx, company.id, logo)
    tx.publish(CompanyChanged(company_id=str(company.id)))
    return store.get_company(tx, company.id)


def _description_changes(current: Company, draft: CompanyDraft) -> dict[str, Any]:
    """A supplied description is human; the other follows only if it was machine."""
    changes: dict[str, Any] = {}
    es, en = draft.description_es, draft.description_en
    if es is not None:
        changes.update(description_es=es, description_es_machine=False)
    if en is not None:
        changes.update(description_en=en, description_en_machine=False)
    if es is not None and en is None and current.description_en_machine:
        changes["description_en"] = draft.translated_en or es
        changes["description_en_machine"] = True
    if en is not None and es is None and current.description_es_machine:
        changes["description_es"] = draft.translated_es or en
        changes["description_es_machine"] = True
    return changes


def update_company(
    tx: WriteTx, *, user_id: uuid.UUID, draft: CompanyDraft, logo: NewLogo | None
) -> Company:
    """Change the user's company; omitted fields stay; a new logo goes pending.

    Raises:
        CompanyNotFound: the user has no company.
        UnknownReference: the commune or product name matches nothing.
    """
    current = store.lock_company_of_user(tx, user_id)
    if current is None:
        raise CompanyNotFound("You have no company")
    changes: dict[str, Any] = _references(tx, draft)
    for column in _TEXT_COLUMNS:
        value = getattr(draft, column)
        if value is not None:
            changes[column] = value
    changes.update(_description_changes(current, draft))
    if changes:
        store.update_company(tx, current.id, changes)
    if logo is not None:
        _attach_logo(tx, current.id, logo)
    tx.publish(CompanyChanged(company_id=str(current.id)))
    return store.get_company(tx, current.id)


def _jsonable(company: Company) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dataclasses.asdict(company).items():
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[key] = value
    return out


def _remove(
    tx: WriteTx, company: Company, *, reason: str, actor_id: uuid.UUID | None
) -> None:
    """Archive, delete, and schedule the company's objects for deletion."""
    store.archive_company(
        tx, company, data=_jsonable(company), reason=reason, archived_by=actor_id
    )
    keys = store.mark_images_deleted(tx, company.id)
    store.delete_company(tx, company.id)  # before the check below: it shows its key
    if keys:
        # Content-addressed public keys may be shared with another company's
        # logo; such objects must stay.
        doomed = tuple(sorted(set(keys) - store.shown_keys(tx, keys)))
        if doomed:
            tx.publish(ObjectsOrphaned(keys=doomed))
    tx.publish(CompanyDeleted(company_id=str(company.id)))


def delete_company_of_user(tx: WriteTx, user_id: uuid.UUID) -> Company:
    """Delete the caller's own company.

    Raises:
        CompanyNotFound: the user has no company.
    """
    company = store.lock_company_of_user(tx, user_id)
    if company is None:
        raise CompanyNotFound("You have no company")
    _remove(tx, company, reason="owner", actor_id=user_id)
    return company


def delete_company(
    tx: WriteTx, company_id: uuid.UUID, *, actor_id: uuid.UUID | None
) -> Company:
    """Delete any company as an administrator (audited).

    Raises:
        CompanyNotFound: no such company.
    """
    company = store.lock_company(tx, company_id)
    _remove(tx, company, reason="admin", actor_id=actor_id)
    audit.record(
        tx,
        actor_id=actor_id,
        action="company.delete",
        target_type="company",
        target_id=str(company.id),
        before=_jsonable(company),
        after=None,
    )
    return company


def delete_companies_of_user(tx: WriteTx, user_id: uuid.UUID) -> int:
    """Delete a departing user's company, if any; return how many were deleted."""
    company = store.lock_company_of_user(tx, user_id)
    if company is None:
        return 0
    _remove(tx, company, reason="account", actor_id=None)
    return 1


def company_counts(tx: Any, user_ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, int]:
    """How many companies each user has (0 or 1), for the admin user list."""
    return store.count_companies_of_users(tx, list(user_ids))
