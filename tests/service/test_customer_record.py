"""The fuller customer record on real SQLite and PostgreSQL: validators, details, lifecycle
stages with history, custom fields (definitions and typed values), audit, nothing half-written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import custom_fields as cf
from crm import customers as svc
from crm import fields
from crm.actors import Actor
from crm.errors import Conflict, InvalidFields, InvalidInput, PermissionDenied
from crm.lifecycle import DEFAULT as LIFECYCLE
from crm.lifecycle import parse_lifecycle_stages
from crm.models import AuditEntry, Contact, Customer, CustomerLifecycleChange, CustomerTag, CustomFieldValue

REP, ADMIN = Actor("U0REP"), Actor("U0ADMIN", is_admin=True)
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def ws(services) -> int:
    return services.workspace_id("T0TEST")


def new_customer(services, ws, name="Acme Corporation"):
    return svc.create_customer(services.session_factory, services.search, ws, actor=REP.user_id, name=name)


def save(services, ws, customer_id, **kw):
    form = svc.CustomerForm(name=kw.pop("name", "Acme Corporation"), **kw)
    return svc.save_customer(
        services.session_factory, services.search, ws, customer_id, form, actor=REP, stages=LIFECYCLE
    )


# -- pure validators ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "region", "stored", "shown"),
    [
        ("(415) 555-0123", "US", "+14155550123", "(415) 555-0123"),
        ("+1 415 555 0123 ext. 12", "US", "+14155550123;ext=12", "(415) 555-0123 ext. 12"),
        ("030 1234567", "DE", "+49301234567", "030 1234567"),
        ("+44 20 7946 0958", "US", "+442079460958", "+44 20 7946 0958"),
        ("", "US", None, ""),
    ],
)
def test_phone_is_stored_e164_and_shown_national_in_its_region(typed, region, stored, shown):
    assert fields.clean_phone(typed, region=region) == stored
    assert fields.show_phone(stored, region=region) == shown


@pytest.mark.parametrize("typed", ["N/A", "call me", "555-1234", "+1 000 000 0000", "1" * 80])
def test_bad_phones_get_a_sentence_naming_the_field(typed):
    with pytest.raises(InvalidInput) as err:
        fields.clean_phone(typed, field="contact_mobile_phone", label="mobile phone")
    assert err.value.field == "contact_mobile_phone" and "phone" in err.value.message


@pytest.mark.parametrize(
    ("typed", "code"),
    [("US", "US"), ("usa", "US"), ("United States", "US"), ("United States of America", "US"), ("Bolivia", "BO")],
)
def test_countries_resolve_by_code_and_name(typed, code):
    assert fields.clean_country(typed) == code


@pytest.mark.parametrize("typed", ["Deutschland", "Narnia", "N/A", "U.S."])
def test_unknown_countries_are_refused_not_guessed(typed):
    with pytest.raises(InvalidInput) as err:
        fields.clean_country(typed, field="billing_country", label="billing country")
    assert err.value.field == "billing_country" and "billing country" in err.value.message


def test_regions_are_iso_3166_2_where_known_and_as_typed_elsewhere():
    assert fields.clean_region("CA", "US") == "US-CA"
    assert fields.clean_region("california", "US") == "US-CA"
    assert fields.clean_region("Bayern", "DE") == "DE-BY"
    assert fields.clean_region("Somewhere", None) == "Somewhere"
    assert fields.region_name("US-CA") == "California"
    with pytest.raises(InvalidInput, match="isn't a region of United States"):
        fields.clean_region("Atlantis", "US")


def test_emails_are_checked_by_syntax_only():
    assert fields.clean_email(" Bob@ACME.com ") == "bob@acme.com"
    assert fields.clean_email("bob@no-such-domain-anywhere.invalid-tld-xyz") is not None  # no DNS look-up
    with pytest.raises(InvalidInput, match="isn't an email address"):
        fields.clean_email("bob@", field="contact_email")


def test_lifecycle_stages_parse_like_the_other_fixed_lists():
    stages = parse_lifecycle_stages("lead:Lead:🌱,customer:Customer:🤝:client,churned:Churned:👋")
    assert stages.keys == ("lead", "customer", "churned")
    assert stages.resolve("Client").key == "customer"
    assert stages.describe("prospect").retired
    with pytest.raises(ValueError, match="appears twice"):
        parse_lifecycle_stages("lead,lead")


# -- the fuller record -----------------------------------------------------------------------------
FULL = svc.DetailsInput(
    phone="(415) 555-0123",
    billing=svc.AddressInput("1 Market St", "San Francisco", "CA", "94105", "USA"),
    shipping=svc.AddressInput("Hauptstr. 5", "München", "Bayern", "80331", "Germany"),
    industry="Robotics",
    employees="1,200",
    annual_revenue="12,500,000.50",
    revenue_currency="eur",
    description="Line one\r\nLine two\u200b",
    tags="Enterprise, enterprise ; #EMEA, Priority",
)


def test_save_customer_keeps_every_detail_and_audits_before_and_after(services, ws):
    c = new_customer(services, ws)
    save(services, ws, c.id, details=FULL, lifecycle_stage="Prospect")
    with services.session_factory() as s:
        row = s.get(Customer, c.id)
        assert (row.phone, row.billing_region, row.billing_country) == ("+14155550123", "US-CA", "US")
        assert (row.shipping_region, row.shipping_country, row.shipping_city) == ("DE-BY", "DE", "München")
        assert (row.employees, row.annual_revenue_minor, row.annual_revenue_currency) == (1200, 1_250_000_050, "EUR")
        assert row.description == "Line one\nLine two"
        assert row.lifecycle_stage == "prospect"
        assert svc.tags_of(s, c.id) == ["EMEA", "Enterprise", "Priority"]
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity_id == c.id).order_by(AuditEntry.id.desc())).first()
        assert entry.action == "lifecycle" and entry.created_by == REP.user_id
        assert entry.before["phone"] is None and entry.after["phone"] == "+14155550123"
        assert entry.after["tags"] == ["EMEA", "Enterprise", "Priority"] and entry.before["tags"] == []
    # Saving the same tags in another case changes their spelling, never duplicates them.
    save(services, ws, c.id, details=svc.DetailsInput(tags="emea, PRIORITY"))
    with services.session_factory() as s:
        assert svc.tags_of(s, c.id) == ["emea", "PRIORITY"]
        assert s.scalar(select(func.count()).select_from(CustomerTag)) == 2


def test_every_bad_field_is_reported_at_once_and_nothing_is_written(services, ws):
    c = new_customer(services, ws)
    bad = svc.DetailsInput(
        phone="N/A",
        billing=svc.AddressInput(country="Narnia"),
        shipping=svc.AddressInput(region="Atlantis", country="US"),
        employees="lots",
        annual_revenue="12,5k",
        description="x" * 10_000,
        tags="ok",
    )
    with pytest.raises(InvalidFields) as err:
        save(services, ws, c.id, details=bad, lifecycle_stage="Martian")
    assert set(err.value.errors) == {
        "phone",
        "billing_country",
        "shipping_region",
        "employees",
        "annual_revenue",
        "description",
        "lifecycle_stage",
    }
    assert "10,000 characters" in err.value.errors["description"]
    with services.session_factory() as s:
        row = s.get(Customer, c.id)
        assert row.phone is None and row.lifecycle_stage is None and svc.tags_of(s, c.id) == []
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "update")) == 0


def test_lifecycle_changes_are_kept_with_who_and_when_and_counted(services, ws):
    a, b = new_customer(services, ws, "Acme"), new_customer(services, ws, "Globex")
    sf = services.session_factory
    svc.change_lifecycle(sf, ws, a.id, "lead", actor=REP, stages=LIFECYCLE, now=T0)
    svc.change_lifecycle(sf, ws, a.id, "customer", actor=REP, stages=LIFECYCLE, now=T0 + timedelta(days=3))
    _, moved = svc.change_lifecycle(sf, ws, a.id, "Customer", actor=REP, stages=LIFECYCLE, now=T0 + timedelta(days=4))
    assert not moved  # same stage: no second history row
    svc.change_lifecycle(sf, ws, b.id, "client", actor=ADMIN, stages=LIFECYCLE, now=T0 + timedelta(days=40))
    history = svc.lifecycle_history(sf, ws, a.id)
    assert [(h.from_stage, h.to_stage, h.created_by) for h in history] == [
        (None, "lead", REP.user_id),
        ("lead", "customer", REP.user_id),
    ]
    assert history[1].created_at == T0 + timedelta(days=3)
    november = svc.conversions(sf, ws, since=T0 - timedelta(days=1), until=T0 + timedelta(days=28))
    assert november == {"lead": 1, "customer": 1}
    assert svc.conversions(sf, ws, since=T0, until=T0 + timedelta(days=60), to_stage="customer") == {"customer": 2}
    with pytest.raises(InvalidInput, match="isn't a lifecycle stage"):
        svc.change_lifecycle(sf, ws, a.id, "martian", actor=REP, stages=LIFECYCLE)


def test_contact_phones_and_address(services, ws):
    c = new_customer(services, ws)
    person = svc.ContactInput(
        name="Jane Doe",
        phone="030 1234567",
        mobile_phone="0151 23456789",
        address=svc.AddressInput("Hauptstr. 5", "Berlin", "Berlin", "10115", "DE"),
    )
    saved = svc.add_contact(services.session_factory, services.search, ws, c.id, person, actor="U0REP", region="DE")
    with services.session_factory() as s:
        row = s.get(Contact, saved.id)
        assert (row.work_phone, row.mobile_phone) == ("+49301234567", "+4915123456789")
        assert (row.city, row.region, row.country) == ("Berlin", "DE-BE", "DE")
    with pytest.raises(InvalidFields) as err:
        svc.add_contact(
            services.session_factory,
            services.search,
            ws,
            c.id,
            svc.ContactInput(name="Bob", mobile_phone="N/A", email="bob@", address=svc.AddressInput(country="Xx")),
            actor="U0REP",
        )
    assert set(err.value.errors) == {"contact_mobile_phone", "contact_email", "contact_country"}


# -- custom fields ----------------------------------------------------------------------------------
def test_only_admins_define_fields(services, ws):
    with pytest.raises(PermissionDenied, match="Only workspace admins"):
        cf.define_field(services.session_factory, ws, actor=REP, entity="customer", label="Tier", type="text")


@pytest.mark.parametrize("label", ["Phone", "billing country", "Annual revenue", "TAGS", "lifecycle-stage"])
def test_a_field_may_not_shadow_a_built_in_one(services, ws, label):
    with pytest.raises(InvalidInput, match="already a built-in field of customers"):
        cf.define_field(services.session_factory, ws, actor=ADMIN, entity="customer", label=label, type="text")


def test_renaming_and_retiring_a_field_lose_no_value(services, ws):
    sf = services.session_factory
    c = new_customer(services, ws)
    tier = cf.define_field(
        sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=["Gold", "Silver"]
    )
    seats = cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Seats", type="number")
    save(services, ws, c.id, custom={"tier": "gold", "seats": "1,250.50"})
    cf.rename_field(sf, ws, tier.id, actor=ADMIN, label="Support tier")
    cf.retire_field(sf, ws, seats.id, actor=ADMIN)
    assert [f.label for f in cf.list_fields(sf, ws, "customer")] == ["Support tier"]
    with pytest.raises(Conflict):
        cf.retire_field(sf, ws, seats.id, actor=ADMIN)
    cf.unretire_field(sf, ws, seats.id, actor=ADMIN)
    with sf() as s:
        values = cf.load_values(s, ws, "customer", [c.id])[c.id]
        defs = cf.definitions.fields_in(s, ws, "customer")
    assert cf.values_by_key(defs, values) == {"tier": "Gold", "seats": "1250.5"}
    assert cf.show_value(defs[1], values[seats.id]) == "1,250.5"


def test_removing_an_option_in_use_says_how_many_records_use_it(services, ws):
    sf = services.session_factory
    tier = cf.define_field(
        sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=["Gold", "Silver", "Bronze"]
    )
    for name in ("Acme", "Globex", "Initech"):
        save(services, ws, new_customer(services, ws, name).id, name=name, custom={"tier": "Gold"})
    with pytest.raises(InvalidInput, match="“Gold” is still used by 3 customers"):
        cf.set_options(sf, ws, tier.id, ["Silver", "Bronze"], actor=ADMIN)
    renamed = cf.rename_option(sf, ws, tier.id, "gold", "Gold+", actor=ADMIN)
    assert [o.label for o in renamed.options] == ["Gold+", "Silver", "Bronze"]
    shorter = cf.set_options(sf, ws, tier.id, ["gold+", "Silver", "Platinum"], actor=ADMIN)  # Bronze unused
    assert [(o.key, o.label) for o in shorter.options] == [
        ("gold", "gold+"),
        ("silver", "Silver"),
        ("platinum", "Platinum"),
    ]


def test_an_option_in_use_is_renamed_in_the_options_list_with_an_arrow(services, ws):
    sf = services.session_factory
    tier = cf.define_field(
        sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=["Gold", "Silver"]
    )
    acme = new_customer(services, ws, "Acme")
    save(services, ws, acme.id, name="Acme", custom={"tier": "Gold"})
    saved = cf.set_options(sf, ws, tier.id, ["Gold → Platinum", "Silver"], actor=ADMIN)
    assert [(o.key, o.label) for o in saved.options] == [("gold", "Platinum"), ("silver", "Silver")]
    with sf() as s:
        values = cf.load_values(s, ws, "customer", [acme.id])[acme.id]
        defs = cf.definitions.fields_in(s, ws, "customer")
    assert cf.values_by_key(defs, values) == {"tier": "Platinum"}  # the customer's value came along
    again = cf.set_options(sf, ws, tier.id, ["Platinum -> Gold", "Silver"], actor=ADMIN)
    assert [o.label for o in again.options] == ["Gold", "Silver"]
    with pytest.raises(InvalidInput, match="“Bronze” isn't one of the options, so it can't be renamed"):
        cf.set_options(sf, ws, tier.id, ["Bronze → Copper", "Gold", "Silver"], actor=ADMIN)
    with pytest.raises(InvalidInput, match="can't be the new name of “Gold”"):  # Silver is taken
        cf.set_options(sf, ws, tier.id, ["Silver", "Gold → Silver"], actor=ADMIN)
    with pytest.raises(InvalidInput, match="“Silver” is listed twice"):
        cf.set_options(sf, ws, tier.id, ["Gold → Silver", "Silver"], actor=ADMIN)


@pytest.mark.parametrize(
    ("type_", "options", "typed", "plain"),
    [
        ("text", None, "  hello   world ", "hello world"),
        ("number", None, "-1,234.5000", "-1234.5"),
        ("money", None, "12,500.50 EUR", "12500.50 EUR"),
        ("money", None, "JPY 1200", "1200 JPY"),
        ("date", None, "2026-12-31", "2026-12-31"),
        ("yes_no", None, "Yes", True),
        ("yes_no", None, "no", False),
        ("one_of", ["Gold", "Silver"], "silver", "Silver"),
        ("several_of", ["EMEA", "APAC", "US"], "apac; emea; APAC", ["APAC", "EMEA"]),
        ("url", None, "acme.com/pricing", "https://acme.com/pricing"),
        ("email", None, "Bob@Acme.com", "bob@acme.com"),
        ("person", None, "U0ABC123", "U0ABC123"),
    ],
)
def test_typed_values_round_trip(services, ws, type_, options, typed, plain):
    sf = services.session_factory
    c = new_customer(services, ws)
    f = cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Thing", type=type_, options=options)
    after = cf.set_values(sf, ws, "customer", c.id, {f.key: typed}, actor=REP)
    assert after == {f.key: plain}


@pytest.mark.parametrize(
    ("type_", "options", "typed"),
    [
        ("number", None, "N/A"),
        ("number", None, "1e9"),
        ("money", None, "-5"),
        ("money", None, "5 XYZ"),
        ("date", None, "next week"),
        ("yes_no", None, "maybe"),
        ("one_of", ["Gold"], "Platinum"),
        ("url", None, "not a url at all"),
        ("email", None, "bob@"),
        ("person", None, "<@U0ABC>"),
    ],
)
def test_wrong_type_values_are_refused_naming_the_field(services, ws, type_, options, typed):
    sf = services.session_factory
    c = new_customer(services, ws)
    f = cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Renewal thing", type=type_, options=options)
    with pytest.raises(InvalidInput) as err:
        cf.set_values(sf, ws, "customer", c.id, {f.key: typed}, actor=REP)
    assert err.value.field == f"cf:{f.key}" and "Renewal thing" in err.value.message
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(CustomFieldValue)) == 0


def test_field_definition_hostile_input(services, ws):
    sf = services.session_factory
    define = cf.define_field
    with pytest.raises(InvalidInput, match="needs at least one option"):
        define(sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=[])
    with pytest.raises(InvalidInput, match="isn't a field type"):
        define(sf, ws, actor=ADMIN, entity="customer", label="Tier", type="colour")
    with pytest.raises(InvalidInput, match="listed twice"):
        define(sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=["Gold", "gold "])
    with pytest.raises(InvalidInput, match="too long"):
        define(sf, ws, actor=ADMIN, entity="customer", label="x" * 81, type="text")
    define(sf, ws, actor=ADMIN, entity="customer", label="Tier", type="text")
    with pytest.raises(InvalidInput, match="already a field called"):
        define(sf, ws, actor=ADMIN, entity="customer", label="TIER", type="number")
    # The same name on another kind of record is fine; a deal's "Phone" is not built in.
    define(sf, ws, actor=ADMIN, entity="deal", label="Tier", type="text")
    define(sf, ws, actor=ADMIN, entity="deal", label="Phone", type="text")


def test_reorder_fields(services, ws):
    sf = services.session_factory
    ids = [cf.define_field(sf, ws, actor=ADMIN, entity="contact", label=n, type="text").id for n in ("A", "B", "C")]
    ordered = cf.reorder_fields(sf, ws, "contact", [ids[2], ids[0]], actor=ADMIN)
    assert [f.label for f in ordered] == ["C", "A", "B"]
    with pytest.raises(InvalidInput):
        cf.reorder_fields(sf, ws, "contact", [ids[0], ids[0]], actor=ADMIN)
    with pytest.raises(PermissionDenied):
        cf.reorder_fields(sf, ws, "contact", ids, actor=REP)


def test_contact_and_deal_records_take_custom_values(services, ws):
    sf = services.session_factory
    c = new_customer(services, ws)
    jane = svc.add_contact(sf, services.search, ws, c.id, svc.ContactInput(name="Jane"), actor="U0REP")
    linkedin = cf.define_field(sf, ws, actor=ADMIN, entity="contact", label="LinkedIn", type="url")
    assert cf.set_values(sf, ws, "contact", jane.id, {linkedin.key: "linkedin.com/in/jane"}, actor=REP) == {
        "linkedin": "https://linkedin.com/in/jane"
    }
    assert cf.set_values(sf, ws, "contact", jane.id, {linkedin.key: ""}, actor=REP) == {}
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(CustomerLifecycleChange)) == 0
        assert s.scalars(select(AuditEntry.after).where(AuditEntry.entity_type == "contact")).all()[-1]["custom"] == {}


def test_date_values_are_dates(services, ws):
    sf = services.session_factory
    c = new_customer(services, ws)
    f = cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Renewal", type="date")
    cf.set_values(sf, ws, "customer", c.id, {f.key: date(2027, 1, 31)}, actor=REP)
    with sf() as s:
        assert s.scalar(select(CustomFieldValue.value_date)) == date(2027, 1, 31)


# -- export and restore ---------------------------------------------------------------------------
def test_export_carries_the_record_custom_fields_by_label_and_restores_them(services, ws, tmp_path):
    import csv

    from crm.exporter import export_workspace, restore_workspace

    sf = services.session_factory
    c = new_customer(services, ws)
    tier = cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=["Gold"])
    cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Regions", type="several_of", options=["EMEA", "US"])
    cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Motto", type="text")
    old = cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Legacy id", type="number")
    save(
        services,
        ws,
        c.id,
        details=FULL,
        lifecycle_stage="customer",
        custom={"tier": "Gold", "regions": ["US", "EMEA"], "motto": "=HYPERLINK(1)", "legacy_id": "42"},
    )
    cf.retire_field(sf, ws, old.id, actor=ADMIN)
    cf.rename_field(sf, ws, tier.id, actor=ADMIN, label="Support tier")
    new_customer(services, ws, "Globex")  # no values: empty cells
    export_workspace(sf, ws, tmp_path / "out")
    with (tmp_path / "out" / "customers.csv").open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = {r["name"]: r for r in reader}
    assert header[-5:] == ["tags", "Support tier", "Regions", "Motto", "Legacy id (retired)"]
    acme = rows["Acme Corporation"]
    assert acme["Support tier"] == "Gold" and acme["Regions"] == "US; EMEA" and acme["Legacy id (retired)"] == "42"
    assert acme["Motto"] == "'=HYPERLINK(1)"  # formula-free
    assert acme["tags"] == "EMEA; Enterprise; Priority" and acme["billing_region"] == "US-CA"
    assert acme["annual_revenue_minor"] == "1250000050" and acme["lifecycle_stage"] == "customer"
    assert rows["Globex"]["Support tier"] == "" and rows["Globex"]["tags"] == ""

    copy = services.workspace_id("T0COPY")
    restore_workspace(sf, copy, tmp_path / "out")
    with sf() as s:
        restored = s.scalars(
            select(Customer).where(Customer.workspace_id == copy, Customer.name == "Acme Corporation")
        ).one()
        assert restored.phone == "+14155550123" and restored.shipping_region == "DE-BY"
        assert svc.record_snapshot(s, restored)["custom"] == {
            "tier": "Gold",
            "regions": ["US", "EMEA"],
            "motto": "=HYPERLINK(1)",
            "legacy_id": "42",
        }
        assert svc.tags_of(s, restored.id) == ["EMEA", "Enterprise", "Priority"]
        history = s.scalars(select(CustomerLifecycleChange).where(CustomerLifecycleChange.workspace_id == copy)).all()
        assert [(h.customer_id, h.to_stage) for h in history] == [(restored.id, "customer")]


def test_concurrent_lifecycle_moves_keep_a_consistent_history(services, ws):
    import itertools
    import threading

    sf = services.session_factory
    c = new_customer(services, ws)
    svc.change_lifecycle(sf, ws, c.id, "lead", actor=REP, stages=LIFECYCLE, now=T0)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def move(stage: str) -> None:
        barrier.wait()
        try:
            svc.change_lifecycle(sf, ws, c.id, stage, actor=REP, stages=LIFECYCLE, now=T0 + timedelta(hours=1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(s,)) for s in ("prospect", "customer", "former_customer", "lead")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    history = svc.lifecycle_history(sf, ws, c.id)
    # Each move starts where the one before it ended: no lost update, whatever the order.
    assert all(later.from_stage == earlier.to_stage for earlier, later in itertools.pairwise(history))
    assert len(history) >= 4  # lead, then at least the three moves to other stages
    with sf() as s:
        assert s.get(Customer, c.id).lifecycle_stage == history[-1].to_stage
