"""gunicorn settings for the web role (workers/threads/bind come from the command line)."""

from __future__ import annotations

import os
from typing import Any

# gthread, answering gunicorn's own errors (414, 431, 400...) as the API's JSON errors.
worker_class = "proveo.entrypoints.gunicorn_worker.JsonErrorWorker"
preload_app = False  # each worker builds its own engines and pools after the fork
graceful_timeout = 25
timeout = 30
keepalive = 5
max_requests = 0
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None
# Several servers may run side by side (dev, tests, benches): no shared control socket.
control_socket_disable = True
errorlog = "-"
forwarded_allow_ips = ""  # client IPs come from PROVEO_TRUSTED_PROXIES, not gunicorn


def child_exit(server: Any, worker: Any) -> None:
    """Keep multiprocess metrics consistent when a worker dies."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
