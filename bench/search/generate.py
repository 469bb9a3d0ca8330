"""Load N realistic bilingual companies and their search documents, fast.

Usage::

    python bench/search/generate.py --database-url postgresql://... \\
        --companies 100000 [--seed 1] [--create-companies-schema] [--jobs 2]

Products, communes and companies go in with COPY; search documents are then
built in SQL from the companies join (``INSERT ... SELECT``), so the match
rows come from the same trigger the application writes through, and the typo
vocabulary from the same ``search.document_words`` function.
Existing rows in these tables are removed first.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import random
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vocabulary import (
    CATEGORIES,
    CLOSINGS,
    COMMUNES,
    GIVEN,
    OFFERS,
    OPENINGS,
    SUFFIXES,
    SURNAMES,
    SYLLABLES,
)

COMPANIES_DDL = [
    "CREATE SCHEMA IF NOT EXISTS companies",
    """CREATE TABLE IF NOT EXISTS companies.products (
        id uuid PRIMARY KEY, name_es varchar(100) NOT NULL,
        name_en varchar(100) NOT NULL, name_es_key varchar(200) NOT NULL UNIQUE,
        name_en_key varchar(200) NOT NULL UNIQUE,
        created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS companies.communes (
        id uuid PRIMARY KEY, name varchar(100) NOT NULL,
        name_key varchar(200) NOT NULL UNIQUE,
        created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS companies.companies (
        id uuid PRIMARY KEY, user_id uuid NOT NULL UNIQUE,
        product_id uuid NOT NULL REFERENCES companies.products (id),
        commune_id uuid NOT NULL REFERENCES companies.communes (id),
        name varchar(100) NOT NULL, description_es varchar(1000) NOT NULL,
        description_en varchar(1000) NOT NULL,
        description_es_machine bool NOT NULL, description_en_machine bool NOT NULL,
        address varchar(200) NOT NULL, phone varchar(32) NOT NULL,
        email varchar(254) NOT NULL, image_key varchar(200),
        image_extension varchar(8), image_status varchar(16),
        image_rejection_reason varchar(500),
        created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)""",
]

DOCUMENT_COLUMNS = (
    "company_id, name, description_es, description_en, address, email, phone,"
    " image_key, product_id, product_name_es, product_name_en, commune_id,"
    " commune_name"
)

# Built from the companies join; image_key only when the image was approved.
FILL_DOCUMENTS = f"""
INSERT INTO search.documents ({DOCUMENT_COLUMNS})
SELECT c.id, c.name, c.description_es, c.description_en, c.address, c.email,
       c.phone, CASE WHEN c.image_status = 'approved' THEN c.image_key END,
       p.id, p.name_es, p.name_en, m.id, m.name
FROM companies.companies AS c
JOIN companies.products AS p ON p.id = c.product_id
JOIN companies.communes AS m ON m.id = c.commune_id
WHERE c.id >= %(lo)s AND (%(hi)s::uuid IS NULL OR c.id < %(hi)s)
"""

# Same function the store uses; applied per distinct field value, which yields
# the same set as applying it per document, for a fraction of the work.
FILL_WORDS = """
INSERT INTO search.words (word)
SELECT DISTINCT w FROM (
    SELECT unnest(search.document_words(name, NULL, NULL, NULL, NULL, NULL)) AS w
    FROM (SELECT DISTINCT name FROM search.documents) AS n
    UNION ALL
    SELECT unnest(search.document_words(NULL, description_es, description_en,
                                        NULL, NULL, NULL))
    FROM (SELECT DISTINCT description_es, description_en
          FROM search.documents) AS d
    UNION ALL
    SELECT unnest(search.document_words(NULL, NULL, NULL, product_name_es,
                                        product_name_en, commune_name))
    FROM (SELECT DISTINCT product_name_es, product_name_en, commune_name
          FROM search.documents) AS pc
) AS all_words
ORDER BY w
ON CONFLICT DO NOTHING
"""


def key(name: str) -> str:
    """Fold like companies does: casefold and strip accents."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def brand(rng: random.Random) -> str:
    """A pronounceable made-up brand, so the vocabulary grows with the data."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).title()


def companies_rows(
    count: int,
    rng: random.Random,
    products: list[uuid.UUID],
    communes: list[uuid.UUID],
) -> Iterator[tuple[object, ...]]:
    """Yield ``count`` company rows in companies.companies column order."""
    brands = [brand(rng) for _ in range(max(50, count // 20))]
    now = datetime.now(UTC)
    for i in range(count):
        cat = rng.randrange(len(CATEGORIES))
        _, _, noun, items = CATEGORIES[cat]
        commune_index = rng.randrange(len(COMMUNES))
        commune = COMMUNES[commune_index]
        if rng.random() < 0.5:
            name = f"{noun} {rng.choice(GIVEN)}"
        else:
            name = f"{noun} {rng.choice(SURNAMES)}"
        name += rng.choice(SUFFIXES)
        a, b, c = rng.sample(items, 3)
        opening = rng.choice(OPENINGS)
        offer = rng.choice(OFFERS)
        closing = rng.choice(CLOSINGS)
        fields = {
            "commune": commune,
            "years": rng.randint(2, 40),
            "brand": rng.choice(brands),
        }
        es = " ".join(
            (
                opening[0].format(**fields) + ".",
                offer[0].format(a=a[0], b=b[0], c=c[0]),
                closing[0].format(**fields),
            )
        )
        en = " ".join(
            (
                opening[1].format(**fields) + ".",
                offer[1].format(a=a[1], b=b[1], c=c[1]),
                closing[1].format(**fields),
            )
        )
        company_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        approved = rng.random() < 0.8
        yield (
            company_id,
            uuid.UUID(int=rng.getrandbits(128), version=4),
            products[cat],
            communes[commune_index],
            name[:100],
            es,
            en,
            False,
            rng.random() < 0.5,
            f"{rng.choice(['Av.', 'Calle', 'Pasaje'])} {rng.choice(SURNAMES)}"
            f" {rng.randint(1, 9999)}, {commune}",
            f"+56 9 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            f"contacto{i}@{key(noun).replace(' ', '')}{i % 997}.cl",
            f"{company_id.hex}.jpg",
            "jpg",
            "approved" if approved else "pending",
            None,
            now,
            now,
        )


def load(url: str, count: int, seed: int, create: bool, jobs: int) -> None:
    """Replace the bench data with ``count`` companies and their documents."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    products = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in CATEGORIES]
    communes = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in COMMUNES]
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        if create:
            for ddl in COMPANIES_DDL:
                conn.execute(ddl)
        conn.execute(
            "TRUNCATE search.matches, search.documents, search.words,"
            " companies.companies, companies.products, companies.communes CASCADE"
        )
        with conn.cursor() as cur:
            with cur.copy(
                "COPY companies.products (id, name_es, name_en, name_es_key,"
                " name_en_key, created_at, updated_at) FROM STDIN"
            ) as copy:
                for pid, (es, en, _, _) in zip(products, CATEGORIES, strict=True):
                    copy.write_row((pid, es, en, key(es), key(en), now, now))
            with cur.copy(
                "COPY companies.communes (id, name, name_key, created_at,"
                " updated_at) FROM STDIN"
            ) as copy:
                for cid, name in zip(communes, COMMUNES, strict=True):
                    copy.write_row((cid, name, key(name), now, now))
            with cur.copy(
                "COPY companies.companies (id, user_id, product_id, commune_id,"
                " name, description_es, description_en, description_es_machine,"
                " description_en_machine, address, phone, email, image_key,"
                " image_extension, image_status, image_rejection_reason,"
                " created_at, updated_at) FROM STDIN"
            ) as copy:
                for row in companies_rows(count, rng, products, communes):
                    copy.write_row(row)
        conn.commit()
    print(f"companies copied: {count} in {time.perf_counter() - started:.1f}s")

    # Documents in parallel slices of the uuid space: computing the vectors is
    # the expensive part and it is CPU-bound per backend.
    bounds = [uuid.UUID(int=(i << 128) // jobs) for i in range(jobs)]
    uppers: list[uuid.UUID | None] = [*bounds[1:], None]
    ranges = list(zip(bounds, uppers, strict=True))

    def fill(lo: uuid.UUID, hi: uuid.UUID | None) -> None:
        with psycopg.connect(url) as conn:
            conn.execute(FILL_DOCUMENTS, {"lo": lo, "hi": hi})

    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for f in [pool.submit(fill, lo, hi) for lo, hi in ranges]:
            f.result()
    print(f"documents built in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FILL_WORDS)
        conn.execute("VACUUM ANALYZE search.documents")
        conn.execute("VACUUM ANALYZE search.matches")
        conn.execute("VACUUM ANALYZE search.words")
        conn.execute("ANALYZE companies.companies")
        words = conn.execute("SELECT count(*) FROM search.words").fetchone()
    print(
        f"vocabulary ({words[0] if words else 0} words) and analyze in"
        f" {time.perf_counter() - t:.1f}s; total {time.perf_counter() - started:.1f}s"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--companies", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--create-companies-schema",
        action="store_true",
        help="create the companies tables if missing (standalone use only)",
    )
    args = parser.parse_args(argv)
    url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    load(url, args.companies, args.seed, args.create_companies_schema, args.jobs)


if __name__ == "__main__":
    main()
