"""The shared field rules of spec §0.4."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from proveo import accounts
from proveo.accounts.validation import FieldError

text = st.text(st.characters(), max_size=300)


@given(text)
def test_normalize_text_is_idempotent_and_clean(value: str) -> None:
    once = accounts.normalize_text(value)
    assert accounts.normalize_text(once) == once
    assert once == once.strip()
    assert "  " not in once and "\t" not in once and "\n" not in once
    assert all(ord(c) >= 32 and not 0x7F <= ord(c) < 0xA0 for c in once)
    once.encode("utf-8")  # never un-encodable


@given(text)
def test_normalize_multiline_keeps_single_line_breaks(value: str) -> None:
    once = accounts.normalize_multiline(value)
    assert accounts.normalize_multiline(once) == once
    assert "\n\n" not in once and "\r" not in once
    once.encode("utf-8")


@given(text)
def test_composed_and_decomposed_text_normalise_alike(value: str) -> None:
    nfc = unicodedata.normalize("NFC", value)
    nfd = unicodedata.normalize("NFD", value)
    for normalize in (accounts.normalize_text, accounts.normalize_multiline):
        once = normalize(nfd)
        assert once == normalize(nfc)
        assert once == unicodedata.normalize("NFC", once)


def test_a_decomposed_name_counts_its_letters() -> None:
    decomposed = unicodedata.normalize("NFD", "Ñ" * 100)
    assert len(decomposed) == 200
    assert accounts.clean_name(decomposed) == "Ñ" * 100


def test_examples() -> None:
    assert (
        accounts.normalize_text("  Tecnología \t\t y\x00 más\n") == "Tecnología y más"
    )
    assert (
        accounts.normalize_multiline("línea 1  \r\n\r\n  línea\t2")
        == "línea 1\nlínea 2"
    )


@given(text)
def test_names(value: str) -> None:
    normalized = accounts.normalize_text(value)
    if 1 <= len(normalized) <= 100:
        assert accounts.clean_name(value) == normalized
    else:
        with pytest.raises(FieldError):
            accounts.clean_name(value)


@given(st.text(min_size=8, max_size=128).filter(lambda s: s.encode("utf-8", "ignore")))
def test_passwords_are_kept_verbatim(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(FieldError):
            accounts.clean_password(value)
        return
    assert accounts.clean_password(value) == value


@pytest.mark.parametrize("value", ["short", "x" * 129, 12345678, None, "\ud800" * 9])
def test_bad_passwords(value: object) -> None:
    with pytest.raises(FieldError):
        accounts.clean_password(value)


_local = st.from_regex(
    r"[a-z0-9]([a-z0-9_+-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,8}){0,2}", fullmatch=True
)
_domain = st.from_regex(r"([a-z0-9]{1,15}\.){1,3}[a-z]{2,6}", fullmatch=True)


@given(_local, _domain, st.booleans())
def test_valid_emails_are_lower_cased(local: str, domain: str, shout: bool) -> None:
    address = f"{local}@{domain}"
    assume(len(address) <= 254)
    given_value = f"  {address.upper() if shout else address} "
    assert accounts.clean_email(given_value) == address


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "a@",
        "@b.com",
        "a b@c.com",
        "a@b@c.com",
        "a@" + "b" * 250 + ".com",
        7,
    ],
)
def test_bad_emails(value: object) -> None:
    with pytest.raises(FieldError):
        accounts.clean_email(value)


@pytest.mark.parametrize("value", ["+56 9 1234 5678", "(02) 2345-6789", "12345678"])
def test_phones(value: str) -> None:
    assert accounts.clean_phone(value) == value


@pytest.mark.parametrize("value", ["1234567", "1" * 21, "12345678x", "١٢٣٤٥٦٧٨٩", ""])
def test_bad_phones(value: str) -> None:
    with pytest.raises(FieldError):
        accounts.clean_phone(value)


@pytest.mark.parametrize("value", ["es", "en"])
def test_langs(value: str) -> None:
    assert accounts.clean_lang(value) == value


@pytest.mark.parametrize("value", ["ES", "fr", "", None, 1])
def test_bad_langs(value: object) -> None:
    with pytest.raises(FieldError):
        accounts.clean_lang(value)


def test_lengths() -> None:
    assert accounts.clean_address("a" * 200) == "a" * 200
    with pytest.raises(FieldError):
        accounts.clean_address("a" * 201)
    assert accounts.clean_description("a\n" * 400) == ("a\n" * 400).strip()
    with pytest.raises(FieldError):
        accounts.clean_description("a" * 1001)
