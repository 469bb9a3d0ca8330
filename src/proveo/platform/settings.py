"""Settings from ``PROVEO_*`` variables: read once, validated together, frozen.

This is the only module that reads ``os.environ`` for the application; everything
else receives a ``Settings`` (or the flat ``plugin_settings`` view) explicitly.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any, TypeVar
from urllib.parse import urlsplit

from proveo.platform import plugins

__all__ = ["ROLES", "Settings", "SettingsError", "cpu_quota"]

PREFIX = "PROVEO_"
T = TypeVar("T")

#: What ``PROVEO_ROLE`` may name (``proveo`` with no sub-command runs it).
ROLES = ("web", "worker", "migrate", "scheduler")


class SettingsError(Exception):
    """Raised with every problem found, so one start-up shows them all."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration:\n{lines}")


def cpu_quota() -> int:
    """CPUs this process may use: the cgroup quota if any, else the affinity mask.

    ``os.cpu_count()`` is the node's count inside a pod, which oversizes pools.
    """
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:
            quota, period = fh.read().split()
        if quota != "max":
            return max(1, int(int(quota) / int(period) + 0.999))
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as fh:
            quota_us = int(fh.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii") as fh:
            period_us = int(fh.read())
        if quota_us > 0:
            return max(1, int(quota_us / period_us + 0.999))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _int_range(low: int, high: int) -> Callable[[str], int]:
    expected = f"expected an integer in {low}..{high}"

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(expected) from None
        if not low <= value <= high:
            raise ValueError(expected)
        return value

    return parse


def _float_range(low: float, high: float) -> Callable[[str], float]:
    expected = f"expected a number in {low}..{high}"

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(expected) from None
        if not low <= value <= high:  # also false for nan
            raise ValueError(expected)
        return value

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return raw

    return parse


def _db_url(raw: str) -> str:
    if not raw.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ValueError("expected a postgresql:// URL")
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    return raw


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis:// URL")
    return raw


def _http_url(raw: str) -> str:
    try:
        host = urlsplit(raw).hostname
    except ValueError:
        host = None
    if not raw.startswith(("http://", "https://")) or not host:
        raise ValueError("expected an http(s) URL")
    return raw.rstrip("/")


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(_http_url(part) for part in _csv(raw))
    for origin in origins:
        if urlsplit(origin).path or "?" in origin or "#" in origin:
            raise ValueError(
                f"an origin takes no path, got {origin!r} (expected scheme://host[:port])"
            )
    return origins


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part, strict=False) for part in _csv(raw))


def _log_level(raw: str) -> str:
    value = raw.upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value


def _secret(raw: str) -> str:
    if len(raw) < 32:
        raise ValueError("must be at least 32 characters")
    return raw


def _address(raw: str) -> str:
    if "@" not in parseaddr(raw)[1]:
        raise ValueError("expected a mail address, e.g. Proveo <no-reply@example.com>")
    return raw


def _plugin(
    group: str, *, builtin: tuple[str, ...] = (), fold: bool = False
) -> Callable[[str], str]:
    """A backend name: built in or registered in the entry-point ``group``.

    ``fold`` compares the stripped, lower-cased name (for settings read that way).
    """

    def parse(raw: str) -> str:
        name = raw.strip().lower() if fold else raw
        known = sorted({*builtin, *plugins.available(group)})
        if name not in known:
            raise ValueError(
                f"{raw!r} is not installed; expected one of "
                f"{', '.join(known) or 'none'} (entry-point group {group})"
            )
        return raw

    return parse


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration. Field ``x`` comes from ``PROVEO_X``."""

    role: str = "web"
    database_url: str = ""
    database_replica_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    cookie_secure: bool = True
    storage: str = "local"
    storage_dir: str = "var/storage"
    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "proveo"
    s3_secure: bool = True
    mail: str = "console"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "Proveo <no-reply@proveo.local>"
    translator: str = "none"
    nsfw_threshold: float = 0.2
    nsfw_model: str = ""
    web_workers: int = 0
    web_threads: int = 4
    web_port: int = 8000
    worker_processes: int = 0
    worker_threads: int = 2
    onnx_threads: int = 1
    log_level: str = "INFO"
    debug: bool = False
    access_token_minutes: int = 120
    replica_max_lag_seconds: float = 5.0
    statement_timeout_ms: int = 5000
    db_pool_size: int = 5
    db_max_overflow: int = 5
    search_cache: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``).

        Raises:
            SettingsError: listing every missing or malformed variable, each once.
        """
        env = dict(os.environ if environ is None else environ)
        raw = {
            k[len(PREFIX) :].lower(): v for k, v in env.items() if k.startswith(PREFIX)
        }
        problems: list[str] = []
        values: dict[str, Any] = {}
        malformed: set[str] = set()

        def take(name: str, parse: Callable[[str], T], *, keep: bool = True) -> None:
            """Parse ``PROVEO_<NAME>`` if set; ``keep=False`` only validates it."""
            if name not in raw or raw[name] == "":
                return
            try:
                value = parse(raw[name])
            except ValueError as exc:
                malformed.add(name)
                problems.append(f"{PREFIX}{name.upper()}: {exc}")
            else:
                if keep:
                    values[name] = value

        def require(name: str, why: str) -> None:
            """Report ``name`` missing, unless it was set and already reported."""
            if name not in malformed and not values.get(name):
                problems.append(f"{PREFIX}{name.upper()}: {why}")

        take("role", _choice(*ROLES))
        take("database_url", _db_url)
        take("database_replica_url", _db_url)
        take("redis_url", _redis_url)
        take("secret_key", _secret)
        take("public_url", _http_url)
        take("allowed_origins", _origins)
        take("trusted_proxies", _networks)
        take("cookie_secure", _bool)
        take("storage", _plugin("proveo.storage"))
        take("storage_dir", str)
        take("s3_endpoint", str)
        take("s3_access_key", str)
        take("s3_secret_key", str)
        take("s3_bucket", str)
        take("s3_secure", _bool)
        take("mail", _plugin("proveo.mail"))
        take("smtp_host", str)
        take("smtp_port", _int_range(1, 65535))
        take("smtp_user", str)
        take("smtp_password", str)
        take("smtp_starttls", _bool)
        take("mail_from", _address)
        take("translator", _plugin("proveo.translation"))
        take("nsfw_threshold", _float_range(0.0, 1.0))
        take("nsfw_model", str)
        take("web_workers", _int_range(1, 64))
        take("web_threads", _int_range(1, 64))
        take("web_port", _int_range(1, 65535))
        take("worker_processes", _int_range(1, 64))
        take("worker_threads", _int_range(1, 64))
        take("onnx_threads", _int_range(1, 64))
        take("log_level", _log_level)
        take("debug", _bool)
        take("access_token_minutes", _int_range(1, 60 * 24 * 30))
        take("replica_max_lag_seconds", _float_range(0.0, 3600.0))
        take("statement_timeout_ms", _int_range(100, 600_000))
        take("db_pool_size", _int_range(1, 100))
        take("db_max_overflow", _int_range(0, 100))
        take("search_cache", _bool)
        # Read by the moderation wiring from ``plugin_settings`` (stripped,
        # lower-cased); checked here so a typo fails at start-up, not at the
        # first image.
        take(
            "classifier",
            _plugin("proveo.moderation.classifier", builtin=("onnx",), fold=True),
            keep=False,
        )
        values.update(overrides)

        require("database_url", "required")
        require("secret_key", "required (32+ random characters)")
        if values.get("storage", "local") == "s3":
            for key in ("s3_endpoint", "s3_access_key", "s3_secret_key"):
                require(key, "required when STORAGE=s3")
        if problems:
            raise SettingsError(problems)

        values.setdefault("database_replica_url", values["database_url"])
        quota = cpu_quota()
        values.setdefault("web_workers", quota)
        values.setdefault("worker_processes", quota)
        values["extra"] = raw
        return cls(**values)

    @property
    def plugin_settings(self) -> Mapping[str, str]:
        """The raw ``PROVEO_*`` values, prefix removed and lower-cased, for plugins."""
        merged = {
            "storage_dir": self.storage_dir,
            "s3_endpoint": self.s3_endpoint,
            "s3_access_key": self.s3_access_key,
            "s3_secret_key": self.s3_secret_key,
            "s3_bucket": self.s3_bucket,
            "s3_secure": "true" if self.s3_secure else "false",
            "smtp_host": self.smtp_host,
            "smtp_port": str(self.smtp_port),
            "smtp_user": self.smtp_user,
            "smtp_password": self.smtp_password,
            "smtp_starttls": "true" if self.smtp_starttls else "false",
            "mail_from": self.mail_from,
        }
        merged.update(self.extra)
        return merged
