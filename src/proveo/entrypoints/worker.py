"""Dramatiq target: ``proveo.entrypoints.worker:broker``, imported in each worker process."""

from __future__ import annotations

from proveo import bootstrap
from proveo.platform import logs
from proveo.platform.settings import Settings

_settings = Settings.from_env()
logs.configure(_settings.log_level, role="worker")
broker = bootstrap.worker_broker(_settings)
