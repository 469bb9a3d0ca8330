"""Process wiring: the session cache on this process's Redis client."""

from __future__ import annotations

from proveo.accounts import service
from proveo.accounts.sessions import SessionCache
from proveo.platform.runtime import Services

__all__ = ["configure"]


def configure(services: Services) -> None:
    """Check and revoke sessions through the cache's Redis (with its short timeouts)."""
    service.configure_sessions(SessionCache(getattr(services.cache, "redis", None)))
