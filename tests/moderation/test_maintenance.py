"""Orphan deletion and the periodic sweep never remove what is shown or in flight."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import falcon.testing
import sqlalchemy as sa

from proveo.moderation import pipeline, store, tasks
from proveo.moderation.wiring import moderation
from proveo.platform.runtime import Services
from proveo.platform.storage import BlobNotFound
from tests.moderation.helpers import benign_image, encode, upload, wait_status


def _exists(services: Services, key: str) -> bool:
    try:
        services.storage.stat(key)
    except BlobNotFound:
        return False
    return True


def _stray_public(services: Services) -> str:
    data = uuid.uuid4().bytes * 8
    key = f"public/{hashlib.sha256(data).hexdigest()}.png"
    services.storage.put_bytes(key, data, "image/png")
    return key


def test_orphans_are_deleted_unless_shown_or_claimed(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    mod = moderation(services)
    stray = _stray_public(services)
    assert mod.forget_objects([stray]) == 1
    assert not _exists(services, stray)

    up = upload(client, services, encode(benign_image(), "PNG"))
    shown = wait_status(services, up.image_id, "approved").public_key
    assert shown is not None
    assert mod.forget_objects([shown]) == 0
    assert _exists(services, shown)

    # A worker has claimed this key and is about to approve it.
    rendition = pipeline.render(encode(benign_image().rotate(45), "PNG"))
    mod._publish(up.image_id, rendition)
    assert mod.forget_objects([rendition.key]) == 0
    assert _exists(services, rendition.key)
    # Quarantine keys are not moderation's to delete.
    assert mod.forget_objects([f"quarantine/{uuid.uuid4()}"]) == 0
    with services.db.write() as tx:
        store.release_claim(tx, rendition.key)
    assert mod.forget_objects([rendition.key]) == 1


def test_sweep_respects_grace_references_and_live_uploads(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    mod = moderation(services)
    up = upload(client, services, encode(benign_image(), "JPEG"))
    shown = wait_status(services, up.image_id, "approved").public_key
    assert shown is not None
    stray = _stray_public(services)
    lost_original = f"quarantine/{uuid.uuid4()}"  # an upload whose commit failed
    services.storage.put_bytes(lost_original, b"\xff\xd8\xff" + b"0" * 64, "image/jpeg")
    pending_key = f"quarantine/{uuid.uuid4()}"
    worker.pause()
    try:
        waiting = upload(client, services, encode(benign_image(), "PNG"))
        with services.db.write() as tx:
            from proveo import companies

            pending_key = companies.get_image(tx, waiting.image_id).quarantine_key

        # Everything is younger than the grace period: nothing goes.
        removed = mod.sweep(grace=timedelta(hours=1))
        assert _exists(services, stray) and _exists(services, lost_original)

        removed = mod.sweep(grace=timedelta(0))
        assert removed["public"] >= 1 and removed["quarantine"] >= 1
        assert not _exists(services, stray)
        assert not _exists(services, lost_original)
        assert _exists(services, shown)  # a company shows it
        assert _exists(services, pending_key)  # still waiting for the worker
    finally:
        worker.resume()
    wait_status(services, waiting.image_id, "approved")


def test_periodic_sweep_runs_once_per_slot(services: Services) -> None:
    services.cache.redis.delete(
        *services.cache.redis.keys("proveo:moderation:sweep:*") or ["none"]
    )
    first = tasks.sweep_orphans()
    second = tasks.sweep_orphans()
    assert first is not None and set(first) == {"public", "quarantine", "requeued"}
    assert second is None


def test_sweep_actor_is_periodic_every_quarter_hour(services: Services) -> None:
    actor = services.broker.get_actor("moderation.sweep_orphans")
    assert str(actor.options["periodic"]) == "*/15 * * * *"


def _queued_for(services: Services, image_id: uuid.UUID) -> int:
    """Messages for ``image_id`` waiting in the moderation queue in Redis."""
    broker = services.broker
    messages = broker.client.hvals(f"{broker.namespace}:moderation.msgs")
    return sum(str(image_id).encode() in raw for raw in messages)


def test_a_pending_image_whose_job_was_lost_is_queued_again(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    mod = moderation(services)
    worker.pause()
    try:
        up = upload(client, services, encode(benign_image(), "PNG"))
        services.broker.flush("moderation")  # Redis lost the job
        assert _queued_for(services, up.image_id) == 0
        assert mod.requeue_stalled(after=timedelta(minutes=15)) == 0  # too young
        with services.db.write() as tx:  # an hour passes
            tx.execute(
                sa.text(
                    "update companies.images set created_at = now() - interval '1 hour'"
                    " where id = :id"
                ),
                {"id": up.image_id},
            )
        assert mod.requeue_stalled(after=timedelta(minutes=15)) == 1
        assert _queued_for(services, up.image_id) == 1
        # The requeue restarted the clock: the next sweep leaves it alone.
        assert mod.requeue_stalled(after=timedelta(minutes=15)) == 0
    finally:
        worker.resume()
    approved = wait_status(services, up.image_id, "approved")
    assert approved.public_key is not None
    with services.db.write() as tx:
        verdicts = [v.verdict for v in store.list_verdicts(tx, up.image_id)]
    assert verdicts == ["requeued", "approved"]
