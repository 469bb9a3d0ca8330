"""End to end through HTTP, the outbox, the real queue and the real model."""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

import falcon.testing
from PIL import Image

from proveo import companies
from proveo.platform.runtime import Services
from tests.moderation.helpers import (
    benign_image,
    encode,
    image,
    renditions_of,
    upload,
    verdicts_of,
    wait_status,
)
from tests.moderation.images import make_high_score_image


def _owner_view(client: falcon.testing.TestClient, up: Any) -> dict[str, Any]:
    result = client.simulate_get(
        "/api/v1/companies/user/my-company", headers=up.session.bearer()
    )
    assert result.status_code == 200, result.text
    return dict(result.json)


def test_benign_photo_is_approved_and_served(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    original = encode(benign_image(), "JPEG", quality=95, exif=b"Exif\x00\x00")
    up = upload(client, services, original)

    approved = wait_status(services, up.image_id, "approved")
    assert approved.public_key is not None
    assert approved.public_key.startswith("public/")
    assert approved.score is not None and approved.score < 0.2
    view = _owner_view(client, up)
    assert view["image_status"] == "approved"
    assert view["image_url"] == f"http://testserver/images/{approved.public_key}"
    path = f"/images/{approved.public_key}"

    got = client.simulate_get(path)
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    digest = approved.public_key.split("/")[1].split(".")[0]
    assert got.headers["etag"] == f'"{digest}"'
    assert int(got.headers["content-length"]) == len(got.content)
    assert got.content != original  # re-encoded, metadata stripped
    with Image.open(io.BytesIO(got.content)) as served:
        assert served.format == "JPEG"
        assert "exif" not in served.info
    assert hashlib.sha256(got.content).hexdigest() == digest

    not_modified = client.simulate_get(path, headers={"If-None-Match": f'"{digest}"'})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == f'"{digest}"'

    head = client.simulate_head(path)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(got.content))

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        refused = client.simulate_request(method, path)
        assert refused.status_code == 405, method
        assert refused.json["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert refused.headers["allow"] == "GET, HEAD"

    # The quarantined original is gone, exactly one rendition was recorded.
    assert renditions_of(services, up.image_id) == 1
    assert verdicts_of(services, up.image_id) == ["approved"]
    try:
        services.storage.stat(approved.quarantine_key)
    except Exception as exc:
        assert type(exc).__name__ == "BlobNotFound"
    else:
        raise AssertionError("the quarantined original was not deleted")


def test_high_score_image_is_rejected_and_never_served(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    up = upload(client, services, encode(make_high_score_image(), "PNG"))

    rejected = wait_status(services, up.image_id, "rejected")
    assert rejected.public_key is None
    assert rejected.score is not None and rejected.score >= 0.2
    view = _owner_view(client, up)
    assert view["image_status"] == "rejected"
    assert view["image_url"] is None
    assert (
        view["image_rejection_reason"] == "The image did not pass content moderation."
    )
    # No rendition was published, and the original is gone.
    assert renditions_of(services, up.image_id) == 0
    assert not list(services.storage.list(rejected.quarantine_key))


def test_replacement_keeps_old_logo_until_approved_then_removes_it(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    up = upload(client, services, encode(benign_image(), "PNG"))
    first = wait_status(services, up.image_id, "approved")
    assert first.public_key is not None

    # A rejected replacement leaves the approved logo on show.
    from tests.companies.helpers import form, send_form

    body, ctype = form({}, encode(make_high_score_image(), "JPEG"))
    changed = send_form(
        client, "PATCH", "/companies/user/my-company", up.session, body, ctype
    )
    assert changed.status_code == 200, changed.text
    view = _owner_view(client, up)
    assert view["image_url"].endswith(first.public_key)

    def status() -> str | None:
        current = _owner_view(client, up)["image_status"]
        return current if current != "pending" else None

    from tests.helpers import wait_for

    assert wait_for(status, timeout=30) == "rejected"
    assert client.simulate_get(f"/images/{first.public_key}").status_code == 200

    # An approved replacement takes over; the old rendition is then deleted.
    body, ctype = form({}, encode(benign_image().rotate(90, expand=True), "PNG"))
    changed = send_form(
        client, "PATCH", "/companies/user/my-company", up.session, body, ctype
    )
    assert changed.status_code == 200, changed.text
    with services.db.write() as tx:
        company = companies.get_company(tx, up.company_id)
    assert company.image_key == first.public_key  # still the old one

    def replaced() -> str | None:
        with services.db.write() as tx:
            shown = companies.get_company(tx, up.company_id).image_key
        return shown if shown != first.public_key else None

    new_key = wait_for(replaced, timeout=30)
    assert client.simulate_get(f"/images/{new_key}").status_code == 200
    wait_for(lambda: not list(services.storage.list(first.public_key)), timeout=20)
    assert client.simulate_get(f"/images/{first.public_key}").status_code == 404


def test_unknown_or_malformed_keys_are_404_and_other_methods_405(
    client: falcon.testing.TestClient, services: Services
) -> None:
    keys = (
        "public/" + "a" * 64 + ".jpg",
        "public/" + "A" * 64 + ".jpg",
        "public/" + "a" * 63 + ".jpg",
        "public/" + "a" * 64 + ".gif",
        "quarantine/" + str(uuid.uuid4()),
        "../etc/passwd",
        "x",
    )
    paths = [f"/images/{key}" for key in keys] + ["/images", "/images/"]
    for path in paths:
        got = client.simulate_get(path)
        assert got.status_code == 404, path
        assert got.json["error"]["code"] in ("NOT_FOUND", "RESOURCE_NOT_FOUND")
        assert client.simulate_head(path).status_code == 404
        for method in ("DELETE", "PUT", "PURGE", "FOO", "PROPFIND", "OPTIONS"):
            refused = client.simulate_request(method, path)
            assert refused.status_code == 405, method
            assert refused.json["error"]["code"] == "METHOD_NOT_ALLOWED"
            assert refused.headers["allow"] == "GET, HEAD"


def test_decided_image_job_is_acknowledged_without_work(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    from proveo.moderation import tasks

    up = upload(client, services, encode(benign_image(), "WEBP"))
    approved = wait_status(services, up.image_id, "approved")
    assert approved.public_key is not None and approved.public_key.endswith(".webp")
    # A redelivered job finds the image decided and changes nothing.
    tasks.moderate_logo(str(up.image_id), str(up.company_id))
    assert image(services, up.image_id) == approved
    assert renditions_of(services, up.image_id) == 1
