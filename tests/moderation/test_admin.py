"""Operators' overrides: list, approve, reject, requeue; audited, admin + CSRF only."""

from __future__ import annotations

import uuid
from typing import Any

import falcon.testing

from proveo.platform import audit
from proveo.platform.runtime import Services
from tests.companies.helpers import admin_session, user_session
from tests.moderation.helpers import (
    benign_image,
    encode,
    image,
    renditions_of,
    upload,
    upload_again,
    verdicts_of,
    wait_status,
)
from tests.moderation.images import make_high_score_image

BASE = "/api/v1/moderation/admin/images"


def _post(
    client: falcon.testing.TestClient,
    session: Any,
    path: str,
    *,
    csrf: bool = True,
    json: Any = None,
) -> falcon.testing.Result:
    return client.simulate_post(
        path, cookies=session.cookies, headers=session.headers(csrf=csrf), json=json
    )


def _audited(services: Services, image_id: uuid.UUID) -> list[str]:
    with services.db.write() as tx:
        entries = audit.list_entries(tx, limit=200, target_type="image")
    return [e.action for e in entries if e.target_id == str(image_id)]


def test_only_admins_with_csrf_may_act(
    client: falcon.testing.TestClient, services: Services
) -> None:
    target = f"{BASE}/{uuid.uuid4()}/approve"
    assert client.simulate_get(BASE).status_code == 401
    assert client.simulate_post(target).status_code == 401
    user = user_session(services)
    assert client.simulate_get(BASE, headers=user.bearer()).status_code == 403
    assert _post(client, user, target).status_code == 403
    admin = admin_session(services)
    refused = _post(client, admin, target, csrf=False)
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "CSRF_FAILED"
    assert _post(client, admin, target).status_code == 404
    bad = _post(client, admin, f"{BASE}/not-a-uuid/reject")
    assert bad.status_code == 422
    assert "path.id" in bad.json["error"]["details"]["fields"]
    query = client.simulate_get(
        BASE, params={"status": "bogus", "limit": "0"}, headers=admin.bearer()
    )
    assert query.status_code == 422
    assert set(query.json["error"]["details"]["fields"]) == {
        "query.status",
        "query.limit",
    }


def test_list_is_newest_first_with_scores(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    first = upload(client, services, encode(benign_image(), "PNG"))
    second = upload(client, services, encode(make_high_score_image(), "PNG"))
    wait_status(services, first.image_id, "approved")
    wait_status(services, second.image_id, "rejected")
    admin = admin_session(services)
    listed = client.simulate_get(
        BASE, params={"limit": "100"}, headers=admin.bearer()
    ).json
    ids = [item["uuid"] for item in listed]
    assert ids.index(str(second.image_id)) < ids.index(str(first.image_id))
    by_id = {item["uuid"]: item for item in listed}
    assert by_id[str(second.image_id)]["score"] >= 0.2
    assert by_id[str(first.image_id)]["image_url"].startswith(
        "http://testserver/images/public/"
    )
    rejected = client.simulate_get(
        BASE, params={"status": "rejected", "limit": "100"}, headers=admin.bearer()
    ).json
    assert {item["status"] for item in rejected} == {"rejected"}


def test_reject_withdraws_an_approved_logo(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    up = upload(client, services, encode(benign_image(), "JPEG"))
    approved = wait_status(services, up.image_id, "approved")
    path = f"/images/{approved.public_key}"
    assert client.simulate_get(path).status_code == 200
    admin = admin_session(services)
    result = _post(
        client,
        admin,
        f"{BASE}/{up.image_id}/reject",
        json={"reason": "Trademark complaint"},
    )
    assert result.status_code == 200, result.text
    assert result.json["status"] == "rejected"
    assert result.json["reason"] == "Trademark complaint"
    assert result.json["image_url"] is None  # no longer served: no link to a 404
    assert client.simulate_get(path).status_code == 404
    listed = client.simulate_get(
        BASE, params={"status": "rejected"}, cookies=admin.cookies
    ).json
    assert [i["image_url"] for i in listed if i["uuid"] == str(up.image_id)] == [None]
    mine = client.simulate_get(
        "/api/v1/companies/user/my-company", headers=up.session.bearer()
    ).json
    assert mine["image_status"] == "rejected"
    assert mine["image_url"] is None
    assert mine["image_rejection_reason"] == "Trademark complaint"
    assert _audited(services, up.image_id) == ["moderation.reject"]
    assert verdicts_of(services, up.image_id) == ["approved", "rejected"]


def test_approve_override_re_encodes_a_failed_image(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    from proveo.moderation.wiring import CLASSIFIER

    class Broken:
        def score(self, image: Any) -> float:
            raise RuntimeError("model offline")

    actor = services.broker.get_actor("moderation.moderate_logo")
    saved_options, saved = dict(actor.options), services.extras[CLASSIFIER]
    actor.options.update(max_retries=0)
    services.extras[CLASSIFIER] = Broken()
    try:
        original = encode(benign_image(), "JPEG", exif=b"Exif\x00\x00secret")
        up = upload(client, services, original)
        wait_status(services, up.image_id, "failed")
    finally:
        actor.options.clear()
        actor.options.update(saved_options)
        services.extras[CLASSIFIER] = saved

    admin = admin_session(services)
    result = _post(client, admin, f"{BASE}/{up.image_id}/approve")
    assert result.status_code == 200, result.text
    assert result.json["status"] == "approved"
    now = image(services, up.image_id)
    assert now.public_key is not None
    served = client.simulate_get(f"/images/{now.public_key}")
    assert served.status_code == 200
    assert b"secret" not in served.content and served.content != original
    assert renditions_of(services, up.image_id) == 1
    assert _audited(services, up.image_id) == ["moderation.approve"]
    # The original is gone now: a second override has nothing to re-encode
    # but the image is already approved, so it simply answers the state.
    again = _post(client, admin, f"{BASE}/{up.image_id}/approve")
    assert again.status_code == 200 and again.json["status"] == "approved"
    gone = _post(client, admin, f"{BASE}/{up.image_id}/requeue")
    assert gone.status_code == 409
    assert gone.json["error"]["code"] == "ORIGINAL_MISSING"


def test_requeue_moderates_again(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    from proveo.moderation.wiring import CLASSIFIER

    class Broken:
        def score(self, image: Any) -> float:
            raise RuntimeError("model offline")

    actor = services.broker.get_actor("moderation.moderate_logo")
    saved_options, saved = dict(actor.options), services.extras[CLASSIFIER]
    actor.options.update(max_retries=0)
    services.extras[CLASSIFIER] = Broken()
    try:
        up = upload(client, services, encode(benign_image(), "PNG"))
        wait_status(services, up.image_id, "failed")
    finally:
        actor.options.clear()
        actor.options.update(saved_options)
        services.extras[CLASSIFIER] = saved
    admin = admin_session(services)
    result = _post(client, admin, f"{BASE}/{up.image_id}/requeue")
    assert result.status_code == 200, result.text
    assert result.json["status"] in ("pending", "approved")
    wait_status(services, up.image_id, "approved")
    assert _audited(services, up.image_id) == ["moderation.requeue"]


def test_a_withdrawn_picture_stays_refused_until_an_operator_approves_it(
    client: falcon.testing.TestClient, services: Services, worker: Any
) -> None:
    picture = encode(benign_image(), "JPEG")
    first = upload(client, services, picture)
    approved = wait_status(services, first.image_id, "approved")
    admin = admin_session(services)
    withdrawn = _post(
        client, admin, f"{BASE}/{first.image_id}/reject", json={"reason": "Trademark"}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    # The owner uploads the very same picture again: it renders to the same
    # key, and the model would approve it; the operator's word stands.
    again = upload_again(client, services, first, picture)
    refused = wait_status(services, again, "rejected")
    assert refused.reason == "Trademark"
    assert client.simulate_get(f"/images/{approved.public_key}").status_code == 404
    assert verdicts_of(services, again) == ["rejected"]

    # An operator who approves it lifts the refusal.
    lifted = _post(client, admin, f"{BASE}/{again}/approve")
    assert lifted.status_code == 200, lifted.text
    assert lifted.json["status"] == "approved"
    assert client.simulate_get(f"/images/{approved.public_key}").status_code == 200
    third = upload_again(client, services, first, picture)
    assert wait_status(services, third, "approved").public_key == approved.public_key
