"""gunicorn target: ``proveo.entrypoints.web:app``, built after the fork."""

from __future__ import annotations

from proveo import bootstrap
from proveo.platform import logs
from proveo.platform.settings import Settings

_settings = Settings.from_env()
logs.configure(_settings.log_level, role="web")
app = bootstrap.create_app(bootstrap.build_services(_settings))
