"""A database with only the search schema, migrated from its migrations' own DDL.

It lives next to the suite's main database on the shared primary
(``pg_cluster``), so it does not depend on the other modules' migrations. The
migration keeps its statements in ``UPGRADE``; running them directly is the same
DDL Alembic runs. Every test gets a connection inside a transaction that is
rolled back afterwards.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
import sqlalchemy as sa

from proveo.platform.devservers import PostgresCluster
from tests.helpers import fresh_database, libpq_url

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
#: The migrations that build the search schema, in order.
MIGRATIONS = (
    "0004_search.py",
    "0006_search_rank.py",
    "0007_search_matches.py",
    "0008_search_documents_slim.py",
    "0009_search_filter_indexes.py",
)
DATABASE = "search_store_tests"


def load_migration(filename: str = MIGRATIONS[0]) -> ModuleType:
    """Import a migration module by path (its name is not an identifier)."""
    path = VERSIONS / filename
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def search_engine(pg_cluster: PostgresCluster) -> Iterator[sa.Engine]:
    """An engine on a fresh database holding exactly the search schema."""
    url = fresh_database(pg_cluster.primary_url, DATABASE)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for filename in MIGRATIONS:
            for statement in load_migration(filename).UPGRADE:
                conn.execute(statement)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def tx(search_engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with search_engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()
