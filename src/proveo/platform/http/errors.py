"""One JSON error shape for every 4xx/5xx (spec §0.1), mapped in one place."""

from __future__ import annotations

from typing import Any

import falcon
import marshmallow
import sqlalchemy.exc
from marshmallow import fields

from proveo.platform import logs, metrics
from proveo.platform.errors import DomainError, RateLimited, ServiceUnavailable
from proveo.platform.http.params import validation_fields

__all__ = ["ErrorSchema", "install_error_handlers", "render_error"]

log = logs.get_logger("proveo.http")

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    411: "BAD_REQUEST",
    413: "PAYLOAD_TOO_LARGE",
    414: "BAD_REQUEST",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    431: "BAD_REQUEST",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class _ErrorBody(marshmallow.Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorSchema(marshmallow.Schema):
    """The error envelope."""

    error = fields.Nested(_ErrorBody, required=True)
    correlation_id = fields.String(required=True)


def render_error(
    resp: falcon.Response,
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write the spec's error body and status onto ``resp``."""
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {
        "error": {
            "code": code or CODES.get(status, "ERROR"),
            "message": message,
            "details": details or {},
        },
        "correlation_id": logs.correlation_id() or "",
    }


def _domain(
    req: falcon.Request, resp: falcon.Response, ex: DomainError, params: Any
) -> None:
    if isinstance(ex, RateLimited):
        policy = (
            ex.headers.get("RateLimit-Policy", "").split(";")[0].strip('"') or "unknown"
        )
        metrics.RATE_LIMITED.labels(policy).inc()
        for name, value in ex.headers.items():
            resp.set_header(name, value)
        resp.set_header("Retry-After", str(ex.retry_after))
    render_error(resp, ex.status, ex.message, code=ex.code, details=ex.details)


def _http(
    req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
) -> None:
    status = ex.status_code
    title = ex.title or "Error"
    message = ex.description or title
    if status == 404:
        message = "Not found"
    elif status == 405:
        message = "Method not allowed"
    for name, value in dict(ex.headers or {}).items():
        resp.set_header(name, value)
    render_error(resp, status, message)


def _validation(
    req: falcon.Request,
    resp: falcon.Response,
    ex: marshmallow.ValidationError,
    params: Any,
) -> None:
    render_error(
        resp,
        422,
        "Invalid request",
        details={"fields": validation_fields(ex.messages, "body")},
    )


def _unavailable(
    req: falcon.Request, resp: falcon.Response, ex: ServiceUnavailable, params: Any
) -> None:
    log.warning("dependency unavailable", error=type(ex).__name__, detail=str(ex)[:200])
    resp.set_header("Retry-After", "5")
    render_error(resp, 503, "Service temporarily unavailable")


def _database_down(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
) -> None:
    # Connection loss, failover, pool exhaustion or a statement timeout: the
    # client may retry; the details stay in the log.
    log.warning("database unavailable", error=type(ex).__name__, path=req.path)
    resp.set_header("Retry-After", "2")
    render_error(resp, 503, "Service temporarily unavailable")


def _data_error(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
) -> None:
    # A value PostgreSQL cannot store (a NUL byte, an out-of-range number) that
    # slipped past validation: the client's input, not our failure.
    log.warning("rejected by the database", error=type(ex).__name__, path=req.path)
    render_error(resp, 422, "Invalid value in the request", details={"fields": {}})


def _unexpected(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
) -> None:
    if isinstance(ex, falcon.HTTPError):
        _http(req, resp, ex, params)
        return
    if isinstance(ex, DomainError):
        _domain(req, resp, ex, params)
        return
    log.exception("unhandled error", path=req.path, method=req.method)
    render_error(resp, 500, "Internal server error")


def install_error_handlers(app: falcon.App[Any, Any]) -> None:
    """Register the handlers; the most specific class wins (Falcon ≥ 3)."""
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http)
    app.add_error_handler(DomainError, _domain)
    app.add_error_handler(marshmallow.ValidationError, _validation)
    app.add_error_handler(ServiceUnavailable, _unavailable)
    app.add_error_handler(sqlalchemy.exc.OperationalError, _database_down)
    app.add_error_handler(sqlalchemy.exc.TimeoutError, _database_down)
    app.add_error_handler(sqlalchemy.exc.DataError, _data_error)
