"""Translator plugins (entry-point group ``proveo.translation``).

``none`` copies the text (the documented fallback). ``libretranslate`` speaks
LibreTranslate's ``POST /translate`` API with a short timeout; any failure
(timeout, refused connection, 5xx, garbage, an over-long answer) yields
``None`` so the caller falls back to a copy and the request never fails
because a translator is down.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = ["CopyTranslator", "LibreTranslateTranslator", "translate_or_copy"]

log = logging.getLogger("proveo.translation")

#: Longest answer accepted: a few times the longest text we translate.
MAX_ANSWER_BYTES = 64 * 1024
LANGS = ("es", "en")


class CopyTranslator:
    """No machine translation: the caller keeps a copy of the source text."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> CopyTranslator:
        """Build it (it has no settings)."""
        return cls()

    def translate(self, text: str, *, source: str, target: str) -> str | None:
        """Return ``None``: nothing was translated."""
        return None


class LibreTranslateTranslator:
    """A LibreTranslate-compatible HTTP service.

    Settings: ``translator_url`` (base URL, required), ``translator_api_key``
    (optional), ``translator_timeout`` (seconds, at most 3).
    """

    def __init__(self, url: str, *, api_key: str = "", timeout: float = 3.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("PROVEO_TRANSLATOR_URL must be an http(s) URL")
        self.endpoint = url.rstrip("/") + "/translate"
        self.api_key = api_key
        self.timeout = min(max(timeout, 0.1), 3.0)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> LibreTranslateTranslator:
        """Build it from ``translator_url`` / ``translator_api_key``."""
        url = settings.get("translator_url", "")
        if not url:
            raise ValueError("PROVEO_TRANSLATOR_URL is required for libretranslate")
        timeout = float(settings.get("translator_timeout", "") or 3.0)
        return cls(url, api_key=settings.get("translator_api_key", ""), timeout=timeout)

    def _post(self, payload: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the URL is validated http(s)
            self.endpoint,
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            body = response.read(MAX_ANSWER_BYTES + 1)
        if len(body) > MAX_ANSWER_BYTES:
            raise ValueError("answer too long")
        return json.loads(body.decode("utf-8"))

    def translate(self, text: str, *, source: str, target: str) -> str | None:
        """The translation, or ``None`` on any failure (logged, never raised)."""
        if source not in LANGS or target not in LANGS or source == target:
            return None
        payload: dict[str, Any] = {
            "q": text,
            "source": source,
            "target": target,
            "format": "text",
        }
        if self.api_key:
            payload["api_key"] = self.api_key
        try:
            answer = self._post(payload)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            log.warning("translation failed: %s", type(exc).__name__)
            return None
        translated = answer.get("translatedText") if isinstance(answer, dict) else None
        if not isinstance(translated, str) or not translated.strip():
            log.warning("translation failed: unexpected answer")
            return None
        return translated


def translate_or_copy(
    translator: Any, text: str, *, source: str, target: str, clean: Any, limit: int
) -> str:
    """Translate ``text``; keep a copy unless the result passes ``clean`` and fits.

    ``clean`` is the field's normaliser (it raises on an invalid value).
    """
    try:
        result = translator.translate(text, source=source, target=target)
    except Exception:  # a third-party plugin broke its contract: copy instead
        log.exception("translator raised")
        result = None
    if result is None:
        return text
    try:
        cleaned: str = clean(result)
    except ValueError:
        return text
    return cleaned if 0 < len(cleaned) <= limit else text
