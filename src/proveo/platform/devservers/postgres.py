"""A private PostgreSQL primary with a streaming hot-standby replica.

The replica is real streaming replication, so replica routing, lag and
read-your-writes are tested against the same mechanism production uses.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from proveo.platform.devservers.processes import (
    LOOPBACK,
    DevServerError,
    find_free_port,
    log_size,
    log_tail,
    poll,
    port_clash,
    quietly,
    track,
    untrack,
)

__all__ = ["PostgresCluster", "pg_bin_dir"]

PG_USER = "postgres"
PORT_ATTEMPTS = 3
# A Unix socket path must fit in 108 bytes, ".s.PGSQL.NNNNN.lock" included.
MAX_SOCKET_DIR = 80

PRIMARY_CONF = """
# proveo dev server settings
listen_addresses = '{host}'
unix_socket_directories = '{run}'
wal_level = replica
max_wal_senders = 10
wal_keep_size = '64MB'
hot_standby = on
# fsync off makes the cluster fast and disposable; synchronous_commit stays on
# because turning it off delays WAL shipping by wal_writer_delay (~200 ms lag).
fsync = off
full_page_writes = off
synchronous_commit = on
max_connections = 200
shared_buffers = '128MB'
"""
REPLICA_CONF = "\nhot_standby_feedback = on\n"
HBA_LINE = f"\nhost replication {PG_USER} {LOOPBACK}/32 trust\n"


def pg_bin_dir() -> Path:
    """Locate the server binaries: ``PROVEO_PG_BIN``, else the newest Debian ones."""
    override = os.environ.get("PROVEO_PG_BIN")
    if override:
        candidates = [Path(override)]
    else:
        found = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(found, key=_major_version, reverse=True)
    for candidate in candidates:
        if all(os.access(candidate / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return candidate
    raise DevServerError(
        f"PostgreSQL server binaries not found in {override or '/usr/lib/postgresql'}; "
        "install the Debian package `postgresql` (plus `postgresql-contrib` on "
        "older releases) or set PROVEO_PG_BIN"
    )


def _major_version(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def as_root() -> bool:
    """Tell whether we run as root, where initdb refuses to work."""
    return os.geteuid() == 0


def postgres_argv(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so that it runs as the ``postgres`` user when we are root."""
    if not as_root():
        return argv
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        raise DevServerError(
            "running as root needs a `postgres` user; install the Debian package "
            "`postgresql`, which creates it"
        ) from None
    return [runuser, "-u", PG_USER, "--", *argv]


def choose_root(base_dir: Path) -> Path | None:
    """Return ``base_dir`` if the servers can live there, else ``None``.

    As root the servers run as ``postgres``, which cannot enter pytest's
    private (0700) temporary directories; and socket paths have a length limit.
    """
    if len(str(base_dir / "run")) > MAX_SOCKET_DIR:
        return None
    if as_root():
        probe = postgres_argv(["test", "-x", str(base_dir)])
        if subprocess.run(probe, check=False).returncode != 0:
            return None
    return base_dir


def postmaster_pid(datadir: Path) -> int | None:
    """Return the pid recorded in ``datadir``'s pid file, if there is one."""
    try:
        first = (datadir / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(first)
    except (OSError, ValueError):
        return None


def process_exists(pid: int) -> bool:
    """Tell whether process ``pid`` exists (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresCluster:
    """A primary and a streaming replica on free loopback ports, in ``base_dir``.

    Each ``start()`` builds fresh clusters with ``initdb`` and ``pg_basebackup``;
    with ``keep`` a primary left in ``base_dir`` by an earlier run is started
    again with its data (the replica is always rebuilt from it).
    """

    start_timeout = 60.0
    command_timeout = 120.0

    def __init__(
        self, base_dir: Path | str, *, database: str = "proveo", keep: bool = False
    ) -> None:
        self.base_dir = Path(base_dir)
        self.database = database
        self.keep = keep
        self.primary_port = 0
        self.replica_port = 0
        self.root = self.base_dir
        self._scratch = False
        self._bin: Path | None = None

    # -- addresses ---------------------------------------------------------

    def url(self, port: int, database: str | None = None) -> str:
        """SQLAlchemy URL of ``database`` (default: the project's) on ``port``."""
        db = database or self.database
        return f"postgresql+psycopg://{PG_USER}@{LOOPBACK}:{port}/{db}"

    @property
    def primary_url(self) -> str:
        """SQLAlchemy URL of the project database on the primary."""
        return self.url(self.primary_port)

    @property
    def replica_url(self) -> str:
        """SQLAlchemy URL of the project database on the replica."""
        return self.url(self.replica_port)

    def connect(
        self, *, replica: bool = False, database: str | None = None
    ) -> psycopg.Connection[TupleRow]:
        """Open an autocommit psycopg connection to the primary or the replica."""
        return psycopg.connect(
            host=LOOPBACK,
            port=self.replica_port if replica else self.primary_port,
            user=PG_USER,
            dbname=database or self.database,
            autocommit=True,
            connect_timeout=5,
        )

    # -- lifecycle ---------------------------------------------------------

    @property
    def primary_dir(self) -> Path:
        """Data directory of the primary."""
        return self.root / "primary"

    @property
    def replica_dir(self) -> Path:
        """Data directory of the replica."""
        return self.root / "replica"

    def start(self) -> None:
        """Create and start the primary, the database, and a streaming replica.

        Raises:
            DevServerError: binaries missing or a step failed (with its log tail).
        """
        self._bin = pg_bin_dir()  # fail early, before touching any directory
        self.stop()
        self._prepare_root()
        track(self)
        try:
            reuse = self._reusable()
            if not reuse:
                self._initdb()
            self.primary_port = self._start_fresh(self.primary_dir)
            if not reuse:
                with self.connect(database="postgres") as conn:
                    conn.execute(
                        sql.SQL("CREATE DATABASE {}").format(
                            sql.Identifier(self.database)
                        )
                    )
            self._basebackup()
            self.replica_port = self._start_fresh(self.replica_dir)
            self._wait_streaming()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop both servers (fast shutdown); idempotent."""
        self.stop_replica()
        self._pg_ctl_stop(self.primary_dir)
        if self._scratch:
            shutil.rmtree(self.root, ignore_errors=True)
            self._scratch = False
            self.root = self.base_dir
        untrack(self)

    def stop_replica(self) -> None:
        """Stop the replica only (to test falling back to the primary)."""
        self._pg_ctl_stop(self.replica_dir)

    def start_replica(self) -> None:
        """Start the replica again on its port and wait until it streams."""
        self._pg_ctl_start(self.replica_dir, self.replica_port)
        self._wait_streaming()

    # -- replication control ------------------------------------------------

    def pause_replay(self, timeout: float = 10.0) -> None:
        """Stop applying WAL on the replica: new commits stay invisible there.

        Returns once the replica reports the pause as effective, not merely asked.
        """
        with self.connect(replica=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            query = "SELECT pg_get_wal_replay_pause_state() = 'paused'"

            def paused() -> bool:
                found = conn.execute(query).fetchone()
                return bool(found and found[0])

            poll(paused, timeout=timeout, what="replica replay pause")

    def resume_replay(self) -> None:
        """Resume applying WAL on the replica."""
        with self.connect(replica=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def wait_replica_caught_up(self, timeout: float = 10.0) -> None:
        """Wait until the replica has replayed everything the primary wrote so far.

        Raises:
            DevServerError: still behind after ``timeout`` seconds.
        """
        with self.connect() as primary:
            row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        target = row[0] if row else "0/0"
        with self.connect(replica=True) as replica:
            query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"

            def caught_up() -> bool:
                found = replica.execute(query, (target,)).fetchone()
                return bool(found and found[0])

            poll(caught_up, timeout=timeout, what=f"replica (waiting for {target})")

    # -- steps ---------------------------------------------------------------

    def _reusable(self) -> bool:
        """Whether ``keep`` applies: a primary from an earlier run is there."""
        return (
            self.keep
            and not self._scratch
            and (self.primary_dir / "PG_VERSION").exists()
        )

    def _prepare_root(self) -> None:
        self.base_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        root = choose_root(self.base_dir)
        if root is None:
            self.root, self._scratch = Path(tempfile.mkdtemp(prefix="proveo-pg-")), True
        else:
            self.root = root  # start() stopped any leftover server in it already
            stale = [self.replica_dir]
            if not self._reusable():
                stale.append(self.primary_dir)
            for directory in stale:
                shutil.rmtree(directory, ignore_errors=True)
        (self.root / "run").mkdir(exist_ok=True)
        if as_root():
            owner = pwd.getpwnam(PG_USER)
            for path in (self.root, self.root / "run"):
                os.chmod(path, 0o755)  # noqa: S103 - postgres must traverse it
                os.chown(path, owner.pw_uid, owner.pw_gid)

    def _run(self, tool: str, *args: str) -> str:
        self._bin = self._bin or pg_bin_dir()
        timeout = self.command_timeout
        argv = postgres_argv([str(self._bin / tool), *args])
        try:
            done = subprocess.run(
                argv,
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DevServerError(f"{tool} did not finish in {timeout:g} s") from exc
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            raise DevServerError(f"{tool} failed (exit {done.returncode}): {output}")
        return output

    def _initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.primary_dir), "-U", PG_USER, "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        conf = PRIMARY_CONF.format(host=LOOPBACK, run=self.root / "run")
        self._append(self.primary_dir / "postgresql.conf", conf)
        self._append(self.primary_dir / "pg_hba.conf", HBA_LINE)

    def _basebackup(self) -> None:
        self._run(
            "pg_basebackup", "-h", LOOPBACK, "-p", str(self.primary_port),
            "-U", PG_USER, "-D", str(self.replica_dir), "-R", "-X", "stream",
            "-c", "fast", "--no-sync", "--no-manifest",
        )  # fmt: skip
        self._append(self.replica_dir / "postgresql.conf", REPLICA_CONF)

    @staticmethod
    def _append(path: Path, text: str) -> None:
        # As root we may write postgres-owned files; ownership stays unchanged.
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text)

    def _log(self, datadir: Path) -> Path:
        return self.root / f"{datadir.name}.log"

    def _start_fresh(self, datadir: Path) -> int:
        """Start ``datadir`` on a free port, retrying if the port gets taken."""
        attempt = 1
        while True:
            port = find_free_port()
            try:
                self._pg_ctl_start(datadir, port)
            except DevServerError as exc:
                if attempt >= PORT_ATTEMPTS or not port_clash(str(exc)):
                    raise
                attempt += 1
            else:
                return port

    def _pg_ctl_start(self, datadir: Path, port: int) -> None:
        log = self._log(datadir)
        offset = log_size(log)
        try:
            self._run(
                "pg_ctl", "-D", str(datadir), "-l", str(log), "-o", f"-p {port}",
                "-w", "-t", str(int(self.start_timeout)), "start",
            )  # fmt: skip
        except DevServerError as exc:
            raise DevServerError(f"{exc}\n{log_tail(log, start=offset)}") from None

    def _pg_ctl_stop(self, datadir: Path) -> None:
        pid = postmaster_pid(datadir)
        if pid is None:
            return
        try:
            self._run("pg_ctl", "-D", str(datadir), "-m", "fast", "-w", "stop")
        except DevServerError:
            # A killed postmaster leaves its pid file behind: nothing to stop.
            if process_exists(pid):
                raise

    def _streaming(self) -> bool:
        with self.connect(database="postgres") as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()
        return bool(row and row[0])

    def _wait_streaming(self) -> None:
        poll(
            quietly(self._streaming),
            timeout=self.start_timeout,
            what=f"replica on port {self.replica_port} (streaming)",
            log=self._log(self.replica_dir),
        )
