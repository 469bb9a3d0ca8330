"""Accounts benchmarks: password hashing, login, login timing, authenticated reads.

    python -m bench.accounts.bench_accounts [--seconds 8] [--threads 8]

1. Hash/verify cost: Argon2id with the chosen OWASP parameters vs bcrypt-12.
2. Login throughput and latency through gunicorn on loopback, for accounts
   with Argon2id hashes and for accounts still holding bcrypt-12 hashes (their
   first login also re-hashes with Argon2id).
3. Unknown e-mail vs wrong password: latency of the 401s (they should match).
4. ``GET /users/me`` (JWT + session check + user read) next to ``/api/v1/health``.

The load generator is a small threaded Python client with keep-alive
connections, on the same 2-core machine as the server, so absolute numbers are
a floor. Prints tables; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import bcrypt

from bench.common import gunicorn, stack
from proveo.platform import security

PASSWORD = "bench password 123"


# --- load generator -----------------------------------------------------------


@dataclass
class Run:
    label: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self) -> str:
        lat = sorted(self.latencies) or [float("nan")]
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        rps = len(self.latencies) / self.seconds if self.seconds else 0.0
        codes = ", ".join(f"{k}x{v}" for k, v in sorted(self.statuses.items()))
        return f"| {self.label} | {rps:,.1f} | {p50:.1f} | {p99:.1f} | {codes} |"


Request = Callable[[int], tuple[str, str, dict[str, str], bytes | None]]


def load(
    label: str,
    base: str,
    request: Request,
    *,
    threads: int,
    seconds: float,
    limit: int | None = None,
) -> Run:
    """Run ``request(i)`` from ``threads`` keep-alive clients for ``seconds``."""
    netloc = urlsplit(base).netloc
    run = Run(label)
    lock = threading.Lock()
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(netloc, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                i = next(counter)
            if limit is not None and i >= limit:
                return
            method, path, headers, body = request(i)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(netloc, timeout=30)
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                run.latencies.append(elapsed)
                run.statuses[status] = run.statuses.get(status, 0) + 1

    started = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    run.seconds = time.monotonic() - started
    return run


def table(runs: list[Run]) -> str:
    lines = [
        "| target | req/s | p50 ms | p99 ms | statuses |",
        "|---|---:|---:|---:|---|",
    ]
    return "\n".join(lines + [r.row() for r in runs])


# --- pieces ------------------------------------------------------------------


def hashing(samples: int = 15) -> str:
    """Median hash and verify time of both algorithms, in-process."""

    def median_ms(fn: Callable[[], Any]) -> float:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    argon = security.hash_password(PASSWORD)
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12))
    rows = [
        (
            f"Argon2id m={security.ARGON2_MEMORY_KIB} KiB, t={security.ARGON2_TIME_COST},"
            f" p={security.ARGON2_PARALLELISM}",
            median_ms(lambda: security.hash_password(PASSWORD)),
            median_ms(lambda: security.verify_password(argon, PASSWORD)),
        ),
        (
            "bcrypt cost 12",
            median_ms(lambda: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12))),
            median_ms(lambda: bcrypt.checkpw(PASSWORD.encode(), legacy)),
        ),
    ]
    lines = ["| algorithm | hash ms (median) | verify ms (median) |", "|---|---:|---:|"]
    lines += [f"| {name} | {h:.1f} | {v:.1f} |" for name, h, v in rows]
    return "\n".join(lines)


def make_users(env: dict[str, str], count: int, *, legacy: bool) -> list[str]:
    """Users created directly; ``legacy`` ones get one shared bcrypt-12 hash."""
    from proveo import bootstrap
    from proveo.accounts import service, store
    from proveo.platform.settings import Settings

    services = bootstrap.build_services(Settings.from_env(env), with_broker=False)
    legacy_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    emails = []
    tag = "legacy" if legacy else "argon"
    stamp = int(time.time() * 1000)
    with services.db.write() as tx:
        for i in range(count):
            email = f"bench-{tag}-{stamp}-{i}@example.com"
            user = service.ensure_demo_user(
                tx, email=email, name=f"Bench {i}", password=PASSWORD
            )
            if legacy:
                store.update_user(tx, user.id, password_hash=legacy_hash)
            emails.append(email)
    services.db.dispose(close=True)
    return emails


def _login(emails: list[str], password: str) -> Request:
    def request(i: int) -> tuple[str, str, dict[str, str], bytes | None]:
        body = json.dumps(
            {"email": emails[i % len(emails)], "password": password}
        ).encode()
        # A distinct client address per request (trusted proxy): the per-IP
        # limit would otherwise turn the run into a 429 benchmark.
        forwarded = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        headers = {"Content-Type": "application/json", "X-Forwarded-For": forwarded}
        return "POST", "/api/v1/users/login", headers, body

    return request


def _session_cookie(base: str, email: str) -> str:
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
    body = json.dumps({"email": email, "password": PASSWORD})
    conn.request(
        "POST",
        "/api/v1/users/login",
        body=body,
        headers={"Content-Type": "application/json", "X-Forwarded-For": "10.250.0.1"},
    )
    response = conn.getresponse()
    response.read()
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("access_token="):
            return value.split(";", 1)[0]
    raise RuntimeError(f"login failed: {response.status}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    print("## Password hashing (in-process)\n")
    print(hashing())

    with stack() as (_dev, env):
        env = {**env, "PROVEO_TRUSTED_PROXIES": "127.0.0.1/32"}
        argon_users = make_users(env, 50, legacy=False)
        legacy_users = make_users(env, 300, legacy=True)
        with gunicorn("proveo.entrypoints.web:app", env, workers=2, threads=4) as base:
            runs = []
            load("warm-up", base, _login(argon_users, PASSWORD), threads=2, seconds=1)
            runs.append(
                load(
                    "POST /users/login (Argon2id)",
                    base,
                    _login(argon_users, PASSWORD),
                    threads=args.threads,
                    seconds=args.seconds,
                )
            )
            runs.append(
                load(
                    "POST /users/login (bcrypt-12, first login + upgrade)",
                    base,
                    _login(legacy_users, PASSWORD),
                    threads=args.threads,
                    seconds=args.seconds,
                    limit=len(legacy_users),
                )
            )
            print("\n## Login throughput\n")
            print(table(runs))

            # Timing: one client, alternating, so both see the same load.
            wrong_targets = argon_users[:40]  # <= 4 failures each: no lockout
            unknown = load(
                "401 unknown e-mail",
                base,
                _login([f"nobody-{i}@example.com" for i in range(160)], PASSWORD),
                threads=1,
                seconds=args.seconds,
                limit=160,
            )
            wrong = load(
                "401 wrong password",
                base,
                _login(wrong_targets, "wrong password!"),
                threads=1,
                seconds=args.seconds,
                limit=160,
            )
            print("\n## Unknown e-mail vs wrong password (1 client)\n")
            print(table([unknown, wrong]))
            diff = statistics.median(unknown.latencies) - statistics.median(
                wrong.latencies
            )
            print(f"\nmedian difference: {diff * 1000:+.2f} ms")

            cookie = _session_cookie(base, argon_users[0])

            def me(i: int) -> tuple[str, str, dict[str, str], bytes | None]:
                return "GET", "/api/v1/users/me", {"Cookie": cookie}, None

            def health(i: int) -> tuple[str, str, dict[str, str], bytes | None]:
                return "GET", "/api/v1/health", {}, None

            load("warm-up", base, me, threads=2, seconds=1)
            reads = [
                load(
                    "GET /api/v1/health",
                    base,
                    health,
                    threads=args.threads,
                    seconds=args.seconds,
                ),
                load(
                    "GET /api/v1/users/me",
                    base,
                    me,
                    threads=args.threads,
                    seconds=args.seconds,
                ),
            ]
            print("\n## Authenticated read vs liveness\n")
            print(table(reads))


if __name__ == "__main__":
    main()
