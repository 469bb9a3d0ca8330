"""Plain types the search module speaks: documents in, queries in, pages out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

__all__ = ["SearchDocument", "SearchHit", "SearchPage", "SearchQuery"]


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """Everything search keeps about one company, denormalised from companies."""

    company_id: uuid.UUID
    name: str
    description_es: str
    description_en: str
    address: str
    email: str
    phone: str
    image_key: str | None
    product_id: uuid.UUID
    product_name_es: str
    product_name_en: str
    commune_id: uuid.UUID
    commune_name: str


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search request; ``lang`` ("es" or "en") picks output only."""

    q: str | None
    commune: str | None
    product: str | None
    lang: str
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One company in a result page, texts already in the requested language."""

    company_id: uuid.UUID
    name: str
    description: str
    address: str
    email: str
    phone: str
    image_key: str | None
    product_name: str
    commune_name: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of hits plus the total number of matches."""

    items: list[SearchHit] = field(default_factory=list)
    total: int = 0
