"""Domain error categories; the HTTP layer maps each category to one status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """A business rule said no. Never retried by the queue; mapped to a 4xx."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = dict(details or {})


class BadRequest(DomainError):
    """The request is well-formed but unusable (e.g. a spent token)."""


class Unauthorized(DomainError):
    """No valid credentials."""

    status = 401
    code = "UNAUTHORIZED"


class Forbidden(DomainError):
    """Authenticated, but not allowed."""

    status = 403
    code = "FORBIDDEN"


class NotFound(DomainError):
    """The named resource does not exist (or is not visible to the caller)."""

    status = 404
    code = "RESOURCE_NOT_FOUND"


class Conflict(DomainError):
    """The change collides with existing state (duplicate, in use)."""

    status = 409
    code = "RESOURCE_CONFLICT"


class Invalid(DomainError):
    """Input that parsed but breaks a rule; ``fields`` names the culprits."""

    status = 422
    code = "VALIDATION_ERROR"

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, list[str]] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code, details={"fields": dict(fields or {})})


class PayloadTooLarge(DomainError):
    """The body is over its limit."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(DomainError):
    """The body's type is not one the route takes."""

    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(DomainError):
    """Too many requests; ``retry_after`` seconds until the next try."""

    status = 429
    code = "RATE_LIMITED"

    def __init__(
        self,
        message: str = "Too many requests",
        *,
        retry_after: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
        self.headers = dict(headers or {})


class ServiceUnavailable(Exception):
    """A dependency we cannot work without is down; retried, then 503."""
