"""GET /api/v1/health and a trivial db.read() against a bare Falcon app, same run.

    python bench/platform/bench_health.py [--seconds 10] [--connections 64]

Prints requests/s and p50/p99 for each target and the ratio to the hello app.
"""

from __future__ import annotations

import argparse

from bench.common import gunicorn, stack, table, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    results = []
    with stack() as (_dev, env):
        with gunicorn("bench.platform.apps:hello", env) as base:
            wrk("warm-up", base + "/hello", seconds=2, connections=args.connections)
            hello = wrk(
                "bare Falcon hello (ceiling)",
                base + "/hello",
                seconds=args.seconds,
                connections=args.connections,
            )
            results.append(hello)
        with gunicorn("bench.platform.apps:proveo", env) as base:
            wrk(
                "warm-up",
                base + "/api/v1/health",
                seconds=2,
                connections=args.connections,
            )
            results.append(
                wrk(
                    "GET /api/v1/health",
                    base + "/api/v1/health",
                    seconds=args.seconds,
                    connections=args.connections,
                )
            )
            results.append(
                wrk(
                    "db.read() select 1 (replica)",
                    base + "/bench/read",
                    seconds=args.seconds,
                    connections=args.connections,
                )
            )
    print(table(results))
    for result in results[1:]:
        print(
            f"{result.label}: {result.requests_per_second / hello.requests_per_second:.0%} of the hello app"
        )


if __name__ == "__main__":
    main()
