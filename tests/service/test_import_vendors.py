"""Migrating from Salesforce, HubSpot and Pipedrive: their real export formats, checked record by record.

Each vendor's files use the exact headers its export writes, in the encodings those exports
(or Excel, re-saving them) really use, with quoted newlines and the values that are wrong in
real life: "Yes" in a website column, ``N/A`` phones, ``USA``/``United States``/``US``.
Services run against real SQLite files and PostgreSQL (the ``services`` fixture).
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace as replace_options
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.owner_lookup import slack_owner_lookup
from crm import importer
from crm.custom_fields.definitions import fields_in
from crm.errors import InvalidInput
from crm.importer import ImportFileError, ImportOptions, run_import
from crm.importer.owners import read_owner_mapping
from crm.importer.stages import KEPT
from crm.models import (
    Contact,
    Customer,
    CustomerLifecycleChange,
    CustomerTag,
    CustomFieldValue,
    Deal,
    DealStageChange,
)

REP = "U0REP00001"


def write(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.fixture
def ws(services) -> int:
    return services.workspace_id("T0VENDOR")


def by_ref(services, model) -> dict[str, object]:
    with services.session_factory() as s:
        rows = s.scalars(select(model)).all()
        s.expunge_all()
    return {r.external_ref: r for r in rows}


def report_of(report: importer.ImportReport, name: str) -> importer.FileReport:
    return next(f for f in report.files if f.path.name == name)


# -- Salesforce Data Loader ------------------------------------------------------------------------
SF_ACCOUNTS = [
    [
        "ID",
        "ISDELETED",
        "MASTERRECORDID",
        "NAME",
        "TYPE",
        "PARENTID",
        "BILLINGSTREET",
        "BILLINGCITY",
        "BILLINGSTATE",
        "BILLINGPOSTALCODE",
        "BILLINGCOUNTRY",
        "SHIPPINGSTREET",
        "SHIPPINGCITY",
        "SHIPPINGSTATE",
        "SHIPPINGPOSTALCODE",
        "SHIPPINGCOUNTRY",
        "PHONE",
        "FAX",
        "ACCOUNTNUMBER",
        "WEBSITE",
        "INDUSTRY",
        "ANNUALREVENUE",
        "NUMBEROFEMPLOYEES",
        "DESCRIPTION",
        "OWNERID",
        "CREATEDDATE",
        "SYSTEMMODSTAMP",
        "LASTMODIFIEDDATE",
        "LASTVIEWEDDATE",
        "RATING",
    ],
    [
        "0015g00000ABCDEAA1",
        "false",
        "",
        "Edge Communications",
        "Customer - Direct",
        "",
        "312 Constitution Place\nSuite 100",  # a quoted newline, as Salesforce writes multi-line streets
        "Austin",
        "TX",
        "78767",
        "USA",
        "312 Constitution Place",
        "Austin",
        "TX",
        "78767",
        "United States",
        "(512) 757-6000",
        "(512) 757-9000",
        "CD451796",
        "http://edgecomm.com",
        "Electronics",
        "139000000",
        "1000",
        "Edge, founded in 1998, is a start-up based in Austin, TX.",
        "0055g00000OWNER1",
        "2019-03-04T17:15:43.000Z",
        "2024-01-01T00:00:00.000Z",
        "2024-01-01T00:00:00.000Z",
        "",
        "Hot",
    ],
    [
        "0015g00000ABCDEAA2",
        "false",
        "",
        "Société Générale Sécurité",
        "Customer - Channel",
        "",
        "2 Place de la Bourse",
        "Paris",
        "",
        "75002",
        "France",
        "",
        "",
        "",
        "",
        "",
        "N/A",  # no phone: not an error
        "",
        "CC978213",
        "Yes",  # a checkbox exported into the website column
        "Banking",
        "950000000.0",
        "3,500",
        "",
        "0055g00000OWNER2",
        "2020-11-20T09:00:00.000Z",
        "",
        "",
        "",
        "Warm",
    ],
    [
        "0015g00000ABCDEAA3",
        "false",
        "",
        "Pyramid Construction Inc.",
        "Customer - Channel",
        "",
        "2 Place Jussieu",
        "Paris",
        "Nowhere Province",  # with no country it can be checked against: kept as typed
        "75251",
        "Atlantis",  # not a country: dropped
        "",
        "",
        "",
        "",
        "",
        "call the office",  # not a phone
        "",
        "CC213425",
        "www.pyramid.com",
        "Construction",
        "lots",  # not an amount
        "2683",
        "",
        "0055g00000OWNER1",
        "2021-05-05T08:00:00.000Z",
        "",
        "",
        "",
        "Hot",
    ],
]

SF_OPPORTUNITIES = [
    [
        "ID",
        "ISDELETED",
        "ACCOUNTID",
        "NAME",
        "STAGENAME",
        "AMOUNT",
        "PROBABILITY",
        "CLOSEDATE",
        "TYPE",
        "ISCLOSED",
        "ISWON",
        "OWNERID",
        "CREATEDDATE",
        "SYSTEMMODSTAMP",
    ],
    [
        "0065g00000OPP0001",
        "false",
        "0015g00000ABCDEAA1",
        "Edge Emergency Generator",
        "Closed Won",
        "75000",
        "100",
        "2023-08-15",
        "Existing Customer - Upgrade",
        "true",
        "true",
        "0055g00000OWNER1",
        "2023-05-01T10:00:00.000Z",
        "",
    ],
    [
        "0065g00000OPP0002",
        "false",
        "0015g00000ABCDEAA2",
        "Société Générale SLA",
        "Id. Decision Makers",
        "120000.50",
        "60",
        "2024-09-30",
        "New Customer",
        "false",
        "false",
        "0055g00000OWNER2",
        "2024-02-01T10:00:00.000Z",
        "",
    ],
    [
        "0065g00000OPP0003",
        "false",
        "0015g00000ABCDEAA3",
        "Pyramid Emergency Generators",
        "Perception Analysis Custom",  # nobody's standard stage: kept as it is, and reported
        "",
        "70",
        "2024-10-31",
        "",
        "true",
        "false",  # closed, not won: lost, whatever the stage says
        "0055g00000OWNER1",
        "2024-03-01T10:00:00.000Z",
        "",
    ],
    [
        "0065g00000OPP0004",
        "false",
        "0015g00000ABCDEAA3",
        "Pyramid Site Survey",
        "Negotiation/Review",
        "5000",
        "90",
        "2024-12-01",
        "",
        "false",
        "false",
        "0055g00000NOBODY",
        "2024-04-01T10:00:00.000Z",
        "",
    ],
]

SF_CONTACTS = [
    [
        "ID",
        "ACCOUNTID",
        "LASTNAME",
        "FIRSTNAME",
        "NAME",
        "MAILINGCITY",
        "MAILINGCOUNTRY",
        "PHONE",
        "MOBILEPHONE",
        "EMAIL",
        "TITLE",
        "OWNERID",
        "CREATEDDATE",
        "LASTMODIFIEDDATE",
    ],
    [
        "0035g00000CON001",
        "0015g00000ABCDEAA1",
        "Forbes",
        "Sean",
        "Sean Forbes",
        "Austin",
        "US",
        "(512) 757-6000",
        "(512) 757-4561",
        "sean@edge.com",
        "CFO",
        "0055g00000OWNER1",
        "2019-03-04T17:20:00.000Z",
        "",
    ],
    [
        "0035g00000CON002",
        "0015g00000ABCDEAA2",
        "Dupont",
        "Amélie",
        "Amélie Dupont",
        "Paris",
        "FR",
        "+33 1 42 14 20 00",
        "N/A",
        "amelie.dupont@socgen",  # no top-level domain: dropped, the contact stays
        "Directrice",
        "0055g00000OWNER2",
        "2020-11-21T09:00:00.000Z",
        "",
    ],
]


def salesforce_files(d: Path) -> list[tuple[Path, str | None]]:
    return [
        (write(d / "Account.csv", SF_ACCOUNTS, encoding="utf-8-sig"), None),  # Data Loader writes a BOM
        (write(d / "extract.csv", SF_OPPORTUNITIES), None),  # the kind from the columns alone
        (write(d / "Contact.csv", SF_CONTACTS, encoding="utf-8-sig"), None),
    ]


def test_salesforce_dry_run_is_a_checklist_of_every_column(services, ws, tmp_path):
    report = run_import(services.session_factory, ws, salesforce_files(tmp_path), ImportOptions(dry_run=True))
    accounts, opportunities = report_of(report, "Account.csv"), report_of(report, "extract.csv")
    assert accounts.vendor == "Salesforce" and accounts.kind == "customers"
    assert opportunities.kind == "deals" and "STAGENAME" in opportunities.kind_reason
    assert accounts.encoding == "utf-8-sig"
    mapped = {h for headers in accounts.columns.values() for h in headers.split(", ")}
    custom = {c.header: (c.label, c.type) for c in accounts.custom}
    skipped = {h for h, _ in accounts.skipped}
    # No column dropped silently: each one is mapped, offered or skipped.
    assert mapped | set(custom) | skipped == set(SF_ACCOUNTS[0])
    assert not (mapped & set(custom)) and not (mapped & skipped) and not (set(custom) & skipped)
    assert {"ISDELETED", "SYSTEMMODSTAMP", "LASTMODIFIEDDATE", "LASTVIEWEDDATE", "MASTERRECORDID"} <= skipped
    assert custom["ACCOUNTNUMBER"] == ("Account Number", "text")
    assert custom["TYPE"] == ("Account Type", "one-of-a-list") or custom["TYPE"][1] == "text"
    assert {"BILLINGCITY", "SHIPPINGCOUNTRY", "PHONE", "INDUSTRY", "ANNUALREVENUE", "NUMBEROFEMPLOYEES"} <= mapped
    assert accounts.columns["billing_city"] == "BILLINGCITY" and accounts.columns["created"] == "CREATEDDATE"
    prob = next(c for c in opportunities.custom if c.header == "PROBABILITY")
    assert (prob.type, prob.why) == ("number", "all 4 values are numbers")
    # Bad values are listed by field and line; their rows stay valid.
    assert accounts.rows_valid == 3 and accounts.rejected == 0
    dropped = {(p.category, p.line) for p in accounts.warnings}
    # Lines of the file: the first account's street runs over two lines.
    assert {("invalid website", 4), ("invalid country", 5), ("invalid phone", 5)} <= dropped
    assert ("invalid amount", 5) in dropped
    # Stages: mapped by the stated rule, the unknown one kept and reported.
    assert opportunities.stages[("Id. Decision Makers", "qualified")] == 1
    assert opportunities.stages[("Perception Analysis Custom", KEPT)] == 0  # closed and not won: lost
    assert opportunities.stages[("Negotiation/Review", "negotiation")] == 1
    # Owners: Salesforce user ids mean nothing here; reported with counts, never guessed.
    owners = {old: n for (old, slack), n in opportunities.owners.items() if not slack}
    assert owners == {"0055g00000OWNER1": 2, "0055g00000OWNER2": 1, "0055g00000NOBODY": 1}
    assert not report.missing_companies  # every opportunity links by ACCOUNTID


def test_salesforce_import_keeps_every_field_record_by_record(services, ws, tmp_path):
    mapping = write(tmp_path / "owners.csv", [["Salesforce user", "Slack user"], ["0055g00000OWNER1", REP]])
    options = ImportOptions(owners=read_owner_mapping(mapping), create_fields=True, phone_region="US")
    report = run_import(services.session_factory, ws, salesforce_files(tmp_path), options)
    assert [f.inserted for f in report.files] == [3, 2, 4]
    customers = by_ref(services, Customer)
    edge = customers["0015g00000ABCDEAA1"]
    assert (edge.name, edge.phone, edge.website, edge.industry) == (
        "Edge Communications",
        "+15127576000",
        "http://edgecomm.com",
        "Electronics",
    )
    assert (edge.billing_street, edge.billing_city, edge.billing_region, edge.billing_postal_code) == (
        "312 Constitution Place\nSuite 100".replace("\n", " "),
        "Austin",
        "US-TX",
        "78767",
    )
    assert (edge.billing_country, edge.shipping_country, edge.shipping_region) == ("US", "US", "US-TX")
    assert (edge.employees, edge.annual_revenue_minor, edge.annual_revenue_currency) == (1000, 13900000000, "USD")
    assert edge.description == "Edge, founded in 1998, is a start-up based in Austin, TX."
    assert edge.owner_user_id == REP and edge.created_at.replace(tzinfo=UTC) == datetime(
        2019, 3, 4, 17, 15, 43, tzinfo=UTC
    )
    socgen = customers["0015g00000ABCDEAA2"]
    assert (socgen.name, socgen.phone, socgen.website, socgen.billing_country) == (
        "Société Générale Sécurité",
        None,  # "N/A"
        None,  # "Yes"
        "FR",
    )
    assert (socgen.employees, socgen.annual_revenue_minor, socgen.owner_user_id) == (3500, 95000000000, None)
    pyramid = customers["0015g00000ABCDEAA3"]
    assert (pyramid.billing_region, pyramid.billing_country, pyramid.phone) == ("Nowhere Province", None, None)
    assert (pyramid.annual_revenue_minor, pyramid.employees, pyramid.website) == (None, 2683, "www.pyramid.com")

    deals = by_ref(services, Deal)
    won = deals["0065g00000OPP0001"]
    assert (won.customer_id, won.stage, won.amount_minor, won.expected_close) == (
        edge.id,
        "won",
        7500000,
        date(2023, 8, 15),
    )
    assert won.closed_at is not None and won.closed_at.date() == date(2023, 8, 15)
    assert won.created_at.replace(tzinfo=UTC) == datetime(2023, 5, 1, 10, tzinfo=UTC)
    assert (deals["0065g00000OPP0002"].stage, deals["0065g00000OPP0002"].amount_minor) == ("qualified", 12000050)
    assert deals["0065g00000OPP0003"].stage == "lost" and deals["0065g00000OPP0004"].stage == "negotiation"
    assert deals["0065g00000OPP0004"].owner_user_id is None  # 0055g00000NOBODY is mapped to no one
    with services.session_factory() as s:
        history = set(s.execute(select(DealStageChange.deal_id, DealStageChange.to_stage)).all())
    assert (won.id, "won") in history

    contacts = by_ref(services, Contact)
    sean = contacts["0035g00000CON001"]
    assert (sean.name, sean.email, sean.phone, sean.mobile_phone, sean.title) == (
        "Sean Forbes",
        "sean@edge.com",
        "+15127576000",
        "+15127574561",
        "CFO",
    )
    assert (sean.customer_id, sean.city, sean.country) == (edge.id, "Austin", "US")
    amelie = contacts["0035g00000CON002"]
    assert (amelie.name, amelie.email, amelie.phone, amelie.mobile_phone, amelie.customer_id) == (
        "Amélie Dupont",
        None,
        "+33142142000",
        None,
        socgen.id,
    )

    # --create-fields: the offered columns are custom fields now, with their values.
    with services.session_factory() as s:
        defs = {d.label: d for d in fields_in(s, ws, "customer")}
        values = {
            (v.field_id, v.record_id): v
            for v in s.scalars(select(CustomFieldValue).where(CustomFieldValue.workspace_id == ws))
        }
    assert {"Account Number", "Account Type", "Fax", "Rating"} <= set(defs)
    number = defs["Account Number"]
    assert values[(number.id, edge.id)].value_text == "CD451796"
    assert values[(defs["Fax"].id, edge.id)].value_text == "(512) 757-9000"

    # Run again: nothing new, nothing changed; the rejects file lists the dropped values by line.
    again = run_import(services.session_factory, ws, salesforce_files(tmp_path), options)
    assert [f.inserted for f in again.files] == [0, 0, 0] and [f.updated for f in again.files] == [0, 0, 0]
    with services.session_factory() as s:
        assert len(s.scalars(select(CustomFieldValue)).all()) == len(values)
    rejects = (tmp_path / "Account.rejects.csv").read_text(encoding="utf-8-sig")
    assert "WEBSITE: “Yes” isn't a website" in rejects and "imported without it" in rejects


# -- HubSpot ----------------------------------------------------------------------------------------
HS_COMPANIES = [
    [
        "Record ID",
        "Company name",
        "Company owner",
        "Create Date",
        "Phone Number",
        "Last Activity Date",
        "Street Address",
        "City",
        "State/Region",
        "Postal Code",
        "Country/Region",
        "Industry",
        "Annual Revenue",
        "Number of Employees",
        "Lifecycle Stage",
        "Website URL",
        "Tags",
    ],
    [
        "5113211001",
        "Globex Corporation",
        "rep@example.com",
        "2023-02-14 09:30",
        "+1 415-555-2671",
        "2024-05-01 10:00",
        "1 Market St",
        "San Francisco",
        "California",
        "94105",
        "United States",
        "COMPUTER_SOFTWARE",
        "5000000",
        "120",
        "Customer",
        "globex.com",
        "enterprise; west coast",
    ],
    [
        "5113211002",
        "Müller & Söhne GmbH",
        "nobody@example.com",
        "2023-03-01 14:00",
        "030 1234567",  # a German number written nationally: read with the import's region
        "",
        "Friedrichstraße 43",
        "Berlin",
        "Berlin",
        "10117",
        "Deutschland",  # not a name pycountry resolves: dropped and reported, the company stays
        "MACHINERY",
        "",
        "",
        "Marketing Qualified Lead",
        "mueller.de",
        "",
    ],
    [
        "5113211003",
        "Initech",
        "",
        "2023-04-01 08:00",
        "N/A",
        "",
        "",
        "Austin",
        "TX",
        "",
        "US",
        "",
        "",
        "",
        "lead",
        "No",  # another checkbox in the website column
        "",
    ],
]
HS_CONTACTS = [
    [
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Phone Number",
        "Contact owner",
        "Associated Company IDs",
        "Create Date",
    ],
    ["901", "Jane", "Doe", "jane@globex.com", "+1 415 555 0142", "rep@example.com", "5113211001", "2023-02-15 10:00"],
    ["902", "Klaus", "Müller", "klaus@mueller.de", "", "", "5113211002;5113211001", "2023-03-02 10:00"],
    ["903", "Peter", "Gibbons", "peter@initech.com", "", "", "", "2023-04-02 10:00"],  # no company id, no match
]
HS_DEALS = [
    [
        "Record ID",
        "Deal Name",
        "Deal Stage",
        "Close Date",
        "Amount",
        "Deal owner",
        "Associated Company IDs",
        "Create Date",
    ],
    [
        "7001",
        "Globex renewal",
        "closedwon",
        "2024-01-31 00:00",
        "25000",
        "rep@example.com",
        "5113211001",
        "2023-10-01 09:00",
    ],
    [
        "7002",
        "Müller pilot",
        "appointmentscheduled",
        "2024-06-30 00:00",
        "8000",
        "",
        "999;5113211002",
        "2024-01-10 09:00",
    ],
    ["7003", "Lost cause", "closedlost", "2024-02-28 00:00", "1000", "", "5113211003", "2023-12-01 09:00"],
]


def hubspot_files(d: Path) -> list[tuple[Path, str | None]]:
    # Excel's "Unicode Text": UTF-16 with a byte-order mark, tab-separated.
    companies = write(d / "hubspot-crm-exports-all-companies.csv", HS_COMPANIES, encoding="utf-16", delimiter="\t")
    return [
        (companies, None),
        (write(d / "hubspot-crm-exports-all-contacts.csv", HS_CONTACTS), None),
        (write(d / "hubspot-crm-exports-all-deals.csv", HS_DEALS), None),
    ]


def test_hubspot_import_links_by_ids_maps_owners_by_email_and_keeps_values(services, standin, ws, tmp_path):
    standin.add_user(REP, name="rita", real_name="Rita Rep", email="rep@example.com")
    lookup = slack_owner_lookup(WebClient(token="xoxb-test", base_url=standin.base_url))
    options = ImportOptions(owner_lookup=lookup, phone_region="DE")
    report = run_import(services.session_factory, ws, hubspot_files(tmp_path), options)
    companies = report.files[0]
    assert (companies.vendor, companies.kind, companies.encoding) == ("HubSpot", "customers", "utf-16")
    assert {"Last Activity Date"} == {h for h, _ in companies.skipped}
    assert [f.inserted for f in report.files] == [3, 2, 3]
    customers = by_ref(services, Customer)
    globex, mueller, initech = (customers[k] for k in ("5113211001", "5113211002", "5113211003"))
    assert (globex.phone, globex.billing_region, globex.billing_country, globex.lifecycle_stage) == (
        "+14155552671",
        "US-CA",
        "US",
        "customer",
    )
    assert (globex.owner_user_id, globex.employees, globex.annual_revenue_minor) == (REP, 120, 500000000)
    assert (mueller.name, mueller.phone, mueller.billing_street, mueller.billing_country) == (
        "Müller & Söhne GmbH",
        "+49301234567",
        "Friedrichstraße 43",
        None,
    )
    assert (mueller.lifecycle_stage, mueller.owner_user_id) == ("prospect", None)  # HubSpot's MQL
    assert (initech.website, initech.billing_country, initech.billing_region) == (None, "US", "US-TX")
    with services.session_factory() as s:
        tags = sorted(s.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == globex.id)))
        stages = s.execute(select(CustomerLifecycleChange.customer_id, CustomerLifecycleChange.to_stage)).all()
    assert tags == ["enterprise", "west coast"]
    assert (globex.id, "customer") in stages and (mueller.id, "prospect") in stages
    country = next(p for p in companies.warnings if p.category == "invalid country")
    assert country.line == 3 and country.message.startswith("Country/Region: ")
    owners = dict(companies.owners)
    assert owners[("rep@example.com", REP)] == 1 and owners[("nobody@example.com", "")] == 1

    contacts = by_ref(services, Contact)
    assert contacts["901"].customer_id == globex.id and contacts["901"].phone == "+14155550142"
    assert contacts["902"].customer_id == mueller.id  # the first associated id that exists
    assert "903" not in contacts  # no company id, and Initech's website isn't initech.com: reported
    assert [(f, line) for f, line, _ in report.missing_companies] == [("hubspot-crm-exports-all-contacts.csv", 4)]
    deals = by_ref(services, Deal)
    assert (deals["7001"].stage, deals["7001"].owner_user_id, deals["7001"].customer_id) == ("won", REP, globex.id)
    assert deals["7002"].customer_id == mueller.id and deals["7002"].stage == "qualified"
    assert deals["7003"].stage == "lost" and deals["7003"].closed_at is not None
    several = "rows associated with several companies: linked to the first one found"
    assert report_of(report, "hubspot-crm-exports-all-contacts.csv").notes[several] == 1  # 5113211002;5113211001


# -- Pipedrive --------------------------------------------------------------------------------------
PD_ORGS = [
    [
        "Organization - ID",
        "Organization - Name",
        "Organization - Address",
        "Organization - Owner",
        "Organization - Update time",
    ],
    ["1", "Müller Maschinenbau GmbH", "Wittenbergplatz 1, 10789 Berlin, Germany", "Rita Rep", "2024-05-05 10:00:00"],
    ["2", "Café Olé", "12 Rue de Rivoli, 75001 Paris, France", "", ""],
]
PD_PEOPLE = [
    [
        "Person - ID",
        "Person - Name",
        "Person - Email (Work)",
        "Person - Phone (Work)",
        "Person - Phone (Mobile)",
        "Person - Organization",
    ],
    [
        "11",
        "Jürgen Müller",
        "juergen@mueller-maschinen.de",
        "+49 30 1234567",
        "+49 171 1234567",
        "Müller Maschinenbau GmbH",
    ],
    ["12", "Zoë Dupré", "zoe@cafeole.fr", "N/A", "", "Café Olé"],
]
PD_DEALS = [
    [
        "Deal - ID",
        "Deal - Title",
        "Deal - Value",
        "Deal - Currency",
        "Deal - Status",
        "Deal - Won time",
        "Deal - Lost time",
        "Deal - Stage",
        "Deal - Owner",
        "Organization - Name",
        "Contact person",
        "Deal - Update time",
    ],
    [
        "101",
        "Press line",
        "250000",
        "EUR",
        "won",
        "2024-03-15 16:20:00",
        "",
        "Negotiations Started",
        "Rita Rep",
        "Müller Maschinenbau GmbH",
        "Jürgen Müller",
        "",
    ],
    [
        "102",
        "Espresso bar",
        "4500",
        "EUR",
        "lost",
        "",
        "2024-04-01 09:00:00",
        "Proposal Made",
        "",
        "Café Olé",
        "Zoë Dupré",
        "",
    ],
    ["103", "Second espresso bar", "5200", "EUR", "open", "", "", "Demo Scheduled", "", "Café Olé", "Zoë Dupré", ""],
]


def test_pipedrive_cp1252_export_keeps_emails_phones_addresses_and_won_lost(services, ws, tmp_path):
    files = [
        (write(tmp_path / "organizations.csv", PD_ORGS, encoding="cp1252"), None),
        (write(tmp_path / "people.csv", PD_PEOPLE, encoding="cp1252"), None),
        (write(tmp_path / "deals.csv", PD_DEALS, encoding="cp1252"), None),
    ]
    mapping = {"rita rep": REP}
    report = run_import(services.session_factory, ws, files, ImportOptions(owners=mapping, create_fields=True))
    assert [f.vendor for f in report.files] == ["Pipedrive"] * 3 and report.files[0].encoding == "cp1252"
    customers = {c.name: c for c in by_ref(services, Customer).values()}
    mueller, cafe = customers["Müller Maschinenbau GmbH"], customers["Café Olé"]
    assert (mueller.billing_street, mueller.billing_country, mueller.owner_user_id) == (
        "Wittenbergplatz 1, 10789 Berlin",
        "DE",
        REP,
    )
    assert (cafe.billing_street, cafe.billing_country) == ("12 Rue de Rivoli, 75001 Paris", "FR")
    contacts = by_ref(services, Contact)
    assert (contacts["11"].email, contacts["11"].phone, contacts["11"].mobile_phone, contacts["11"].customer_id) == (
        "juergen@mueller-maschinen.de",
        "+49301234567",
        "+491711234567",
        mueller.id,
    )
    assert (contacts["12"].name, contacts["12"].phone, contacts["12"].customer_id) == ("Zoë Dupré", None, cafe.id)
    deals = by_ref(services, Deal)
    won, lost, open_ = deals["101"], deals["102"], deals["103"]
    assert (won.stage, won.amount_minor, won.currency, won.owner_user_id) == ("won", 25000000, "EUR", REP)
    assert won.closed_at is not None and won.closed_at.replace(tzinfo=UTC) == datetime(2024, 3, 15, 16, 20, tzinfo=UTC)
    assert lost.stage == "lost" and lost.closed_at.replace(tzinfo=UTC) == datetime(2024, 4, 1, 9, tzinfo=UTC)
    assert (open_.stage, open_.closed_at) == ("proposal", None)  # Pipedrive's "Demo Scheduled"
    deals_report = report.files[2]
    assert ("Deal - Update time", "a system column of the old CRM") in deals_report.skipped
    with services.session_factory() as s:
        person = next(d for d in fields_in(s, ws, "deal") if d.label == "Contact Person")
        kept = s.scalar(
            select(CustomFieldValue.value_text).where(
                CustomFieldValue.field_id == person.id, CustomFieldValue.record_id == won.id
            )
        )
    assert kept == "Jürgen Müller"


# -- what a file is, and files that can't be imported --------------------------------------------
@pytest.mark.parametrize(
    ("name", "header", "kind"),
    [
        ("list.csv", ["Company", "Email", "Phone", "Website"], "customers"),  # a company list with Email and Phone
        ("list.csv", ["Company", "Email", "Phone"], "customers"),
        ("list.csv", ["Name", "Email", "Company"], "contacts"),
        ("export.csv", ["ID", "ACCOUNTID", "FIRSTNAME", "LASTNAME", "EMAIL"], "contacts"),
        ("export.csv", ["ID", "NAME", "BILLINGCITY", "PHONE"], "customers"),
        ("export.csv", ["ID", "ACCOUNTID", "NAME", "STAGENAME", "AMOUNT"], "deals"),
        ("export.csv", ["Deal - Title", "Deal - Value", "Organization - Name"], "deals"),
        ("export.csv", ["Person - Name", "Person - Email (Work)", "Organization - Name"], "contacts"),
        ("export.csv", ["Organization - Name", "Organization - Address"], "customers"),
    ],
)
def test_the_kind_comes_from_the_columns_and_says_why(tmp_path, name, header, kind):
    path = write(tmp_path / name, [header, ["x"] * len(header)])
    source = importer.open_source(path, kind=None, mapping={})
    assert source.kind == kind and source.kind_reason.startswith("its columns")


def test_a_company_list_with_email_and_phone_keeps_them(services, ws, tmp_path):
    path = write(
        tmp_path / "list.csv",
        [["Company", "Email", "Phone"], ["Acme", "info@acme.com", "+1 212 555 0100"], ["Globex", "hi@globex.com", ""]],
    )
    report = run_import(services.session_factory, ws, [(path, None)], ImportOptions(create_fields=True))
    fr = report.files[0]
    assert (fr.kind, fr.rows_valid, fr.rejected) == ("customers", 2, 0)
    assert [(c.header, c.label, c.type) for c in fr.custom] == [("Email", "Email", "email")]
    with services.session_factory() as s:
        acme = s.scalars(select(Customer).where(Customer.name == "Acme")).one()
        email = s.scalar(select(CustomFieldValue.value_text).where(CustomFieldValue.record_id == acme.id))
    assert (acme.phone, email) == ("+12125550100", "info@acme.com")


def test_an_unknown_crm_without_a_name_column_gets_a_sentence(tmp_path):
    path = write(tmp_path / "export.csv", [["Kundennummer", "Ort"], ["K-1", "Köln"]])
    with pytest.raises(ImportFileError) as err:
        importer.open_source(path, kind=None, mapping={})
    message = err.value.message
    assert "not HubSpot's, Salesforce's or Pipedrive's" in message and "Kundennummer, Ort" in message
    assert '--map "Column=name"' in message


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["U0123ABCD"]], "line 1: give two columns"),
        ([["old", "slack"], ["Jane", "jane"]], "line 2: “jane” is not a Slack user id"),
    ],
)
def test_a_bad_owner_mapping_file_is_refused_with_its_line(tmp_path, rows, message):
    path = write(tmp_path / "owners.csv", rows)
    with pytest.raises(InvalidInput, match=message):
        read_owner_mapping(path)


def test_users_lookup_by_email_refusals(standin):
    lookup = slack_owner_lookup(WebClient(token="xoxb-test", base_url=standin.base_url))
    assert lookup("nobody@example.com") is None  # users_not_found
    standin.fail_next("users.lookupByEmail", error="missing_scope")
    with pytest.raises(InvalidInput, match=r"users:read\.email"):
        lookup("rep@example.com")


def test_a_rerun_with_update_brings_changed_fields_in(services, ws, tmp_path):
    options = ImportOptions(create_fields=True, phone_region="US")
    run_import(services.session_factory, ws, salesforce_files(tmp_path), options)
    changed = [row[:] for row in SF_ACCOUNTS]
    changed[1][16] = "+1 512 757 6111"  # PHONE
    changed[1][19] = "https://edge.example"  # WEBSITE
    changed[1][18] = "CD451797"  # ACCOUNTNUMBER, a custom field now
    opportunities = [row[:] for row in SF_OPPORTUNITIES]
    opportunities[2][4] = "Closed Won"  # STAGENAME
    opportunities[2][9], opportunities[2][10] = "true", "true"
    write(tmp_path / "Account.csv", changed, encoding="utf-8-sig")
    write(tmp_path / "extract.csv", opportunities)
    files = [(tmp_path / "Account.csv", None), (tmp_path / "extract.csv", None)]
    plain = run_import(services.session_factory, ws, files, options)
    assert [f.updated for f in plain.files] == [0, 0]  # without --update nothing changes
    report = run_import(services.session_factory, ws, files, replace_options(options, update=True))
    assert [(f.inserted, f.updated) for f in report.files] == [(0, 1), (0, 1)]
    edge = by_ref(services, Customer)["0015g00000ABCDEAA1"]
    assert (edge.phone, edge.website, edge.domain) == ("+15127576111", "https://edge.example", "edge.example")
    deal = by_ref(services, Deal)["0065g00000OPP0002"]
    assert deal.stage == "won" and deal.closed_at is not None
    with services.session_factory() as s:
        number = next(d for d in fields_in(s, ws, "customer") if d.label == "Account Number")
        value = s.scalar(
            select(CustomFieldValue.value_text).where(
                CustomFieldValue.field_id == number.id, CustomFieldValue.record_id == edge.id
            )
        )
        moves = s.execute(
            select(DealStageChange.from_stage, DealStageChange.to_stage).where(DealStageChange.deal_id == deal.id)
        ).all()
    assert value == "CD451797"
    assert sorted(moves, key=str) == sorted([(None, "qualified"), ("qualified", "won")], key=str)
    again = run_import(services.session_factory, ws, files, replace_options(options, update=True))
    assert [f.updated for f in again.files] == [0, 0]  # idempotent


# -- out and back in ------------------------------------------------------------------------------
_KEPT = {
    Customer: (
        "name",
        "website",
        "phone",
        "billing_street",
        "billing_city",
        "billing_region",
        "billing_country",
        "shipping_country",
        "industry",
        "employees",
        "annual_revenue_minor",
        "annual_revenue_currency",
        "description",
        "lifecycle_stage",
        "owner_user_id",
        "created_at",
    ),
    Contact: ("name", "email", "phone", "mobile_phone", "title", "city", "country", "created_at"),
    Deal: ("title", "amount_minor", "currency", "stage", "expected_close", "closed_at", "owner_user_id", "created_at"),
}


def _snapshot(services, ws: int) -> dict:
    """Every imported record by its source id, with its company's source id and its custom values by label."""
    with services.session_factory() as s:
        labels = {d.id: d.label for d in fields_in(s, ws, include_retired=True)}
        values: dict[tuple[str, int], dict[str, object]] = {}
        for v in s.scalars(select(CustomFieldValue).where(CustomFieldValue.workspace_id == ws)):
            shown = (v.value_text, v.value_int, v.value_currency, v.value_date, v.value_list)
            values.setdefault((v.entity, v.record_id), {})[labels[v.field_id]] = shown
        refs = dict(s.execute(select(Customer.id, Customer.external_ref).where(Customer.workspace_id == ws)).all())
        snap = {}
        for model, columns in _KEPT.items():
            entity = model.__tablename__[:-1]
            for row in s.scalars(select(model).where(model.workspace_id == ws)):
                cells = tuple(str(getattr(row, c)).replace("+00:00", "") for c in columns)
                company = refs.get(getattr(row, "customer_id", None))
                snap[(entity, row.external_ref)] = (cells, company, values.get((entity, row.id), {}))
        tags = sorted(
            (refs[t.customer_id], t.tag) for t in s.scalars(select(CustomerTag).where(CustomerTag.workspace_id == ws))
        )
    return {"records": snap, "tags": tags}


def test_an_export_of_the_imported_data_imports_back_unchanged(services, standin, ws, tmp_path):
    from crm.exporter import export_workspace, restore_workspace

    standin.add_user(REP, name="rita", real_name="Rita Rep", email="rep@example.com")
    lookup = slack_owner_lookup(WebClient(token="xoxb-test", base_url=standin.base_url))
    options = ImportOptions(owner_lookup=lookup, create_fields=True, phone_region="US")
    run_import(services.session_factory, ws, salesforce_files(tmp_path), options)
    run_import(services.session_factory, ws, hubspot_files(tmp_path)[:1], options)
    before = _snapshot(services, ws)
    assert len(before["records"]) == 3 + 3 + 2 + 4 and before["tags"]
    export_workspace(services.session_factory, ws, tmp_path / "export")
    other = services.workspace_id("T0RESTORED")
    restore_workspace(services.session_factory, other, tmp_path / "export")
    assert _snapshot(services, other) == before
