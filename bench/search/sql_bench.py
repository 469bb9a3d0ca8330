"""Measure the search SQL directly: latency per query, throughput per kind, plans.

Usage::

    PYTHONPATH=src python bench/search/sql_bench.py --database-url postgresql://... \\
        [--clients 8] [--seconds 5] [--explain]

Each query of ``queries.QUERIES`` is rendered exactly as ``store.search`` builds
it. Latency: 30 runs on one connection (prepared), p50/p99/min. Throughput:
pgbench, prepared protocol, ``--clients`` connections over all queries of a
kind. Prints numbers only; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql

sys.path.insert(0, str(Path(__file__).resolve().parent))

from queries import QUERIES

from proveo.search import store
from proveo.search.data import SearchQuery


def render(params: dict[str, str], limit: int = 20) -> str:
    """The SQL ``store.search`` runs for these HTTP parameters, values inlined."""
    query = SearchQuery(
        params.get("q"),
        params.get("commune"),
        params.get("product"),
        params.get("lang", "es"),
        limit,
        0,
    )
    stmt: Any = store.page_statement(query)
    compiled = stmt.compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def latency(url: str, runs: int) -> None:
    """Print per-query latency on one connection."""
    with psycopg.connect(url) as conn:
        for kind, queries in QUERIES.items():
            for params in queries:
                sql = render(params)
                times = []
                total = 0
                for _ in range(runs):
                    started = time.perf_counter()
                    rows = conn.execute(sql, prepare=True).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                    total = rows[0][-1] if rows else 0
                times.sort()
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                print(
                    f"{kind:9s} {params!s:62s} total={total:7d}"
                    f" p50={statistics.median(times):7.2f}ms p99={p99:7.2f}ms"
                    f" min={times[0]:6.2f}ms"
                )


def throughput(url: str, clients: int, seconds: int) -> None:
    """Print queries/s per kind with pgbench."""
    parsed = psycopg.conninfo.conninfo_to_dict(url)
    for kind, queries in QUERIES.items():
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            for params in queries:
                script.write(render(params).replace("\n", " ") + ";\n")
        command = [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            "-f",
            script.name,
            "-h",
            str(parsed.get("host", "127.0.0.1")),
            "-p",
            str(parsed.get("port", 5432)),
            "-U",
            str(parsed.get("user", "postgres")),
            str(parsed.get("dbname", "postgres")),
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        found = re.search(r"tps = ([\d.]+)", out)
        tps = float(found.group(1)) if found else 0.0
        print(f"{kind:9s} clients={clients:3d} queries/s={tps * len(queries):8.0f}")
        Path(script.name).unlink()


def explain(url: str) -> None:
    """Print the executed plan of the first query of each kind."""
    with psycopg.connect(url) as conn:
        for kind, queries in QUERIES.items():
            sql = render(queries[0])
            conn.execute(sql)
            plan = conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql).fetchall()
            print(f"--- {kind}: {queries[0]}")
            print("\n".join(row[0] for row in plan))


def main() -> None:
    """Parse arguments and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    latency(url, args.runs)
    throughput(url, args.clients, args.seconds)
    if args.explain:
        explain(url)


if __name__ == "__main__":
    main()
