"""Plug the companies module into the services: translator, cache, counters."""

from __future__ import annotations

from typing import Any

from proveo import accounts
from proveo.companies import service
from proveo.platform import plugins
from proveo.platform.runtime import Services

__all__ = ["TRANSLATOR", "configure", "current_cache"]

#: Key of the translator in ``services.extras``.
TRANSLATOR = "translator"

# The cache of the most recently configured services: event subscriptions
# (tasks.py) are process-wide and registered once, so they look it up here.
_current: dict[str, Any] = {}


def current_cache() -> Any:
    """The cache of the most recently configured services (``None`` before)."""
    return _current.get("cache")


def configure(services: Services) -> None:
    """Load the translator named by ``settings.translator`` and wire the module."""
    factory = plugins.load("proveo.translation", services.settings.translator)
    services.extras[TRANSLATOR] = factory.from_settings(
        services.settings.plugin_settings
    )
    _current["cache"] = services.cache
    accounts.register_company_counter(service.company_counts)
