"""Company search: accent-insensitive full text with typo tolerance, always fresh.

The module owns ``search.documents``, kept in step with companies by
in-transaction event subscribers. Other modules use only what is exported here.
"""

from __future__ import annotations

from proveo.search.data import SearchDocument, SearchHit, SearchPage, SearchQuery
from proveo.search.service import compact, index_company, reindex, search

__all__ = [
    "SearchDocument",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "compact",
    "index_company",
    "reindex",
    "search",
]
