"""`crm-bot export` CSVs read back by `crm-bot import`: realistic vendor files in, export out,
the export's CSVs into a fresh workspace, compared record by record (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy import select

from bot.owner_lookup import slack_owner_lookup
from crm import activities
from crm import custom_fields as cf
from crm import customers as svc
from crm.activity_types import DEFAULT as DEFAULT_TYPES
from crm.actors import Actor
from crm.exporter import export_workspace
from crm.importer import ImportOptions, run_import
from crm.models import (
    Activity,
    Contact,
    Customer,
    CustomerAlias,
    CustomerLifecycleChange,
    CustomerTag,
    CustomField,
    CustomFieldValue,
    Deal,
    DealStageChange,
)
from crm.states import ActivitySource
from tests.service.test_import_vendors import (
    PD_DEALS,
    PD_ORGS,
    PD_PEOPLE,
    REP,
    hubspot_files,
    salesforce_files,
    write,
)

ADMIN = Actor("U0ADMIN", is_admin=True)
COLUMNS = {
    Customer: (
        "name",
        "website",
        "owner_user_id",
        "notes",
        "phone",
        *(f"{p}_{c}" for p in ("billing", "shipping") for c in ("street", "city", "region", "postal_code", "country")),
        "industry",
        "employees",
        "annual_revenue_minor",
        "annual_revenue_currency",
        "description",
        "lifecycle_stage",
        "created_at",
        "created_by",
    ),
    Contact: ("name", "email", "phone", "mobile_phone", "title", "street", "city", "region", "country", "created_at"),
    Deal: ("title", "amount_minor", "currency", "stage", "expected_close", "closed_at", "owner_user_id", "created_at"),
    Activity: ("type_key", "summary", "occurred_at", "permalink", "source", "created_by", "created_at"),
}
FILES = ("customers", "contacts", "deals", "activities")


def _shown(value: object) -> str:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat()
    return str(value)


def snapshot(services, ws: int) -> dict:
    """Every live record by what identifies it to a person (source id, else its name), with its
    company, contact and deal by name, custom values by field label, tags, and the field definitions."""
    with services.session_factory() as s:
        defs = s.scalars(select(CustomField).where(CustomField.workspace_id == ws)).all()
        fields = sorted(
            (d.entity, d.label, d.type, tuple(o["label"] for o in d.options), d.retired_at is not None) for d in defs
        )
        labels = {d.id: d.label for d in defs}
        values: dict[tuple[str, int], dict[str, object]] = {}
        for v in s.scalars(select(CustomFieldValue).where(CustomFieldValue.workspace_id == ws)):
            shown = (v.value_text, v.value_int, v.value_currency, v.value_date, v.value_list)
            values.setdefault((v.entity, v.record_id), {})[labels[v.field_id]] = shown
        names = {
            model: dict(s.execute(select(model.id, getattr(model, "title" if model is Deal else "name"))).all())
            for model in (Customer, Contact, Deal)
        }
        records = {}
        for model, columns in COLUMNS.items():
            rows = s.scalars(select(model).where(model.workspace_id == ws, model.deleted_at.is_(None))).all()
            for row in rows:
                if getattr(row, "merged_into_id", None) is not None:
                    continue
                cells = tuple(_shown(getattr(row, c)) for c in columns)
                links = tuple(
                    names[m].get(getattr(row, link, None))
                    for m, link in ((Customer, "customer_id"), (Contact, "contact_id"), (Deal, "deal_id"))
                )
                entity = model.__tablename__
                who = row.external_ref or cells[:3]
                assert (entity, who) not in records, (entity, who)
                records[(entity, who)] = (cells, links, values.get((entity.rstrip("s"), row.id), {}))
        tags = sorted(
            (names[Customer][t.customer_id], t.tag)
            for t in s.scalars(select(CustomerTag).where(CustomerTag.workspace_id == ws))
        )
        live = {
            model: set(
                s.scalars(
                    select(model.id).where(
                        model.workspace_id == ws,
                        model.deleted_at.is_(None),
                        *([model.merged_into_id.is_(None)] if model is Customer else []),
                    )
                )
            )
            for model in (Customer, Deal)
        }
        history = sorted(
            (kind, names[model][record_id], *rest)
            for kind, model, query in (
                (
                    "lifecycle",
                    Customer,
                    select(
                        CustomerLifecycleChange.customer_id,
                        CustomerLifecycleChange.from_stage,
                        CustomerLifecycleChange.to_stage,
                        CustomerLifecycleChange.created_at,
                        CustomerLifecycleChange.created_by,
                    ).where(CustomerLifecycleChange.workspace_id == ws),
                ),
                (
                    "stage",
                    Deal,
                    select(
                        DealStageChange.deal_id,
                        DealStageChange.from_stage,
                        DealStageChange.to_stage,
                        DealStageChange.created_at,
                        DealStageChange.created_by,
                    ).where(DealStageChange.workspace_id == ws),
                ),
                (
                    "alias",
                    Customer,
                    select(
                        CustomerAlias.customer_id, CustomerAlias.alias, CustomerAlias.source, CustomerAlias.created_by
                    ).where(CustomerAlias.workspace_id == ws),
                ),
            )
            for record_id, *rest in ((row[0], *(_shown(x) for x in row[1:])) for row in s.execute(query))
            if record_id in live[model]
        )
    return {"records": records, "tags": tags, "fields": fields, "history": history}


def test_an_export_imports_back_unchanged_through_crm_bot_import(services, standin, tmp_path):
    sf, search = services.session_factory, services.search
    ws = services.workspace_id("T0SOURCE")
    standin.add_user(REP, name="rita", real_name="Rita Rep", email="rep@example.com")
    lookup = slack_owner_lookup(WebClient(token="xoxb-test", base_url=standin.base_url))
    options = ImportOptions(owner_lookup=lookup, create_fields=True, phone_region="US")
    (tmp_path / "sf").mkdir(), (tmp_path / "hs").mkdir(), (tmp_path / "pd").mkdir()
    run_import(sf, ws, salesforce_files(tmp_path / "sf"), options)
    run_import(sf, ws, hubspot_files(tmp_path / "hs"), options)
    pipedrive = [
        (write(tmp_path / "pd" / "organizations.csv", PD_ORGS, encoding="cp1252"), None),
        (write(tmp_path / "pd" / "people.csv", PD_PEOPLE, encoding="cp1252"), None),
        (write(tmp_path / "pd" / "deals.csv", PD_DEALS, encoding="cp1252"), None),
    ]
    run_import(sf, ws, pipedrive, ImportOptions(owners={"rita rep": REP}, create_fields=True))
    # And what a team adds in Slack afterwards: a customer with the whole record, tags, a list
    # field, a retired field, a contact with phones and an address, a logged call.
    tier = cf.define_field(
        sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=["Gold", "Silver"]
    )
    cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Old code", type="text")
    form = svc.CustomerForm(
        name="Hooli Inc.",
        website="hooli.xyz",
        details=svc.DetailsInput(
            phone="+1 650 555 0100",
            billing=svc.AddressInput("1 Hacker Way", "Palo Alto", "CA", "94301", "US"),
            employees="1200",
            annual_revenue="12,500,000.50",
            revenue_currency="EUR",
            description="Line one.\nLine two, with “quotes”, and a comma.",
            tags="Enterprise, EMEA",
        ),
        lifecycle_stage="customer",
        custom={"tier": "Silver", "old_code": "H-1"},
    )
    from crm.lifecycle import DEFAULT as LIFECYCLE

    hooli = svc.create_record(sf, search, ws, form, actor=Actor(REP), stages=LIFECYCLE)
    old_code = next(d for d in cf.list_fields(sf, ws, "customer") if d.key == "old_code")
    cf.retire_field(sf, ws, old_code.id, actor=ADMIN)
    gavin = svc.add_contact(
        sf,
        search,
        ws,
        hooli.id,
        svc.ContactInput(
            name="Gavin Belson",
            email="gavin@hooli.xyz",
            phone="650 555 0199",
            mobile_phone="+1 650 555 0142",
            address=svc.AddressInput("2 Main St", "Palo Alto", "CA", "94301", "US"),
        ),
        actor=REP,
    )
    activities.log_activity(
        sf,
        ws,
        types=DEFAULT_TYPES,
        actor=Actor(REP),
        customer_id=hooli.id,
        contact_id=gavin.id,
        type_key="call",
        summary="Discussed the renewal, pricing = fine",
        occurred_at=datetime(2026, 11, 2, 15, 30, tzinfo=UTC),
        source=ActivitySource.MODAL,
        now=datetime(2026, 11, 2, 16, 0, tzinfo=UTC),
    )
    assert tier is not None
    before = snapshot(services, ws)
    assert len(before["records"]) > 20 and before["tags"] and len(before["fields"]) >= 4
    assert {h[0] for h in before["history"]} == {"lifecycle", "stage"}

    export_workspace(sf, ws, tmp_path / "export")
    files = [(tmp_path / "export" / f"{name}.csv", name) for name in FILES]
    other = services.workspace_id("T0TARGET")
    dry = run_import(sf, other, files, ImportOptions(dry_run=True, create_fields=True))
    assert [f.vendor for f in dry.files] == ["crm-bot"] * 4
    report = run_import(sf, other, files, ImportOptions(create_fields=True))
    assert all(not f.rejected or f.kind == "customers" for f in report.files), [
        (f.kind, f.rejected) for f in report.files
    ]
    after = snapshot(services, other)
    assert after["fields"] == before["fields"]
    assert after["tags"] == before["tags"]
    assert after["history"] == before["history"]
    assert set(after["records"]) == set(before["records"])
    for key, record in before["records"].items():
        assert after["records"][key] == record, key
    again = run_import(sf, other, files, ImportOptions(create_fields=True))
    assert sum(f.inserted for f in again.files) == 0  # idempotent
    assert snapshot(services, other) == before


def test_deleted_and_merged_rows_of_an_export_are_not_brought_back(services, tmp_path):
    sf, search = services.session_factory, services.search
    ws = services.workspace_id("T0SOURCE")
    keeper = svc.create_customer(sf, search, ws, actor=REP, name="Acme Corporation")
    twin = svc.create_customer(sf, search, ws, actor=REP, name="Acme Corp", force=True)
    gone = svc.create_customer(sf, search, ws, actor=REP, name="Initech")
    svc.merge_customers(sf, search, ws, twin.id, keeper.id, actor=ADMIN)
    with sf.begin() as s:
        s.get(Customer, gone.id).deleted_at = datetime.now(UTC)
    export_workspace(sf, ws, tmp_path / "export")
    with (tmp_path / "export" / "customers.csv").open(encoding="utf-8-sig") as f:
        assert len(list(csv.DictReader(f))) == 3
    other = services.workspace_id("T0TARGET")
    report = run_import(sf, other, [(tmp_path / "export" / "customers.csv", None)], ImportOptions())
    assert (report.files[0].inserted, report.files[0].rejected) == (1, 2)
    with sf() as s:
        assert s.scalars(select(Customer.name).where(Customer.workspace_id == other)).all() == ["Acme Corporation"]
    rejects = Path(tmp_path / "export" / "customers.rejects.csv").read_text(encoding="utf-8-sig")
    assert "deleted or merged away in the CRM it was exported from" in rejects


def test_cli_export_csvs_import_back_into_a_fresh_database(services, database_url, tmp_path):
    from tests.service.test_export import build_workspace
    from tests.service.test_import_checklist import crm_bot

    build_workspace(services, "T0TEST")
    before = snapshot(services, services.workspace_id("T0TEST"))
    assert {"alias", "stage"} <= {h[0] for h in before["history"]}  # former names, a deal's moves
    exported = crm_bot(database_url, "export", "--team", "T0TEST", "--out", "dump", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    csvs = [f"dump/{name}.csv" for name in FILES]
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    dry = crm_bot(fresh, "import", *csvs, "--team", "T0NEW", "--create-fields", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "a crm-bot export (its columns" in dry.stdout and "Traceback" not in dry.stderr
    run = crm_bot(fresh, "import", *csvs, "--team", "T0NEW", "--create-fields", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "every contact, deal and activity found its company" in run.stdout, run.stdout[-3000:]
    assert "NOT imported" not in run.stdout
    # The fresh database holds the same live records (merged and deleted ones stay out).
    from crm.db import make_engine, make_session_factory
    from crm.workspaces import get_or_create_workspace

    engine = make_engine(fresh)
    try:
        sf = make_session_factory(engine)
        ws = get_or_create_workspace(sf, "T0NEW").id

        class Fresh:  # what snapshot() reads from the services fixture
            session_factory = sf

        assert snapshot(Fresh, ws) == before
    finally:
        engine.dispose()
