"""Shared field rules of spec §0.4: normalisation, validators and marshmallow fields.

Strings are normalised before they are checked: control characters removed,
runs of spaces/tabs collapsed, trimmed. Descriptions keep line breaks (a run of
them becomes one). Passwords are never normalised. Lone UTF-16 surrogates (which
JSON can smuggle in and PostgreSQL cannot store) count as control characters,
so no input string reaches the database un-encodable.

Companies use the same rules through ``proveo.accounts``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import email_validator
from marshmallow import ValidationError, fields

__all__ = [
    "ADDRESS_MAX",
    "DESCRIPTION_MAX",
    "EMAIL_MAX",
    "LANGS",
    "NAME_MAX",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "AddressField",
    "DescriptionField",
    "EmailField",
    "FieldError",
    "LangField",
    "NameField",
    "PasswordField",
    "PhoneField",
    "clean_address",
    "clean_description",
    "clean_email",
    "clean_lang",
    "clean_name",
    "clean_password",
    "clean_phone",
    "normalize_multiline",
    "normalize_text",
]

NAME_MAX = 100
EMAIL_MAX = 254
ADDRESS_MAX = 200
DESCRIPTION_MAX = 1000
PASSWORD_MIN = 8
PASSWORD_MAX = 128
PHONE_MIN_DIGITS = 8
PHONE_MAX_DIGITS = 20
LANGS = ("es", "en")

_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_HSPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n+")
_PHONE = re.compile(r"[0-9 +\-()]+")


class FieldError(ValueError):
    """A value breaks a field rule; the message is safe to show to the client."""


def _strip_controls(value: str, *, keep_newlines: bool) -> str:
    out: list[str] = []
    for char in value:
        category = unicodedata.category(char)
        if char == "\n" and keep_newlines:
            out.append(char)
        elif char == "\t" or category in ("Zs", "Zl", "Zp"):
            out.append(" ")
        elif category in ("Cc", "Cs"):
            continue
        else:
            out.append(char)
    return "".join(out)


def normalize_text(value: str) -> str:
    """One line of text: controls removed, whitespace runs collapsed, trimmed, NFC.

    NFC, so that ``Ñ`` typed as N + combining tilde is the same text, the same
    length and the same name as the precomposed ``Ñ``.
    """
    value = _LINE_BREAKS.sub(" ", value)
    value = unicodedata.normalize("NFC", _strip_controls(value, keep_newlines=False))
    return _HSPACE.sub(" ", value).strip()


def normalize_multiline(value: str) -> str:
    """Text that keeps line breaks: each line normalised, runs of breaks become one."""
    value = _LINE_BREAKS.sub("\n", value)
    value = unicodedata.normalize("NFC", _strip_controls(value, keep_newlines=True))
    lines = [_HSPACE.sub(" ", line).strip() for line in value.split("\n")]
    return _BLANK_LINES.sub("\n", "\n".join(lines)).strip("\n")


def _require_str(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("Not a valid string.")
    return value


def _bounded(value: str, low: int, high: int) -> str:
    if len(value) < low:
        raise FieldError(
            "Must not be empty." if low == 1 else f"Length must be at least {low}."
        )
    if len(value) > high:
        raise FieldError(f"Length must be at most {high}.")
    return value


def clean_name(value: Any) -> str:
    """A user, company, product or commune name: 1..100 characters."""
    return _bounded(normalize_text(_require_str(value)), 1, NAME_MAX)


def clean_address(value: Any) -> str:
    """An address: 1..200 characters."""
    return _bounded(normalize_text(_require_str(value)), 1, ADDRESS_MAX)


def clean_description(value: Any) -> str:
    """A description: 1..1000 characters, single line breaks kept."""
    return _bounded(normalize_multiline(_require_str(value)), 1, DESCRIPTION_MAX)


def clean_email(value: Any) -> str:
    """An e-mail address (RFC 5322 syntax), lower-cased, at most 254 characters."""
    text = normalize_text(_require_str(value))
    if not text:
        raise FieldError("Must not be empty.")
    if len(text) > EMAIL_MAX:
        raise FieldError(f"Length must be at most {EMAIL_MAX}.")
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise FieldError("Not a valid email address.") from exc
    email = str(result.normalized).lower()
    if len(email) > EMAIL_MAX:
        raise FieldError(f"Length must be at most {EMAIL_MAX}.")
    return email


def clean_phone(value: Any) -> str:
    """A phone number: digits, spaces and ``+ - ( )``, with 8..20 digits."""
    text = normalize_text(_require_str(value))
    if not text or not _PHONE.fullmatch(text):
        raise FieldError("Only digits, spaces and + - ( ) are allowed.")
    digits = sum(char.isascii() and char.isdigit() for char in text)
    if not PHONE_MIN_DIGITS <= digits <= PHONE_MAX_DIGITS:
        raise FieldError(
            f"Must contain between {PHONE_MIN_DIGITS} and {PHONE_MAX_DIGITS} digits."
        )
    return text


def clean_password(value: Any) -> str:
    """A password: 8..128 characters of any Unicode, kept exactly as given."""
    text = _require_str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FieldError("Not a valid password.") from exc
    if len(text) < PASSWORD_MIN:
        raise FieldError(f"Length must be at least {PASSWORD_MIN}.")
    if len(text) > PASSWORD_MAX:
        raise FieldError(f"Length must be at most {PASSWORD_MAX}.")
    return text


def clean_lang(value: Any) -> str:
    """A language code: ``es`` or ``en``."""
    if not isinstance(value, str) or value not in LANGS:
        raise FieldError("Must be one of: es, en.")
    return value


class _Cleaned(fields.String):
    """A string field whose input goes through one ``clean_*`` function."""

    cleaner: Any = None

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> Any:
        try:
            return type(self).cleaner(value)
        except FieldError as exc:
            raise ValidationError(str(exc)) from exc


class NameField(_Cleaned):
    """Name (1..100 characters after normalisation)."""

    cleaner = staticmethod(clean_name)


class AddressField(_Cleaned):
    """Address (1..200 characters after normalisation)."""

    cleaner = staticmethod(clean_address)


class DescriptionField(_Cleaned):
    """Description (1..1000 characters, line breaks kept)."""

    cleaner = staticmethod(clean_description)


class EmailField(_Cleaned):
    """E-mail address, stored lower-cased."""

    cleaner = staticmethod(clean_email)


class PhoneField(_Cleaned):
    """Phone number."""

    cleaner = staticmethod(clean_phone)


class PasswordField(_Cleaned):
    """Password (8..128 characters, never normalised)."""

    cleaner = staticmethod(clean_password)


class LangField(_Cleaned):
    """Language code, ``es`` or ``en``."""

    cleaner = staticmethod(clean_lang)
