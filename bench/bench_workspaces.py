"""Many workspaces on one replica: index memory, and first (cold) and warm look-up latency.

    python bench/bench_workspaces.py --workspaces 1 100 1000 --customers 200 [--postgres URL]

For each workspace count W it fills a fresh database with W workspaces of ``--customers``
generated customers each (``bench/datagen.py``), then, with a new :class:`crm.lookup.SearchRegistry`:

* **first look-up, cold path**: the first look-up in each of up to ``--probes`` workspaces
  while its index is not built (``sync_build_max=0``): candidates from the database (pg_trgm on
  PostgreSQL, the bounded LIKE fallback on SQLite), then the in-memory scoring;
* **first look-up, built in the request**: the same with the default rule (a workspace of up to
  10,000 customers is indexed on its first use);
* **warm look-up**: the same queries again, every index built;
* **memory**: RSS growth with every workspace's index built and cached (the cache holding all W),
  and per customer, to extrapolate to 1,000 x 2,000.

Latencies are wall-clock ms on this (shared) machine; queries are realistic typos of names.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_lookup import make_queries, percentile, rss_bytes
from datagen import make_customer
from sqlalchemy import create_engine, insert, text

from crm.db import make_engine, make_session_factory
from crm.lookup import SearchRegistry
from crm.migrate import upgrade
from crm.models import Customer, Workspace
from crm.normalize import extract_domain, normalize_name


def fill(url: str, workspaces: int, per: int, seed: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(Workspace), [{"team_id": f"T{w:06d}", "search_version": 1} for w in range(workspaces)])
        ids = [r[0] for r in conn.execute(text("SELECT id FROM workspaces ORDER BY id"))]
        for ws in ids:
            rows = []
            for i in range(per):
                c = make_customer(i, seed + ws)
                domain = extract_domain(c.domains[0]) if c.domains else None
                rows.append(
                    {
                        "workspace_id": ws,
                        "name": c.name,
                        "normalized_name": normalize_name(c.name),
                        "domain": domain,
                        "index_version": 1,
                        "created_by": "U0BENCH",
                    }
                )
            conn.execute(insert(Customer), rows)
    engine.dispose()


def run(url: str, workspaces: int, per: int, probes: int, seed: int) -> list[str]:
    engine = make_engine(url)
    sf = make_session_factory(engine)
    with sf() as s:
        ids = [r[0] for r in s.execute(text("SELECT id FROM workspaces ORDER BY id"))]
    rng = random.Random(seed)
    sample = rng.sample(ids, min(probes, len(ids)))
    queries = {ws: make_queries(per, 3, seed + ws)[0][0] for ws in sample}

    def timed(registry: SearchRegistry) -> list[float]:
        out = []
        for ws in sample:
            t0 = time.perf_counter()
            registry.search(ws, queries[ws])
            out.append((time.perf_counter() - t0) * 1000)
        return out

    cold = SearchRegistry(sf, sync_build_max=0, background=False, max_workspaces=workspaces)
    cold_ms = timed(cold)
    gc.collect()
    before = rss_bytes()
    built = SearchRegistry(sf, max_workspaces=workspaces)
    first_ms = timed(built)
    for ws in ids:  # every index built and held
        built.index(ws)
    gc.collect()
    memory = rss_bytes() - before
    warm_ms = timed(built)
    engine.dispose()
    label = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    total = workspaces * per

    def fmt(ms: list[float]) -> str:
        return f"{percentile(ms, 50):.1f} / {percentile(ms, 99):.1f}"

    return [
        f"| {label} | {workspaces:,} x {per:,} | {fmt(cold_ms)} | {fmt(first_ms)} | {fmt(warm_ms)} "
        f"| {memory / 2**20:,.0f} MB | {memory / max(1, total):,.0f} B |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspaces", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--customers", type=int, default=200, help="customers per workspace")
    parser.add_argument("--probes", type=int, default=50, help="workspaces whose first look-up is timed")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(
        "| database | workspaces x customers | first look-up, cold path p50 / p99 ms "
        "| first look-up, built in the request | warm look-up | index memory, all cached | per customer |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for w in args.workspaces:
        targets = [] if args.no_postgres else ["postgresql"]
        targets.append("sqlite")
        for kind in targets:
            if kind == "sqlite":
                path = Path(f"/tmp/bench_ws_{uuid.uuid4().hex[:8]}.db")
                url, drop = f"sqlite:///{path}", lambda p=path: p.unlink(missing_ok=True)
            else:
                name = f"bench_ws_{uuid.uuid4().hex[:8]}"
                admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                url = args.postgres.rsplit("/", 1)[0] + "/" + name

                def drop(name=name, admin=admin) -> None:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()

            try:
                fill(url, w, args.customers, args.seed)
                for line in run(url, w, args.customers, args.probes, args.seed):
                    print(line, flush=True)
            finally:
                drop()


if __name__ == "__main__":
    main()
