"""What a chart costs: drawing each of the three digest charts as PNG, and the queries behind them.

    python bench/bench_charts.py                       # 50 reps, 3 currencies, 20 runs
    python bench/bench_charts.py --reps 200 --currencies 12 --runs 50
    python bench/bench_charts.py --deals 20000         # also time the data (SQLite, fresh file)

Drawing uses matplotlib's Agg canvas directly (``crm.charts``); each run draws a new figure.
The first draw of a process also loads fonts, so it is reported apart ("cold"). With
``--deals`` it loads a temporary SQLite workspace (``bench_digest.populate``) and times
``crm.pipeline_history.weekly_open`` and ``activities_this_week``. The target: under about
300 ms per chart. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.charts import StageBar, activity_chart, pipeline_chart, weekly_chart
from crm.money import CURRENCY_ORDER

CODES = [*CURRENCY_ORDER, "SEK", "NOK", "DKK", "PLN", "AED", "BRL"]
STAGES = ["Lead", "Qualified", "Proposal", "Negotiation"]


def _time(fn, runs: int) -> tuple[float, float, float]:
    """Median and max wall time, and the median CPU time of this process (the machine may be busy)."""
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), max(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--currencies", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--deals", type=int, default=0, help="also time the data on SQLite with this many deals")
    args = parser.parse_args()
    rnd = random.Random(16)
    codes = CODES[: args.currencies]
    bars = [StageBar(s, 50, {c: rnd.randint(1, 900) * 10**6 for c in codes}) for s in STAGES]
    from datetime import UTC, datetime

    now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    points = [now - timedelta(weeks=7 - i) for i in range(8)]
    weekly = {c: [rnd.randint(1, 900) * 10**6 for _ in points] for c in codes}
    reps = [(f"Rep Number{i} Surname", {t: rnd.randint(0, 9) for t in ("call", "email", "meeting", "note", "demo")})
            for i in range(args.reps)]  # fmt: skip
    charts = {
        "pipeline by stage": lambda: pipeline_chart(bars),
        "open pipeline, 8 weeks": lambda: weekly_chart(points, weekly, [100] * 8, tz_date=lambda d: f"{d:%d %b}"),
        "activities per rep": lambda: activity_chart(reps, type_label=str.capitalize),
    }
    cold_started = time.perf_counter()
    next(iter(charts.values()))()
    cold = (time.perf_counter() - cold_started) * 1000
    print(
        f"{args.reps} reps, {args.currencies} currencies, {args.runs} runs; first draw (cold, fonts): {cold:.0f} ms\n"
    )
    print("| chart | median ms | max ms | median CPU ms | PNG bytes |")
    print("|---|---:|---:|---:|---:|")
    for name, fn in charts.items():
        median, worst, mean = _time(fn, args.runs)
        size = len(fn().png or b"")
        print(f"| {name} | {median:.0f} | {worst:.0f} | {mean:.0f} | {size:,} |")
    if args.deals:
        _data(args.deals, now)


def _data(deals: int, now) -> None:
    import bench_digest

    from crm.db import make_engine, make_session_factory
    from crm.migrate import upgrade
    from crm.pipeline_history import activities_this_week, weekly_open

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        ws = bench_digest.populate(
            engine, customers=max(deals // 5, 10), deals=deals, activities=deals * 5, follow_ups=deals // 2
        )
        sf = make_session_factory(engine)
        print(f"\n| data (SQLite, {deals:,} open deals) | median ms | max ms | median CPU ms |")
        print("|---|---:|---:|---:|")
        for name, fn in (
            ("weekly_open (8 weeks)", lambda: weekly_open(sf, ws, now=now)),
            ("activities_this_week", lambda: activities_this_week(sf, ws, now=now, tz="Europe/Berlin")),
        ):
            median, worst, mean = _time(fn, 10)
            print(f"| {name} | {median:.0f} | {worst:.0f} | {mean:.0f} |")
        engine.dispose()


if __name__ == "__main__":
    main()
