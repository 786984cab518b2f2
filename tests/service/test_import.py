"""`crm-bot import`: header mapping, value parsing, bad files, dry run, idempotency, --update, the CLI."""

from __future__ import annotations

import codecs
import csv
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm import customers as svc
from crm import importer
from crm.actors import Actor
from crm.importer import ImportFileError, ImportOptions, run_import
from crm.models import Activity, AuditEntry, Contact, Customer, Deal, DealStageChange, Workspace
from tests.support.processes import run

ADMIN = "U0ADMIN"
CRM_BOT = str(Path(sys.executable).parent / "crm-bot")


def write(path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def count(services, model) -> int:
    with services.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


# -- pure: headers, kinds, values -------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "header", "field"),
    [
        ("customers", "Company name", "name"),  # HubSpot
        ("customers", "Account Name", "name"),  # Salesforce
        ("customers", "Organization - Name", "name"),  # Pipedrive
        ("customers", "Company Domain Name", "website"),
        ("customers", "Record ID", "id"),
        ("contacts", "First Name", "first_name"),
        ("contacts", "E-mail", "email"),
        ("contacts", "Person - Email", "email"),
        ("contacts", "Phone Number", "phone"),
        ("contacts", "Associated Company", "company"),
        ("deals", "Deal Stage", "stage"),
        ("deals", "Amount", "amount"),
        ("deals", "Close Date", "close_date"),
        ("deals", "Opportunity Name", "title"),
        ("deals", "Deal - Value", "amount"),
        ("activities", "Activity - Subject", "summary"),
        ("activities", "Activity Date", "date"),
        ("activities", "Contact ID", "contact_id"),
    ],
)
def test_header_mapping(kind, header, field):
    columns, custom, skipped = importer.map_columns(kind, ["Whatever", header], {})
    assert columns[field] == [1] and [c.header for c in custom] == ["Whatever"] and not skipped


def test_map_overrides_and_ignores():
    mapping = importer.parse_mapping("Firma=name, Webseite = website,Company name=ignore")
    columns, custom, skipped = importer.map_columns("customers", ["Company name", "Firma", "Webseite"], mapping)
    assert columns == {"name": [1], "website": [2]} and skipped == [("Company name", "--map says ignore")]
    assert not custom
    with pytest.raises(importer.InvalidInput, match="not a field"):
        importer.parse_mapping("Firma=nome")
    with pytest.raises(importer.InvalidInput, match="no “=”"):
        importer.parse_mapping("Firma")


@pytest.mark.parametrize(
    ("name", "headers", "kind"),
    [
        ("export.csv", ["Company name", "Website URL"], "customers"),
        ("export.csv", ["First Name", "Last Name", "Email", "Company Name"], "contacts"),
        ("export.csv", ["Deal Name", "Deal Stage", "Amount"], "deals"),
        ("export.csv", ["Subject", "Activity Date", "Type", "Account Name"], "activities"),
        ("people.csv", ["Name"], "contacts"),
        ("opportunities.csv", ["Name"], "deals"),
    ],
)
def test_guess_kind(name, headers, kind):
    keys = [importer.header_key(h) for h in headers]
    assert importer.guess_kind(Path(name), keys, {}) == kind


NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        ("2024-03-31", False, datetime(2024, 3, 31, tzinfo=UTC)),
        ("2024-03-31T10:15:00Z", False, datetime(2024, 3, 31, 10, 15, tzinfo=UTC)),
        ("2024-03-31 10:15", False, datetime(2024, 3, 31, 10, 15, tzinfo=UTC)),
        ("03/31/2024", False, datetime(2024, 3, 31, tzinfo=UTC)),
        ("31/03/2024", False, datetime(2024, 3, 31, tzinfo=UTC)),  # 31 can only be a day
        ("03/04/2024", False, datetime(2024, 3, 4, tzinfo=UTC)),
        ("03/04/2024", True, datetime(2024, 4, 3, tzinfo=UTC)),
        ("31.03.2024", False, datetime(2024, 3, 31, tzinfo=UTC)),
        ("Mar 31, 2024", False, datetime(2024, 3, 31, tzinfo=UTC)),
        ("31 March 2024", False, datetime(2024, 3, 31, tzinfo=UTC)),
        ("2024/03/31", False, datetime(2024, 3, 31, tzinfo=UTC)),
        ("1711879200", False, datetime(2024, 3, 31, 10, 0, tzinfo=UTC)),
        ("3/31/2024 2:30 PM", False, datetime(2024, 3, 31, 14, 30, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text, dayfirst, expected):
    assert importer.parse_datetime(text, tz=ZoneInfo("UTC"), dayfirst=dayfirst) == expected


def test_parse_datetime_uses_the_zone_for_naive_times_and_rejects_nonsense():
    assert importer.parse_datetime("2024-01-15 09:00", tz=NY) == datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
    for bad in ("31/31/2024", "never", "2024-02-30", "0001-01-01"):
        with pytest.raises(importer.InvalidInput, match="isn't a date"):
            importer.parse_datetime(bad, tz=NY)


@pytest.mark.parametrize(
    ("text", "key"),
    [("Closed Won", "won"), ("closedlost", "lost"), ("Qualified To Buy", "qualified_to_buy"), ("", "open")],
)
def test_stage_key(text, key):
    assert importer.stage_key(text) == key


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Name\nCafé\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "Name\nCafé\n".encode(), "utf-8-sig"),
        ("Name\nCafé\n".encode("utf-16"), "utf-16"),
        ("Name\nCafé\n".encode("utf-16-le"), "utf-16-le"),
        ("Name\nCafé\n".encode("cp1252"), "cp1252"),
        (b"Name\nCaf\xe9 \x81\n", "latin-1"),
    ],
)
def test_detect_encoding(data, encoding):
    assert importer.detect_encoding(data, "x.csv") == encoding


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"  \r\n", "is empty"),
        (b"PK\x03\x04\x14\x00\x00\x00", "Excel workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (bytes(range(1, 32)) * 50, "binary"),
    ],
)
def test_unusable_files_stop_before_anything_is_read(tmp_path, data, message):
    path = tmp_path / "companies.csv"
    path.write_bytes(data)
    with pytest.raises(ImportFileError, match=message):
        importer.open_source(path, kind=None, mapping={})


def test_a_file_without_a_name_column_is_refused_with_its_columns(tmp_path):
    path = write(tmp_path / "companies.csv", [["Firma", "Web"], ["Acme", "acme.com"]])
    with pytest.raises(ImportFileError, match=r"no column holds the customer's name.*Firma, Web.*--map"):
        importer.open_source(path, kind=None, mapping={})
    assert importer.open_source(path, kind=None, mapping={"firma": "name"}).columns["name"] == [0]


# -- services on SQLite and PostgreSQL -------------------------------------------------------
def sample_files(d: Path) -> list[tuple[Path, str | None]]:
    companies = write(
        d / "companies.csv",
        [
            ["Record ID", "Company name", "Website URL", "Company owner", "Fax"],
            ["1", "Acme Corporation", "https://acme.com", "U0REP", "x"],
            ["2", "Globex", "globex.com", "Jim Smith", ""],
            ["3", "Initech", "not a website", "", ""],
            ["4", "Acmee Corp", "", "", ""],
            ["2", "Repeated Id Ltd", "", "", ""],
            ["5", '=HYPERLINK("http://evil")', "", "", ""],
        ],
    )
    people = write(
        d / "people.csv",
        [
            ["First Name", "Last Name", "Email", "Phone Number", "Job Title", "Company ID"],
            ["Jane", "Doe", "Jane@Acme.com", "+1 (415) 555-0100", "CTO", "1"],
            ["Bob", "Bad", "bob@", "", "", "1"],
            ["Al", "Phone", "al@globex.com", "call me", "", "2"],
            ["Sam", "Lost", "sam@nowhere.org", "", "", "99"],
            ["Gina", "Globex", "gina@globex.com", "", "", ""],  # company from the email domain
        ],
    )
    deals = write(
        d / "deals.csv",
        [
            ["Deal Name", "Deal Stage", "Amount", "Currency", "Close Date", "Company name"],
            ["Big deal", "Closed Won", "12,500.50", "EUR", "03/31/2024", "Acme Corporation"],
            ["Yen deal", "Qualified To Buy", "1000", "JPY", "2024-06-30", "ACME Corp."],
            ["Bad amount", "Open", "lots", "", "", "Globex"],
            ["Bad date", "Open", "5", "", "31/31/2024", "Globex"],
        ],
        delimiter=";",
    )
    tasks = write(
        d / "tasks.csv",
        [
            ["Activity ID", "Activity - Type", "Activity - Subject", "Activity - Due date", "Organization - ID"],
            ["a1", "Call", "Called about pricing", "2024-02-01 10:00", "1"],
            ["a2", "lunch", "Lunch with Gina", "05.02.2024", "2"],
            ["a3", "carrier pigeon", "Sent a bird", "2024-02-06", "2"],
            ["a4", "call", "When?", "someday", "2"],
            ["a1", "call", "Same id again", "2024-02-07", "1"],
        ],
        delimiter="\t",
    )
    return [(companies, None), (people, None), (deals, None), (tasks, None)]


def test_dry_run_reports_every_problem_and_writes_nothing(services, ws, tmp_path):
    svc.create_customer(services.session_factory, services.search, ws, actor=ADMIN, name="Globex Corporation")
    report = run_import(services.session_factory, ws, sample_files(tmp_path), ImportOptions(dry_run=True))
    assert report.dry_run
    by_kind = {f.kind: f for f in report.files}
    companies = by_kind["customers"]
    assert (companies.rows_read, companies.rows_valid, companies.rejected) == (6, 5, 1)
    assert companies.inserted == 4 and companies.unchanged == 1  # Globex is there already
    assert [(c.header, c.type) for c in companies.custom] == [("Fax", "text")] and not companies.skipped
    problems = {(p.category, p.line) for f in report.files for p in f.problems}
    assert {("duplicate id", 6), ("company not found", 5), ("duplicate in file", 6)} <= problems
    # A bad value drops that value, not the row.
    dropped = {(p.category, p.line) for f in report.files for p in f.warnings}
    assert {
        ("invalid website", 4),
        ("invalid email", 3),
        ("invalid phone", 4),
        ("invalid amount", 4),
        ("invalid date", 5),
    } <= dropped
    website = next(p for p in companies.warnings if p.line == 4)
    assert website.message.startswith("Website URL: “not a website” isn't a website.")
    assert website.message.endswith("The row was imported without it.")
    assert any(p.category == "invalid date" and p.line == 5 for p in by_kind["activities"].problems)
    # Gina's gmail-free domain would find Globex, but the Globex already there has no website.
    assert [(f, line) for f, line, _ in report.missing_companies] == [("people.csv", 5), ("people.csv", 6)]
    dup = next(d for d in report.duplicates if d.name == "Acmee Corp")
    assert not dup.in_database and "Acme Corporation" in dup.target and dup.score >= 85
    assert by_kind["activities"].notes == {"unknown activity type saved as note": 1}
    # Nothing was written: no rows, no rejects files.
    assert count(services, Customer) == 1 and count(services, Activity) == 0
    assert not list(tmp_path.glob("*.rejects.csv"))


def test_import_writes_valid_rows_and_rejects_and_a_rerun_adds_nothing(services, ws, tmp_path):
    files = sample_files(tmp_path)
    with services.session_factory() as s:
        version_before = s.scalar(select(Workspace.search_version).where(Workspace.id == ws))
    report = run_import(services.session_factory, ws, files, ImportOptions())
    assert [f.inserted for f in report.files] == [5, 4, 4, 3]
    with services.session_factory() as s:
        customers = {c.name: c for c in s.scalars(select(Customer))}
        assert set(customers) == {"Acme Corporation", "Globex", "Initech", "Acmee Corp", '=HYPERLINK("http://evil")'}
        assert (customers["Initech"].website, customers["Initech"].domain) == (None, None)
        acme = customers["Acme Corporation"]
        assert (acme.domain, acme.owner_user_id, acme.external_ref, acme.created_by) == (
            "acme.com",
            "U0REP",
            "1",
            "import",
        )
        assert customers["Globex"].owner_user_id is None  # "Jim Smith" is no Slack user
        version = s.scalar(select(Workspace.search_version).where(Workspace.id == ws))
        assert version == version_before + 1
        assert {c.index_version for c in customers.values()} == {version}  # replicas re-index them
        jane = s.scalars(select(Contact).where(Contact.email == "jane@acme.com")).one()
        assert (jane.name, jane.phone, jane.title, jane.customer_id) == ("Jane Doe", "+14155550100", "CTO", acme.id)
        gina = s.scalars(select(Contact).where(Contact.email == "gina@globex.com")).one()
        assert gina.customer_id == customers["Globex"].id
        deals = {d.title: d for d in s.scalars(select(Deal))}
        big = deals["Big deal"]
        assert (big.amount_minor, big.currency, big.stage, big.expected_close) == (
            1250050,
            "EUR",
            "won",
            date(2024, 3, 31),
        )
        assert big.closed_at == datetime(2024, 3, 31, tzinfo=UTC)
        assert (deals["Yen deal"].amount_minor, deals["Yen deal"].customer_id) == (1000, acme.id)
        history = s.execute(select(DealStageChange.deal_id, DealStageChange.from_stage, DealStageChange.to_stage)).all()
        assert deals["Bad amount"].amount_minor is None and deals["Bad date"].expected_close is None
        assert deals["Yen deal"].stage == "qualified"  # HubSpot's "Qualified To Buy"
        assert deals["Bad amount"].stage == "open"  # not a stage of the workspace: kept as it is
        assert s.scalar(select(Contact.email).where(Contact.name == "Bob Bad")) is None
        history = s.execute(select(DealStageChange.deal_id, DealStageChange.to_stage)).all()
        assert (big.id, "won") in history and (deals["Yen deal"].id, "qualified") in history
        activities = s.scalars(select(Activity).order_by(Activity.occurred_at)).all()
        assert [(a.type_key, a.source, a.summary) for a in activities] == [
            ("call", "import", "Called about pricing"),
            ("meeting", "import", "Lunch with Gina"),
            ("note", "import", "Sent a bird"),
        ]
        assert activities[0].occurred_at == datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
        assert activities[0].external_ref == "a1" and activities[0].idempotency_key == "import:a1"
        notes = s.scalars(select(AuditEntry.note).where(AuditEntry.entity_type == "import")).all()
        assert len(notes) == 4 and any("companies.csv: 5 new" in n for n in notes)
    # The rejects file: line, reason, then the original columns, ready to fix and re-import.
    with (tmp_path / "companies.rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        rejects = list(csv.reader(fh))
    assert rejects[0] == ["line", "reason", "Record ID", "Company name", "Website URL", "Company owner", "Fax"]
    assert [r[0] for r in rejects[1:]] == ["4", "6"] and "isn't a website" in rejects[1][1]
    assert "imported without it" in rejects[1][1] and "appears twice" in rejects[2][1]
    assert "an earlier row has id a1" in (tmp_path / "tasks.rejects.csv").read_text(encoding="utf-8-sig")

    again = run_import(services.session_factory, ws, files, ImportOptions())
    assert [f.inserted for f in again.files] == [0, 0, 0, 0]
    assert [f.updated for f in again.files] == [0, 0, 0, 0]
    assert count(services, Customer) == 5 and count(services, Activity) == 3 and count(services, Contact) == 4


def test_update_changes_only_changed_fields(services, ws, tmp_path):
    rows = [["Id", "Name", "Website"], ["1", "Acme", "acme.com"], ["2", "Globex", "globex.com"]]
    run_import(services.session_factory, ws, [(write(tmp_path / "companies.csv", rows), None)], ImportOptions())
    rows[1][2] = "acme.io"
    path = write(tmp_path / "companies.csv", rows)
    plain = run_import(services.session_factory, ws, [(path, None)], ImportOptions())
    assert (plain.files[0].updated, plain.files[0].unchanged) == (0, 2)
    with services.session_factory() as s:
        assert s.scalar(select(Customer.domain).where(Customer.name == "Acme")) == "acme.com"
    updated = run_import(services.session_factory, ws, [(path, None)], ImportOptions(update=True))
    assert (updated.files[0].updated, updated.files[0].unchanged) == (1, 1)
    with services.session_factory() as s:
        acme = s.scalars(select(Customer).where(Customer.name == "Acme")).one()
        assert (acme.website, acme.domain, acme.updated_by) == ("acme.io", "acme.io", "import")
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == acme.id, AuditEntry.action == "update")
        ).one()
        assert entry.before == {"website": "acme.com", "domain": "acme.com"}
        assert entry.after == {"website": "acme.io", "domain": "acme.io"}


def test_update_adds_the_files_new_tags_and_keeps_the_ones_given_in_slack(services, ws, tmp_path):
    from crm.models import CustomerTag

    rows = [["Id", "Name", "Tags"], ["1", "Acme", "Enterprise"], ["2", "Globex", ""]]
    path = write(tmp_path / "companies.csv", rows)
    run_import(services.session_factory, ws, [(path, None)], ImportOptions())
    with services.session_factory.begin() as s:
        acme = s.scalars(select(Customer).where(Customer.name == "Acme")).one()
        s.add(CustomerTag(workspace_id=ws, customer_id=acme.id, tag="VIP", normalized="vip", created_by=ADMIN))
        acme_id = acme.id
    rows[1][2], rows[2][2] = "enterprise; EMEA; VIP", "Partner"
    path = write(tmp_path / "companies.csv", rows)
    plain = run_import(services.session_factory, ws, [(path, None)], ImportOptions())
    assert (plain.files[0].updated, plain.files[0].unchanged) == (0, 2)  # without --update, nothing
    dry = run_import(services.session_factory, ws, [(path, None)], ImportOptions(update=True, dry_run=True))
    assert dry.files[0].updated == 2

    def tags() -> dict[str, list[str]]:
        with services.session_factory() as s:
            found = s.execute(
                select(Customer.name, CustomerTag.tag).join(CustomerTag).order_by(Customer.name, CustomerTag.normalized)
            ).all()
        out: dict[str, list[str]] = {}
        for name, tag in found:
            out.setdefault(name, []).append(tag)
        return out

    assert tags() == {"Acme": ["Enterprise", "VIP"]}  # the dry run wrote nothing
    updated = run_import(services.session_factory, ws, [(path, None)], ImportOptions(update=True))
    assert (updated.files[0].updated, updated.files[0].unchanged) == (2, 0)
    assert tags() == {"Acme": ["EMEA", "Enterprise", "VIP"], "Globex": ["Partner"]}
    with services.session_factory() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == acme_id, AuditEntry.action == "update")
        ).one()
        assert entry.before == {"tags": ["Enterprise", "VIP"]}
        assert entry.after == {"tags": ["EMEA", "Enterprise", "VIP"]}
    again = run_import(services.session_factory, ws, [(path, None)], ImportOptions(update=True))
    assert (again.files[0].updated, again.files[0].unchanged) == (0, 2)  # idempotent


def test_map_sends_a_column_to_a_custom_field_by_label_or_key(services, ws, tmp_path):
    from crm import custom_fields as cf
    from crm.models import CustomFieldValue

    assert importer.parse_mapping("Gebiet=custom:Sales  region") == {"gebiet": "custom:Sales region"}
    with pytest.raises(importer.InvalidInput, match="needs the custom field's name"):
        importer.parse_mapping("Gebiet=custom:")
    cf.define_field(
        services.session_factory, ws, actor=Actor(ADMIN, is_admin=True), entity="customer", label="Tier", type="text"
    )
    [tier] = cf.list_fields(services.session_factory, ws, "customer")
    cf.rename_field(services.session_factory, ws, tier.id, actor=Actor(ADMIN, is_admin=True), label="Support level")
    rows = [["Name", "Website", "Gebiet", "Stufe"], ["Acme", "acme.com", "EMEA", "Gold"], ["Globex", "", "APAC", ""]]
    path = write(tmp_path / "firmen.csv", rows)
    mapping = importer.parse_mapping("Gebiet=custom:Sales region,Stufe=custom:tier")
    columns, custom, _ = importer.map_columns("customers", rows[0], mapping)
    assert columns == {"name": [0], "website": [1]}
    assert [(c.header, c.label) for c in custom] == [("Gebiet", "Sales region"), ("Stufe", "tier")]
    report = run_import(
        services.session_factory, ws, [(path, "customers")], ImportOptions(mapping=mapping, create_fields=True)
    )
    assert report.files[0].inserted == 2
    with services.session_factory() as s:
        defs = {d.key: d for d in cf.definitions.fields_in(s, ws, "customer")}
        assert set(defs) == {"tier", "sales_region"}  # "tier" is the renamed field, found by its key
        stored = {
            (name, defs_id, text)
            for name, defs_id, text in s.execute(
                select(Customer.name, CustomFieldValue.field_id, CustomFieldValue.value_text).join(
                    CustomFieldValue, CustomFieldValue.record_id == Customer.id
                )
            )
        }
    region, level = defs["sales_region"].id, defs["tier"].id
    assert stored == {("Acme", region, "EMEA"), ("Globex", region, "APAC"), ("Acme", level, "Gold")}


def test_duplicates_against_the_database_and_merged_records_stay_merged(services, ws, tmp_path):
    sf, search = services.session_factory, services.search
    keeper = svc.create_customer(sf, search, ws, actor=ADMIN, name="Acme Corporation", website="acme.com")
    path = write(
        tmp_path / "companies.csv",
        [["Name", "Website"], ["ACME Corp.", ""], ["Acmee Corporation", ""], ["Roadrunner", "acme.com"]],
    )
    dry = run_import(sf, ws, [(path, None)], ImportOptions(dry_run=True))
    assert dry.files[0].unchanged == 1  # ACME Corp. is Acme Corporation
    found = {d.name: d for d in dry.duplicates}
    assert found["Acmee Corporation"].target_id == keeper.id and found["Acmee Corporation"].in_database
    assert "Roadrunner" not in found  # a shared website alone does not make another name a duplicate
    skipped = run_import(sf, ws, [(path, None)], ImportOptions(skip_duplicates=True))
    assert skipped.files[0].categories == {"probable duplicate": 1} and count(services, Customer) == 2
    run_import(sf, ws, [(path, None)], ImportOptions())
    with sf() as s:
        dup = s.scalars(select(Customer).where(Customer.name == "Acmee Corporation")).one()
    svc.merge_customers(sf, search, ws, dup.id, keeper.id, actor=Actor(ADMIN, is_admin=True))
    again = run_import(sf, ws, [(path, None)], ImportOptions())
    assert again.files[0].inserted == 0  # the merged name is an alias of the keeper now


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("cp1252", ";"), ("utf-16", "\t"), ("utf-8", "|")],
)
def test_encodings_and_delimiters(services, ws, tmp_path, encoding, delimiter):
    rows = [["Company", "Notes"], ["Café Müller", "first line\nsecond line"], ["Zoë & Co", ""]]
    path = write(tmp_path / "companies.csv", rows, delimiter=delimiter, encoding=encoding)
    report = run_import(services.session_factory, ws, [(path, None)], ImportOptions())
    assert report.files[0].inserted == 2
    with services.session_factory() as s:
        notes = dict(s.execute(select(Customer.name, Customer.notes)).all())
    assert notes == {"Café Müller": "first line\nsecond line", "Zoë & Co": None}


def test_header_only_mismatched_columns_and_huge_fields(services, ws, tmp_path):
    header_only = write(tmp_path / "companies.csv", [["Company name", "Website"]])
    report = run_import(services.session_factory, ws, [(header_only, None)], ImportOptions())
    assert (report.files[0].rows_read, report.files[0].inserted) == (0, 0)
    path = write(
        tmp_path / "companies.csv",
        [
            ["Company name", "Website"],
            ["Too", "many", "values"],
            ["Too few"],
            ["W" * 300, ""],
            ["Fine", "fine.com", ""],  # a trailing empty value is harmless
        ],
    )
    report = run_import(services.session_factory, ws, [(path, None)], ImportOptions())
    problems = [(p.line, p.message) for p in report.files[0].problems]
    assert problems[0] == (2, "has 3 values but the header has 2 columns")
    assert problems[1] == (3, "has 1 values but the header has 2 columns")
    assert problems[2][0] == 4 and "too long" in problems[2][1]
    assert report.files[0].inserted == 1


def test_a_failure_halfway_leaves_the_database_as_it_was(services, ws, tmp_path, monkeypatch):
    companies = write(tmp_path / "companies.csv", [["Name"], ["Acme"], ["Globex"]])
    # Valid UTF-8 for the first 64 KB (so it is detected as UTF-8), then a Latin-1 byte.
    body = b"Subject,Date,Company\n" + b"Call,2024-01-01,Acme\n" * 4000 + b"Caf\xe9,2024-01-02,Acme\n"
    (tmp_path / "activities.csv").write_bytes(body)
    files = [(companies, None), (tmp_path / "activities.csv", None)]
    with pytest.raises(ImportFileError, match=r"around line \d+ .*not valid utf-8.*--encoding"):
        run_import(services.session_factory, ws, files, ImportOptions(batch_size=500))
    assert count(services, Customer) == 0 and count(services, Activity) == 0
    assert not list(tmp_path.glob("*.rejects.csv")) and not list(tmp_path.glob(".rejects-*"))
    # An unclosed quote swallowing the rest of the file is a clear error too.
    monkeypatch.setattr(importer.reader, "ROW_LIMIT", 1000)
    (tmp_path / "activities.csv").write_bytes(b'Subject,Date,Company\n"Call,2024-01-01,Acme\n' + b"x" * 2000)
    with pytest.raises(ImportFileError, match="unclosed quote"):
        run_import(services.session_factory, ws, files, ImportOptions())
    assert count(services, Customer) == 0


# -- the CLI as a real process ------------------------------------------------------------------
def crm_bot(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_"))}
    env["DATABASE_URL"] = database_url
    return run([CRM_BOT, *args], cwd=cwd, env=env, timeout=120)


def test_cli_import_dry_run_then_real_run(database_url, tmp_path):
    sample_files(tmp_path)
    files = ["companies.csv", "people.csv", "--deals", "deals.csv", "--activities", "tasks.csv"]
    dry = crm_bot(database_url, "import", *files, "--team", "T0CLI", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was written." in dry.stdout
    assert "line 3: Email: “bob@” isn't an email address" in dry.stdout
    assert "line 5 “Acmee Corp” ~ line 2 Acme Corporation in this file" in dry.stdout
    assert "people.csv line 5: “99”" in dry.stdout
    run = crm_bot(database_url, "import", *files, "--team", "T0CLI", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "6 rows read, 5 valid: 5 new" in run.stdout
    assert f"to fix and import again: {tmp_path / 'companies.rejects.csv'}" in run.stdout
    # Not a terminal: plain progress lines, no carriage returns, no tracebacks.
    assert "companies.csv: 6 rows" in run.stderr and "\r" not in run.stderr
    assert "Traceback" not in run.stderr + dry.stderr


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "companies.csv is empty"),
        (b"\x00\x01\x02\x03" * 100, "binary"),
        (b"Firma\nAcme\n", "no column holds the customer's name"),
    ],
)
def test_cli_bad_files_fail_clearly(tmp_path, data, message):
    (tmp_path / "companies.csv").write_bytes(data)
    result = crm_bot(f"sqlite:///{tmp_path / 'crm.db'}", "import", "companies.csv", "--team", "T0", cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr and "Nothing was imported." in result.stderr
    assert "Traceback" not in result.stderr
    missing = crm_bot(f"sqlite:///{tmp_path / 'crm.db'}", "import", "nope.csv", "--team", "T0", cwd=tmp_path)
    assert missing.returncode == 1 and "nope.csv does not exist" in missing.stderr


def test_progress_bar_on_a_terminal():
    from bot.cli_data import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out, tty=True, interval=0)
    printer("activities.csv", 500, 50, 100, False)
    printer("activities.csv", 1000, 100, 100, True)
    text = out.getvalue()
    assert text.startswith("\ractivities.csv") and "[############------------]  50%" in text and "ETA" in text
    assert text.endswith("\n") and "done in" in text


def test_a_cell_that_a_spreadsheet_would_run_is_imported_as_typed_with_a_warning(services, ws, tmp_path):
    formula = '=HYPERLINK("http://evil.example","Acme")'
    rows = [["Name", "Website"], [formula, ""], ["Globex", "globex.com"], ["-5 Below Outlet", ""]]
    report = run_import(
        services.session_factory, ws, [(write(tmp_path / "companies.csv", rows), None)], ImportOptions()
    )
    assert (report.files[0].inserted, report.files[0].rejected) == (3, 0)  # nothing refused: kept as it was
    warnings = [w for w in report.files[0].warnings if w.category == "looks like a formula"]
    assert [w.line for w in warnings] == [2]  # "-5 Below Outlet" is a name, not a formula
    assert "looks like a spreadsheet formula: kept as typed" in warnings[0].message
    with services.session_factory() as s:
        assert s.scalar(select(Customer.name).where(Customer.name.startswith("=HYPER"))) == formula
