"""periodiq target: the periodic maintenance jobs (run exactly one replica)."""

from __future__ import annotations

from periodiq import PeriodiqMiddleware

from proveo import bootstrap
from proveo.platform import logs
from proveo.platform.settings import Settings

_settings = Settings.from_env()
logs.configure(_settings.log_level, role="scheduler")
broker = bootstrap.worker_broker(_settings)
broker.add_middleware(PeriodiqMiddleware(skip_delay=60))
