"""Rate limits of spec §1: per IP, per address, per account, with headers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.helpers import API, fresh_email, fresh_ip, login, make_user


def test_login_brute_force_from_one_ip(client: Any, services: Any) -> None:
    ip = fresh_ip()
    statuses = []
    for _ in range(11):
        result = login(client, fresh_email(), "guess-guess", remote_addr=ip)
        statuses.append(result.status_code)
        assert "RateLimit" in result.headers and "RateLimit-Policy" in result.headers
    assert statuses == [401] * 10 + [429]
    assert int(result.headers["Retry-After"]) >= 1
    assert result.json["error"]["code"] == "RATE_LIMITED"
    assert '"login-ip";q=10;w=60' in result.headers["RateLimit-Policy"]
    # Another address is not affected.
    assert login(client, fresh_email(), "guess-guess").status_code == 401


def test_progressive_backoff_per_account(client: Any, services: Any) -> None:
    user = make_user(services)
    for _ in range(5):  # from different addresses: the per-IP limit never trips
        assert login(client, user.email, "wrong password").status_code == 401
    locked = login(client, user.email)  # even the right password waits
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1


def test_signup_per_ip(client: Any) -> None:
    ip = fresh_ip()
    statuses = [
        client.simulate_post(
            f"{API}/signup", json={"name": "x", "email": "bad"}, remote_addr=ip
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [422] * 5 + [429]


def test_resend_per_ip_and_per_address(client: Any) -> None:
    ip = fresh_ip()
    statuses = []
    for _ in range(3):
        result = client.simulate_post(
            f"{API}/resend-verification",
            params={"email": fresh_email()},
            remote_addr=ip,
        )
        statuses.append(result.status_code)
        assert "RateLimit" in result.headers
    assert statuses == [202, 202, 429]
    assert "Retry-After" in result.headers

    address = fresh_email()
    statuses = [
        client.simulate_post(
            f"{API}/password-reset/request",
            json={"email": address},
            remote_addr=fresh_ip(),
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [202] * 5 + [429]


def test_forwarded_for_is_ignored_from_untrusted_peers(client: Any) -> None:
    ip = fresh_ip()
    statuses = [
        client.simulate_post(
            f"{API}/resend-verification",
            params={"email": fresh_email()},
            remote_addr=ip,
            headers={"X-Forwarded-For": fresh_ip()},
        ).status_code
        for _ in range(3)
    ]
    assert statuses[-1] == 429


LIMITED = [
    ("signup", "signup-ip", 5),
    ("login", "login-ip", 10),
    ("resend-verification", "resend-ip", 2),
    ("password-reset/request", "reset-ip", 2),
]


def _policy(result: Any, name: str) -> str:
    return next(
        part.strip()
        for part in result.headers["RateLimit"].split(",")
        if part.strip().startswith(f'"{name}"')
    )


@pytest.mark.parametrize(("path", "policy", "quota"), LIMITED)
def test_refusals_before_counting_carry_the_headers_and_count_nothing(
    client: Any, path: str, policy: str, quota: int
) -> None:
    ip = fresh_ip()
    too_big = b'{"email": "' + b"x" * (1024 * 1024) + b'"}'
    for _ in range(quota + 2):  # more than the quota: none of these counts
        big = client.simulate_post(
            f"{API}/{path}",
            body=too_big,
            headers={"Content-Type": "application/json"},
            remote_addr=ip,
        )
        assert big.status_code == 413
        wrong = client.simulate_get(f"{API}/{path}", remote_addr=ip)
        assert wrong.status_code == 405
        for result in (big, wrong):
            assert f'"{policy}";q={quota};' in result.headers["RateLimit-Policy"]
            assert _policy(result, policy).startswith(f'"{policy}";r={quota};')
            assert "Retry-After" not in result.headers
