"""Redis, an S3-speaking store (moto) and an SMTP sink (aiosmtpd), each a subprocess.

Subprocesses rather than in-process threads, because ``proveo dev`` and the
end-to-end tests run web and worker processes that must reach the same servers.
"""

from __future__ import annotations

import abc
import email
import email.policy
import http.client
import importlib.util
import mailbox
import os
import shutil
import smtplib
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from proveo.platform.devservers.processes import (
    LOOPBACK,
    POLL_INTERVAL,
    Child,
    DevServerError,
    find_free_port,
    poll,
    port_clash,
    quietly,
    track,
    untrack,
)

if TYPE_CHECKING:
    from minio import Minio

__all__ = ["RedisServer", "S3Server", "SmtpSink", "redis_binary"]

PORT_ATTEMPTS = 3


class ChildServer(abc.ABC):
    """A server run as one child process on a loopback port.

    The first start picks a free port and retries on another one if the port was
    taken in between; later starts reuse it, so URLs stay valid across restarts.
    """

    name = "server"
    start_timeout = 60.0

    def __init__(self, base_dir: Path | str, *, port: int = 0) -> None:
        self.base_dir = Path(base_dir)
        self.port = port
        self.host = LOOPBACK
        self._child = Child(self.name, self.base_dir / f"{self.name}.log")

    @abc.abstractmethod
    def _argv(self) -> list[str]:
        """The command line that runs the server on ``self.port``."""

    @abc.abstractmethod
    def _ready(self) -> bool:
        """Probe the server once; errors count as "not ready"."""

    @abc.abstractmethod
    def _prepare(self) -> None:
        """Check prerequisites and create directories before spawning."""

    @property
    def running(self) -> bool:
        """Tell whether the server process is alive."""
        return self._child.alive()

    def start(self) -> None:
        """Start the server and wait until it answers; no-op when running.

        Raises:
            DevServerError: a prerequisite is missing or the server did not come up.
        """
        if self.running:
            return
        self.base_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._prepare()
        fixed = self.port != 0
        attempt = 1
        while True:
            if not fixed:
                self.port = find_free_port()
            offset = self._child.spawn(self._argv(), cwd=self.base_dir)
            try:
                poll(
                    quietly(self._ready),
                    timeout=self.start_timeout,
                    what=f"{self.name} on port {self.port}",
                    alive=self._child.alive,
                    log=self._child.log,
                    log_start=offset,
                )
            except DevServerError as exc:
                self._child.stop()
                if fixed or attempt >= PORT_ATTEMPTS or not port_clash(str(exc)):
                    raise
                attempt += 1
            else:
                break
        track(self)

    def stop(self) -> None:
        """Stop the server; idempotent."""
        self._child.stop()
        untrack(self)


def redis_binary() -> str:
    """Locate ``redis-server``: ``PROVEO_REDIS_BIN``, else the ``PATH``."""
    override = os.environ.get("PROVEO_REDIS_BIN")
    found = override or shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(found, os.X_OK):
        raise DevServerError(
            f"redis-server not found ({found}); install the Debian package "
            "`redis-server` or set PROVEO_REDIS_BIN"
        )
    return found


class RedisServer(ChildServer):
    """A throw-away Redis: no persistence, loopback only, restartable on its port."""

    name = "redis"

    @property
    def url(self) -> str:
        """``redis://`` URL of database 0."""
        return f"redis://{self.host}:{self.port}/0"

    def _prepare(self) -> None:
        self._binary = redis_binary()

    def _argv(self) -> list[str]:
        return [
            self._binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.base_dir),
        ]  # fmt: skip

    def _ready(self) -> bool:
        # No client-side retries: the poll loop is the retry, and redis-py's
        # default backoff would turn every refused probe into seconds.
        client = redis.Redis(
            host=self.host,
            port=self.port,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            return bool(client.ping())
        finally:
            client.close()


def _require_module(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise DevServerError(
            f"Python package {package!r} is missing; install the project's "
            "`dev` or `test` extra"
        )


class S3Server(ChildServer):
    """moto's S3 emulation as a standalone HTTP server (path-style URLs)."""

    name = "s3"
    access_key = "testing"
    secret_key = "testing"  # noqa: S105 - moto accepts any credentials
    region = "us-east-1"

    def __init__(
        self, base_dir: Path | str, *, port: int = 0, buckets: tuple[str, ...] = ()
    ) -> None:
        super().__init__(base_dir, port=port)
        self.buckets = buckets

    def start(self) -> None:
        """Start the server and create ``buckets`` (state lives in memory only)."""
        super().start()
        for bucket in self.buckets:
            self.create_bucket(bucket)

    @property
    def endpoint(self) -> str:
        """``host:port`` as the ``minio`` client wants it."""
        return f"{self.host}:{self.port}"

    def _prepare(self) -> None:
        _require_module("moto", "moto[server]")
        _require_module("flask", "moto[server]")

    def _argv(self) -> list[str]:
        host, port = self.host, str(self.port)
        return [sys.executable, "-m", "moto.server", "-H", host, "-p", port]

    def _ready(self) -> bool:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=1)
        try:
            conn.request("GET", "/moto-api/")
            return conn.getresponse().status > 0  # any HTTP answer will do
        finally:
            conn.close()

    def client(self) -> Minio:
        """Return a ``minio`` client for this server.

        The explicit region matters: without it the client first asks the
        server for the bucket location, an extra round trip on every new client.
        """
        from minio import Minio

        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=self.region,
        )

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` unless it exists."""
        client = self.client()
        if not client.bucket_exists(name):
            client.make_bucket(name)


class SmtpSink(ChildServer):
    """An SMTP server that stores every message it accepts in a Maildir."""

    name = "smtp"

    @property
    def maildir(self) -> Path:
        """Where accepted messages land (``new/`` holds them)."""
        return self.base_dir / "maildir"

    def _prepare(self) -> None:
        _require_module("aiosmtpd", "aiosmtpd")
        mailbox.Maildir(self.maildir, create=True)

    def _argv(self) -> list[str]:
        # -n: never setuid to "nobody" (it would when run as root);
        # -u: accept SMTPUTF8 so internationalised addresses can be tested.
        return [
            sys.executable, "-m", "aiosmtpd", "-n", "-u",
            "-l", f"{self.host}:{self.port}",
            "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir),
        ]  # fmt: skip

    def _ready(self) -> bool:
        with smtplib.SMTP(self.host, self.port, timeout=1) as client:
            return client.noop()[0] == 250

    def _files(self) -> list[Path]:
        found: list[Path] = []
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if folder.is_dir():
                found.extend(p for p in folder.iterdir() if p.is_file())
        return found

    def messages(self) -> list[EmailMessage]:
        """Return every stored message, oldest first."""
        # Delivery writes to tmp/ and renames into new/, so files here are whole.
        entries = sorted(
            (path.stat().st_mtime_ns, path.name, path.read_bytes())
            for path in self._files()
        )
        return [
            email.message_from_bytes(raw, policy=email.policy.default)
            for _, _, raw in entries
        ]

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], timeout: float = 10.0
    ) -> EmailMessage:
        """Return the first stored message matching ``predicate``, waiting for it.

        Raises:
            DevServerError: no such message arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            seen = self.messages()
            for message in seen:
                if predicate(message):
                    return message
            if time.monotonic() >= deadline:
                subjects = [str(m["subject"]) for m in seen]
                raise DevServerError(
                    f"no matching message after {timeout:g} s; have {subjects}"
                )
            time.sleep(POLL_INTERVAL)

    def clear(self) -> None:
        """Delete every stored message."""
        for path in self._files():
            path.unlink(missing_ok=True)
