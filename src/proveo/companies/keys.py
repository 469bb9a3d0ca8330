"""Comparison keys for names: equal keys mean "the same name" to a person."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["KEY_MAX", "name_key"]

#: Width of the ``*_key`` columns. Compatibility decomposition can expand a
#: character many times (U+FDFA becomes 18), so keys are cut to fit; only
#: pathological names can collide through the cut.
KEY_MAX = 200

_SPACES = re.compile(r"\s+")


def name_key(text: str) -> str:
    """Fold ``text`` for uniqueness and ordering: case, accents and spacing ignored.

    ``"  Tecnología "`` and ``"TECNOLOGIA"`` share a key, so they can neither
    coexist as two products nor sort apart.
    """
    folded = unicodedata.normalize("NFKD", text)
    folded = unicodedata.normalize("NFKD", folded.casefold())
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip()[:KEY_MAX].strip()
