"""Products and communes over HTTP: CRUD status codes, order, cache, ETag."""

from __future__ import annotations

import uuid

from proveo.companies import catalogue
from proveo.platform import audit
from tests.companies.helpers import (
    API,
    admin_session,
    create_company,
    make_catalogue,
    user_session,
)
from tests.helpers import unique, wait_for


def _post(client, session, path, payload):
    return client.simulate_post(
        f"{API}{path}", json=payload, cookies=session.cookies, headers=session.headers()
    )


def _put(client, session, path, payload):
    return client.simulate_put(
        f"{API}{path}", json=payload, cookies=session.cookies, headers=session.headers()
    )


def _delete(client, session, path):
    return client.simulate_delete(
        f"{API}{path}", cookies=session.cookies, headers=session.headers()
    )


def test_product_crud_with_translation_fallback_and_audit(client, services):
    admin = admin_session(services)
    token = unique("")
    created = _post(client, admin, "/products", {"name_es": f"  Logística   {token} "})
    assert created.status_code == 201, created.text
    product = created.json
    assert product["name_es"] == f"Logística {token}"
    assert product["name_en"] == f"Logística {token}"  # no translator: a copy
    assert set(product) == {"uuid", "name_es", "name_en", "created_at"}
    assert uuid.UUID(product["uuid"]).version == 4
    assert "+00:00" in product["created_at"]

    duplicate = _post(client, admin, "/products", {"name_en": f"LOGISTICA {token}"})
    assert duplicate.status_code == 409
    assert duplicate.json["error"]["code"] == "RESOURCE_CONFLICT"

    renamed = _put(
        client,
        admin,
        f"/products/{product['uuid']}",
        {"name_es": f"Logística {token}", "name_en": f"Logistics {token}"},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json["name_en"] == f"Logistics {token}"

    deleted = _delete(client, admin, f"/products/{product['uuid']}/")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json["uuid"] == product["uuid"]
    assert deleted.json["name_en"] == f"Logistics {token}"
    assert "message" in deleted.json
    assert _delete(client, admin, f"/products/{product['uuid']}").status_code == 404

    with services.db.write() as tx:
        entries = audit.list_entries(tx, limit=50, target_type="product")
    states = {
        e.action: (e.before, e.after) for e in entries if e.target_id == product["uuid"]
    }
    assert set(states) == {"product.create", "product.update", "product.delete"}
    # Each entry holds the states on either side of its change.
    (none, made) = states["product.create"]
    assert none is None and made["name_es"] == f"Logística {token}"
    (old, new) = states["product.update"]
    assert old["name_en"] == f"Logística {token}"
    assert new["name_en"] == f"Logistics {token}"
    (gone, after) = states["product.delete"]
    assert gone["name_en"] == f"Logistics {token}" and after is None


def test_product_validation(client, services):
    admin = admin_session(services)
    empty = _post(client, admin, "/products", {})
    assert empty.status_code == 422
    assert "body.name_es" in empty.json["error"]["details"]["fields"]
    too_long = _post(client, admin, "/products", {"name_es": "x" * 101})
    assert too_long.status_code == 422
    assert "body.name_es" in too_long.json["error"]["details"]["fields"]
    blank = _post(client, admin, "/products", {"name_es": " \t\x00 "})
    assert blank.status_code == 422
    malformed = client.simulate_post(
        f"{API}/products",
        body=b"{nope",
        headers={"Content-Type": "application/json", **admin.headers()},
        cookies=admin.cookies,
    )
    assert malformed.status_code == 400
    assert (
        _put(client, admin, "/products/not-a-uuid", {"name_es": "A"}).status_code == 422
    )
    unknown = _put(client, admin, f"/products/{uuid.uuid4()}", {"name_es": "Zeta"})
    assert unknown.status_code == 404
    assert _delete(client, admin, "/products/123").status_code == 422


def test_put_duplicate_and_in_use(client, services):
    admin = admin_session(services)
    first, commune = make_catalogue(services)
    second, _ = make_catalogue(services)
    clash = _put(
        client,
        admin,
        f"/products/{second.id}",
        {"name_es": first.name_es.upper(), "name_en": "Something else " + unique()},
    )
    assert clash.status_code == 409
    owner = user_session(services)
    assert create_company(client, owner, first, commune).status_code == 201
    assert _delete(client, admin, f"/products/{first.id}").status_code == 409
    assert _delete(client, admin, f"/communes/{commune.id}").status_code == 409


def test_commune_crud(client, services):
    admin = admin_session(services)
    token = unique("")
    created = _post(client, admin, "/communes", {"name": f"Peñalolén {token}"})
    assert created.status_code == 201, created.text
    commune = created.json
    assert set(commune) == {"uuid", "name", "created_at"}
    assert (
        _post(client, admin, "/communes", {"name": f"penalolen {token}"}).status_code
        == 409
    )
    assert _post(client, admin, "/communes", {"name": ""}).status_code == 422
    other = _post(client, admin, "/communes", {"name": f"Macul {token}"}).json
    clash = _put(client, admin, f"/communes/{other['uuid']}", {"name": commune["name"]})
    assert clash.status_code == 409
    assert (
        _put(client, admin, f"/communes/{uuid.uuid4()}", {"name": "X"}).status_code
        == 404
    )
    renamed = _put(
        client, admin, f"/communes/{other['uuid']}", {"name": f"Maipú {token}"}
    )
    assert renamed.status_code == 200
    assert renamed.json["name"] == f"Maipú {token}"
    deleted = _delete(client, admin, f"/communes/{other['uuid']}")
    assert deleted.status_code == 200
    assert deleted.json == {
        "message": deleted.json["message"],
        "uuid": other["uuid"],
        "name": f"Maipú {token}",
    }
    assert _delete(client, admin, f"/communes/{other['uuid']}").status_code == 404


def test_lists_are_ordered_ignoring_case_and_accents(client, services):
    token = unique("")
    with services.db.write() as tx:
        for name in (
            f"zeta {token}",
            f"Ábaco {token}",
            f"beta {token}",
            f"Ñandú {token}",
        ):
            catalogue.create_commune(tx, name=name, actor_id=None)
    names = [c["name"] for c in client.simulate_get(f"{API}/communes").json]
    mine = [n for n in names if n.endswith(token)]
    assert mine == [
        f"Ábaco {token}",
        f"beta {token}",
        f"Ñandú {token}",
        f"zeta {token}",
    ]
    products = client.simulate_get(f"{API}/products").json
    keys = [catalogue.name_key(p["name_en"]) for p in products]
    assert keys == sorted(keys)


def test_etag_and_cache_control(client, services):
    make_catalogue(services)
    for path in ("/products", "/communes", "/products/"):
        first = client.simulate_get(f"{API}{path}")
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=60"
        etag = first.headers["etag"]
        again = client.simulate_get(f"{API}{path}", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.text == ""
        other = client.simulate_get(f"{API}{path}", headers={"If-None-Match": '"x"'})
        assert other.status_code == 200


def test_change_is_visible_at_once_even_with_replica_paused(
    client, services, pg_cluster
):
    admin = admin_session(services)
    client.simulate_get(f"{API}/products")  # warm the cache
    pg_cluster.pause_replay()
    try:
        token = unique("")
        created = _post(client, admin, "/products", {"name_es": f"Pausa {token}"})
        assert created.status_code == 201
        listed = client.simulate_get(f"{API}/products")  # anonymous: no LSN cookie
        assert created.json["uuid"] in {p["uuid"] for p in listed.json}
        commune = _post(client, admin, "/communes", {"name": f"Pausa {token}"}).json
        listed = client.simulate_get(f"{API}/communes")
        assert commune["uuid"] in {c["uuid"] for c in listed.json}
        _put(client, admin, f"/communes/{commune['uuid']}", {"name": f"Otra {token}"})
        listed = client.simulate_get(f"{API}/communes")
        assert f"Otra {token}" in {c["name"] for c in listed.json}
    finally:
        pg_cluster.resume_replay()


def test_lists_survive_redis_outage_and_cache_again_after(
    client, services, redis_server
):
    product, _ = make_catalogue(services)
    redis_server.stop()
    try:
        for _ in range(2):
            listed = client.simulate_get(f"{API}/products")
            assert listed.status_code == 200
            assert str(product.id) in {p["uuid"] for p in listed.json}
    finally:
        redis_server.start()

    def cached() -> bool:
        client.simulate_get(f"{API}/products")
        before = services.cache.stats().hits
        client.simulate_get(f"{API}/products")
        return (
            services.cache.stats().hits > before and not services.cache.stats().degraded
        )

    wait_for(cached, timeout=30, interval=0.2)
    # and invalidation works again once Redis is back
    admin = admin_session(services)
    created = _post(client, admin, "/products", {"name_es": f"Vuelta {unique()}"})
    assert created.status_code == 201
    listed = client.simulate_get(f"{API}/products")
    assert created.json["uuid"] in {p["uuid"] for p in listed.json}
