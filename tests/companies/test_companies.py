"""Company routes over HTTP: create, read, update, delete, admin views."""

from __future__ import annotations

import threading
import uuid

from proveo import accounts, companies
from proveo.platform import audit
from tests.companies.helpers import (
    API,
    admin_session,
    create_company,
    fields_for,
    form,
    make_catalogue,
    send_form,
    user_session,
)

OWNER_ONLY = {"user_uuid", "user_name", "user_email", "image_rejection_reason"}
PUBLIC = {
    "uuid", "product_uuid", "commune_uuid", "name", "description_es", "description_en",
    "address", "phone", "email", "image_url", "image_extension", "image_status",
    "created_at", "updated_at", "product_name_es", "product_name_en", "commune_name",
}  # fmt: skip


def test_create_returns_owner_view_and_public_view_hides_owner(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune)
    assert created.status_code == 201, created.text
    body = created.json
    assert set(body) == PUBLIC | OWNER_ONLY
    assert body["user_uuid"] == str(owner.user.id)
    assert body["user_email"] == owner.user.email
    assert body["image_status"] == "pending"
    assert body["image_url"] is None
    assert body["email"] == "contacto@example.com"
    assert body["description_es"] == "Servicios de tecnología.\nAtención 24/7."
    assert body["product_name_es"] == product.name_es
    assert body["commune_name"] == commune.name
    public = client.simulate_get(f"{API}/companies/{body['uuid']}")
    assert public.status_code == 200
    assert set(public.json) == PUBLIC
    assert owner.user.email not in public.text


def test_get_unknown_and_malformed(client):
    assert client.simulate_get(f"{API}/companies/{uuid.uuid4()}").status_code == 404
    bad = client.simulate_get(f"{API}/companies/nope")
    assert bad.status_code == 422
    assert "path.company_uuid" in bad.json["error"]["details"]["fields"]


def test_my_company_reads_its_own_writes(client, services, pg_cluster):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    none = client.simulate_get(
        f"{API}/companies/user/my-company", cookies=owner.cookies
    )
    assert none.status_code == 404
    pg_cluster.pause_replay()
    try:
        created = create_company(client, owner, product, commune)
        assert created.status_code == 201
        cookies = {**owner.cookies, "proveo_lsn": created.cookies["proveo_lsn"].value}
        mine = client.simulate_get(f"{API}/companies/user/my-company", cookies=cookies)
        assert mine.status_code == 200, mine.text
        assert mine.json["uuid"] == created.json["uuid"]
        assert mine.json["user_email"] == owner.user.email
    finally:
        pg_cluster.resume_replay()


def test_second_company_is_409(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    assert create_company(client, owner, product, commune).status_code == 201
    again = create_company(client, owner, product, commune)
    assert again.status_code == 409


def test_racing_creates_give_one_201_and_one_409(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def attempt() -> None:
        _body, _ctype = form(fields_for(product, commune), None)
        barrier.wait()
        results.append(create_company(client, owner, product, commune).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409]
    with services.db.read() as tx:
        assert companies.find_company_of_user(tx, owner.user.id) is not None


def test_missing_and_invalid_fields_are_named(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    body, ctype = form(
        fields_for(
            product,
            commune,
            name="",
            phone="12",
            email="not-an-email",
            description_es=None,
            description_en=None,
            address=None,
        ),
        None,
    )
    result = send_form(client, "POST", "/companies", owner, body, ctype)
    assert result.status_code == 422
    fields = result.json["error"]["details"]["fields"]
    for name in ("body.name", "body.phone", "body.email", "body.address", "body.image"):
        assert name in fields, fields
    assert "body.description_es" in fields


def test_unknown_commune_and_product_are_422(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    result = create_company(
        client, owner, product, commune, commune_name="Atlantis", product_name="Magic"
    )
    assert result.status_code == 422
    fields = result.json["error"]["details"]["fields"]
    assert "body.commune_name" in fields and "body.product_name" in fields


def test_product_matched_in_lang_ignoring_case_and_accents(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    result = create_company(
        client,
        owner,
        product,
        commune,
        product_name=product.name_en.upper(),
        commune_name=companies.name_key(commune.name),
        lang="en",
    )
    assert result.status_code == 201, result.text
    assert result.json["product_uuid"] == str(product.id)


def test_long_values_fit_their_columns(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    local = "a" * 64
    email = f"{local}@{'b' * 60}.{'c' * 60}.{'d' * 60}.cl"
    result = create_company(
        client,
        owner,
        product,
        commune,
        name="N" * 100,
        address="Á" * 200,
        description_es="é" * 1000,
        description_en="e" * 1000,
        phone="+56 (9) " + "1 2 3 4 - 5 6 7 8 9 0 1 2",
        email=email,
    )
    assert result.status_code == 201, result.text
    assert result.json["email"] == email
    too_long = create_company(
        client, user_session(services), product, commune, description_es="é" * 1001
    )
    assert too_long.status_code == 422


def test_missing_description_is_copied_and_marked_machine(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune, description_en=None)
    assert created.status_code == 201
    assert created.json["description_en"] == created.json["description_es"]
    # A manual English text replaces only the machine copy ...
    body, ctype = form({"description_en": "Hand written."})
    patched = send_form(
        client, "PATCH", "/companies/user/my-company", owner, body, ctype
    )
    assert patched.status_code == 200, patched.text
    assert patched.json["description_en"] == "Hand written."
    assert patched.json["description_es"] == created.json["description_es"]
    # ... and a later Spanish edit never overwrites that human English text.
    body, ctype = form({"description_es": "Nuevo texto."})
    patched = send_form(
        client, "PATCH", "/companies/user/my-company", owner, body, ctype
    )
    assert patched.json["description_es"] == "Nuevo texto."
    assert patched.json["description_en"] == "Hand written."


def test_machine_text_follows_the_human_one(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    create_company(client, owner, product, commune, description_en=None)
    body = b"description_es=Otro+texto&name=Nombre+Nuevo"
    patched = send_form(
        client,
        "PATCH",
        "/companies/user/my-company",
        owner,
        body,
        "application/x-www-form-urlencoded",
    )
    assert patched.status_code == 200, patched.text
    assert patched.json["name"] == "Nombre Nuevo"
    assert patched.json["description_en"] == "Otro texto"  # still a machine copy


def test_patch_invalid_field_is_422_naming_it(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    create_company(client, owner, product, commune)
    body, ctype = form({"phone": "call me", "lang": "fr"})
    result = send_form(
        client, "PATCH", "/companies/user/my-company", owner, body, ctype
    )
    assert result.status_code == 422
    assert set(result.json["error"]["details"]["fields"]) == {"body.phone", "body.lang"}
    body, ctype = form({"commune_name": "Nowhere"})
    result = send_form(
        client, "PATCH", "/companies/user/my-company", owner, body, ctype
    )
    assert result.status_code == 422
    assert "body.commune_name" in result.json["error"]["details"]["fields"]


def test_patch_without_company_is_404(client, services):
    owner = user_session(services)
    body, ctype = form({"name": "Nada"})
    result = send_form(
        client, "PATCH", "/companies/user/my-company", owner, body, ctype
    )
    assert result.status_code == 404


def test_patch_json_is_415(client, services):
    owner = user_session(services)
    result = client.simulate_patch(
        f"{API}/companies/user/my-company",
        json={"name": "x"},
        cookies=owner.cookies,
        headers=owner.headers(),
    )
    assert result.status_code == 415


def test_delete_own_company_archives_and_schedules_objects(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    deleted = client.simulate_delete(
        f"{API}/companies/user/my-company",
        cookies=owner.cookies,
        headers=owner.headers(),
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json["uuid"] == created["uuid"]
    assert deleted.json["name"] == created["name"]
    assert "message" in deleted.json
    assert client.simulate_get(f"{API}/companies/{created['uuid']}").status_code == 404
    again = client.simulate_delete(
        f"{API}/companies/user/my-company",
        cookies=owner.cookies,
        headers=owner.headers(),
    )
    assert again.status_code == 404


def test_admin_list_and_delete(client, services):
    product, commune = make_catalogue(services)
    admin = admin_session(services)
    owners = [user_session(services) for _ in range(2)]
    made = [create_company(client, s, product, commune).json for s in owners]
    listed = client.simulate_get(
        f"{API}/companies/admin/all-companies",
        params={"limit": "500"},
        cookies=admin.cookies,
    )
    assert listed.status_code == 200
    ids = [c["uuid"] for c in listed.json]
    assert ids.index(made[1]["uuid"]) < ids.index(made[0]["uuid"])  # newest first
    assert listed.json[0].keys() >= OWNER_ONLY - {"image_rejection_reason"}
    page = client.simulate_get(
        f"{API}/companies/admin/all-companies",
        params={"limit": "1", "offset": "1"},
        cookies=admin.cookies,
    )
    assert len(page.json) == 1 and page.json[0]["uuid"] == ids[1]
    for params in ({"limit": "0"}, {"limit": "501"}, {"offset": "-1"}, {"limit": "x"}):
        bad = client.simulate_get(
            f"{API}/companies/admin/all-companies", params=params, cookies=admin.cookies
        )
        assert bad.status_code == 422, params
        assert next(iter(bad.json["error"]["details"]["fields"])).startswith("query.")
    target = made[0]["uuid"]
    deleted = client.simulate_delete(
        f"{API}/companies/admin/companies/{target}",
        cookies=admin.cookies,
        headers=admin.headers(),
    )
    assert deleted.status_code == 200
    assert deleted.json["uuid"] == target
    again = client.simulate_delete(
        f"{API}/companies/admin/companies/{target}",
        cookies=admin.cookies,
        headers=admin.headers(),
    )
    assert again.status_code == 404
    with services.db.write() as tx:
        entries = audit.list_entries(tx, limit=20, target_type="company")
    assert any(e.action == "company.delete" and e.target_id == target for e in entries)


def test_account_deletion_removes_the_company_in_the_same_transaction(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    with services.db.write() as tx:
        tx.publish(
            accounts.AccountDeleted(user_id=str(owner.user.id), email=owner.user.email)
        )
        from proveo.platform import events

        events.dispatch(tx)  # what COMMIT runs; here to look inside the transaction
        assert companies.find_company(tx, uuid.UUID(created["uuid"])) is None
    assert tx.state[accounts.COMPANIES_DELETED_KEY] == 1
    assert client.simulate_get(f"{API}/companies/{created['uuid']}").status_code == 404


def test_account_deletion_rolls_back_with_the_company(services, client):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    try:
        with services.db.write() as tx:
            tx.publish(
                accounts.AccountDeleted(
                    user_id=str(owner.user.id), email="x@example.com"
                )
            )
            raise RuntimeError("the account deletion fails later")
    except RuntimeError:
        pass
    with services.db.write() as tx:
        assert companies.find_company(tx, uuid.UUID(created["uuid"])) is not None


def test_deleting_the_account_over_http_deletes_the_company(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    created = create_company(client, owner, product, commune).json
    gone = client.simulate_delete(
        f"{API}/users/me", cookies=owner.cookies, headers=owner.headers()
    )
    assert gone.status_code == 200, gone.text
    assert gone.json["company_deleted"] == 1
    assert client.simulate_get(f"{API}/companies/{created['uuid']}").status_code == 404
    with services.db.write() as tx:
        assert companies.find_company_of_user(tx, owner.user.id) is None
