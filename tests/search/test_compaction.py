"""Compaction re-lays ``search.matches`` in product order and never changes a result.

The physical order itself is checked in ``test_store`` on an isolated database:
here, background jobs of earlier tests may still rewrite a row (same content,
new place) while this test runs.
"""

from __future__ import annotations

import io

import sqlalchemy as sa

from proveo import search
from proveo.entrypoints import admin
from proveo.platform.runtime import Services
from proveo.platform.settings import Settings
from proveo.search import tasks


def _everything(
    services: Services,
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]:
    query = search.SearchQuery(
        q="empresa", commune=None, product=None, lang="es", limit=100, offset=0
    )
    with services.db.write() as tx:
        page = search.search(tx, query)
        hits = [(hit.company_id, hit.name) for hit in page.items]
        rows = tx.execute(
            sa.text(
                "select company_id, name, product_id, rank_tsv::text, match_tsv::text"
                " from search.matches order by company_id"
            )
        ).all()
    return [tuple(r) for r in rows], hits, page.total


def test_compact_moves_every_row_and_keeps_results(
    services: Services, migrated: Settings
) -> None:
    assert admin.seed(migrated) == 0
    before = _everything(services)
    assert before[2] > 0
    out = io.StringIO()
    moved = search.compact(services.db, batch=3, progress=out)
    assert moved == len(before[0]) > 0
    assert "products" in out.getvalue()
    assert _everything(services) == before
    with services.db.write() as tx:
        vacuumed = tx.execute(
            sa.text(
                "select last_vacuum > now() - interval '1 hour' from"
                " pg_stat_user_tables where relid = 'search.matches'::regclass"
            )
        ).scalar()
    assert vacuumed  # the moved rows' old versions left the indexes


def test_nightly_compaction_runs_once_per_slot(services: Services) -> None:
    for key in services.cache.redis.scan_iter("proveo:search:compact:*"):
        services.cache.redis.delete(key)  # an earlier run's claim on this slot
    assert tasks.compact_matches() is not None
    assert tasks.compact_matches() is None
    actor = services.broker.get_actor("search.compact_matches")
    assert str(actor.options["periodic"]) == "17 3 * * *"
