"""Events and the outbox: jobs exist only for committed changes and survive Redis outages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import redis
import sqlalchemy as sa

from proveo.platform import events, logs, outbox, queue, runtime
from proveo.platform.events import Event
from proveo.platform.tables import outbox as outbox_table
from tests.helpers import wait_for

received: list[dict[str, str]] = []


@dataclass(frozen=True, slots=True)
class Pinged(Event):
    token: str


@dataclass(frozen=True, slots=True)
class Counted(Event):
    token: str


@queue.actor("platformtest.record_ping", max_retries=0)
def record_ping(token: str) -> None:
    received.append({"token": token, "correlation_id": logs.correlation_id() or ""})


in_tx_calls: list[str] = []


@events.in_transaction(Counted)
def _count(tx: object, event: Counted) -> None:
    in_tx_calls.append(event.token)
    tx.publish(Pinged(token=event.token + "-chained"))  # type: ignore[attr-defined]


events.after_commit(Pinged, "platformtest.record_ping")


@pytest.fixture(autouse=True)
def _bound(services: runtime.Services) -> None:
    queue.bind(services.broker)


def _rows_for(
    services: runtime.Services, token: str
) -> list[sa.Row[tuple[int, object]]]:
    with services.db.write() as tx:
        return list(
            tx.execute(
                sa.select(outbox_table.c.id, outbox_table.c.sent_at).where(
                    outbox_table.c.kwargs["token"].astext == token
                )
            )
        )


def test_a_committed_event_becomes_a_delivered_job(services, worker) -> None:  # type: ignore[no-untyped-def]
    token = uuid.uuid4().hex
    logs.bind(correlation_id="req_outboxtest")
    try:
        with services.db.write() as tx:
            tx.publish(Pinged(token=token))
    finally:
        logs.clear()
    got = wait_for(lambda: [r for r in received if r["token"] == token])
    assert got[0]["correlation_id"] == "req_outboxtest"
    assert wait_for(lambda: all(row.sent_at for row in _rows_for(services, token)))


def test_a_rolled_back_event_never_becomes_a_job(services) -> None:  # type: ignore[no-untyped-def]
    token = uuid.uuid4().hex
    with pytest.raises(RuntimeError), services.db.write() as tx:
        tx.publish(Pinged(token=token))
        raise RuntimeError("abort")
    assert _rows_for(services, token) == []


def test_in_transaction_subscribers_run_before_commit_and_may_chain(
    services, worker
) -> None:  # type: ignore[no-untyped-def]
    token = uuid.uuid4().hex
    with services.db.write() as tx:
        tx.publish(Counted(token=token))
        tx.publish(Counted(token=token))  # the same event twice is handled once
    assert in_tx_calls.count(token) == 1
    wait_for(lambda: [r for r in received if r["token"] == token + "-chained"])


def test_a_job_written_while_redis_is_down_is_delivered_after_it_returns(
    services,
    worker,
    redis_server,  # type: ignore[no-untyped-def]
) -> None:
    token = uuid.uuid4().hex
    redis_server.stop()
    try:
        with services.db.write() as tx:  # the write itself must not need Redis
            tx.publish(Pinged(token=token))
        assert [row.sent_at for row in _rows_for(services, token)] == [None]
        # The relay keeps trying (and failing) meanwhile; the row stays pending.
        with pytest.raises(redis.exceptions.ConnectionError):
            services.send_job(
                outbox.OutboxMessage(0, "platformtest.record_ping", "default", {}, None)
            )
        assert [row.sent_at for row in _rows_for(services, token)] == [None]
    finally:
        redis_server.start()
    wait_for(lambda: [r for r in received if r["token"] == token], timeout=30)


def _queued(services: runtime.Services, token: str) -> bool:
    broker = services.broker
    waiting = broker.client.hvals(f"{broker.namespace}:default.msgs")
    return any(token.encode() in raw for raw in waiting)


def test_a_row_sent_twice_runs_once(services, worker) -> None:  # type: ignore[no-untyped-def]
    """The relay resends a row whose first push Redis took but never confirmed."""
    token = uuid.uuid4().hex
    with services.db.write() as tx:
        tx.publish(Pinged(token=token))
    wait_for(lambda: [r for r in received if r["token"] == token])
    (row,) = wait_for(lambda: [r for r in _rows_for(services, token) if r.sent_at])
    with services.db.write() as tx:  # as if the push had timed out
        tx.execute(
            sa.update(outbox_table)
            .where(outbox_table.c.id == row.id)
            .values(sent_at=None)
        )
    # Sent again, by us or by the worker's relay (whichever locks the row first);
    # a row is marked sent only after its push, so the copy is queued by then.
    outbox.deliver(services.db, [row.id], services.send_job)
    assert wait_for(lambda: all(r.sent_at for r in _rows_for(services, token)))
    assert wait_for(lambda: not _queued(services, token))  # taken and acknowledged
    assert [r["token"] for r in received].count(token) == 1
