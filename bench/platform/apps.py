"""WSGI targets for the platform benchmark: the framework ceiling and a db.read() probe."""

from __future__ import annotations

import falcon
import sqlalchemy as sa


class _Hello:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "healthy"}


hello = falcon.App()
hello.add_route("/api/v1/health", _Hello())
hello.add_route("/hello", _Hello())


def _proveo_with_read_probe() -> falcon.App:
    from proveo import bootstrap
    from proveo.platform import logs
    from proveo.platform.settings import Settings

    settings = Settings.from_env()
    logs.configure(settings.log_level, role="web")
    services = bootstrap.build_services(settings)
    app = bootstrap.create_app(services)

    class ReadProbe:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            with services.db.read() as tx:
                value = tx.execute(sa.text("select 1")).scalar()
            resp.media = {"value": value}

    app.add_route("/bench/read", ReadProbe())
    return app


def __getattr__(name: str) -> falcon.App:
    if name == "proveo":  # built lazily in the gunicorn worker, after the fork
        app = _proveo_with_read_probe()
        globals()["proveo"] = app
        return app
    raise AttributeError(name)
