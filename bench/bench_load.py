"""Ack latency of the real app under concurrent load, against a bare Bolt app in the same run.

    python bench/bench_load.py [--db sqlite|postgresql|both] [--requests 200] [--customers 10000]
                               [--slow-slack] [--slow-users 150] [--probes 20] [--users-latency 8]

For each database it seeds ``--customers`` generated customers (``bench/datagen.py``), starts
``crm-bot run`` in a process of its own (waitress, the real settings) with its Web API pointed
at a Slack stand-in in this process, and fires signed requests at once from as many threads:

* **look-ups**: ``--requests`` ``/customer`` look-ups (typos, prefixes, domains...) from 20
  reps whose profiles are already cached;
* **slow Slack** (``--slow-slack``): ``users.info`` answers after ``--users-latency`` seconds,
  ``--slow-users`` people never seen before look a customer up at once (each card needs their
  time zone), and another user sends ``--probes`` ``/crm help`` during the flood.

The baseline is a bare Bolt app (one ``/crm`` command that only acks) behind the same waitress
settings, in its own process, sent the same number of requests at once. Each row gives the
p50/p99/max time until Slack would have its HTTP answer, how many took over Slack's 3 s, how
many were 404 (Bolt's answer when no ack came in time) and other errors, and on PostgreSQL the
most connections the app held at once.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datagen import make_customer, make_query
from sqlalchemy import create_engine, insert, text

from bot.dev.driver import Response, SlackDriver
from bot.dev.standin import SlackStandIn
from crm.customers import clean_name, clean_website
from crm.db import make_engine, make_session_factory
from crm.migrate import upgrade
from crm.models import Customer, Workspace

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-load-signing-secret"
TOKEN = "xoxb-bench-load"
TEAM = "T0BENCH"
DEADLINE = 3.0
REPS = [f"U0REP{i:03d}" for i in range(20)]
PROBER = "U0PROBER"
PG_ADMIN = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# -- figures ----------------------------------------------------------------------------------
@dataclass
class Row:
    database: str
    app: str
    scenario: str
    elapsed: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    errors: int = 0
    peak_connections: int | None = None

    def add(self, outcome: Response | Exception) -> None:
        if isinstance(outcome, Exception):
            self.errors += 1
            return
        self.elapsed.append(outcome.elapsed)
        self.statuses.append(outcome.status)
        if outcome.status not in (200, 404):
            self.errors += 1

    def cells(self) -> list[str]:
        ordered = sorted(self.elapsed) or [0.0]

        def pct(p: float) -> str:
            return f"{ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000:.0f}"

        over = sum(e > DEADLINE for e in self.elapsed)
        peak = "" if self.peak_connections is None else str(self.peak_connections)
        return [
            self.database, self.app, self.scenario, str(len(self.statuses) + self.errors),
            pct(0.5), pct(0.99), f"{ordered[-1] * 1000:.0f}", str(over), str(self.statuses.count(404)),
            str(self.errors), peak,
        ]  # fmt: skip


HEADER = ["database", "app", "scenario", "requests", "p50 ms", "p99 ms", "max ms", "acks > 3 s", "404", "errors",
          "peak PG connections"]  # fmt: skip


def print_table(rows: list[Row]) -> None:
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * 3 + "---:|" * (len(HEADER) - 3))
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |", flush=True)


# -- databases --------------------------------------------------------------------------------
@contextmanager
def database(kind: str, folder: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder}/bench.db"
        return
    name = f"crm_bench_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, customers: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sf = make_session_factory(engine)
    with sf.begin() as s:
        workspace = Workspace(team_id=TEAM, enterprise_id_key="")
        s.add(workspace)
        s.flush()
        rows = []
        for i in range(customers):
            generated = make_customer(i)
            name, normalized = clean_name(generated.name[:200])
            website, domain = clean_website(generated.domains[0])
            rows.append(
                {"workspace_id": workspace.id, "name": name, "normalized_name": normalized, "website": website,
                 "domain": domain, "owner_user_id": REPS[i % len(REPS)], "created_by": "import"}
            )  # fmt: skip
        for start in range(0, len(rows), 2000):
            s.execute(insert(Customer), rows[start : start + 2000])
    engine.dispose()


def peak_connections(url: str, stop: threading.Event, out: list[int]) -> None:
    """Sample how many connections the app holds to its PostgreSQL database."""
    name = url.rsplit("/", 1)[1]
    engine = create_engine(PG_ADMIN, pool_size=1)
    with engine.connect() as conn:
        while not stop.is_set():
            count = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            ).scalar_one()
            out.append(int(count))
            conn.rollback()
            stop.wait(0.05)
    engine.dispose()


# -- the two servers --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(kind: str, url: str, standin: SlackStandIn, log_dir: str, threads: int) -> Iterator[str]:
    """``crm-bot run`` (kind "app") or the bare Bolt app (kind "bare") on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.base_url,
        "DATABASE_URL": url,
        "CRM_WEB_THREADS": str(threads),
        "CRM_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    if kind == "app":
        argv = [sys.executable, "-m", "bot", "run", "--host", "127.0.0.1", "--port", str(port)]
    else:
        argv = [sys.executable, __file__, "--serve-bare", str(port), "--threads", str(threads)]
    log_path = Path(log_dir) / f"{kind}-{port}.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=log_dir)
    events = f"http://127.0.0.1:{port}/slack/events"
    try:
        wait_ready(events, proc, log_path)
        yield events
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        if proc.returncode not in (0, -signal.SIGTERM) and tail:
            print(f"({kind} server exited {proc.returncode}; log {log_path}: {tail})", file=sys.stderr)


def wait_ready(events: str, proc: subprocess.Popen, log_path: Path) -> None:
    driver = SlackDriver(events, SECRET, team_id=TEAM, timeout=5)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if driver.command("/crm", "help", user=PROBER).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not start: {log_path.read_text(errors='replace')[-2000:]}")


def serve_bare(port: int, threads: int) -> None:
    """The baseline: Bolt with one trivial /crm command, behind the same waitress settings."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bot.server import make_server

    client = WebClient(token=TOKEN, base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=SECRET, token_verification_enabled=False)
    app.command("/crm")(lambda ack: ack())
    bolt = SlackRequestHandler(app)
    wsgi = make_server(lambda environ, start_response: bolt(environ, start_response), host="127.0.0.1",
                       port=port, threads=threads)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    wsgi.run()


# -- load -------------------------------------------------------------------------------------
def fire(jobs: list[Callable[[], Response]], row: Row) -> None:
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        for future in futures:
            try:
                row.add(future.result())
            except Exception as exc:  # a dropped connection counts as an error, whatever it was
                row.add(exc)


def lookups(events: str, standin: SlackStandIn, n: int, customers: int) -> list[Callable[[], Response]]:
    rng = random.Random(7)
    driver = SlackDriver(events, SECRET, team_id=TEAM, response_url_factory=standin.response_url, timeout=60)
    queries = [make_query(make_customer(rng.randrange(customers)), rng)[0] for _ in range(n)]
    users = [REPS[i % len(REPS)] for i in range(n)]
    return [lambda q=q, u=u: driver.command("/customer", q, user=u) for q, u in zip(queries, users, strict=True)]


def run_app(kind: str, url: str, standin: SlackStandIn, args, folder: str) -> list[Row]:
    rows = []
    driver = SlackDriver("", SECRET, team_id=TEAM, response_url_factory=standin.response_url, timeout=60)
    with server("app", url, standin, folder, args.threads) as events:
        driver.url = events
        answered = len(standin.calls_to("response_url"))
        for rep in REPS:  # every rep's profile cached, the index warm
            driver.command("/customer", make_customer(0).name, user=rep)
        standin.wait_for("response_url", count=answered + len(REPS), timeout=120)

        row = Row(kind, "crm-bot", f"{args.requests} look-ups at once")
        samples: list[int] = []
        with sampling(kind, url, samples):
            fire(lookups(events, standin, args.requests, args.customers), row)
        row.peak_connections = max(samples) if samples else None
        rows.append(row)

        if args.slow_slack:
            rows.extend(slow_slack(kind, url, events, standin, args))
    return rows


def slow_slack(kind: str, url: str, events: str, standin: SlackStandIn, args) -> list[Row]:
    users = [f"U0NEW{i:04d}" for i in range(args.slow_users)]
    for user in users:
        standin.add_user(user, name=user.lower(), real_name=user, tz="Europe/Paris")
    standin.set_latency("users.info", args.users_latency)
    driver = SlackDriver(events, SECRET, team_id=TEAM, response_url_factory=standin.response_url, timeout=60)
    names = [make_customer(i).name for i in range(len(users))]
    flood = Row(kind, "crm-bot", f"{len(users)} new users, users.info {args.users_latency:g} s")
    probes = Row(kind, "crm-bot", f"{args.probes} /crm help probes meanwhile")

    def probe_loop() -> None:
        time.sleep(0.3)
        for _ in range(args.probes):
            probes.add(driver.command("/crm", "help", user=PROBER))
            time.sleep(0.1)

    samples: list[int] = []
    with sampling(kind, url, samples):
        prober = threading.Thread(target=probe_loop)
        prober.start()
        fire(
            [lambda u=u, q=q: driver.command("/customer", q, user=u) for u, q in zip(users, names, strict=True)], flood
        )
        prober.join()
    flood.peak_connections = max(samples) if samples else None
    standin.set_latency("users.info", 0)
    return [flood, probes]


@contextmanager
def sampling(kind: str, url: str, samples: list[int]) -> Iterator[None]:
    if kind != "postgresql":
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=peak_connections, args=(url, stop, samples), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def run_bare(kind: str, standin: SlackStandIn, args, folder: str, counts: list[tuple[str, int]]) -> list[Row]:
    rows = []
    with server("bare", "sqlite://", standin, folder, args.threads) as events:
        driver = SlackDriver(events, SECRET, team_id=TEAM, timeout=60)
        for label, n in counts:
            row = Row(kind, "bare Bolt", label)
            fire([lambda: driver.command("/crm", "help")] * n, row)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=32, help="waitress threads (CRM_WEB_THREADS)")
    parser.add_argument("--slow-slack", action="store_true")
    parser.add_argument("--slow-users", type=int, default=150)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--users-latency", type=float, default=8.0)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.threads)
        return
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"{args.customers:,} customers; {os.cpu_count()} CPUs; waitress threads {args.threads}\n", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-load-") as folder, SlackStandIn(team_id=TEAM) as standin:
        for user in [*REPS, PROBER]:
            standin.add_user(user, name=user.lower(), real_name=user, tz="America/New_York")
        for kind in kinds:
            with database(kind, folder) as url:
                started = time.perf_counter()
                seed(url, args.customers)
                print(f"({kind}: seeded in {time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
                rows.extend(run_app(kind, url, standin, args, folder))
            counts = [(f"{args.requests} /crm at once", args.requests)]
            if args.slow_slack:
                counts.append((f"{args.slow_users} /crm at once", args.slow_users))
            rows.extend(run_bare(kind, standin, args, folder, counts))
            standin.reset()
            for user in [*REPS, PROBER]:
                standin.add_user(user, name=user.lower(), real_name=user, tz="America/New_York")
    print_table(rows)


if __name__ == "__main__":
    main()
