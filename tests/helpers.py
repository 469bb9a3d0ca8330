"""Small test utilities shared by every module's tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import psycopg
import sqlalchemy as sa

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds.

    A deadline, not a sleep: the test proceeds as soon as the condition holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def unique(prefix: str = "t") -> str:
    """A short unique token for names and e-mails."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def libpq_url(url: sa.URL) -> str:
    """``url`` as psycopg takes it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database(server_url: str, name: str) -> sa.URL:
    """(Re)create the empty database ``name`` on ``server_url``'s server; its URL."""
    admin = sa.make_url(server_url)
    drop_database(server_url, name)
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin.set(database=name)


def drop_database(server_url: str, name: str) -> None:
    """Drop ``name`` on ``server_url``'s server, closing its sessions."""
    with psycopg.connect(libpq_url(sa.make_url(server_url)), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
