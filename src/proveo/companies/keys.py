"""Comparison keys for names: equal keys mean "the same name" to a person."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["name_key"]

_SPACES = re.compile(r"\s+")


def name_key(text: str) -> str:
    """Fold ``text`` for uniqueness and ordering: case, accents and spacing ignored.

    ``"  Tecnología "`` and ``"TECNOLOGIA"`` share a key, so they can neither
    coexist as two products nor sort apart.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", unicodedata.normalize("NFC", stripped)).strip()
