"""Units of work against a real primary and streaming replica."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from proveo.platform import db as dbmod
from proveo.platform.db import Database
from proveo.platform.devservers import PostgresCluster
from tests.helpers import wait_for

items = sa.table("items", sa.column("id"), sa.column("label"), schema="dbtest")


@pytest.fixture(scope="module")
def database(pg_cluster: PostgresCluster) -> Iterator[Database]:
    database = Database(
        pg_cluster.primary_url, pg_cluster.replica_url, replica_max_lag_seconds=30
    )
    with database.primary.begin() as conn:
        conn.execute(sa.text("create schema if not exists dbtest"))
        conn.execute(
            sa.text(
                "create table if not exists dbtest.items (id uuid primary key, label text)"
            )
        )
    pg_cluster.wait_replica_caught_up()
    yield database
    database.dispose(close=True)


def _insert(database: Database, label: str) -> uuid.UUID:
    new_id = uuid.uuid4()
    with database.write() as tx:
        tx.execute(sa.insert(items).values(id=new_id, label=label))
    return new_id


def _visible(
    database: Database, item_id: uuid.UUID, **kwargs: Any
) -> tuple[bool, bool]:
    with database.read(**kwargs) as tx:
        found = tx.execute(sa.select(items.c.id).where(items.c.id == item_id)).first()
        return found is not None, tx.on_primary


def test_reads_run_on_the_replica_and_writes_on_the_primary(database: Database) -> None:
    with database.read() as tx:
        assert tx.execute(sa.text("select pg_is_in_recovery()")).scalar() is True
        assert tx.on_primary is False
    with database.write() as wtx:
        assert wtx.execute(sa.text("select pg_is_in_recovery()")).scalar() is False


def test_a_read_unit_of_work_refuses_writes(database: Database) -> None:
    with pytest.raises(DBAPIError), database.read() as tx:
        tx.execute(sa.insert(items).values(id=uuid.uuid4(), label="nope"))


_OWN_TRANSACTION = sa.text("select transaction_timestamp() = statement_timestamp()")


def _statements_in_own_transactions(database: Database, **kwargs: Any) -> list[bool]:
    with database.read(**kwargs) as tx:
        return [tx.execute(_OWN_TRANSACTION).scalar() for _ in range(2)]


def test_an_autocommit_read_runs_each_statement_on_its_own(
    database: Database,
) -> None:
    assert _statements_in_own_transactions(database, autocommit=True) == [True, True]
    # The pooled connection goes back to transactions for the next unit of work.
    assert _statements_in_own_transactions(database) == [False, False]
    with database.read(autocommit=True) as tx:
        assert tx.on_primary is False


def test_write_commits_only_on_success(database: Database) -> None:
    failed_id = uuid.uuid4()
    with pytest.raises(RuntimeError), database.write() as tx:
        tx.execute(sa.insert(items).values(id=failed_id, label="rolled back"))
        raise RuntimeError("boom")
    with database.write() as tx:
        assert (
            tx.execute(sa.select(items.c.id).where(items.c.id == failed_id)).first()
            is None
        )


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
    database: Database, pg_cluster: PostgresCluster
) -> None:
    item_id = _insert(database, "survives")
    pg_cluster.stop_replica()
    try:
        visible, on_primary = _visible(database, item_id)
        assert visible and on_primary
    finally:
        pg_cluster.start_replica()
    database._replica.down_until = 0.0
    pg_cluster.wait_replica_caught_up()
    assert wait_for(lambda: _visible(database, item_id) == (True, False), timeout=20)


def test_a_client_reads_its_own_write_while_replay_is_paused(
    database: Database, pg_cluster: PostgresCluster
) -> None:
    pg_cluster.pause_replay()
    try:
        dbmod.committed_lsn.set(None)
        item_id = _insert(database, "mine")
        lsn = dbmod.committed_lsn.get()
        assert lsn is not None
        # The writer, carrying its LSN, is served by the primary and sees the row.
        assert _visible(database, item_id, min_lsn=lsn) == (True, True)
        assert _visible(database, item_id, min_lsn=lsn, autocommit=True) == (
            True,
            True,
        )
        # Another client without the LSN may read the (stale) replica.
        assert _visible(database, item_id) == (False, False)
    finally:
        pg_cluster.resume_replay()
    pg_cluster.wait_replica_caught_up()
    assert _visible(database, item_id, min_lsn=lsn) == (True, False)


def test_replica_lag_is_zero_when_caught_up(
    database: Database, pg_cluster: PostgresCluster
) -> None:
    _insert(database, "lag")
    pg_cluster.wait_replica_caught_up()
    assert database.replica_lag() == 0.0
    stats = database.pool_stats()
    assert stats["max_size"] == 10 and stats["replica_available"] is True


def test_a_primary_restart_costs_no_failed_unit_of_work(
    database: Database, pg_cluster: PostgresCluster
) -> None:
    _insert(database, "before")  # leaves a pooled primary connection behind
    with database.primary.connect() as conn:
        conn.execute(
            sa.text(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
                " and application_name = 'proveo'"
            )
        )
        conn.commit()
    item_id = _insert(database, "after")  # the dead pooled connection is replaced
    pg_cluster.wait_replica_caught_up()
    assert _visible(database, item_id, min_lsn="0/0")[0]
