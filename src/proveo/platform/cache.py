"""Redis-backed JSON cache with versioned namespaces and graceful degradation.

Invalidation is race-free by construction. Every namespace has a version
counter in Redis; values live under ``<prefix>:<ns>:v<version>:<key>``, and
``invalidate`` increments the counter instead of deleting keys. A reader takes
the version *before* it loads from the database and writes only under that
version. So in the classic race (a reader loads old rows, a writer commits and
invalidates, the reader then stores the old rows) the old rows land under the
old version, which nobody reads any more; orphaned keys expire by TTL.

Two rules for callers keep this true:

* call ``invalidate`` after the database COMMIT (an after-commit hook), never
  inside the transaction, or a reader may cache pre-commit data under the new
  version;
* a loader must read from a source that already has the commit (the primary,
  or a replica known to have replayed it), for the same reason.

Redis is an optimisation, never a dependency: every Redis error turns the call
into a miss or a no-op, is counted and logged once per outage, and trips a
breaker that skips Redis for a few seconds so requests don't each pay the
connect timeout. The first call after the pause probes Redis again.

Invalidations during an outage are not lost while the process lives: each
process remembers every namespace it has used and, on its first successful
contact after an outage, bumps all of them (a background thread keeps trying
while an invalidation is pending, so an idle process still delivers it).
Bumping *every* used namespace, not just the ones invalidated here, also
covers invalidations other processes could not deliver, at the price of one
reload per namespace after each outage. Residual risk: the only process that
knew of an invalidation dies before Redis returns, and no surviving process
that saw the outage had used that namespace; the stale value then lives until
its TTL. ``invalidate`` returns ``False`` when it could not reach Redis, so a
caller that must not accept that risk can retry it through the outbox.

Versions start at the current time in microseconds (not at 0) and only grow,
so a version key lost to eviction or a Redis restart without persistence is
recreated with a value larger than any earlier version and never resurrects
old entries.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from proveo.platform import metrics
from proveo.platform.errors import ServiceUnavailable

__all__ = ["Cache", "CacheStats", "CacheUnavailable"]

T = TypeVar("T")
log = logging.getLogger("proveo.cache")

_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_MISSING = object()

# Returns the namespace version, creating it (seeded with ARGV[1]) if absent.
_VERSION_LUA = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  v = redis.call('GET', KEYS[1])
end
return v
"""

# One round trip for a read: the version, then the value under that version.
_LOOKUP_LUA = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  v = redis.call('GET', KEYS[1])
end
return {v, redis.call('GET', ARGV[2] .. ':v' .. v .. ':' .. ARGV[3])}
"""

# Increment, seeding a missing counter with the clock so versions never repeat.
_BUMP_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  return tonumber(ARGV[1])
end
return redis.call('INCR', KEYS[1])
"""


class CacheUnavailable(ServiceUnavailable):
    """Redis did not answer a readiness ping."""


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since the cache was created; ``degraded`` while Redis is skipped."""

    hits: int
    misses: int
    errors: int
    outages: int
    degraded: bool


class _Breaker:
    """Skips Redis for ``cooldown`` seconds after an error; logs once per outage."""

    def __init__(self, name: str, cooldown: float, clock: Callable[[], float]) -> None:
        self._name = name
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self.down = False
        self.errors = 0
        self.outages = 0

    def allow(self) -> bool:
        """Tell whether Redis should be tried now."""
        return not self.down or self._clock() >= self._retry_at

    def failure(self, exc: Exception) -> None:
        """Record an error and open the breaker."""
        with self._lock:
            self.errors += 1
            self._retry_at = self._clock() + self._cooldown
            first = not self.down
            self.down = True
            if first:
                self.outages += 1
        if first:
            log.warning(
                "%s: Redis unavailable, degrading for %.1f s at a time: %s",
                self._name,
                self._cooldown,
                exc,
            )

    def success(self) -> None:
        """Close the breaker after a successful call."""
        if self.down:
            with self._lock:
                recovered, self.down = self.down, False
            if recovered:
                log.info("%s: Redis reachable again", self._name)


class Cache:
    """JSON values in Redis under versioned, namespaced keys.

    Namespaces are a small fixed set chosen in code (``"products"``,
    ``"communes"``), not per-user values: the cache remembers each one used.
    Values must be JSON-serialisable.
    """

    def __init__(
        self,
        redis_url: str,
        prefix: str = "proveo",
        *,
        timeout: float = 0.25,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self._client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            # One immediate retry re-dials a connection a Redis restart broke;
            # more would multiply the timeout during an outage.
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
        )
        self._version_script = self._client.register_script(_VERSION_LUA)
        self._lookup_script = self._client.register_script(_LOOKUP_LUA)
        self._bump_script = self._client.register_script(_BUMP_LUA)
        self._breaker = _Breaker("cache", cooldown, clock)
        self._cooldown = cooldown
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._pending: set[str] = set()
        self._retrier: threading.Thread | None = None
        self._hits = 0
        self._misses = 0

    @property
    def redis(self) -> redis.Redis:
        """The underlying client, with the short timeouts, for other primitives."""
        return self._client

    def claim_slot(self, job: str, seconds: int) -> int | None:
        """Claim the current ``seconds``-long slot of the periodic job ``job``.

        The first caller in a slot gets its number; every later one (another
        replica's scheduler, a redelivery) gets ``None`` and skips the run. A
        Redis failure raises: running a job twice is not the safe default.
        """
        slot = int(time.time() // seconds)
        key = f"proveo:{job}:{slot}"
        return slot if self._client.set(key, "1", nx=True, ex=seconds * 2) else None

    # --- keys -----------------------------------------------------------------

    def _base(self, namespace: str) -> str:
        if not _NAMESPACE_RE.fullmatch(namespace):
            raise ValueError(f"invalid cache namespace {namespace!r}")
        if namespace not in self._seen:
            with self._lock:
                self._seen.add(namespace)
        return f"{self.prefix}:{namespace}"

    def _key(self, namespace: str, version: int, key: str) -> str:
        return f"{self._base(namespace)}:v{version}:{key}"

    @staticmethod
    def _seed() -> int:
        # Microseconds: below 2**53, so exact in Lua's double-precision numbers.
        return time.time_ns() // 1_000

    # --- Redis access with degradation ------------------------------------------

    def _run(self, op: Callable[[], T]) -> T | object:
        """Run ``op`` against Redis; ``_MISSING`` when skipped or failed."""
        if not self._breaker.allow():
            return _MISSING
        try:
            if self._breaker.down:
                self._recover()
            result = op()
        except RedisError as exc:
            self._breaker.failure(exc)
            return _MISSING
        self._breaker.success()
        return result

    def _recover(self) -> None:
        """Bump every namespace used here; raises ``RedisError`` if Redis is down."""
        with self._lock:
            namespaces = sorted(self._seen | self._pending)
        for namespace in namespaces:
            self._bump_script(
                keys=[f"{self.prefix}:{namespace}:version"], args=[self._seed()]
            )
            with self._lock:
                self._pending.discard(namespace)
        if namespaces:
            log.info("cache: bumped %d namespace(s) after an outage", len(namespaces))

    def _retry_pending(self) -> None:
        """Keep probing while invalidations wait for Redis (daemon thread)."""
        while True:
            time.sleep(self._cooldown)
            self._run(lambda: self._client.ping())
            with self._lock:
                if not self._pending:
                    self._retrier = None
                    return

    # --- public API -------------------------------------------------------------

    def version(self, namespace: str) -> int | None:
        """Return the namespace's current version, ``None`` if Redis is unavailable."""
        key = f"{self._base(namespace)}:version"
        raw = self._run(lambda: self._version_script(keys=[key], args=[self._seed()]))
        return None if raw is _MISSING else int(cast(bytes, raw))

    def _lookup(self, namespace: str, key: str) -> tuple[Any, int | None]:
        base = self._base(namespace)
        raw = self._run(
            lambda: self._lookup_script(
                keys=[f"{base}:version"], args=[self._seed(), base, key]
            )
        )
        if raw is _MISSING:
            return _MISSING, None
        version_raw, payload = cast(list[Any], raw)
        version = int(version_raw)
        if payload is None:
            return _MISSING, version
        try:
            return json.loads(payload), version
        except ValueError:
            log.warning("cache: undecodable value under %s:%s", namespace, key)
            return _MISSING, version

    def _count(self, hit: bool, namespace: str = "") -> None:
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._misses += 1
        metrics.CACHE_EVENTS.labels(namespace, "hit" if hit else "miss").inc()

    def get(self, namespace: str, key: str) -> Any | None:
        """Return the cached value, or ``None`` on a miss or while degraded."""
        value, _ = self._lookup(namespace, key)
        self._count(value is not _MISSING, namespace)
        return None if value is _MISSING else value

    def set(
        self,
        namespace: str,
        key: str,
        value: Any,
        ttl_seconds: int,
        *,
        version: int | None = None,
    ) -> None:
        """Store ``value`` for ``ttl_seconds``; a no-op while Redis is unavailable.

        Pass the ``version`` read before loading ``value`` (see the module
        docstring); without it the current version is used, which is only safe
        for values not derived from data that may change meanwhile.
        """
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        payload = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if version is None:
            version = self.version(namespace)
            if version is None:
                return
        data_key = self._key(namespace, version, key)
        self._run(lambda: self._client.set(data_key, payload, ex=ttl_seconds))

    def get_or_load(
        self, namespace: str, key: str, loader: Callable[[], T], ttl: int
    ) -> T:
        """Return the cached value, else ``loader()``, caching it race-free.

        The version is read before ``loader`` runs, so a concurrent
        ``invalidate`` makes this load's result unreachable instead of stale.
        """
        value, version = self._lookup(namespace, key)
        if value is not _MISSING:
            self._count(True, namespace)
            return cast(T, value)
        self._count(False, namespace)
        loaded = loader()
        if version is not None:
            self.set(namespace, key, loaded, ttl, version=version)
        return loaded

    def invalidate(self, namespace: str) -> bool:
        """Make every cached value of ``namespace`` unreachable.

        Returns ``False`` when Redis was unavailable: the bump is then retried
        by this process when Redis returns (see the module docstring).
        """
        key = f"{self._base(namespace)}:version"
        done = self._run(lambda: self._bump_script(keys=[key], args=[self._seed()]))
        if done is not _MISSING:
            return True
        retrier = None
        with self._lock:
            self._pending.add(namespace)
            if self._retrier is None:
                retrier = self._retrier = threading.Thread(
                    target=self._retry_pending, name="cache-invalidate", daemon=True
                )
        if retrier is not None:
            retrier.start()
        return False

    def ping(self) -> None:
        """Raise ``CacheUnavailable`` unless Redis answers (readiness)."""
        try:
            self._client.ping()
        except RedisError as exc:
            raise CacheUnavailable(f"Redis did not answer: {exc}") from exc

    def stats(self) -> CacheStats:
        """Return hit/miss/error counters and whether Redis is being skipped."""
        with self._lock:
            hits, misses = self._hits, self._misses
        return CacheStats(
            hits,
            misses,
            self._breaker.errors,
            self._breaker.outages,
            self._breaker.down,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
