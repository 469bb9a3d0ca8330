"""Name keys: what counts as "the same name"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proveo.companies import name_key


def test_examples():
    assert name_key("  Tecnología ") == name_key("TECNOLOGIA") == "tecnologia"
    assert name_key("Ñuñoa") == "nunoa"
    assert name_key("San   Ramón") == "san ramon"
    assert name_key("Straße") == "strasse"
    assert name_key("\U0001d400bc") == "abc"
    assert len(name_key("\ufdfa" * 100)) == 200


@given(st.text(max_size=100))
def test_keys_are_stable_and_fit_their_column(text):
    key = name_key(text)
    assert name_key(key) == key
    assert len(key) <= 200
