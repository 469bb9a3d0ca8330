"""Cache against a real Redis: versioned invalidation and surviving outages."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from proveo.platform.cache import Cache, CacheUnavailable
from proveo.platform.devservers import RedisServer


class FakeClock:
    """A monotonic clock the test moves by hand (drives the breaker only)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeCache = Callable[..., Cache]


@pytest.fixture
def make_cache(redis_server: RedisServer) -> Iterator[MakeCache]:
    made: list[Cache] = []

    def make(**kwargs: object) -> Cache:
        kwargs.setdefault("prefix", f"test-{uuid.uuid4().hex[:12]}")
        cache = Cache(redis_server.url, **kwargs)  # type: ignore[arg-type]
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def _snapshot(raw: redis.Redis, prefix: str) -> dict[Any, Any]:
    """Every key of ``prefix`` with its value."""
    return {key: raw.get(key) for key in raw.keys(f"{prefix}:*")}


def test_miss_set_hit_invalidate(make_cache: MakeCache) -> None:
    cache = make_cache()
    products = [{"name_es": "Tecnología", "name_en": "Technology"}]

    assert cache.get("products", "all") is None
    cache.set("products", "all", products, 60)
    assert cache.get("products", "all") == products
    assert cache.get("communes", "all") is None  # namespaces are separate

    assert cache.invalidate("products") is True
    assert cache.get("products", "all") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.errors) == (1, 3, 0)
    assert not stats.degraded


def test_get_or_load_loads_once_and_caches_none_too(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls: list[str] = []

    def loader() -> list[str]:
        calls.append("load")
        return ["Providencia", "Ñuñoa"]

    assert cache.get_or_load("communes", "all", loader, 60) == ["Providencia", "Ñuñoa"]
    assert cache.get_or_load("communes", "all", loader, 60) == ["Providencia", "Ñuñoa"]
    assert calls == ["load"]

    nothing: list[None] = []
    assert (
        cache.get_or_load("communes", "none", lambda: nothing.append(None), 60) is None
    )
    assert (
        cache.get_or_load("communes", "none", lambda: nothing.append(None), 60) is None
    )
    assert len(nothing) == 1


def test_stale_writer_after_invalidation_is_never_served(make_cache: MakeCache) -> None:
    """Reader takes the version, loads old rows; a writer commits and invalidates;
    the reader then stores the old rows. They must not be served."""
    cache = make_cache()
    version = cache.version("products")
    assert version is not None
    old_rows = ["old"]  # what the slow reader loaded before the commit

    assert cache.invalidate("products")  # the writer, after COMMIT
    cache.set("products", "all", old_rows, 60, version=version)  # the late write

    assert cache.get("products", "all") is None
    assert cache.get_or_load("products", "all", lambda: ["new"], 60) == ["new"]
    assert cache.get("products", "all") == ["new"]


def test_invalidation_during_load_wins(make_cache: MakeCache) -> None:
    cache = make_cache()

    def racing_loader() -> list[str]:
        cache.invalidate("products")  # a writer commits while we load
        return ["old"]

    assert cache.get_or_load("products", "all", racing_loader, 60) == ["old"]
    assert cache.get("products", "all") is None
    assert cache.get_or_load("products", "all", lambda: ["new"], 60) == ["new"]


def test_lost_version_key_never_resurrects_old_values(
    make_cache: MakeCache, raw: redis.Redis
) -> None:
    cache = make_cache()
    cache.set("products", "all", ["old"], 60)
    raw.delete(f"{cache.prefix}:products:version")  # eviction, FLUSH, restart

    assert cache.get("products", "all") is None


def test_undecodable_value_is_a_miss(make_cache: MakeCache, raw: redis.Redis) -> None:
    cache = make_cache()
    version = cache.version("products")
    raw.set(f"{cache.prefix}:products:v{version}:all", b"\xff not json")

    assert cache.get("products", "all") is None


def test_rejects_bad_namespace_and_ttl(make_cache: MakeCache) -> None:
    cache = make_cache()
    with pytest.raises(ValueError):
        cache.get("bad:namespace", "k")
    with pytest.raises(ValueError):
        cache.set("products", "k", 1, 0)


def test_outage_degrades_then_recovers_without_stale_values(
    make_cache: MakeCache, raw: redis.Redis, redis_server: RedisServer
) -> None:
    clock = FakeClock()
    cache = make_cache(clock=clock, cooldown=5.0)
    cache.set("products", "all", ["before outage"], 600)
    cache.set("communes", "all", ["kept by another process"], 600)
    # The test Redis does not persist; remember the state a persistent one
    # would come back with, to restore it after the restart.
    saved = _snapshot(raw, cache.prefix)

    redis_server.stop()
    try:
        assert cache.get("products", "all") is None
        errors = cache.stats().errors
        assert errors >= 1 and cache.stats().degraded
        cache.set("products", "all", ["ignored"], 600)
        assert cache.invalidate("products") is False  # remembered for later
        loads: list[int] = []
        assert cache.get_or_load("products", "all", lambda: loads.append(1), 60) is None
        assert loads == [1]
        assert cache.stats().errors == errors  # breaker open: Redis not retried
        with pytest.raises(CacheUnavailable):
            cache.ping()
    finally:
        redis_server.start()
    raw.mset(saved)  # as if Redis had persisted its data

    assert cache.get("products", "all") is None  # still inside the cooldown
    clock.advance(5.0)

    # First contact after the outage delivers the pending invalidation.
    assert cache.get("products", "all") is None
    assert not cache.stats().degraded
    cache.ping()
    assert cache.get_or_load("products", "all", lambda: ["fresh"], 60) == ["fresh"]
    assert cache.get("products", "all") == ["fresh"]
    stored = raw.get(f"{cache.prefix}:products:v{cache.version('products')}:all")
    assert stored is not None and json.loads(stored) == ["fresh"]


def test_another_process_bumps_namespaces_it_used_after_an_outage(
    make_cache: MakeCache, raw: redis.Redis, redis_server: RedisServer
) -> None:
    """A process that saw the outage bumps every namespace it used, covering an
    invalidation that a process which has since died could not deliver."""
    clock = FakeClock()
    survivor = make_cache(clock=clock)
    survivor.set("products", "all", ["stale"], 600)
    saved = _snapshot(raw, survivor.prefix)

    redis_server.stop()
    try:
        assert survivor.get("products", "all") is None
    finally:
        redis_server.start()
    raw.mset(saved)
    clock.advance(5.0)

    assert survivor.get("products", "all") is None
