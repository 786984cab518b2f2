"""How long the daily digest takes to build on a big workspace, on SQLite and PostgreSQL.

    python bench/bench_digest.py                        # 10k open deals, 1M activities, both databases
    python bench/bench_digest.py --db sqlite --activities 200000
    CRM_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python bench/bench_digest.py --db postgresql

For each database it creates a fresh, migrated database (a temporary SQLite file, or a new
PostgreSQL database next to ``CRM_TEST_POSTGRES_URL``, dropped afterwards), loads one
workspace with ``--customers`` customers, ``--deals`` open deals plus a third as many closed
ones with their stage history, ``--activities`` activities over the last year (about 1% of them
yesterday) and ``--follow-ups`` follow-ups, runs ``ANALYZE``, then times
``crm.digest.build_digest`` (and ``crm.deals.pipeline_summary`` for `/crm pipeline`) ``--runs``
times after one warm-up run. It prints a markdown table. The target is under 1 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

from crm.db import make_engine, make_session_factory
from crm.deals import pipeline_summary
from crm.digest import ForecastInputs, build_digest
from crm.forecast import parse_stage_probabilities
from crm.lifecycle import lifecycle_for
from crm.migrate import upgrade
from crm.models import Activity, Customer, Deal, DealStageChange, FollowUp, Workspace
from crm.pipeline_stages import DEFAULT
from crm.value import recompute_tiers

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # Tuesday, 09:00 in Berlin
TZ = "Europe/Berlin"
REPS = [f"U0REP{i:04d}" for i in range(40)]
TYPES = ["call", "meeting", "email", "demo", "proposal", "note"]
CURRENCIES = ["USD"] * 8 + ["EUR", "GBP"]
CHUNK = 20_000


def _chunks(rows, size=CHUNK):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _load(engine, model, rows) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany on SQLite."""
    if engine.dialect.name == "postgresql":
        columns = None
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for batch in _chunks(rows):
                columns = columns or list(batch[0].keys())
                statement = f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in batch:
                        copy.write_row([row[c] for c in columns])
            raw.commit()
        finally:
            raw.close()
        return
    with engine.begin() as conn:
        for batch in _chunks(rows):
            conn.execute(insert(model), batch)


def populate(engine, *, customers: int, deals: int, activities: int, follow_ups: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    sf = make_session_factory(engine)
    with sf.begin() as s:
        ws = Workspace(team_id="T0BENCH", enterprise_id_key="", created_at=NOW)
        s.add(ws)
        s.flush()
        ws_id = ws.id
    old = NOW - timedelta(days=400)
    _load(
        engine,
        Customer,
        (
            {
                "workspace_id": ws_id,
                "name": f"Customer {i}",
                "normalized_name": f"customer {i}",
                "owner_user_id": rng.choice(REPS),
                "index_version": 0,
                "created_at": old,
                "created_by": "import",
            }
            for i in range(customers)
        ),
    )
    with engine.connect() as conn:
        first_customer = conn.execute(text("SELECT min(id) FROM customers")).scalar_one()
    # Customer value is skewed (a few big accounts), so the Pareto part has work to do.
    weights = [1 / (i + 1) ** 0.8 for i in range(customers)]
    open_stages = list(DEFAULT.open_keys)
    closed = deals // 3
    deal_rows = []
    for i in range(deals + closed):
        created = NOW - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        stage = rng.choice(open_stages) if i < deals else rng.choice(["won", "lost"])
        touched = created + (NOW - created) * rng.random() if rng.random() < 0.8 else None
        deal_rows.append(
            {
                "workspace_id": ws_id,
                "customer_id": first_customer + rng.choices(range(customers), weights)[0],
                "title": f"Deal {i}",
                "amount_minor": rng.randint(1_000, 50_000_000) if rng.random() < 0.95 else None,
                "currency": rng.choice(CURRENCIES),
                "stage": stage,
                "owner_user_id": rng.choice(REPS),
                "closed_at": created + (NOW - created) * rng.random() if stage in ("won", "lost") else None,
                "last_activity_at": touched,
                "created_at": created,
                "created_by": rng.choice(REPS),
            }
        )
    _load(engine, Deal, deal_rows)
    with engine.connect() as conn:
        first_deal = conn.execute(text("SELECT min(id) FROM deals")).scalar_one()
    changes = []
    for n, row in enumerate(deal_rows):
        deal_id = first_deal + n
        at = row["created_at"]
        changes.append({"workspace_id": ws_id, "deal_id": deal_id, "from_stage": None, "to_stage": "lead",
                        "created_at": at, "created_by": row["created_by"]})  # fmt: skip
        if row["stage"] != "lead":
            at = at + (NOW - at) * rng.random()
            changes.append({"workspace_id": ws_id, "deal_id": deal_id, "from_stage": "lead", "to_stage": row["stage"],
                            "created_at": at, "created_by": row["owner_user_id"]})  # fmt: skip
    _load(engine, DealStageChange, changes)

    def activity_rows():
        for _ in range(activities):
            # About 1% yesterday (in Berlin: 9 to 33 hours before 09:00), the rest spread over the year.
            yesterday = rng.random() < 0.01
            at = NOW - timedelta(minutes=rng.randint(9 * 60, 33 * 60) if yesterday else rng.randint(0, 365 * 24 * 60))
            deal = rng.randrange(len(deal_rows)) if rng.random() < 0.3 else None
            customer = deal_rows[deal]["customer_id"] if deal is not None else first_customer + rng.randrange(customers)
            yield {
                "workspace_id": ws_id,
                "customer_id": customer,
                "deal_id": first_deal + deal if deal is not None else None,
                "type_key": rng.choice(TYPES),
                "summary": "Talked about the renewal",
                "occurred_at": at,
                "source": "import",
                "created_at": at,
                "created_by": rng.choice(REPS),
            }  # fmt: skip

    _load(engine, Activity, activity_rows())
    _load(
        engine,
        FollowUp,
        (
            {
                "workspace_id": ws_id,
                "customer_id": first_customer + rng.randrange(customers),
                "owner_user_id": rng.choice(REPS),
                "due_at": NOW + timedelta(hours=rng.randint(-24 * 30, 24 * 30)),
                "status": rng.choice(["open", "open", "open", "snoozed", "done"]),
                "nudge_attempts": 0,
                "created_at": NOW - timedelta(days=40),
                "created_by": "import",
            }
            for _ in range(follow_ups)
        ),
    )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return ws_id


def statement_times(engine, fn) -> list[tuple[float, str]]:
    """Each SQL statement of one ``fn()`` call with its time, slowest first."""
    from sqlalchemy import event

    found: list[tuple[float, str]] = []

    def before(conn, cursor, statement, params, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, params, context, executemany):
        found.append((time.perf_counter() - conn.info.pop("bench_started"), " ".join(statement.split())))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return sorted(found, reverse=True)


def measure(engine, ws_id: int, runs: int) -> dict:
    sf = make_session_factory(engine)
    previous = {"at": (NOW - timedelta(days=1)).isoformat(), "stages": {}}
    started = time.perf_counter()
    recompute_tiers(sf, ws_id, now=NOW)  # the daily job: the key-accounts part needs stored tiers
    tiers_seconds = time.perf_counter() - started
    inputs = ForecastInputs(lifecycle_for(None), parse_stage_probabilities(None, DEFAULT))

    def digest():
        return build_digest(sf, ws_id, now=NOW, tz=TZ, stages=DEFAULT, previous=previous, stale_days=14)

    def weekly():  # the first digest of the week: with the forecast and conversion part
        return build_digest(sf, ws_id, now=NOW, tz=TZ, stages=DEFAULT, previous=None, forecast_with=inputs)

    def pipeline():
        return pipeline_summary(sf, ws_id, owner=None, stages=DEFAULT, now=NOW)

    result: dict = {"statements": statement_times(engine, digest), "tiers": tiers_seconds}
    for name, fn in (("digest", digest), ("weekly", weekly), ("pipeline", pipeline)):
        fn()  # warm-up: connections, statement caches, pages in memory
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - started)
        result[name] = (min(times), statistics.median(times), max(times))
        result[name + "_out"] = out
    return result


def run(db: str, args) -> dict:
    cleanup = None
    if db == "sqlite":
        folder = tempfile.mkdtemp(prefix="crm-bench-")
        url = f"sqlite:///{folder}/bench.db"
    else:
        admin_url = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        name = f"crm_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + "/" + name

        def cleanup():
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    engine = make_engine(url)
    try:
        upgrade(engine)
        started = time.perf_counter()
        ws_id = populate(
            engine,
            customers=args.customers,
            deals=args.deals,
            activities=args.activities,
            follow_ups=args.follow_ups,
        )
        load_seconds = time.perf_counter() - started
        result = measure(engine, ws_id, args.runs)
        result["load"] = load_seconds
        return result
    finally:
        engine.dispose()
        if cleanup:
            cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--deals", type=int, default=10_000, help="open deals (a third as many closed ones are added)")
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--follow-ups", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--statements", type=int, default=0, help="print the N slowest statements (to stderr)")
    args = parser.parse_args(argv)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        f"{args.customers:,} customers, {args.deals:,} open + {args.deals // 3:,} closed deals, "
        f"{args.activities:,} activities, {args.follow_ups:,} follow-ups; {args.runs} runs after a warm-up\n"
    )
    print(
        "| database | load (s) | digest min / median / max (ms) | weekly digest median (ms) | tiers (ms) "
        "| /crm pipeline median (ms) | open deals | stale | quiet key accounts |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for db in dbs:
        r = run(db, args)
        d_min, d_med, d_max = (t * 1000 for t in r["digest"])
        digest = r["digest_out"]
        print(
            f"| {db} | {r['load']:.0f} | {d_min:.0f} / {d_med:.0f} / {d_max:.0f} | {r['weekly'][1] * 1000:.0f} "
            f"| {r['tiers'] * 1000:.0f} | {r['pipeline'][1] * 1000:.0f} | {digest.open_count:,} "
            f"| {digest.stale.count:,} | {digest.key_accounts.total if digest.key_accounts else 0:,} |",
            flush=True,
        )
        if args.statements:
            for seconds, statement in r["statements"][: args.statements]:
                print(f"    {seconds * 1000:7.1f} ms  {statement[:150]}", file=sys.stderr)


if __name__ == "__main__":
    main()
