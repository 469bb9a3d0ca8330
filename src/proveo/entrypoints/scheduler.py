"""periodiq target: the periodic maintenance jobs (run exactly one replica)."""

from __future__ import annotations

from proveo import bootstrap
from proveo.platform import logs
from proveo.platform.settings import Settings

_settings = Settings.from_env()
logs.configure(_settings.log_level, role="scheduler")
# The broker already carries PeriodiqMiddleware; periodiq only needs the actors.
broker = bootstrap.worker_broker(_settings, relay=False)
