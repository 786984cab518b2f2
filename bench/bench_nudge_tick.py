"""How much an idle scheduler tick costs with a million follow-ups in the table.

    python bench/bench_nudge_tick.py [--rows 1000000] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]

Fills a fresh SQLite file (and, if given, a fresh PostgreSQL database) with follow-ups that
are done or due in the future, then times ``crm.nudges.claim_due`` when nothing is due and
prints the query plan. Run by hand; the numbers go in the README.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

from crm import nudges
from crm.db import make_engine, make_session_factory
from crm.migrate import upgrade
from crm.models import Customer, FollowUp, Workspace

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def fill(engine, rows: int) -> None:
    sf = make_session_factory(engine)
    with sf.begin() as s:
        ws = Workspace(team_id="TBENCH", enterprise_id_key="")
        s.add(ws)
        s.flush()
        customer = Customer(workspace_id=ws.id, name="Bench", normalized_name="bench")
        s.add(customer)
        s.flush()
        ws_id, cid = ws.id, customer.id
    batch = 20_000
    for start in range(0, rows, batch):
        chunk = []
        for i in range(start, min(rows, start + batch)):
            done = i % 3 == 0  # a third done long ago, the rest due in the next year
            due = NOW + timedelta(minutes=5 + i % 500_000) if not done else NOW - timedelta(days=30)
            chunk.append(
                {
                    "workspace_id": ws_id,
                    "customer_id": cid,
                    "owner_user_id": f"U{i % 50:04d}",
                    "due_at": due,
                    "nudge_at": None if done else due,
                    "status": "done" if done else "open",
                    "created_by": "bench",
                    "created_at": NOW - timedelta(days=60),
                    "nudge_attempts": 0,
                }
            )
        with sf.begin() as s:
            s.execute(insert(FollowUp), chunk)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def measure(label: str, engine, rows: int, calls: int = 300) -> str:
    started = time.perf_counter()
    fill(engine, rows)
    filled = time.perf_counter() - started
    sf = make_session_factory(engine)
    timings = []
    for _ in range(calls):
        t0 = time.perf_counter()
        assert nudges.claim_due(sf, now=NOW, replica="bench", limit=50, lease=timedelta(minutes=5)) == []
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    explain = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    query = (
        "SELECT id FROM follow_ups WHERE nudge_at IS NOT NULL AND nudge_at <= :now "
        "AND (nudge_claimed_until IS NULL OR nudge_claimed_until < :now) ORDER BY nudge_at, id LIMIT 50"
    )
    now_param = NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW
    with engine.connect() as conn:
        plan = " / ".join(str(r[-1]) for r in conn.execute(text(f"{explain} {query}"), {"now": now_param}))
    print(f"{label}: filled {rows:,} rows in {filled:.0f}s; plan: {plan}")
    return f"| {label} | {rows:,} | {p50:.2f} | {p99:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="admin URL of a PostgreSQL server to create a database in")
    args = parser.parse_args()
    lines = ["| database | follow-ups | idle tick p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        lines.append(measure("SQLite", engine, args.rows))
        engine.dispose()
    if args.postgres:
        name = f"crm_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            engine = make_engine(args.postgres.rsplit("/", 1)[0] + "/" + name)
            upgrade(engine)
            lines.append(measure("PostgreSQL", engine, args.rows))
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
