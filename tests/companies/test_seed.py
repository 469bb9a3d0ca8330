"""Demo data: idempotent catalogue and approved, bilingual demo companies."""

from __future__ import annotations

import io

from PIL import Image

from proveo import accounts, companies
from proveo.companies import seed
from tests.companies.helpers import API
from tests.helpers import unique


def test_seed_is_idempotent_and_demo_companies_are_complete(client, services):
    with services.db.write() as tx:
        companies.seed_catalogue(tx)
    with services.db.write() as tx:
        companies.seed_catalogue(tx)
        products = companies.list_products(tx)
        communes = companies.list_communes(tx)
    names = {c.name for c in communes}
    assert {"Santiago Centro", "Providencia"} <= names
    assert len([n for n in seed.COMMUNES if n in names]) == len(seed.COMMUNES) >= 50
    pairs = {(p.name_es, p.name_en) for p in products}
    assert {("Tecnología", "Technology"), ("Alimentos", "Food")} <= pairs
    assert len(seed.PRODUCTS) >= 32

    with services.db.write() as tx:
        user = accounts.ensure_demo_user(
            tx, email=f"{unique()}@proveo.com", name="Demo", password="TestPass123!"
        )
        company = companies.seed_demo_company(tx, services.storage, user=user, index=3)
        again = companies.seed_demo_company(tx, services.storage, user=user, index=3)
    assert again.id == company.id
    assert company.image_status == "approved" and company.image_key
    assert company.description_es != company.description_en
    logo = services.storage.read_bytes(company.image_key, 1_000_000)
    assert Image.open(io.BytesIO(logo)).size == (256, 256)
    with services.db.write() as tx:
        assert companies.is_public_key(tx, company.image_key)
    public = client.simulate_get(f"{API}/companies/{company.id}").json
    assert public["image_url"] == f"http://testserver/images/{company.image_key}"


def test_the_first_demo_company_is_in_the_spec_examples(services):
    """testuser01's company: Tecnología in Santiago Centro (spec §8's first names)."""
    with services.db.write() as tx:
        user = accounts.ensure_demo_user(
            tx, email=f"{unique()}@proveo.com", name="Demo", password="TestPass123!"
        )
        company = companies.seed_demo_company(tx, services.storage, user=user, index=1)
    assert company.commune_name == "Santiago Centro"
    assert company.product_name_es == "Tecnología"
