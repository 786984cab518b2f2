"""Benchmark ``crm-bot import``: generated HubSpot-style CSVs into SQLite and PostgreSQL.

    python bench/bench_import.py                      # 100k customers, 200k contacts, 1M activities
    python bench/bench_import.py --customers 10000 --contacts 20000 --activities 100000
    python bench/bench_import.py --no-postgres        # SQLite only

The CSVs are generated once (``bench/datagen.py`` names, two contacts per customer, ten
activities per customer, 1% near-duplicate companies), with every column of a HubSpot export
that the importer keeps: phone, address (region and country checked by pycountry), industry,
employees, revenue, lifecycle stage, created date, tags and two columns that become custom
fields (``--create-fields``), one skipped system column; contacts with work and mobile phones.
Each database first gets a seed of
existing customers (``--seed``, not timed) so the duplicate check has something to compare
against; then the timed import runs (all files, one transaction), then the same import
again to show that a re-run adds nothing. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datagen import FIRST_NAMES, SURNAMES, make_customer
from sqlalchemy import create_engine, func, select, text

from crm.db import make_engine, make_session_factory
from crm.importer import ImportOptions, run_import
from crm.migrate import upgrade
from crm.models import Activity, Contact, Customer
from crm.workspaces import get_or_create_workspace

TYPES = ["Call", "Meeting", "Email", "Demo", "Note", "Lunch", "Task"]
PLACES = [
    ("San Francisco", "California", "94105", "United States"),
    ("Austin", "TX", "78701", "USA"),
    ("Berlin", "Berlin", "10117", "Germany"),
    ("Paris", "", "75002", "France"),
    ("London", "", "EC1A 1BB", "GB"),
    ("Toronto", "Ontario", "M5H 2N2", "Canada"),
]
INDUSTRIES = ["Computer Software", "Banking", "Construction", "Retail", "Machinery"]
LIFECYCLE = ["Lead", "Marketing Qualified Lead", "Customer", "Opportunity"]
TIERS = ["Gold", "Silver", "Bronze"]
PG_ADMIN_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def generate(directory: Path, customers: int, contacts: int, activities: int, seed_count: int) -> dict[str, Path]:
    """Write seed.csv, customers.csv, contacts.csv, activities.csv; return their paths."""
    rng = random.Random(7)
    paths = {name: directory / f"{name}.csv" for name in ("seed", "customers", "contacts", "activities")}
    names: list[tuple[str, str]] = []  # (name, domain) of every customer in customers.csv
    with paths["seed"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Record ID", "Company name", "Website URL"])
        for i in range(seed_count):
            c = make_customer(10_000_000 + i, seed=99)
            w.writerow([f"S{i}", c.name, c.domains[0]])
    with paths["customers"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "Record ID",
                "Company name",
                "Website URL",
                "Company owner",
                "Description",
                "Phone Number",
                "Street Address",
                "City",
                "State/Region",
                "Postal Code",
                "Country/Region",
                "Industry",
                "Annual Revenue",
                "Number of Employees",
                "Lifecycle Stage",
                "Create Date",
                "Tags",
                "Customer Tier",
                "Contract Renewal",
                "Last Activity Date",
            ]
        )
        for i in range(customers):
            c = make_customer(i)
            name, domain = c.name, c.domains[0]
            if i and rng.random() < 0.01:  # a near-duplicate of an earlier company
                name, domain = names[rng.randrange(len(names))][0] + " Inc", ""
            names.append((name, domain))
            city, region, postal, country = PLACES[i % len(PLACES)]
            w.writerow(
                [
                    f"C{i}",
                    name,
                    domain,
                    "U0REP" if i % 3 else "",
                    "imported from HubSpot",
                    f"+1 415 555 {i % 10000:04d}",
                    f"{1 + i % 900} Market Street",
                    city,
                    region,
                    postal,
                    country,
                    INDUSTRIES[i % len(INDUSTRIES)],
                    str(100_000 * (1 + i % 500)),
                    str(5 + i % 2000),
                    LIFECYCLE[i % len(LIFECYCLE)],
                    f"2023-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00",
                    "key account; emea" if i % 7 == 0 else "",
                    TIERS[i % len(TIERS)],
                    f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    "2024-05-01 10:00",
                ]
            )
    with paths["contacts"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "Record ID",
                "First Name",
                "Last Name",
                "Email",
                "Phone Number",
                "Mobile Phone Number",
                "Job Title",
                "Associated Company IDs",
                "City",
                "Country/Region",
            ]
        )
        for i in range(contacts):
            cust = i % customers
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
            domain = names[cust][1] or "example.com"
            email = f"{first.lower()}.{last.lower()}.{i}@{domain}".encode("ascii", "ignore").decode()
            city, _, _, country = PLACES[cust % len(PLACES)]
            phone, mobile = f"+1 415 555 {i % 10000:04d}", f"+1 650 555 {(i * 7) % 10000:04d}"
            w.writerow([f"P{i}", first, last, email, phone, mobile, "Buyer", f"C{cust}", city, country])
    with paths["activities"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Activity ID", "Activity Type", "Subject", "Activity Date", "Company ID", "Contact ID"])
        for i in range(activities):
            cust = i % customers
            day = 1 + i % 28
            w.writerow(
                [
                    f"A{i}",
                    TYPES[i % len(TYPES)],
                    f"Talked about renewal #{i}",
                    f"2024-{1 + i % 12:02d}-{day:02d} {9 + i % 8:02d}:{i % 60:02d}",
                    f"C{cust}",
                    f"P{i % contacts}",
                ]
            )
    return paths


def fresh_database(kind: str, workdir: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in workdir.glob(path.name + "*")]
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop


def bench(kind: str, paths: dict[str, Path], workdir: Path) -> list[tuple[str, str, int, float, int]]:
    url, drop = fresh_database(kind, workdir)
    engine = make_engine(url)
    try:
        upgrade(engine)
        sf = make_session_factory(engine)
        ws = get_or_create_workspace(sf, "T0BENCH").id
        files = [(paths[k], k) for k in ("customers", "contacts", "activities")]
        options = ImportOptions(rejects_dir=workdir / "rejects", create_fields=True)
        run_import(sf, ws, [(paths["seed"], "customers")], options)  # existing data, not timed
        rows: list[tuple[str, str, int, float, int]] = []
        started = time.perf_counter()
        report = run_import(sf, ws, files, options)
        total = time.perf_counter() - started
        for fr in report.files:
            rows.append((kind, fr.path.name, fr.rows_read, fr.seconds, fr.inserted))
        label = f"**all files** ({len(report.duplicates):,} probable duplicates)"
        rows.append((kind, label, report.rows_read, total, 0))
        with sf() as s:
            counts = [s.scalar(select(func.count()).select_from(m)) for m in (Customer, Contact, Activity)]
        started = time.perf_counter()
        again = run_import(sf, ws, files, options)
        rerun = time.perf_counter() - started
        new = sum(fr.inserted for fr in again.files)
        rows.append((kind, f"re-run of the same files ({new} new rows)", again.rows_read, rerun, new))
        print(f"{kind}: customers/contacts/activities in the database: {counts}", file=sys.stderr)
        return rows
    finally:
        engine.dispose()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=10_000, help="customers already in the database")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="where CSVs and the SQLite file go (default: tmp)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-import-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    paths = generate(workdir, args.customers, args.contacts, args.activities, args.seed)
    size = sum(p.stat().st_size for p in paths.values()) / 1e6
    print(f"generated {size:.0f} MB of CSV in {time.perf_counter() - started:.0f} s in {workdir}", file=sys.stderr)
    kinds = ([] if args.no_sqlite else ["sqlite"]) + ([] if args.no_postgres else ["postgresql"])
    results = []
    for kind in kinds:
        try:
            results += bench(kind, paths, workdir)
        except Exception as exc:  # report a missing server as a row, keep the SQLite numbers
            print(f"{kind}: skipped ({str(exc).splitlines()[0]})", file=sys.stderr)
    print(f"\n{os.cpu_count()} CPUs; seed of {args.seed:,} existing customers\n")
    print("| database | file | rows | seconds | rows/s | inserted |")
    print("|---|---|---:|---:|---:|---:|")
    for kind, name, n, seconds, inserted in results:
        print(f"| {kind} | {name} | {n:,} | {seconds:.1f} | {n / max(seconds, 1e-9):,.0f} | {inserted:,} |")


if __name__ == "__main__":
    main()
