"""Benchmark ``crm.search.CustomerIndex`` against two naive baselines.

    python bench/bench_lookup.py --sizes 10000 100000 1000000

For each size it streams generated customers (``bench/datagen.py``) into the
index, runs a few hundred realistic queries (typos, prefixes, missing suffixes,
domains, emails, contact names) and prints a markdown table with build time,
memory, p50/p99 latency and top-1 accuracy, next to:

* **sqlite-like**: names in a temporary SQLite file, ``name LIKE '%tok%'`` for the
  query's tokens, then ``difflib`` on the hits;
* **rapidfuzz-scan**: ``rapidfuzz.process.extract(query, names, scorer=WRatio)``
  over every name (only ``--scan-queries`` queries at 1M, since each takes ~1 s).

A hit counts as correct when the top result is the expected customer or has the
same normalised name (generated data has honest duplicates, e.g. two "Park
Electronics"). Index memory is the RSS growth while building (``/proc/self/statm``;
``resource`` peak RSS if that is missing), measured after a garbage collection.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datagen import Customer, generate, make_customer, make_query
from rapidfuzz import fuzz, process

from crm.normalize import normalize_name
from crm.search import CustomerIndex


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def make_queries(n_customers: int, n_queries: int, seed: int) -> list[tuple[str, Customer, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n_queries):
        customer = make_customer(rng.randrange(n_customers), seed)
        query, kind = make_query(customer, rng)
        out.append((query, customer, kind))
    return out


def is_correct(top_id: int | None, expected: Customer, seed: int, query: str = "", kind: str = "") -> bool:
    """Top hit is the expected customer or indistinguishable from it for this query."""
    if top_id is None:
        return False
    if top_id == expected.customer_id:
        return True
    top = make_customer(top_id - 1, seed)
    if kind == "contact":  # many customers have a "Mary Smith"
        return query in top.contact_names
    if kind == "email":
        return query in top.contact_emails
    if kind == "domain":
        return query in top.domains
    return normalize_name(top.name) == normalize_name(expected.name)


def run_index(n: int, queries, seed: int) -> dict:
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    index = CustomerIndex()
    for c in generate(n, seed):
        index.add(c.customer_id, **c.as_kwargs())
    build = time.perf_counter() - start
    gc.collect()
    memory = rss_bytes() - before
    for q, _, _ in queries[:20]:  # warm-up
        index.search(q)
    latencies, correct = [], 0
    by_kind: dict[str, list[int]] = {}
    for q, expected, kind in queries:
        t0 = time.perf_counter()
        matches = index.search(q, limit=10)
        latencies.append((time.perf_counter() - t0) * 1000)
        ok = is_correct(matches[0].customer_id if matches else None, expected, seed, q, kind)
        correct += ok
        by_kind.setdefault(kind, [0, 0])[0] += ok
        by_kind[kind][1] += 1
    del index
    gc.collect()
    return {
        "method": "CustomerIndex",
        "build": build,
        "memory": memory,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "acc": correct / len(queries),
        "n_queries": len(queries),
        "by_kind": by_kind,
    }


def run_sqlite(n: int, queries, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.sqlite3")
        db = sqlite3.connect(path)
        start = time.perf_counter()
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", ((c.customer_id, c.name) for c in generate(n, seed)))
        db.commit()
        build = time.perf_counter() - start
        size = os.path.getsize(path)
        latencies, correct = [], 0
        for q, expected, kind in queries:
            t0 = time.perf_counter()
            toks = [t for t in q.replace("@", " ").replace(".", " ").split() if len(t) >= 3][:4] or [q]
            where = " OR ".join("name LIKE ?" for _ in toks)
            rows = db.execute(
                f"SELECT id, name FROM customers WHERE {where} LIMIT 2000", [f"%{t}%" for t in toks]
            ).fetchall()
            ql = q.lower()
            best = max(rows, key=lambda r: difflib.SequenceMatcher(None, ql, r[1].lower()).ratio(), default=None)
            latencies.append((time.perf_counter() - t0) * 1000)
            correct += is_correct(best[0] if best else None, expected, seed, q, kind)
        db.close()
    return {
        "method": "sqlite LIKE + difflib",
        "build": build,
        "memory": size,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "acc": correct / len(queries),
        "n_queries": len(queries),
    }


def run_scan(n: int, queries, seed: int) -> dict:
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    names = [c.name for c in generate(n, seed)]
    build = time.perf_counter() - start
    memory = rss_bytes() - before
    latencies, correct = [], 0
    for q, expected, kind in queries:
        t0 = time.perf_counter()
        best = process.extract(q, names, scorer=fuzz.WRatio, limit=10)
        latencies.append((time.perf_counter() - t0) * 1000)
        correct += is_correct(best[0][2] + 1 if best else None, expected, seed, q, kind)
    return {
        "method": "rapidfuzz WRatio full scan",
        "build": build,
        "memory": memory,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "acc": correct / len(queries),
        "n_queries": len(queries),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=400, help="queries per size for the index")
    parser.add_argument("--baseline-queries", type=int, default=200, help="queries for baselines (<=100k)")
    parser.add_argument("--scan-queries", type=int, default=20, help="baseline queries at sizes >100k")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args(argv)

    rows = []
    for n in args.sizes:
        queries = make_queries(n, args.queries, args.seed)
        print(f"# {n:,} customers: index ...", file=sys.stderr, flush=True)
        result = run_index(n, queries, args.seed)
        rows.append((n, result))
        kinds = ", ".join(f"{k} {ok}/{tot}" for k, (ok, tot) in sorted(result["by_kind"].items()))
        print(f"#   per query kind: {kinds}", file=sys.stderr, flush=True)
        if args.skip_baselines:
            continue
        few = queries[: args.baseline_queries if n <= 100_000 else args.scan_queries]
        print(f"# {n:,} customers: sqlite ({len(few)} queries) ...", file=sys.stderr, flush=True)
        rows.append((n, run_sqlite(n, few, args.seed)))
        print(f"# {n:,} customers: rapidfuzz scan ({len(few)} queries) ...", file=sys.stderr, flush=True)
        rows.append((n, run_scan(n, few, args.seed)))

    print("| customers | method | build s | memory MB | queries | p50 ms | p99 ms | top-1 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n, r in rows:
        print(
            f"| {n:,} | {r['method']} | {r['build']:.1f} | {r['memory'] / 1e6:.0f} | {r['n_queries']} "
            f"| {r['p50']:.2f} | {r['p99']:.2f} | {r['acc']:.1%} |"
        )
    print("\nmemory: RSS growth for the index and the rapidfuzz name list; SQLite file size for sqlite.")


if __name__ == "__main__":
    main()
