"""Rate limits shared through Redis, failing open to per-process limits.

``RateLimiter`` counts hits with the ``limits`` library: a sliding window
counter (constant memory) by default, or an exact moving window for rules
marked ``exact``. When Redis fails, a breaker skips it for a few seconds and
the same rules are enforced by an in-memory limiter in this process: while
degraded the effective limit is ``limit x processes``, which is acceptable,
whereas refusing every request because Redis is down is not. Redis is retried
after the pause and distributed counting resumes by itself.

Also here: ``headers`` (IETF draft ``RateLimit`` / ``RateLimit-Policy``),
``client_ip`` (the address to limit, honouring only trusted proxies) and
``Backoff`` (progressive per-account lockout after failed logins).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.strategies import RateLimiter as _Strategy
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

__all__ = [
    "Backoff",
    "Decision",
    "IPNetwork",
    "RateLimiter",
    "Rule",
    "client_ip",
    "from_trusted_proxy",
    "headers",
]

log = logging.getLogger("proveo.ratelimit")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_RULE_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_HOPS = 64


@dataclass(frozen=True, slots=True)
class Rule:
    """A named limit such as ``Rule("login-ip", "10/minute")``.

    ``name`` is the policy name in the response headers; ``exact`` selects the
    moving window (exact counting, O(limit) memory) over the sliding counter.

    Raises:
        ValueError: the name or the limit string is invalid.
    """

    name: str
    limit: str
    exact: bool = False
    item: RateLimitItem = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _RULE_NAME_RE.fullmatch(self.name):
            raise ValueError(f"invalid rate limit rule name {self.name!r}")
        if ";" in self.limit or "," in self.limit:
            raise ValueError("one limit per rule; use several rules instead")
        object.__setattr__(self, "item", parse(self.limit))


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a hit or peek; all times in whole seconds."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    window: int
    policy: str


def headers(decision: Decision) -> dict[str, str]:
    """Return the draft IETF rate-limit headers, plus ``Retry-After`` on refusal."""
    out = {
        "RateLimit-Policy": (
            f'"{decision.policy}";q={decision.limit};w={decision.window}'
        ),
        "RateLimit": (
            f'"{decision.policy}";r={decision.remaining};t={decision.reset_after}'
        ),
    }
    if not decision.allowed:
        out["Retry-After"] = str(max(1, decision.reset_after))
    return out


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

    def allow(self) -> bool:
        return not self.down or self._clock() >= self._retry_at

    def failure(self, exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            self._retry_at = self._clock() + self._cooldown
            first, self.down = not self.down, True
        if first:
            log.warning(
                "%s: Redis unavailable, limiting per process: %s", self._name, exc
            )

    def success(self) -> None:
        if self.down:
            with self._lock:
                recovered, self.down = self.down, False
            if recovered:
                log.info("%s: Redis reachable again", self._name)


def _escape(identifier: str) -> str:
    # limits joins identifiers with "/": escape it so ("a/b", "c") and
    # ("a", "b/c") cannot share a counter.
    return str(identifier).replace("%", "%25").replace("/", "%2F")


def _redis_options(timeout: float) -> dict[str, object]:
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        # One immediate retry re-dials a connection a restart broke; more would
        # multiply the timeout during an outage.
        "retry": Retry(NoBackoff(), 1),
    }


class RateLimiter:
    """Applies ``Rule`` objects to identifiers (an IP, an e-mail, ...)."""

    def __init__(
        self,
        redis_url: str,
        *,
        key_prefix: str = "proveo:rl",
        timeout: float = 0.25,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        remote = RedisStorage(
            redis_url,
            key_prefix=key_prefix,
            wrap_exceptions=True,
            **_redis_options(timeout),  # type: ignore[arg-type]
        )
        local = MemoryStorage()
        self._storage = remote
        self._remote: dict[bool, _Strategy] = {
            False: SlidingWindowCounterRateLimiter(remote),
            True: MovingWindowRateLimiter(remote),
        }
        self._local: dict[bool, _Strategy] = {
            False: SlidingWindowCounterRateLimiter(local),
            True: MovingWindowRateLimiter(local),
        }
        self._breaker = _Breaker("ratelimit", cooldown, clock)

    @property
    def degraded(self) -> bool:
        """True while limits are enforced per process because Redis failed."""
        return self._breaker.down

    @property
    def errors(self) -> int:
        """How many Redis errors this limiter has seen."""
        return self._breaker.errors

    def _decide(
        self, strategy: _Strategy, rule: Rule, ids: tuple[str, ...], consume: bool
    ) -> Decision:
        item = rule.item
        allowed = strategy.hit(item, *ids) if consume else strategy.test(item, *ids)
        stats = strategy.get_window_stats(item, *ids)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        if not allowed:
            reset_after = max(1, reset_after)
        return Decision(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, int(stats.remaining)),
            reset_after=reset_after,
            window=item.get_expiry(),
            policy=rule.name,
        )

    def _apply(self, rule: Rule, identifiers: Sequence[str], consume: bool) -> Decision:
        ids = (rule.name, *(_escape(i) for i in identifiers))
        if self._breaker.allow():
            try:
                decision = self._decide(self._remote[rule.exact], rule, ids, consume)
            except (StorageError, RedisError) as exc:
                self._breaker.failure(exc)
            else:
                self._breaker.success()
                return decision
        return self._decide(self._local[rule.exact], rule, ids, consume)

    def hit(self, rule: Rule, *identifiers: str) -> Decision:
        """Count one request against ``rule`` for ``identifiers``."""
        return self._apply(rule, identifiers, consume=True)

    def peek(self, rule: Rule, *identifiers: str) -> Decision:
        """Report whether a hit would be allowed, without counting one."""
        return self._apply(rule, identifiers, consume=False)

    def reset(self, rule: Rule, *identifiers: str) -> None:
        """Forget the counts of ``rule`` for ``identifiers`` (here and in Redis)."""
        ids = (rule.name, *(_escape(i) for i in identifiers))
        self._local[rule.exact].clear(rule.item, *ids)
        if self._breaker.allow():
            try:
                self._remote[rule.exact].clear(rule.item, *ids)
            except (StorageError, RedisError) as exc:
                self._breaker.failure(exc)
            else:
                self._breaker.success()

    def ping(self) -> bool:
        """Tell whether the shared storage answers."""
        return bool(self._storage.check())


# --- client address -------------------------------------------------------------


def _parse_ip(text: str) -> _IPAddress | None:
    """Parse one address as found in headers; ``None`` when it is not one."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):  # "[2001:db8::1]:443"
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.partition(":")[0]
    text = text.partition("%")[0]  # zone ids identify interfaces, not clients
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_ip(
    remote_addr: str,
    forwarded_for: str | None,
    trusted_proxies: Sequence[IPNetwork],
) -> str:
    """Return the address to rate-limit a request by.

    The socket address, unless it belongs to a trusted proxy: then walk
    ``X-Forwarded-For`` from the right, skipping trusted hops, and return the
    first untrusted one (hops further left are client-supplied and spoofable).
    If a hop is unparsable, or every hop is trusted, the last trusted address
    walked through is returned. Never raises on malformed headers.
    """
    remote = _parse_ip(remote_addr or "")
    if remote is None:
        return remote_addr
    if not forwarded_for or not _trusted(remote, trusted_proxies):
        return str(remote)
    current = remote
    for hop in reversed(forwarded_for.rsplit(",", _MAX_HOPS)):
        ip = _parse_ip(hop)
        if ip is None:
            break
        if not _trusted(ip, trusted_proxies):
            return str(ip)
        current = ip
    return str(current)


def from_trusted_proxy(remote_addr: str, trusted_proxies: Sequence[IPNetwork]) -> bool:
    """Whether the socket peer is one of the proxies whose headers we believe."""
    remote = _parse_ip(remote_addr or "")
    return remote is not None and _trusted(remote, trusted_proxies)


def _trusted(ip: _IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(ip in net for net in networks)


# --- login back-off -------------------------------------------------------------

# KEYS: failure counter, lock key. ARGV: forget_after s, threshold, base s, max s.
_FAILURE_LUA = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
local threshold = tonumber(ARGV[2])
if n < threshold then return 0 end
local lock = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (n - threshold))
redis.call('SET', KEYS[2], '1', 'PX', math.floor(lock * 1000))
return math.ceil(lock)
"""


class Backoff:
    """Progressive lockout per key (an account) after repeated failures.

    From the ``threshold``-th consecutive failure on, each failure locks the
    key for ``base * 2**(failures - threshold)`` seconds, capped at ``maximum``;
    a success or ``forget_after`` seconds without failures start over. State
    lives in Redis (TTLs do the expiry, so node clocks don't matter), with a
    bounded in-memory copy used while Redis is unavailable. A lockout recorded
    in memory during an outage still applies after Redis returns.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        key_prefix: str = "proveo:backoff",
        threshold: int = 5,
        base_seconds: float = 1.0,
        max_seconds: float = 900.0,
        forget_after: int = 3600,
        timeout: float = 0.25,
        cooldown: float = 5.0,
        max_local_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = redis.Redis.from_url(redis_url, **_redis_options(timeout))
        self._failure_script = self._client.register_script(_FAILURE_LUA)
        self._prefix = key_prefix
        self.threshold = threshold
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.forget_after = max(forget_after, math.ceil(max_seconds))
        self._clock = clock
        self._breaker = _Breaker("backoff", cooldown, clock)
        self._lock = threading.Lock()
        # key -> (failures, forget_at, locked_until), least recently failed first
        self._local: OrderedDict[str, tuple[int, float, float]] = OrderedDict()
        self._max_local = max_local_keys

    def _keys(self, key: str) -> list[str]:
        return [f"{self._prefix}:n:{key}", f"{self._prefix}:lock:{key}"]

    def _lockout(self, failures: int) -> float:
        if failures < self.threshold:
            return 0.0
        exponent = min(failures - self.threshold, 64)
        return float(min(self.max_seconds, self.base_seconds * 2**exponent))

    def _remote(self, op: Callable[[], object]) -> object | None:
        if not self._breaker.allow():
            return None
        try:
            result = op()
        except RedisError as exc:
            self._breaker.failure(exc)
            return None
        self._breaker.success()
        return result

    def register_failure(self, key: str) -> None:
        """Record a failed attempt for ``key``."""
        args = [self.forget_after, self.threshold, self.base_seconds, self.max_seconds]
        done = self._remote(
            lambda: self._failure_script(keys=self._keys(key), args=args)
        )
        if done is None:
            self._local_failure(key)

    def _local_failure(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            failures, forget_at, _ = self._local.pop(key, (0, 0.0, 0.0))
            if forget_at <= now:
                failures = 0
            failures += 1
            locked_until = now + self._lockout(failures)
            self._local[key] = (failures, now + self.forget_after, locked_until)
            while len(self._local) > self._max_local:
                self._local.popitem(last=False)

    def register_success(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._lock:
            self._local.pop(key, None)
        self._remote(lambda: self._client.delete(*self._keys(key)))

    def retry_after(self, key: str) -> int:
        """Return the seconds ``key`` stays locked; 0 when an attempt is allowed."""
        local = 0
        now = self._clock()
        with self._lock:
            entry = self._local.get(key)
        if entry is not None and entry[2] > now:
            local = math.ceil(entry[2] - now)
        millis = self._remote(lambda: self._client.pttl(self._keys(key)[1]))
        remote = (
            math.ceil(millis / 1000) if isinstance(millis, int) and millis > 0 else 0
        )
        return max(local, remote)
