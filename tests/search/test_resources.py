"""GET /companies/search through the real stack: freshness, filters, errors."""

from __future__ import annotations

import uuid
from typing import Any

import falcon.testing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proveo import companies
from proveo.platform.devservers import PostgresCluster
from proveo.platform.runtime import Services
from tests.companies.helpers import (
    API,
    Session,
    admin_session,
    create_company,
    form,
    make_catalogue,
    send_form,
    user_session,
)
from tests.helpers import unique

SEARCH = f"{API}/companies/search"


def _search(
    client: falcon.testing.TestClient,
    cookies: dict[str, str] | None = None,
    **params: Any,
) -> falcon.testing.Result:
    result = client.simulate_get(SEARCH, params=params, cookies=cookies or {})
    assert result.status_code == 200, result.text
    return result


def _names(result: falcon.testing.Result) -> list[str]:
    return [item["name"] for item in result.json]


def _lsn_cookie(result: falcon.testing.Result, session: Session) -> dict[str, str]:
    """What a browser holds after the write: its session plus the WAL position."""
    cookies = dict(session.cookies)
    if "proveo_lsn" in result.cookies:
        cookies["proveo_lsn"] = result.cookies["proveo_lsn"].value
    return cookies


@pytest.fixture
def catalogue(services: Services) -> tuple[companies.Product, companies.Commune]:
    return make_catalogue(services)


def test_create_rename_delete_are_visible_to_the_writers_next_search(
    client: falcon.testing.TestClient,
    services: Services,
    pg_cluster: PostgresCluster,
    catalogue: tuple[companies.Product, companies.Commune],
) -> None:
    product, commune = catalogue
    session = user_session(services)
    word = unique("zq")
    pg_cluster.pause_replay()  # the replica is stale for the whole test
    try:
        created = create_company(
            client, session, product, commune, name=f"Panadería {word}"
        )
        assert created.status_code == 201, created.text
        cookies = _lsn_cookie(created, session)
        assert _names(_search(client, cookies, q=word)) == [f"Panadería {word}"]

        body, ctype = form({"name": f"Ferretería {word}x"})
        renamed = send_form(
            client, "PATCH", "/companies/user/my-company", session, body, ctype
        )
        assert renamed.status_code == 200, renamed.text
        cookies = _lsn_cookie(renamed, session)
        assert (
            _names(_search(client, cookies, q="Panaderia", commune=commune.name)) == []
        )
        assert _names(_search(client, cookies, q=f"{word}x")) == [f"Ferretería {word}x"]

        deleted = client.simulate_delete(
            f"{API}/companies/user/my-company",
            cookies=session.cookies,
            headers=session.headers(),
        )
        assert deleted.status_code == 200, deleted.text
        cookies = _lsn_cookie(deleted, session)
        assert _search(client, cookies, q=f"{word}x").json == []
    finally:
        pg_cluster.resume_replay()


def test_results_use_the_requested_language_and_count_every_match(
    client: falcon.testing.TestClient,
    services: Services,
    pg_cluster: PostgresCluster,
    catalogue: tuple[companies.Product, companies.Commune],
) -> None:
    product, commune = catalogue
    word = unique("qk")
    for index in range(3):
        result = create_company(
            client,
            user_session(services),
            product,
            commune,
            name=f"Tecnologías {word} {index}",
            description_es="Soporte informático",
            description_en="IT support",
        )
        assert result.status_code == 201, result.text
    pg_cluster.wait_replica_caught_up()
    es = _search(client, q=f"tecnologia {word}", limit=2)
    assert es.headers["X-Total-Count"] == "3"
    assert len(es.json) == 2
    assert es.json[0]["description"] == "Soporte informático"
    assert es.json[0]["product_name"] == product.name_es
    en = _search(client, q=word, lang="en", product=product.name_en.upper())
    assert en.json[0]["description"] == "IT support"
    assert en.json[0]["product_name"] == product.name_en
    assert set(en.json[0]) == {
        "uuid",
        "name",
        "description",
        "address",
        "email",
        "phone",
        "img_url",
        "product_name",
        "commune_name",
    }
    assert en.json[0]["img_url"] is None  # pending logos are never shown
    assert _search(client, q=word, commune="no such commune").json == []
    assert _search(client, commune=commune.name.lower()).headers["X-Total-Count"] == "3"


def test_a_product_rename_is_searchable_at_once(
    client: falcon.testing.TestClient,
    services: Services,
    pg_cluster: PostgresCluster,
    catalogue: tuple[companies.Product, companies.Commune],
) -> None:
    product, commune = catalogue
    word = unique("pr")
    created = create_company(
        client, user_session(services), product, commune, name=word
    )
    assert created.status_code == 201, created.text
    admin = admin_session(services)
    new_es, new_en = f"Gastronomía {unique('')}", f"Gastronomy {unique('')}"
    pg_cluster.pause_replay()
    try:
        renamed = client.simulate_put(
            f"{API}/products/{product.id}",
            json={"name_es": new_es, "name_en": new_en},
            cookies=admin.cookies,
            headers=admin.headers(),
        )
        assert renamed.status_code == 200, renamed.text
        cookies = _lsn_cookie(renamed, admin)
        assert _names(
            _search(client, cookies, product="gastronomia " + new_es.split()[1])
        ) == [word]
        hit = _search(client, cookies, q=word, lang="en").json[0]
        assert hit["product_name"] == new_en
    finally:
        pg_cluster.resume_replay()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "query.limit"),
        ({"limit": "101"}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"offset": "-1"}, "query.offset"),
        ({"lang": "fr"}, "query.lang"),
        ({"q": "x" * 201}, "query.q"),
    ],
)
def test_invalid_parameters_are_422_naming_them(
    client: falcon.testing.TestClient, params: dict[str, str], field: str
) -> None:
    result = client.simulate_get(SEARCH, params=params)
    assert result.status_code == 422
    assert field in result.json["error"]["details"]["fields"]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    q=st.text(max_size=200),
    commune=st.one_of(st.none(), st.text(max_size=300)),
    product=st.one_of(st.none(), st.text(max_size=300)),
    limit=st.integers(min_value=1, max_value=100),
    offset=st.one_of(
        st.integers(min_value=0, max_value=5000), st.integers(min_value=0)
    ),
)
def test_no_input_gives_a_500(
    client: falcon.testing.TestClient,
    q: str,
    commune: str | None,
    product: str | None,
    limit: int,
    offset: int,
) -> None:
    params: dict[str, Any] = {"q": q, "limit": limit, "offset": offset}
    if commune is not None:
        params["commune"] = commune
    if product is not None:
        params["product"] = product
    result = client.simulate_get(SEARCH, params=params)
    assert result.status_code in (200, 422), result.text


def test_an_offset_past_the_end_is_an_empty_page_with_the_total(
    client: falcon.testing.TestClient,
    services: Services,
    catalogue: tuple[companies.Product, companies.Commune],
) -> None:
    product, commune = catalogue
    word = unique("zq")
    session = user_session(services)
    created = create_company(client, session, product, commune, name=f"Taller {word}")
    assert created.status_code == 201, created.text
    cookies = _lsn_cookie(created, session)
    assert _search(client, cookies, q=word).headers["X-Total-Count"] == "1"
    for offset in (1, 10**6 + 1, 2**31, 2**63, 10**40, "9" * 5_000):
        result = _search(client, cookies, q=word, offset=offset)
        assert result.json == []
        assert result.headers["X-Total-Count"] == "1"
        filtered = _search(client, cookies, commune=commune.name, offset=offset)
        assert filtered.json == []
        assert filtered.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize("name", ["commune", "product"])
def test_a_long_filter_name_is_simply_no_match(
    client: falcon.testing.TestClient, name: str
) -> None:
    result = client.simulate_get(SEARCH, params={name: "Ñuñoa " * 100})
    assert result.status_code == 200, result.text
    assert result.json == []
    assert result.headers["X-Total-Count"] == "0"


def test_search_is_in_the_openapi_document(client: falcon.testing.TestClient) -> None:
    document = client.simulate_get(f"{API}/openapi.json").json
    assert "get" in document["paths"]["/api/v1/companies/search"]


def test_unrelated_uuid_route_still_validates(
    client: falcon.testing.TestClient,
) -> None:
    assert client.simulate_get(f"{API}/companies/{uuid.uuid4()}").status_code == 404
    assert client.simulate_get(f"{API}/companies/not-a-uuid").status_code == 422
