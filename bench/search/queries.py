"""The search benchmark's query set, as data: HTTP query parameters per kind.

Every value refers to names ``generate.py`` creates, so each query has matches
at any size. Kinds follow the performance targets: common words, typos, a
3-letter word (prefix), filters alone, and words combined with filters.
"""

from __future__ import annotations

QUERIES: dict[str, list[dict[str, str]]] = {
    "word": [
        {"q": "panadería"},
        {"q": "tecnologia"},
        {"q": "ferreterias"},
        {"q": "plumbing"},
        {"q": "clinica dental"},
        {"q": "gonzalez"},
    ],
    "typo": [
        {"q": "tecnolgia"},
        {"q": "panaderai"},
        {"q": "ferretria"},
        {"q": "veterinraia"},
        {"q": "carpinteira"},
    ],
    "short": [
        {"q": "pan"},
        {"q": "tec"},
        {"q": "caf"},
        {"q": "vin"},
    ],
    "filter": [
        {"commune": "Providencia"},
        {"commune": "nunoa"},
        {"product": "Food"},
        {"product": "tecnologia"},
        {"commune": "Las Condes", "product": "Hardware"},
    ],
    "combined": [
        {"q": "pasteles", "commune": "Ñuñoa", "product": "alimentos"},
        {"q": "soporte", "commune": "Providencia"},
        {"q": "mantencion", "product": "Car repair", "lang": "en"},
        {"q": "vino tinto", "commune": "Santiago Centro"},
    ],
}
