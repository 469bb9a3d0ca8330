"""Find extension points (storage, mail, translation backends) by name.

Built-ins and third-party plugins register the same way, as setuptools entry
points, so a deployment picks a backend by name in its settings and a missing
one fails at boot with the list of what is installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

__all__ = [
    "Plugin",
    "PluginConflict",
    "PluginNotFound",
    "available",
    "create",
    "load",
]


class Plugin(Protocol):
    """What an entry point must be: a class built from flat settings.

    ``settings`` holds the ``PROVEO_*`` values without the prefix, keys
    lower-cased (``{"smtp_host": ..., "mail_jsonl_path": ...}``); a plugin reads
    only its own keys, so it may use settings the core does not know.
    """

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> Any:
        """Build an instance from the flat settings mapping."""


class PluginNotFound(LookupError):
    """No installed distribution registers ``name`` in ``group``."""

    def __init__(self, group: str, name: str, available: list[str]) -> None:
        names = ", ".join(available) if available else "none"
        super().__init__(
            f"no plugin {name!r} in entry-point group {group!r}; installed: {names}"
        )
        self.group = group
        self.name = name
        self.available = available


class PluginConflict(LookupError):
    """Two installed distributions register the same name in one group.

    Picking one silently would make the backend depend on install order.
    """

    def __init__(self, group: str, name: str, targets: list[str]) -> None:
        super().__init__(
            f"plugin {name!r} in group {group!r} is registered more than once: "
            + ", ".join(targets)
        )
        self.group = group
        self.name = name
        self.targets = targets


def _entries(group: str) -> list[EntryPoint]:
    return list(entry_points(group=group))


def available(group: str) -> list[str]:
    """Return the sorted names registered in ``group``."""
    return sorted({ep.name for ep in _entries(group)})


def load(group: str, name: str) -> Any:
    """Import and return the object the entry point ``name`` of ``group`` names.

    Raises:
        PluginNotFound: nothing is registered under that name.
        PluginConflict: different objects are registered under that name.
    """
    matches = [ep for ep in _entries(group) if ep.name == name]
    targets = sorted({ep.value for ep in matches})
    if not targets:
        raise PluginNotFound(group, name, available(group))
    if len(targets) > 1:
        raise PluginConflict(group, name, targets)
    return matches[0].load()


def create(group: str, name: str, settings: Mapping[str, str]) -> Any:
    """Load plugin ``name`` of ``group`` and build it with ``from_settings``.

    Raises:
        PluginNotFound: nothing is registered under that name.
        TypeError: the entry point does not follow the factory convention.
    """
    factory = load(group, name)
    build = getattr(factory, "from_settings", None)
    if not callable(build):
        raise TypeError(
            f"plugin {name!r} in group {group!r} ({factory!r}) has no "
            "from_settings(settings) classmethod"
        )
    return build(settings)
