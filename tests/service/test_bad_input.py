"""Issue 14's bad input, each answered with a clear sentence and nothing written half: a custom
field clashing with a built-in name, a value of the wrong type, a list option removed while
records use it, and an export from an unknown CRM with no name column. (The 50 MB file with one
10 MB cell is ``tests/service/test_import_checklist.py::test_cli_a_50_mb_file_with_one_10_mb_cell``.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm import custom_fields as cf
from crm import customers as svc
from crm import importer
from crm.actors import Actor
from crm.errors import InvalidFields, InvalidInput
from crm.importer import ImportFileError, ImportOptions, run_import
from crm.lifecycle import DEFAULT as LIFECYCLE
from crm.models import AuditEntry, Customer, CustomField, CustomFieldValue
from tests.service.test_import_vendors import write

REP, ADMIN = Actor("U0REP"), Actor("U0ADMIN", is_admin=True)


@pytest.fixture
def ws(services) -> int:
    return services.workspace_id("T0BAD")


def counts(services) -> tuple[int, ...]:
    with services.session_factory() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Customer, CustomField, CustomFieldValue, AuditEntry)
        )


def test_a_field_named_like_a_built_in_one_is_refused_and_nothing_is_written(services, ws):
    sf = services.session_factory
    tier = cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Tier", type="text")
    before = counts(services)
    for entity, label in (("customer", "Billing country"), ("contact", "Mobile phone"), ("deal", "Stage")):
        with pytest.raises(InvalidInput, match=r"already a built-in field of \w+") as err:
            cf.define_field(sf, ws, actor=ADMIN, entity=entity, label=label, type="text")
        assert err.value.message.endswith(".")
    with pytest.raises(InvalidInput, match="already a built-in field"):
        cf.rename_field(sf, ws, tier.id, actor=ADMIN, label="Phone")
    assert counts(services) == before
    assert [f.label for f in cf.list_fields(sf, ws, "customer")] == ["Tier"]


def test_a_value_of_the_wrong_type_refuses_the_whole_form(services, ws):
    sf, search = services.session_factory, services.search
    c = svc.create_customer(sf, search, ws, actor=REP.user_id, name="Acme")
    for label, kind in (("Seats", "number"), ("Renewal", "date"), ("Budget", "money"), ("Active", "yes_no")):
        cf.define_field(sf, ws, actor=ADMIN, entity="customer", label=label, type=kind)
    before = counts(services)
    form = svc.CustomerForm(
        name="Acme",
        details=svc.DetailsInput(industry="Robotics"),  # a good change, not saved either
        custom={"seats": "lots", "renewal": "soon", "budget": "12,5k", "active": "maybe"},
    )
    with pytest.raises(InvalidFields) as err:
        svc.save_customer(sf, search, ws, c.id, form, actor=REP, stages=LIFECYCLE)
    assert set(err.value.errors) == {"cf:seats", "cf:renewal", "cf:budget", "cf:active"}
    assert "isn't a number" in err.value.errors["cf:seats"]
    assert counts(services) == before
    with sf() as s:
        assert s.get(Customer, c.id).industry is None


def test_a_wrong_type_value_in_an_import_drops_that_value_with_its_line(services, ws, tmp_path):
    sf = services.session_factory
    cf.define_field(sf, ws, actor=ADMIN, entity="customer", label="Seats", type="number")
    path = write(tmp_path / "companies.csv", [["Name", "Seats"], ["Acme", "120"], ["Globex", "lots"]])
    report = run_import(sf, ws, [(path, None)], ImportOptions(create_fields=True))
    fr = report.files[0]
    assert (fr.inserted, fr.rejected) == (2, 0)
    [warning] = fr.warnings
    assert (warning.line, warning.category) == (3, "invalid custom value")
    assert warning.message.startswith("Seats: “lots” isn't a number")
    assert warning.message.endswith("The row was imported without it.")
    with sf() as s:
        stored = s.execute(
            select(Customer.name, CustomFieldValue.value_text).join(
                CustomFieldValue, CustomFieldValue.record_id == Customer.id
            )
        ).all()
    assert stored == [("Acme", "120")]


def test_removing_an_option_in_use_changes_nothing(services, ws):
    sf, search = services.session_factory, services.search
    tier = cf.define_field(
        sf, ws, actor=ADMIN, entity="customer", label="Tier", type="one_of", options=["Gold", "Silver"]
    )
    for name in ("Acme", "Globex"):
        c = svc.create_customer(sf, search, ws, actor=REP.user_id, name=name)
        cf.set_values(sf, ws, "customer", c.id, {"tier": "Gold"}, actor=REP)
    before = counts(services)
    with pytest.raises(InvalidInput, match="“Gold” is still used by 2 customers"):
        cf.set_options(sf, ws, tier.id, ["Silver", "Platinum"], actor=ADMIN)  # a new option along with it
    assert counts(services) == before
    [field] = cf.list_fields(sf, ws, "customer")
    assert [o.label for o in field.options] == ["Gold", "Silver"]


def test_an_unknown_crms_export_without_a_name_column_stops_before_anything_is_written(services, ws, tmp_path):
    good = write(tmp_path / "companies.csv", [["Name"], ["Acme"]])
    unknown = write(tmp_path / "export.csv", [["Kundennummer", "Ort"], ["K-1", "Köln"]])
    before = counts(services)
    with pytest.raises(ImportFileError) as err:
        run_import(services.session_factory, ws, [(good, None), (unknown, None)], ImportOptions())
    message = err.value.message
    assert "export.csv" in message and "Kundennummer, Ort" in message and '--map "Column=name"' in message
    assert counts(services) == before
    assert isinstance(err.value, importer.ImportFileError)
