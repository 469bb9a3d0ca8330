"""The logo lifecycle moderation drives: approval order, replacement, deletion."""

from __future__ import annotations

import uuid

import pytest

from proveo import companies
from proveo.platform.storage import BlobNotFound
from tests.companies.helpers import (
    API,
    create_company,
    form,
    jpeg,
    make_catalogue,
    png,
    send_form,
    user_session,
)
from tests.helpers import wait_for


def _images(services, company_id: str) -> list[companies.Image]:
    with services.db.write() as tx:
        found = companies.list_images(tx, status=None, limit=100000, offset=0)
    return [i for i in found if str(i.company_id) == company_id]


def _publish(services, image: companies.Image, *, data: bytes | None = None) -> str:
    """What moderation does on approval: store a public copy, then approve."""
    key = f"public/{uuid.uuid4().hex}.{image.extension}"
    services.storage.put_bytes(key, data or png(), image.content_type)
    with services.db.write() as tx:
        companies.approve_image(
            tx, image.id, public_key=key, extension=image.extension, score=0.01
        )
    return key


def _upload(client, owner, image: bytes, filename: str = "x.jpg"):
    body, ctype = form({}, image, filename=filename, image_type="image/jpeg")
    return send_form(client, "PATCH", "/companies/user/my-company", owner, body, ctype)


def _mine(client, owner):
    return client.simulate_get(
        f"{API}/companies/user/my-company", cookies=owner.cookies
    ).json


def test_upload_is_quarantined_pending_and_announced(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    (image,) = _images(services, created["uuid"])
    assert image.status == "pending"
    assert image.quarantine_key == f"quarantine/{image.id}"
    assert image.content_type == "image/png" and (image.width, image.height) == (64, 48)
    assert services.storage.stat(image.quarantine_key).size == image.size
    with services.db.write() as tx:
        assert not companies.is_public_key(tx, image.quarantine_key)
        rows = tx.execute(
            __import__("sqlalchemy").text(
                "select kwargs from platform.outbox where kwargs->>'image_id' = :id"
            ),
            {"id": str(image.id)},
        ).all()
    # LogoUploaded reaches the outbox only once moderation subscribes to it.
    assert all(row.kwargs["company_id"] == created["uuid"] for row in rows)


def test_replacing_a_logo_keeps_the_approved_one_until_the_new_one_is(
    client, services, worker
):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    (first,) = _images(services, created["uuid"])
    first_key = _publish(services, first)
    shown = _mine(client, owner)
    assert shown["image_status"] == "approved"
    assert shown["image_url"] == f"http://testserver/images/{first_key}"
    with services.db.write() as tx:
        assert companies.is_public_key(tx, first_key)

    replaced = _upload(client, owner, jpeg())
    assert replaced.status_code == 200, replaced.text
    assert replaced.json["image_status"] == "pending"
    assert replaced.json["image_url"] == f"http://testserver/images/{first_key}"
    public = client.simulate_get(f"{API}/companies/{created['uuid']}").json
    assert public["image_url"] == f"http://testserver/images/{first_key}"

    second = next(i for i in _images(services, created["uuid"]) if i.id != first.id)
    assert second.extension == "jpg"
    with services.db.write() as tx:
        companies.reject_image(
            tx, second.id, reason="Contenido no permitido", score=0.9
        )
    rejected = _mine(client, owner)
    assert rejected["image_status"] == "rejected"
    assert rejected["image_rejection_reason"] == "Contenido no permitido"
    assert rejected["image_url"] == f"http://testserver/images/{first_key}"
    public = client.simulate_get(f"{API}/companies/{created['uuid']}").json
    assert "image_rejection_reason" not in public

    _upload(client, owner, png((32, 32)))
    third = max(_images(services, created["uuid"]), key=lambda i: i.created_at)
    third_key = _publish(services, third)
    final = _mine(client, owner)
    assert final["image_url"] == f"http://testserver/images/{third_key}"
    assert final["image_status"] == "approved"
    assert final["image_rejection_reason"] is None
    with services.db.write() as tx:
        assert not companies.is_public_key(tx, first_key)

    def gone() -> bool:
        try:
            services.storage.stat(first_key)
        except BlobNotFound:
            return True
        return False

    wait_for(gone, timeout=20)  # the replaced object is deleted after COMMIT
    services.storage.stat(third_key)  # the shown one stays


def test_decisions_on_an_older_upload_never_override_the_newest(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    _upload(client, owner, jpeg())
    older, newer = sorted(
        _images(services, created["uuid"]), key=lambda i: i.created_at
    )

    newer_key = _publish(services, newer)
    older_key = _publish(services, older)  # arrives late
    shown = _mine(client, owner)
    assert shown["image_status"] == "approved"
    assert shown["image_url"].endswith(newer_key)
    with services.db.write() as tx:
        assert not companies.is_public_key(tx, older_key)
        companies.reject_image(tx, older.id, reason="late", score=0.5)
        companies.fail_image(tx, older.id, reason="late again")
    shown = _mine(client, owner)
    assert shown["image_status"] == "approved"
    assert shown["image_url"].endswith(newer_key)


def test_older_upload_approved_while_newest_pending_is_shown(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    _upload(client, owner, jpeg())
    older, _ = sorted(_images(services, created["uuid"]), key=lambda i: i.created_at)
    older_key = _publish(services, older)
    shown = _mine(client, owner)
    assert shown["image_status"] == "pending"  # the newest upload's status
    assert shown["image_url"].endswith(older_key)  # the newest approved image


def test_fail_and_requeue(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    (image,) = _images(services, created["uuid"])
    with services.db.write() as tx:
        companies.fail_image(tx, image.id, reason="model unavailable")
    assert _mine(client, owner)["image_status"] == "failed"
    with services.db.write() as tx:
        companies.requeue_image(tx, image.id)
        assert companies.get_image(tx, image.id).status == "pending"
    assert _mine(client, owner)["image_status"] == "pending"
    with services.db.write() as tx:
        assert image.id in {
            i.id
            for i in companies.list_images(tx, status="pending", limit=10000, offset=0)
        }


def test_deleting_a_company_schedules_its_objects(client, services, worker):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    (image,) = _images(services, created["uuid"])
    key = _publish(services, image)
    deleted = client.simulate_delete(
        f"{API}/companies/user/my-company",
        cookies=owner.cookies,
        headers=owner.headers(),
    )
    assert deleted.status_code == 200

    def both_gone() -> bool:
        for doomed in (key, image.quarantine_key):
            try:
                services.storage.stat(doomed)
                return False
            except BlobNotFound:
                pass
        return True

    wait_for(both_gone, timeout=20)
    with services.db.write() as tx:
        assert companies.get_image(tx, image.id).company_id is None
        with pytest.raises(companies.ImageNotFound):
            companies.approve_image(
                tx, image.id, public_key="k.png", extension="png", score=0
            )


def test_unknown_image(services):
    with services.db.write() as tx, pytest.raises(companies.ImageNotFound):
        companies.get_image(tx, uuid.uuid4())
