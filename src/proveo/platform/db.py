"""Units of work on split engines: reads on the replica, writes on the primary.

``Database.read()`` opens a READ ONLY transaction on the replica, falling back to
the primary when the replica is down, lags beyond a bound, or has not yet replayed
the client's own last write (read-your-writes by WAL position). ``Database.write()``
opens a transaction on the primary; in-transaction event subscribers and outbox
rows are written inside it, and after-commit hooks run only after COMMIT.

Engines are created lazily on first use, so nothing opens a socket at import or
before a fork.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from proveo.platform import metrics

__all__ = [
    "NAMING_CONVENTION",
    "Database",
    "ReadTx",
    "WriteTx",
    "client_lsn",
    "committed_lsn",
]


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: WAL position of the current client's last write (from its signed cookie/header).
client_lsn: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_lsn", default=None
)
#: WAL position covering the last COMMIT made in this context (to hand back).
committed_lsn: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "committed_lsn", default=None
)


class ReadTx:
    """An open read-only transaction; read use cases accept it."""

    __slots__ = ("_failover", "conn", "on_primary")

    def __init__(
        self,
        conn: sa.Connection,
        *,
        on_primary: bool,
        failover: Callable[[], sa.Connection] | None = None,
    ) -> None:
        self.conn = conn
        self.on_primary = on_primary
        self._failover = failover

    def execute(
        self,
        stmt: sa.Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> sa.CursorResult[Any]:
        """Run one statement in this transaction.

        Pooled connections are not pinged on checkout (a round trip per unit of
        work); instead, a connection that turns out dead on the first statement
        is replaced before anything was read or written (a replica one by the
        primary, also when the replica refuses the statement).
        """
        failover, self._failover = self._failover, None
        if failover is None:
            return self.conn.execute(stmt, params)  # type: ignore[arg-type]
        try:
            return self.conn.execute(stmt, params)  # type: ignore[arg-type]
        except DBAPIError as exc:
            replica_refused = not self.on_primary and isinstance(exc, OperationalError)
            if not (exc.connection_invalidated or replica_refused):
                raise
            self.conn.close()
            self.conn = failover()
            self.on_primary = True
            return self.conn.execute(stmt, params)  # type: ignore[arg-type]


@dataclass(eq=False)
class _Hooks:
    before_commit: list[Callable[[WriteTx], None]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class WriteTx(ReadTx):
    """An open read-write transaction on the primary; write use cases require it."""

    __slots__ = ("_hooks", "events", "state")

    def __init__(
        self,
        conn: sa.Connection,
        *,
        reconnect: Callable[[], sa.Connection] | None = None,
    ) -> None:
        super().__init__(conn, on_primary=True, failover=reconnect)
        self.events: list[Any] = []
        self.state: dict[str, Any] = {}
        self._hooks = _Hooks()

    def publish(self, event: Any) -> None:
        """Record a domain event; subscribers run before COMMIT (see ``events``)."""
        self.events.append(event)

    def before_commit(self, hook: Callable[[WriteTx], None]) -> None:
        """Run ``hook(tx)`` just before COMMIT, inside the transaction."""
        self._hooks.before_commit.append(hook)

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook()`` once the transaction has committed (best effort)."""
        self._hooks.after_commit.append(hook)


class _ReplicaHealth:
    """Per-process view of the replica: a circuit breaker and a cached lag."""

    def __init__(self, max_lag: float) -> None:
        self.max_lag = max_lag
        self.down_until = 0.0
        self.lag_seconds: float | None = 0.0
        self.checked_at = 0.0
        self.fallbacks = 0
        self.lock = threading.Lock()

    def usable(self) -> bool:
        now = time.monotonic()
        if now < self.down_until:
            return False
        return self.lag_seconds is None or self.lag_seconds <= self.max_lag

    def trip(self, seconds: float = 5.0) -> None:
        self.down_until = time.monotonic() + seconds
        self.fell_back("replica_down")

    def fell_back(self, reason: str) -> None:
        self.fallbacks += 1
        metrics.DB_FALLBACKS.labels(reason).inc()


class Database:
    """Primary and replica engines plus the unit-of-work context managers."""

    def __init__(
        self,
        primary_url: str,
        replica_url: str | None = None,
        *,
        pool_size: int = 5,
        max_overflow: int = 5,
        statement_timeout_ms: int = 5000,
        replica_max_lag_seconds: float = 5.0,
        application_name: str = "proveo",
        before_commit: Callable[[WriteTx], None] | None = None,
    ) -> None:
        self._primary_url = primary_url
        self._replica_url = replica_url or primary_url
        self.has_replica = self._replica_url != primary_url
        self._engine_kwargs: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": 5,
            "pool_recycle": 1800,
            # Units of work always end their transaction themselves, so the extra
            # ROLLBACK round trip the pool would send on return is pure overhead.
            "pool_reset_on_return": None,
            "pool_pre_ping": False,
            "connect_args": {
                "connect_timeout": 3,
                "application_name": application_name,
                "options": (
                    f"-c statement_timeout={statement_timeout_ms} "
                    "-c idle_in_transaction_session_timeout=60000 -c timezone=UTC"
                ),
            },
        }
        self._engines: dict[str, sa.Engine] = {}
        self._lock = threading.Lock()
        self._replica = _ReplicaHealth(replica_max_lag_seconds)
        self._before_commit: list[Callable[[WriteTx], None]] = (
            [before_commit] if before_commit is not None else []
        )

    # -- engines -------------------------------------------------------------

    def _engine(self, which: str) -> sa.Engine:
        engine = self._engines.get(which)
        if engine is None:
            with self._lock:
                engine = self._engines.get(which)
                if engine is None:
                    if which == "primary":
                        engine = sa.create_engine(
                            self._primary_url, **self._engine_kwargs
                        )
                    else:
                        # Read-only by default: a standby refuses even BEGIN READ WRITE,
                        # which is what resetting the option on pool return would send.
                        engine = sa.create_engine(
                            self._replica_url,
                            execution_options={"postgresql_readonly": True},
                            **self._engine_kwargs,
                        )
                    self._engines[which] = engine
        return engine

    @property
    def primary(self) -> sa.Engine:
        """The primary engine (writes, and reads that must be fresh)."""
        return self._engine("primary")

    @property
    def replica(self) -> sa.Engine:
        """The replica engine (the primary's when no replica is configured)."""
        return self._engine("replica") if self.has_replica else self.primary

    def dispose(self, close: bool = False) -> None:
        """Forget pooled connections, e.g. in a forked child (``close=False``)."""
        for engine in self._engines.values():
            engine.dispose(close=close)

    # -- units of work -------------------------------------------------------

    @contextmanager
    def read(
        self, *, min_lsn: str | None = None, autocommit: bool = False
    ) -> Iterator[ReadTx]:
        """A READ ONLY transaction, on the replica when it is fresh enough.

        ``min_lsn`` defaults to the client's last write position (``client_lsn``).
        ``autocommit=True`` runs each statement on its own, without ``BEGIN``
        and ``ROLLBACK``: two round trips fewer, for reads whose statements need
        not share a snapshot (under READ COMMITTED they never do anyway).
        """
        wanted = min_lsn if min_lsn is not None else client_lsn.get()
        conn = (
            self._replica_connection(wanted, autocommit) if self.has_replica else None
        )
        if conn is None:
            tx = ReadTx(
                self._primary_readonly(autocommit),
                on_primary=True,
                failover=functools.partial(self._primary_readonly, autocommit),
            )
        else:
            tx = ReadTx(
                conn,
                on_primary=False,
                failover=functools.partial(self._replica_failed, autocommit),
            )
        try:
            yield tx
            tx.conn.rollback()
        finally:
            tx.conn.close()

    def _begin_primary(self) -> sa.Connection:
        conn = _connect(self.primary)
        conn.begin()
        return conn

    def _primary_readonly(self, autocommit: bool = False) -> sa.Connection:
        conn = _connect(self.primary).execution_options(postgresql_readonly=True)
        return _start(conn, autocommit)

    def _replica_failed(self, autocommit: bool = False) -> sa.Connection:
        self._replica.trip()
        return self._primary_readonly(autocommit)

    def _replica_connection(
        self, min_lsn: str | None, autocommit: bool = False
    ) -> sa.Connection | None:
        self._refresh_lag()
        if not self._replica.usable():
            self._replica.fell_back("replica_unusable")
            return None
        conn: sa.Connection | None = None
        try:
            # Read-only by the engine's default.
            conn = _start(self.replica.connect(), autocommit)
            if min_lsn is not None:
                caught_up = conn.execute(
                    sa.text("select pg_last_wal_replay_lsn() >= cast(:lsn as pg_lsn)"),
                    {"lsn": min_lsn},
                ).scalar()
                if not caught_up:
                    conn.rollback()
                    conn.close()
                    self._replica.fell_back("read_your_writes")
                    return None
            return conn
        except (OperationalError, DBAPIError):
            if conn is not None:
                conn.invalidate()
                conn.close()
            self._replica.trip()
            return None

    def _refresh_lag(self) -> None:
        """Re-measure replica lag at most once a second per process."""
        health = self._replica
        now = time.monotonic()
        if now - health.checked_at < 1.0 or now < health.down_until:
            return
        if not health.lock.acquire(blocking=False):
            return
        try:
            health.checked_at = now
            health.lag_seconds = self.replica_lag()
        except (OperationalError, DBAPIError):
            health.trip()
        finally:
            health.lock.release()

    def replica_lag(self) -> float | None:
        """Seconds the replica is behind (0 when it has replayed everything)."""
        if not self.has_replica:
            return 0.0
        with self.primary.connect() as pconn:
            primary_lsn = pconn.execute(
                sa.text("select pg_current_wal_lsn()::text")
            ).scalar()
        with self.replica.connect() as rconn:
            row = rconn.execute(
                sa.text(
                    "select pg_last_wal_replay_lsn() >= cast(:lsn as pg_lsn),"
                    " extract(epoch from now() - pg_last_xact_replay_timestamp())"
                ),
                {"lsn": primary_lsn},
            ).one()
        if row[0]:
            return 0.0
        return float(row[1]) if row[1] is not None else None

    @contextmanager
    def write(self) -> Iterator[WriteTx]:
        """A transaction on the primary; COMMIT on success, ROLLBACK on error.

        A pooled connection that died with a server restart is replaced on the
        first statement (nothing was sent on it yet), so a restart costs no
        failed request.
        """
        tx = WriteTx(self._begin_primary(), reconnect=self._begin_primary)
        try:
            yield tx
            for hook in (*self._before_commit, *tx._hooks.before_commit):
                hook(tx)
            tx.conn.commit()
            lsn = tx.conn.execute(sa.text("select pg_current_wal_lsn()::text")).scalar()
            tx.conn.rollback()
            committed_lsn.set(lsn)
        except BaseException:
            tx.conn.rollback()
            raise
        finally:
            tx.conn.close()
        for after in tx._hooks.after_commit:
            after()

    def add_before_commit(self, hook: Callable[[WriteTx], None]) -> None:
        """Run ``hook(tx)`` before every COMMIT made through ``write()``."""
        self._before_commit.append(hook)

    # -- stats ---------------------------------------------------------------

    def ping(self, which: str = "primary") -> float:
        """Round-trip ``select 1``; returns milliseconds. Raises on failure."""
        started = time.perf_counter()
        engine = self.primary if which == "primary" else self.replica
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return (time.perf_counter() - started) * 1000

    def pool_stats(self) -> dict[str, Any]:
        """Pool sizes for the health endpoint."""

        def size(which: str) -> int:
            engine = self._engines.get(which)
            return int(engine.pool.checkedout()) if engine is not None else 0  # type: ignore[attr-defined]

        return {
            "write_size": size("primary"),
            "read_size": size("replica") if self.has_replica else size("primary"),
            "max_size": self._engine_kwargs["pool_size"]
            + self._engine_kwargs["max_overflow"],
            "replica_available": self.has_replica and self._replica.usable(),
            "replica_fallbacks": self._replica.fallbacks,
        }


def _start(conn: sa.Connection, autocommit: bool) -> sa.Connection:
    """Open the unit of work: ``BEGIN``, or per-statement transactions."""
    if autocommit:
        return conn.execution_options(isolation_level="AUTOCOMMIT")
    conn.begin()
    return conn


def _connect(
    engine: sa.Engine, *, attempts: int = 3, base_delay: float = 0.1
) -> sa.Connection:
    """Check out a connection, riding out a restart or failover of the server.

    Only the checkout is retried here: nothing has been sent yet, so it is
    always safe. Errors inside a unit of work surface to the edge (503 for
    HTTP, a Dramatiq retry for actors).
    """
    for attempt in range(1, attempts + 1):
        try:
            return engine.connect()
        except OperationalError:
            if attempt == attempts:
                raise
            time.sleep(base_delay * (2 ** (attempt - 1)))
    raise AssertionError("unreachable")
