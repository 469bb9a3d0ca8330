"""The Falcon application shell every module mounts its routes on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import falcon

from proveo import __version__
from proveo.platform.http.docs import install_docs
from proveo.platform.http.errors import ErrorSchema, install_error_handlers
from proveo.platform.http.health import Database_, Health, Ready
from proveo.platform.http.middleware import (
    BodyLimit,
    Consistency,
    RateLimitHeaders,
    RequestContext,
    SecurityHeaders,
    UnknownMethods,
)
from proveo.platform.http.openapi import build_spec, route
from proveo.platform.metrics import Metrics, MetricsMiddleware
from proveo.platform.runtime import Services

__all__ = ["base_app"]

EXPOSED_HEADERS = [
    "X-Correlation-ID",
    "X-Total-Count",
    "X-Proveo-LSN",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "ETag",
]


def base_app(
    services: Services,
    *,
    authenticator: Any,
    ready_checks: dict[str, Callable[[], Any]],
    metric_samplers: Sequence[Callable[[], None]] = (),
) -> falcon.App[Any, Any]:
    """An app with middleware, error mapping, health, metrics and API docs."""
    settings = services.settings
    middleware: list[Any] = []
    if settings.allowed_origins:
        middleware.append(
            falcon.CORSMiddleware(
                allow_origins=list(settings.allowed_origins),
                allow_credentials=list(settings.allowed_origins),
                expose_headers=EXPOSED_HEADERS,
            )
        )
    middleware += [
        RequestContext(authenticator),
        MetricsMiddleware(),
        SecurityHeaders(settings.trusted_proxies),
        RateLimitHeaders(),
        UnknownMethods(),
        BodyLimit(),
        Consistency(settings.secret_key, secure_cookie=settings.cookie_secure),
    ]
    app = falcon.App(middleware=middleware, cors_enable=False)
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.keep_blank_qs_values = True
    app.resp_options.secure_cookies_by_default = settings.cookie_secure
    install_error_handlers(app)

    route(app, "/api/v1/health", Health())
    route(app, "/api/v1/health/ready", Ready(ready_checks))
    route(app, "/api/v1/health/database", Database_(services.db))
    app.add_route("/metrics", Metrics(list(metric_samplers)))
    install_docs(
        app,
        lambda: build_spec(
            app, title="Proveo API", version=__version__, error_schema=ErrorSchema
        ),
    )
    return app
