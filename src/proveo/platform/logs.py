"""Structured JSON logs with a correlation id that follows a request into its jobs."""

from __future__ import annotations

import logging
import re
import sys
import uuid

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

__all__ = [
    "bind",
    "clear",
    "configure",
    "correlation_id",
    "get_logger",
    "new_correlation_id",
    "sane_correlation_id",
]

_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def configure(level: str = "INFO", *, role: str = "web") -> None:
    """Send structlog and stdlib logging (gunicorn, dramatiq, alembic) out as JSON lines."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            # Drop events below the level before any work is done on them.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("sqlalchemy.engine").setLevel("WARNING")
    bind_contextvars(role=role)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger; context (correlation id, role) is merged in."""
    return structlog.stdlib.get_logger(name)  # type: ignore[no-any-return]


def sane_correlation_id(raw: str | None) -> str:
    """The client's id when it is a sane token (spec §0.1), else a fresh one."""
    if raw and _SANE.match(raw):
        return raw
    return new_correlation_id()


def new_correlation_id() -> str:
    """A fresh request id."""
    return "req_" + uuid.uuid4().hex


def correlation_id() -> str | None:
    """The id bound to the current request or job, if any."""
    value = get_contextvars().get("correlation_id")
    return str(value) if value is not None else None


def bind(**values: object) -> None:
    """Bind values to every log line of the current request or job."""
    bind_contextvars(**values)


def clear() -> None:
    """Forget the bound context (threads are reused between requests)."""
    role = get_contextvars().get("role")
    clear_contextvars()
    if role is not None:
        bind_contextvars(role=role)
