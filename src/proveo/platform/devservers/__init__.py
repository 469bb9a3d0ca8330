"""Private servers on free loopback ports, for the test suite and ``proveo dev``.

PostgreSQL (primary + streaming replica), Redis, an S3 emulation and an SMTP sink,
each living in a directory the caller chooses, all stoppable, usable as root or
as a normal user. Imports only the stdlib, psycopg and redis-py; moto, aiosmtpd
and minio run or load only when the matching server is used.
"""

from __future__ import annotations

from proveo.platform.devservers.postgres import PostgresCluster
from proveo.platform.devservers.processes import DevServerError, find_free_port
from proveo.platform.devservers.servers import RedisServer, S3Server, SmtpSink
from proveo.platform.devservers.stack import DevStack

__all__ = [
    "DevServerError",
    "DevStack",
    "PostgresCluster",
    "RedisServer",
    "S3Server",
    "SmtpSink",
    "find_free_port",
]
