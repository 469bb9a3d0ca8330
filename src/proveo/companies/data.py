"""The companies module's public vocabulary: DTOs, events, errors, plugin protocol."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from proveo.platform.errors import Conflict, Invalid, NotFound
from proveo.platform.events import Event

__all__ = [
    "IMAGE_STATUSES",
    "Commune",
    "CommuneChanged",
    "CommuneInUse",
    "CommuneNotFound",
    "Company",
    "CompanyChanged",
    "CompanyDeleted",
    "CompanyExists",
    "CompanyNotFound",
    "DuplicateName",
    "Image",
    "ImageNotFound",
    "LogoUploaded",
    "ObjectsOrphaned",
    "Product",
    "ProductChanged",
    "ProductInUse",
    "ProductNotFound",
    "Translator",
    "UnknownReference",
]

#: Lifecycle of an uploaded logo; the company's ``image_status`` is one of these.
IMAGE_STATUSES = ("pending", "approved", "rejected", "failed")


# --- DTOs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Product:
    """A product category, named in both languages."""

    id: uuid.UUID
    name_es: str
    name_en: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Commune:
    """A Chilean commune companies are located in."""

    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Company:
    """A company with its product and commune names resolved (owner view data).

    ``image_key`` is the public key of the most recent *approved* logo (``None``
    when none was ever approved); ``image_status`` describes the most recent
    upload. ``description_*_machine`` tell which description was translated by
    machine (a manual edit of the other language may replace it).
    """

    id: uuid.UUID
    user_id: uuid.UUID
    product_id: uuid.UUID
    commune_id: uuid.UUID
    name: str
    description_es: str
    description_en: str
    address: str
    phone: str
    email: str
    image_key: str | None
    image_extension: str | None
    image_status: str | None
    image_rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    product_name_es: str
    product_name_en: str
    commune_name: str
    description_es_machine: bool = False
    description_en_machine: bool = False


@dataclass(frozen=True, slots=True)
class Image:
    """One uploaded logo and what moderation decided about it.

    ``company_id`` is ``None`` once the company was deleted.
    """

    id: uuid.UUID
    company_id: uuid.UUID | None
    quarantine_key: str
    content_type: str
    extension: str
    size: int
    width: int
    height: int
    status: str
    public_key: str | None
    score: float | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


# --- events (ids as strings: they travel through the outbox as JSON) ----------


@dataclass(frozen=True, slots=True)
class CompanyChanged(Event):
    """A company was created or changed in a way its readers can see."""

    company_id: str


@dataclass(frozen=True, slots=True)
class CompanyDeleted(Event):
    """A company was deleted (and archived)."""

    company_id: str


@dataclass(frozen=True, slots=True)
class ProductChanged(Event):
    """A product was created, renamed or deleted."""

    product_id: str


@dataclass(frozen=True, slots=True)
class CommuneChanged(Event):
    """A commune was created, renamed or deleted."""

    commune_id: str


@dataclass(frozen=True, slots=True)
class LogoUploaded(Event):
    """A logo waits in quarantine for moderation."""

    image_id: str
    company_id: str


@dataclass(frozen=True, slots=True)
class ObjectsOrphaned(Event):
    """Stored objects no row refers to any more; delete them after COMMIT."""

    keys: tuple[str, ...]


# --- errors -------------------------------------------------------------------


class CompanyNotFound(NotFound):
    """No such company."""

    def __init__(self, message: str = "Company not found") -> None:
        super().__init__(message)


class ProductNotFound(NotFound):
    """No such product."""

    def __init__(self, message: str = "Product not found") -> None:
        super().__init__(message)


class CommuneNotFound(NotFound):
    """No such commune."""

    def __init__(self, message: str = "Commune not found") -> None:
        super().__init__(message)


class ImageNotFound(NotFound):
    """No such image (or its company is gone)."""

    def __init__(self, message: str = "Image not found") -> None:
        super().__init__(message)


class CompanyExists(Conflict):
    """The user already has a company (one per user)."""

    def __init__(self, message: str = "This user already has a company") -> None:
        super().__init__(message)


class DuplicateName(Conflict):
    """Another product or commune already has this name."""


class ProductInUse(Conflict):
    """Companies still refer to the product."""


class CommuneInUse(Conflict):
    """Companies still refer to the commune."""


class UnknownReference(Invalid):
    """A commune or product named in a form does not exist."""


# --- plugin protocol ----------------------------------------------------------


class Translator(Protocol):
    """Machine translation between ``es`` and ``en``.

    Plugins register in the entry-point group ``proveo.translation``. Never
    raises: on any failure it returns ``None`` and callers fall back to a copy.
    """

    def translate(self, text: str, *, source: str, target: str) -> str | None:
        """Return ``text`` translated, or ``None`` when it could not be."""
