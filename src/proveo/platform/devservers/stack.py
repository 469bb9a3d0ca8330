"""All private servers together, and the ``PROVEO_*`` settings that point at them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from proveo.platform.devservers.postgres import PostgresCluster
from proveo.platform.devservers.servers import RedisServer, S3Server, SmtpSink

__all__ = ["DevStack"]

BUCKET = "proveo"


class DevStack:
    """PostgreSQL primary + replica, Redis, and optionally S3 and an SMTP sink.

    Args:
        base_dir: directory that holds every server's data and logs.
        s3: start the S3 emulation (``proveo dev`` may use local storage instead).
        smtp: start the SMTP sink (``proveo dev`` may print mail to the console).
        keep_database: start the database an earlier run left in ``base_dir``.
    """

    def __init__(
        self,
        base_dir: Path | str,
        *,
        s3: bool = True,
        smtp: bool = True,
        keep_database: bool = False,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.postgres = PostgresCluster(self.base_dir / "postgres", keep=keep_database)
        self.redis = RedisServer(self.base_dir / "redis")
        self.s3 = S3Server(self.base_dir / "s3", buckets=(BUCKET,)) if s3 else None
        self.smtp = SmtpSink(self.base_dir / "smtp") if smtp else None
        self.start_seconds = 0.0
        self.stop_seconds = 0.0

    def _servers(self) -> list[PostgresCluster | RedisServer | S3Server | SmtpSink]:
        optional = [server for server in (self.s3, self.smtp) if server is not None]
        return [self.postgres, self.redis, *optional]

    def start(self) -> DevStack:
        """Start every server concurrently; on any failure stop them all and raise.

        Raises:
            DevServerError: the first server that failed, with its log tail.
        """
        began = time.monotonic()
        self.base_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        # The servers spend their start-up waiting on subprocesses, so threads
        # overlap initdb with moto's slow import instead of adding them up.
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(server.start) for server in self._servers()]
        errors = [exc for exc in (f.exception() for f in futures) if exc is not None]
        if errors:
            self.stop()
            raise errors[0]
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop every server; idempotent."""
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(server.stop) for server in self._servers()]
        for future in futures:
            future.result()
        self.stop_seconds = time.monotonic() - began

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Return the ``PROVEO_*`` settings that point the application at the stack.

        Storage and mail keys appear only for the servers that were enabled.
        """
        env = {
            "PROVEO_DATABASE_URL": self.postgres.primary_url,
            "PROVEO_DATABASE_REPLICA_URL": self.postgres.replica_url,
            "PROVEO_REDIS_URL": self.redis.url,
        }
        if self.s3 is not None:
            env |= {
                "PROVEO_STORAGE": "s3",
                "PROVEO_S3_ENDPOINT": self.s3.endpoint,
                "PROVEO_S3_ACCESS_KEY": self.s3.access_key,
                "PROVEO_S3_SECRET_KEY": self.s3.secret_key,
                "PROVEO_S3_BUCKET": BUCKET,
                "PROVEO_S3_SECURE": "false",
            }
        if self.smtp is not None:
            env |= {
                "PROVEO_MAIL": "smtp",
                "PROVEO_SMTP_HOST": self.smtp.host,
                "PROVEO_SMTP_PORT": str(self.smtp.port),
                "PROVEO_SMTP_STARTTLS": "false",
            }
        return env
