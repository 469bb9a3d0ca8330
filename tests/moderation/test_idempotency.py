"""At-least-once delivery: duplicates and crashes end in one verdict, one rendition."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest

from proveo.moderation import pipeline, store, tasks
from proveo.moderation.wiring import moderation
from proveo.platform.runtime import Services
from tests.moderation.helpers import (
    benign_image,
    encode,
    image,
    renditions_of,
    upload,
    verdicts_of,
)


@pytest.fixture
def paused(worker: Any) -> Iterator[None]:
    """Keep the in-process worker from picking up the jobs these tests run by hand."""
    worker.pause()
    yield
    worker.resume()


def test_crash_after_storing_the_rendition_is_repaired_by_redelivery(
    client: falcon.testing.TestClient, services: Services, paused: None
) -> None:
    data = encode(benign_image(), "JPEG")
    up = upload(client, services, data)
    mod = moderation(services)
    rendition = pipeline.render(data)
    mod._publish(up.image_id, rendition)  # the worker died right after the put
    with services.db.write() as tx:
        row = store.rendition(tx, rendition.key)
    assert row is not None and row["claimed_at"] is not None
    assert image(services, up.image_id).status == "pending"

    tasks.moderate_logo(str(up.image_id), str(up.company_id))  # the redelivery
    assert image(services, up.image_id).status == "approved"
    assert mod.moderate(up.image_id).verdict == "skipped"
    decided = image(services, up.image_id)
    assert decided.public_key == rendition.key
    assert renditions_of(services, up.image_id) == 1
    assert verdicts_of(services, up.image_id) == ["approved"]
    with services.db.write() as tx:
        row = store.rendition(tx, rendition.key)
    assert row is not None and row["claimed_at"] is None
    assert not list(services.storage.list(decided.quarantine_key))


def test_concurrent_duplicates_decide_once(
    client: falcon.testing.TestClient, services: Services, paused: None
) -> None:
    up = upload(client, services, encode(benign_image(), "PNG"))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcomes.append(moderation(services).moderate(up.image_id).verdict)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(outcomes).count("approved") == 1
    assert set(outcomes) <= {"approved", "skipped"}
    assert verdicts_of(services, up.image_id) == ["approved"]
    assert renditions_of(services, up.image_id) == 1


def test_job_for_a_deleted_company_is_acknowledged(
    client: falcon.testing.TestClient, services: Services, paused: None
) -> None:
    up = upload(client, services, encode(benign_image(), "PNG"))
    deleted = client.simulate_delete(
        "/api/v1/companies/user/my-company",
        cookies=up.session.cookies,
        headers=up.session.headers(),
    )
    assert deleted.status_code == 200, deleted.text
    tasks.moderate_logo(str(up.image_id), str(up.company_id))  # acknowledged
    assert moderation(services).moderate(up.image_id).verdict == "skipped"
    assert renditions_of(services, up.image_id) == 0
