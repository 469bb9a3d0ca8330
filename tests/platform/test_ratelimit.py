"""Rate limiting against a real Redis, including failing open while it is down."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proveo.platform.devservers import RedisServer
from proveo.platform.ratelimit import (
    Backoff,
    Decision,
    RateLimiter,
    Rule,
    client_ip,
    headers,
)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def prefix() -> str:
    return f"test-rl-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_limiter(redis_server: RedisServer, prefix: str) -> Callable[..., RateLimiter]:
    def make(**kwargs: object) -> RateLimiter:
        return RateLimiter(redis_server.url, key_prefix=prefix, **kwargs)  # type: ignore[arg-type]

    return make


LOGIN = Rule("login-ip", "3/minute")


def test_allows_the_limit_then_refuses_with_retry_after(
    make_limiter: Callable[..., RateLimiter],
) -> None:
    limiter = make_limiter()
    decisions = [limiter.hit(LOGIN, "203.0.113.7") for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.reset_after > 0
    assert (refused.limit, refused.window, refused.policy) == (3, 60, "login-ip")
    assert limiter.hit(LOGIN, "203.0.113.8").allowed  # other client unaffected
    assert not limiter.degraded


def test_peek_does_not_consume_and_reset_forgets(
    make_limiter: Callable[..., RateLimiter],
) -> None:
    limiter = make_limiter()
    for _ in range(3):
        assert limiter.peek(LOGIN, "ip").allowed
    assert limiter.peek(LOGIN, "ip").remaining == 3
    for _ in range(3):
        limiter.hit(LOGIN, "ip")
    assert not limiter.peek(LOGIN, "ip").allowed

    limiter.reset(LOGIN, "ip")
    assert limiter.hit(LOGIN, "ip").allowed


def test_exact_rule_uses_the_moving_window(
    make_limiter: Callable[..., RateLimiter],
) -> None:
    limiter = make_limiter()
    rule = Rule("login-account", "2/minute", exact=True)
    assert [limiter.hit(rule, "ana@example.com").allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]


def test_identifiers_with_slashes_do_not_collide(
    make_limiter: Callable[..., RateLimiter],
) -> None:
    limiter = make_limiter()
    rule = Rule("pair", "1/minute")
    assert limiter.hit(rule, "a/b", "c").allowed
    assert limiter.hit(rule, "a", "b/c").allowed


def test_limits_are_shared_between_processes(
    make_limiter: Callable[..., RateLimiter],
) -> None:
    one, two = make_limiter(), make_limiter()
    for _ in range(3):
        assert one.hit(LOGIN, "ip").allowed
    assert not two.hit(LOGIN, "ip").allowed


def test_headers_follow_the_ietf_draft() -> None:
    allowed = Decision(True, 10, 7, 42, 60, "login-ip")
    assert headers(allowed) == {
        "RateLimit-Policy": '"login-ip";q=10;w=60',
        "RateLimit": '"login-ip";r=7;t=42',
    }
    refused = headers(Decision(False, 10, 0, 0, 60, "login-ip"))
    assert refused["Retry-After"] == "1"
    assert re.fullmatch(r'"login-ip";r=0;t=\d+', refused["RateLimit"])


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        Rule('bad"name', "1/minute")
    with pytest.raises(ValueError):
        Rule("x", "often")
    with pytest.raises(ValueError):
        Rule("x", "1/second;5/minute")


def test_fails_open_to_a_local_limit_and_recovers(
    make_limiter: Callable[..., RateLimiter], redis_server: RedisServer
) -> None:
    clock = FakeClock()
    one = make_limiter(clock=clock)
    two = make_limiter()
    assert one.hit(LOGIN, "ip").allowed

    redis_server.stop()
    try:
        # Still limited, per process: the local limiter starts from zero.
        local = [one.hit(LOGIN, "ip") for _ in range(4)]
        assert [d.allowed for d in local] == [True, True, True, False]
        assert local[-1].reset_after > 0
        assert one.degraded
        errors = one.errors
        one.hit(LOGIN, "ip")
        assert one.errors == errors  # breaker open: Redis not retried
        assert not one.ping()
    finally:
        redis_server.start()

    clock.advance(5.0)
    assert one.hit(LOGIN, "ip").allowed  # back on Redis (which lost its data)
    assert not one.degraded
    assert one.hit(LOGIN, "ip").allowed
    assert one.hit(LOGIN, "ip").allowed
    assert not two.hit(LOGIN, "ip").allowed  # distributed counting resumed
    assert one.ping()


# --- client_ip ----------------------------------------------------------------

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("remote", "xff", "expected"),
    [
        ("198.51.100.4", "1.2.3.4", "198.51.100.4"),  # untrusted socket: XFF ignored
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # spoofed left part
        ("10.0.0.2", "6.6.6.6, 203.0.113.9, 10.1.1.1", "203.0.113.9"),
        ("10.0.0.2", "10.9.9.9, 10.1.1.1", "10.9.9.9"),  # all trusted: farthest
        ("10.0.0.2", "garbage, 10.1.1.1", "10.1.1.1"),  # unparsable: stop there
        ("10.0.0.2", "203.0.113.9:4711", "203.0.113.9"),
        ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        ("::ffff:10.0.0.2", "203.0.113.9", "203.0.113.9"),  # v4-mapped socket
        ("unix:/run/gunicorn.sock", "1.2.3.4", "unix:/run/gunicorn.sock"),
    ],
)
def test_client_ip(remote: str, xff: str | None, expected: str) -> None:
    assert client_ip(remote, xff, PROXIES) == expected


@given(
    remote=st.sampled_from(["10.0.0.2", "203.0.113.5", "fd00::2", "", "x"]),
    xff=st.one_of(st.none(), st.text(max_size=300)),
)
def test_client_ip_never_raises(remote: str, xff: str | None) -> None:
    result = client_ip(remote, xff, PROXIES)
    if remote in {"", "x"}:
        assert result == remote
    else:
        ipaddress.ip_address(result)  # always a real address


@given(
    hops=st.lists(st.ip_addresses().map(str), min_size=1, max_size=8),
    junk=st.text(alphabet=" ,[]:%.abc0123456789", max_size=40),
)
def test_client_ip_returns_the_rightmost_untrusted_hop(
    hops: list[str], junk: str
) -> None:
    xff = ", ".join([junk, *hops])
    result = ipaddress.ip_address(client_ip("10.0.0.2", xff, PROXIES))

    def normal(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        ip = ipaddress.ip_address(text)
        mapped = getattr(ip, "ipv4_mapped", None)
        return mapped or ip

    untrusted = [
        normal(h) for h in hops if not any(normal(h) in net for net in PROXIES)
    ]
    if untrusted:
        assert result == untrusted[-1]


# --- Backoff ------------------------------------------------------------------


@pytest.fixture
def make_backoff(redis_server: RedisServer, prefix: str) -> Callable[..., Backoff]:
    def make(**kwargs: object) -> Backoff:
        return Backoff(redis_server.url, key_prefix=prefix, **kwargs)  # type: ignore[arg-type]

    return make


def test_backoff_locks_after_five_failures_and_grows(
    make_backoff: Callable[..., Backoff],
) -> None:
    backoff = make_backoff(base_seconds=10)
    for _ in range(4):
        backoff.register_failure("ana@example.com")
        assert backoff.retry_after("ana@example.com") == 0

    backoff.register_failure("ana@example.com")
    first = backoff.retry_after("ana@example.com")
    assert 0 < first <= 10
    backoff.register_failure("ana@example.com")
    assert 10 < backoff.retry_after("ana@example.com") <= 20
    assert backoff.retry_after("bo@example.com") == 0

    backoff.register_success("ana@example.com")
    assert backoff.retry_after("ana@example.com") == 0


def test_backoff_is_capped(make_backoff: Callable[..., Backoff]) -> None:
    backoff = make_backoff(base_seconds=10, max_seconds=30)
    for _ in range(40):
        backoff.register_failure("k")
    assert 20 < backoff.retry_after("k") <= 30


def test_backoff_falls_back_to_memory_while_redis_is_down(
    make_backoff: Callable[..., Backoff], redis_server: RedisServer
) -> None:
    clock = FakeClock()
    backoff = make_backoff(base_seconds=10, clock=clock)
    redis_server.stop()
    try:
        for _ in range(5):
            backoff.register_failure("k")
        assert backoff.retry_after("k") == 10
        clock.advance(4)
        assert backoff.retry_after("k") == 6
    finally:
        redis_server.start()
    clock.advance(5)  # past the breaker pause: Redis is used again
    assert backoff.retry_after("k") == 1  # the lockout from the outage still holds
    backoff.register_success("k")
    assert backoff.retry_after("k") == 0
