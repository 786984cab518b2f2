"""How long the value features take on a big workspace (SQLite, or PostgreSQL with --pg-url).

    python bench/bench_value.py                                  # 20k customers, 60k deals, 200k activities
    python bench/bench_value.py --customers 2000 --deals 6000 --activities 20000
    python bench/bench_value.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_value  # an empty db

Loads one workspace (customers, deals in three currencies of which a third won, activities over
the last year), then times the daily tier recompute (first run, and a second run that changes
nothing), `/crm accounts` with and without the quiet filter, the team's untouched key accounts
and the team forecast. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from crm.accounts import AccountFilter, list_accounts
from crm.db import make_engine, make_session_factory
from crm.forecast import forecast, parse_stage_probabilities
from crm.lifecycle import DEFAULT as LIFECYCLE
from crm.migrate import upgrade
from crm.models import Activity, Customer, Deal, Workspace
from crm.pipeline_stages import DEFAULT as STAGES
from crm.value import recompute_tiers, untouched_key_accounts

NOW = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)
CURRENCIES = ["USD", "USD", "EUR", "GBP"]
REPS = [f"U0REP{i:03d}" for i in range(50)]


def load(sf, customers: int, deals: int, activities: int) -> int:
    rng = random.Random(7)
    with sf.begin() as s:
        ws = Workspace(team_id="TBENCH", enterprise_id_key="")
        s.add(ws)
        s.flush()
        wid = ws.id
        s.execute(insert(Customer), [
            {"workspace_id": wid, "name": f"Customer {i}", "normalized_name": f"customer {i}",
             "owner_user_id": rng.choice(REPS), "created_by": "bench", "created_at": NOW}
            for i in range(customers)
        ])  # fmt: skip
        ids = [c for (c,) in s.execute(Customer.__table__.select().with_only_columns(Customer.id))]
        stages = ["lead", "qualified", "proposal", "negotiation", "won", "won", "lost"]
        s.execute(insert(Deal), [
            {"workspace_id": wid, "customer_id": rng.choice(ids), "title": "Deal", "created_by": "bench",
             "amount_minor": int(rng.paretovariate(1.2) * 100_000), "currency": rng.choice(CURRENCIES),
             "stage": (st := rng.choice(stages)), "created_at": NOW - timedelta(days=rng.randint(1, 400)),
             "closed_at": NOW - timedelta(days=rng.randint(0, 200)) if st in ("won", "lost") else None,
             "expected_close": date(2026, rng.randint(1, 12), rng.randint(1, 28)), "owner_user_id": rng.choice(REPS)}
            for _ in range(deals)
        ])  # fmt: skip
        for start in range(0, activities, 50_000):
            s.execute(insert(Activity), [
                {"workspace_id": wid, "customer_id": rng.choice(ids), "type_key": "call", "summary": "x",
                 "occurred_at": NOW - timedelta(minutes=rng.randint(1, 525_600)), "created_by": rng.choice(REPS),
                 "created_at": NOW, "source": "modal"}
                for _ in range(min(50_000, activities - start))
            ])  # fmt: skip
    return wid


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=60_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--pg-url")
    args = parser.parse_args()
    url = args.pg_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    sf = make_session_factory(engine)
    wid = load(sf, args.customers, args.deals, args.activities)
    with engine.connect() as conn:  # fresh statistics, as autovacuum would have after a real import
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    probs = parse_stage_probabilities(None, STAGES)
    rows = [
        ("tier recompute, first run", lambda: recompute_tiers(sf, wid, now=NOW)),
        ("tier recompute, nothing changed", lambda: recompute_tiers(sf, wid, now=NOW)),
        ("/crm accounts (page 1)", lambda: list_accounts(sf, wid, AccountFilter(), lifecycle=LIFECYCLE, now=NOW)),
        ("/crm accounts tier:A quiet:30", lambda: list_accounts(
            sf, wid, AccountFilter(tiers=("A",), quiet_days=30), lifecycle=LIFECYCLE, now=NOW)),
        ("untouched key accounts (team)", lambda: untouched_key_accounts(sf, wid, days=30, now=NOW)),
        ("team forecast", lambda: forecast(sf, wid, stages=STAGES, lifecycle=LIFECYCLE, probabilities=probs, now=NOW)),
    ]  # fmt: skip
    print(f"{engine.dialect.name}: {args.customers:,} customers, {args.deals:,} deals, {args.activities:,} activities")
    print("| step | ms |\n|---|---:|")
    for name, fn in rows:
        print(f"| {name} | {timed(fn):,.0f} |")


if __name__ == "__main__":
    main()
