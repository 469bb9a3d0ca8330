"""The OpenAPI document, Swagger UI and ReDoc, all from packaged assets."""

from __future__ import annotations

from importlib import resources
from typing import Any

import falcon

__all__ = ["OpenApiDocument", "ReDoc", "ReDocScript", "install_docs"]

_REDOC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Proveo API — ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/api/v1/openapi.json"></redoc>
<script src="/redoc/redoc.standalone.js"></script></body></html>
"""


class OpenApiDocument:
    """``GET /api/v1/openapi.json``: built once, on first request."""

    def __init__(self, build: Any) -> None:
        self._build = build
        self._document: dict[str, Any] | None = None

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._document is None:
            self._document = self._build()
        resp.media = self._document


class ReDoc:
    """``GET /redoc``."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = _REDOC_PAGE


class ReDocScript:
    """The vendored ReDoc bundle (MIT; licence file beside it)."""

    def __init__(self) -> None:
        self._data = (
            resources.files("proveo.platform.http") / "static" / "redoc.standalone.js"
        ).read_bytes()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/javascript"
        resp.cache_control = ["public", "max-age=86400"]
        resp.data = self._data


def install_docs(app: falcon.App[Any, Any], build: Any) -> None:
    """Mount the document and both UIs."""
    from swagger_ui import api_doc

    document = OpenApiDocument(build)
    app.add_route("/api/v1/openapi.json", document)
    # Swagger UI fetches its document below its own prefix (config_rel_url is
    # relative to url_prefix), so the same document is served there too.
    app.add_route("/docs/openapi.json", document)
    app.add_route("/redoc", ReDoc())
    app.add_route("/redoc/redoc.standalone.js", ReDocScript())
    api_doc(
        app,
        config_rel_url="/openapi.json",
        url_prefix="/docs",
        title="Proveo API",
    )
