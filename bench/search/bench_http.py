"""GET /api/v1/companies/search over HTTP, cache on and off, next to its SQL ceiling.

Usage::

    python bench/search/bench_http.py --companies 10000 100000 [1000000] \\
        [--seconds 10] [--explain] [--output bench/search/RESULTS.md]

For each size: a private stack (primary + replica + Redis), ``generate.py``'s
companies and documents, then gunicorn (2 workers x 4 threads) on the real web
app, once with the result cache on and once off. Each query kind is measured
with wrk at 64 connections (throughput) and 4 (latency), rotating through
several variants of the kind (``rotate.lua``) so cached runs are not one hot
key; ``/api/v1/health`` is measured in the same run. The database ceiling is
pgbench running the same SQL the store issues (values inlined, prepared) on the
replica. Prints numbers only; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1]), str(HERE.parents[1] / "src")]

import psycopg  # noqa: E402
from generate import load  # noqa: E402
from queries import QUERIES  # noqa: E402
from sql_bench import render  # noqa: E402
from vocabulary import CATEGORIES, COMMUNES  # noqa: E402

from bench.common import gunicorn, stack  # noqa: E402

SEARCH = "/api/v1/companies/search"
HEALTH = "/api/v1/health"
LUA = HERE / "rotate.lua"
VARIANTS = 16

#: The reference implementation at 100k companies, 64 connections (req/s), and
#: the issue's factor over it. Combined queries have no reference number.
REFERENCE: dict[str, tuple[float, float]] = {
    "word": (0.6, 500),
    "typo": (0.5, 500),
    "short": (104.0, 5),
    "filter": (28.5, 10),
}
P99_GOAL_MS = 50.0
CEILING_GOAL = 0.40


def fold(text: str) -> str:
    """Lower case without accents, as a user typing fast would."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words() -> list[str]:
    """Common words of 5+ letters: product names and item words, es and en."""
    found: list[str] = []
    for product_es, product_en, _noun, items in CATEGORIES:
        for text in (product_es, product_en, items[0][0], items[1][1]):
            for word in re.findall(r"\w+", fold(text)):
                if len(word) >= 5 and word not in found:
                    found.append(word)
    return found


def _typo(word: str) -> str:
    """Swap two neighbouring letters in the middle (one edit away)."""
    i = len(word) // 2
    while i < len(word) - 1 and word[i] == word[i + 1]:
        i += 1
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _fill(
    base: list[dict[str, str]], more: Iterator[dict[str, str]]
) -> list[dict[str, str]]:
    result = list(base)
    for params in more:
        if len(result) >= VARIANTS:
            break
        if params not in result:
            result.append(params)
    return result


def variants() -> dict[str, list[dict[str, str]]]:
    """``queries.QUERIES`` topped up to ``VARIANTS`` per kind from the vocabulary."""
    words = _words()
    spread = words[:: max(1, len(words) // VARIANTS)]
    products = [p for es, en, _, _ in CATEGORIES for p in (es, en)]
    return {
        "word": _fill(QUERIES["word"], ({"q": w} for w in spread)),
        "typo": _fill(
            QUERIES["typo"], ({"q": _typo(w)} for w in spread if len(w) >= 6)
        ),
        "short": _fill(
            QUERIES["short"], ({"q": fold(es)[:3]} for es, _, _, _ in CATEGORIES)
        ),
        "filter": _fill(
            QUERIES["filter"],
            (
                {"commune": COMMUNES[i]} if i % 2 else {"product": products[i * 3]}
                for i in range(1, 40)
            ),
        ),
        "combined": _fill(
            QUERIES["combined"],
            (
                {"q": fold(CATEGORIES[i][3][0][0]).split()[0], "commune": COMMUNES[i]}
                for i in range(0, 40, 3)
            ),
        ),
    }


def path_of(params: dict[str, str]) -> str:
    """The request path and query string for these parameters."""
    return f"{SEARCH}?{urllib.parse.urlencode(params)}"


def loadavg() -> float:
    """The 1-minute load average (the bench itself included)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Run:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    load: float


@dataclass
class KindResult:
    """Everything measured for one query kind at one size."""

    kind: str
    matches: list[int] = field(default_factory=list)
    runs: dict[tuple[bool, int], Run] = field(default_factory=dict)
    pgbench_tps: float = 0.0


def wrk(base: str, paths: list[str], connections: int, seconds: int) -> Run:
    """wrk with ``rotate.lua`` over ``paths`` for ``seconds``.

    Waits a second first: requests the previous run left in flight (up to 64
    slow ones) would otherwise land in this run's first latencies.
    """
    time.sleep(1)
    load = loadavg()
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        argv = [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            base,
            "--",
            listing.name,
        ]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    line = re.search(r"^RESULT (.*)$", out, re.M)
    if line is None:
        raise RuntimeError(f"wrk printed no RESULT line:\n{out}")
    values = {k: int(v) for k, v in (item.split("=") for item in line[1].split())}
    errors = sum(values[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
    return Run(
        rps=values["requests"] / (values["duration_us"] / 1e6),
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        errors=errors,
        load=load,
    )


def check(base: str, params: dict[str, str]) -> int:
    """Fetch once: the endpoint must answer 200; returns X-Total-Count."""
    with urllib.request.urlopen(base + path_of(params), timeout=30) as resp:  # noqa: S310
        if resp.status != 200:
            raise RuntimeError(f"{params}: HTTP {resp.status}")
        return int(resp.headers["X-Total-Count"])


def pgbench(url: str, queries: list[dict[str, str]], seconds: int) -> float:
    """Queries/s of the store's SQL for these queries, 8 clients on ``url``."""
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    parsed = psycopg.conninfo.conninfo_to_dict(url)
    with tempfile.TemporaryDirectory() as tmp:
        scripts = []
        for i, params in enumerate(queries):
            script = Path(tmp) / f"q{i}.sql"
            script.write_text(" ".join(render(params).split()) + ";\n")
            scripts += ["-f", str(script)]
        argv = [
            binary, "-n", "-M", "prepared", "-c", "8", "-j", "2",
            "-T", str(seconds), *scripts,
            "-h", str(parsed.get("host", "127.0.0.1")),
            "-p", str(parsed.get("port", 5432)),
            "-U", str(parsed.get("user", "postgres")),
            str(parsed.get("dbname", "postgres")),
        ]  # fmt: skip
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    return float(found[1]) if found else float("nan")


def explain(url: str, kinds: dict[str, list[dict[str, str]]]) -> str:
    """Executed plans of the first variant of each kind, as a Markdown block."""
    lines = ["```"]
    with psycopg.connect(url) as conn:
        for kind, queries in kinds.items():
            sql = render(queries[0])
            conn.execute(sql)
            plan = conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql).fetchall()
            lines += [f"--- {kind}: {queries[0]}", *(row[0] for row in plan)]
    lines.append("```")
    return "\n".join(lines)


_TRUNCATED = (
    "search.matches", "search.documents", "search.words", "companies.companies",
    "companies.products", "companies.communes",
)  # fmt: skip


@contextmanager
def _foreign_keys_lifted(url: str) -> Iterator[None]:
    """Drop, then restore, foreign keys into the tables ``generate.load`` truncates.

    Its plain TRUNCATE is refused while another table (e.g. companies.images)
    references them, even when that table is empty, as on a fresh stack.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE contype = 'f'"
            " AND confrelid::regclass::text = ANY(%(t)s)"
            " AND NOT conrelid::regclass::text = ANY(%(t)s)",
            {"t": list(_TRUNCATED)},
        ).fetchall()
        for table, name, _ in found:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    with psycopg.connect(url, autocommit=True) as conn:
        for table, name, definition in found:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _vacuum_until_clean(url: str, timeout: float = 120) -> None:
    """VACUUM the match table until no moved row's old version is left.

    The replica's ``hot_standby_feedback`` holds back the rows moved in the
    last seconds; left in the indexes, they would make the first runs (pgbench)
    visit their old pages too.
    """
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        while True:
            conn.execute("VACUUM search.matches")
            dead = conn.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables"
                " WHERE relid = 'search.matches'::regclass"
            ).fetchone()
            if not dead or dead[0] == 0 or time.monotonic() > deadline:
                return
            time.sleep(2)


@contextmanager
def loaded(size: int, *, compact: bool = True) -> Iterator[tuple[dict[str, str], str]]:
    """A private stack holding ``size`` companies; yields env and replica URL.

    ``compact`` runs ``proveo search compact`` after the load, as operations do
    after a bulk load (and the scheduler does nightly): the match rows are then
    stored in product order.
    """
    with stack() as (dev, env):
        primary = env["PROVEO_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
        replica = env["PROVEO_DATABASE_REPLICA_URL"].replace(
            "postgresql+psycopg", "postgresql"
        )
        started = time.perf_counter()
        with _foreign_keys_lifted(primary):
            load(primary, size, seed=1, create=False, jobs=2)
        if compact:
            began = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "proveo", "search", "compact"],
                check=True,
                env=env,
                stderr=subprocess.DEVNULL,
            )
            print(f"compacted in {time.perf_counter() - began:.0f}s", flush=True)
            _vacuum_until_clean(primary)
        with psycopg.connect(primary, autocommit=True) as conn:
            # Every table, after the foreign keys are back: all-visible pages
            # keep the filter pages index-only on the replica, and autovacuum
            # has nothing left to do on the loaded tables during the runs (it
            # would otherwise take a core for seconds, and show up as p99).
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        dev.postgres.wait_replica_caught_up(timeout=600)
        print(f"loaded {size} companies in {time.perf_counter() - started:.0f}s")
        yield env, replica


def measure(
    size: int, seconds: int, show_plans: bool, compact: bool = True
) -> tuple[list[KindResult], dict[tuple[bool, int], Run], str, float]:
    """Every run for one size."""
    kinds = variants()
    results = {kind: KindResult(kind) for kind in kinds}
    health: dict[tuple[bool, int], Run] = {}
    plans = ""
    start_load = loadavg()
    with loaded(size, compact=compact) as (env, replica):
        for kind, queries in kinds.items():
            results[kind].pgbench_tps = pgbench(replica, queries, seconds)
        if show_plans:
            plans = explain(replica, kinds)
        for cached in (True, False):
            app_env = {
                **env,
                "PROVEO_SEARCH_CACHE": "true" if cached else "false",
                "PROVEO_LOG_LEVEL": "WARNING",
            }
            with gunicorn("proveo.entrypoints.web:app", app_env) as base:
                for kind, queries in kinds.items():
                    totals = [check(base, params) for params in queries]
                    if not cached:
                        results[kind].matches = totals
                every = [path_of(p) for qs in kinds.values() for p in qs]
                wrk(base, every, 64, 3)  # warm-up: pools, plans, page cache
                for connections in (64, 4):
                    health[(cached, connections)] = wrk(
                        base, [HEALTH], connections, seconds
                    )
                for kind, queries in kinds.items():
                    paths = [path_of(p) for p in queries]
                    for connections in (64, 4):
                        results[kind].runs[(cached, connections)] = wrk(
                            base, paths, connections, seconds
                        )
    return list(results.values()), health, plans, start_load


def _vs_reference(kind: str, rps: float) -> str:
    if kind not in REFERENCE:
        return "no reference"
    ref, factor = REFERENCE[kind]
    times = rps / ref
    verdict = "met" if times >= factor else "NOT met"
    return f"{times:,.0f}x (goal ≥ {factor:.0f}x: {verdict})"


def report(
    size: int,
    results: list[KindResult],
    health: dict[tuple[bool, int], Run],
    start_load: float,
) -> str:
    """One Markdown table for one size."""
    lines = [
        f"### {size:,} companies",
        "",
        f"Load average (1 min) before loading: {start_load:.2f}.",
        "",
        "| kind | matches (mean) | cached req/s @64 | uncached req/s @64"
        " | p50/p99 ms @4 cached | p50/p99 ms @4 uncached | pgbench q/s"
        " | uncached/pgbench | uncached vs reference | cached vs reference"
        " | errors | load before runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for r in results:
        on64, off64 = r.runs[(True, 64)], r.runs[(False, 64)]
        on4, off4 = r.runs[(True, 4)], r.runs[(False, 4)]
        loads = [run.load for run in r.runs.values()]
        errors = sum(run.errors for run in r.runs.values())
        mean = sum(r.matches) / len(r.matches) if r.matches else 0
        ratio = off64.rps / r.pgbench_tps if r.pgbench_tps else float("nan")
        lines.append(
            f"| {r.kind} ({len(r.matches)} variants) | {mean:,.0f} | {on64.rps:,.0f}"
            f" | {off64.rps:,.0f} | {on4.p50_ms:.1f} / {on4.p99_ms:.1f}"
            f" | {off4.p50_ms:.1f} / {off4.p99_ms:.1f} | {r.pgbench_tps:,.0f}"
            f" | {ratio:.0%} | {_vs_reference(r.kind, off64.rps)}"
            f" | {_vs_reference(r.kind, on64.rps)} | {errors}"
            f" | {min(loads):.1f}-{max(loads):.1f} |"
        )
    h_on64, h_off64 = health[(True, 64)], health[(False, 64)]
    h_on4, h_off4 = health[(True, 4)], health[(False, 4)]
    lines.append(
        f"| health | | {h_on64.rps:,.0f} | {h_off64.rps:,.0f}"
        f" | {h_on4.p50_ms:.1f} / {h_on4.p99_ms:.1f}"
        f" | {h_off4.p50_ms:.1f} / {h_off4.p99_ms:.1f} | | | | |"
        f" {sum(run.errors for run in health.values())} | |"
    )
    over = [
        f"{r.kind} ({'cached' if c else 'uncached'}: {run.p99_ms:.0f} ms)"
        for r in results
        for (c, n), run in r.runs.items()
        if n == 4 and run.p99_ms > P99_GOAL_MS
    ]
    under = [
        f"{r.kind} ({r.runs[(False, 64)].rps / r.pgbench_tps:.0%})"
        for r in results
        if r.pgbench_tps and r.runs[(False, 64)].rps < CEILING_GOAL * r.pgbench_tps
    ]
    lines += [
        "",
        f"p99 ≤ {P99_GOAL_MS:.0f} ms at 4 connections: "
        + ("met for every kind" if not over else "NOT met for " + ", ".join(over))
        + ".",
        f"Uncached ≥ {CEILING_GOAL:.0%} of pgbench: "
        + ("met for every kind" if not under else "NOT met for " + ", ".join(under))
        + ".",
    ]
    return "\n".join(lines)


def growth(all_results: dict[int, list[KindResult]]) -> str:
    """p50 at 4 connections per size, and the largest size over the smallest."""
    sizes = sorted(all_results)
    if len(sizes) < 2:
        return ""
    lines = [
        "### p50 at 4 connections by size (goal: 1M ≤ 3x 10k)",
        "",
        "| kind | cache | "
        + " | ".join(f"{s:,}" for s in sizes)
        + " | largest/smallest |",
        "|---|---|" + "---:|" * (len(sizes) + 1),
    ]
    for i, r in enumerate(all_results[sizes[0]]):
        for cached in (True, False):
            p50s = [all_results[s][i].runs[(cached, 4)].p50_ms for s in sizes]
            lines.append(
                f"| {r.kind} | {'on' if cached else 'off'} | "
                + " | ".join(f"{p:.1f}" for p in p50s)
                + f" | {p50s[-1] / p50s[0]:.1f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, measure every size, print and save Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--no-compact",
        dest="compact",
        action="store_false",
        help="measure the rows in load order, without `proveo search compact`",
    )
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    kinds = variants()
    sections = [
        "# Search over HTTP",
        "",
        f"`python bench/search/bench_http.py --companies "
        f"{' '.join(map(str, args.companies))} --seconds {args.seconds}"
        f"{' --explain' if args.explain else ''}"
        f"{'' if args.compact else ' --no-compact'}`",
        "",
        "gunicorn gthread 2 workers x 4 threads; wrk 2 threads,"
        " rotating through the variants below; pgbench -M prepared,"
        " 8 clients, same SQL as the store, on the replica. `load before runs` is"
        " the 1-minute load average before each wrk run of the row and includes"
        " the bench's own previous runs. "
        + (
            "After loading, `proveo search compact` put the match rows in product"
            " order, as the nightly job does."
            if args.compact
            else "The match rows stay in load order (no `proveo search compact`)."
        ),
        "",
        "Variants: "
        + "; ".join(
            f"**{kind}**: " + ", ".join(urllib.parse.urlencode(p) for p in qs)
            for kind, qs in kinds.items()
        ),
    ]
    all_results: dict[int, list[KindResult]] = {}
    for size in args.companies:
        results, health, plans, start_load = measure(
            size, args.seconds, args.explain, args.compact
        )
        all_results[size] = results
        section = report(size, results, health, start_load)
        if plans:
            section += (
                f"\n\nPlans (first variant of each kind, on the replica):\n\n{plans}"
            )
        print(section, flush=True)
        sections += ["", section]
    sections += ["", growth(all_results)]
    text = "\n".join(sections).rstrip() + "\n"
    print(growth(all_results))
    args.output.write_text(text)


if __name__ == "__main__":
    main()
