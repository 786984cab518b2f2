"""The fuller customer record end to end: signed Slack requests to the running app, answers read
from the stand-in (which checks every payload against Slack's limits)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.dev.blockkit_check import validate_message, validate_view
from commands.customers import record, views
from commands.fields import views as field_views
from crm import custom_fields as cf
from crm import customers as svc
from crm.actors import Actor
from crm.lifecycle import DEFAULT as LIFECYCLE
from crm.models import AuditEntry, Contact, Customer, CustomerLifecycleChange, CustomField
from tests.conftest import ADMIN, REP

ADMIN_ACTOR, REP_ACTOR = Actor(ADMIN, is_admin=True), Actor(REP)


@pytest.fixture
def ws(app_server) -> int:
    return app_server.services.workspace_id("T0TEST")


def sf(app_server):
    return app_server.services.session_factory


def make(app_server, ws, name="Acme Corporation"):
    s = app_server.services
    return svc.create_customer(s.session_factory, s.search, ws, actor=REP, name=name)


def last_reply(standin, count=1):
    return standin.wait_for("response_url", count=count)[-1].params


def text_of(payload) -> str:
    return json.dumps(payload.get("blocks") or payload.get("view", {}).get("blocks"), ensure_ascii=False)


def typed(value):
    return {"value": {"type": "plain_text_input", "value": value or None}}


def tier_field(app_server, ws):
    return cf.define_field(
        sf(app_server),
        ws,
        actor=ADMIN_ACTOR,
        entity="customer",
        label="Tier",
        type="one_of",
        options=["Gold", "Silver"],
    )


def filled(app_server, ws):
    c = make(app_server, ws)
    tier_field(app_server, ws)
    cf.define_field(sf(app_server), ws, actor=ADMIN_ACTOR, entity="customer", label="Account manager", type="person")
    form = svc.CustomerForm(
        name="Acme Corporation",
        details=svc.DetailsInput(
            phone="(415) 555-0123",
            billing=svc.AddressInput("1 Market St", "San Francisco", "CA", "94105", "US"),
            industry="Robotics <!channel>",
            employees="1200",
            annual_revenue="12,500,000",
            revenue_currency="USD",
            description="We build robots. " * 150,
            tags="Enterprise, EMEA",
        ),
        lifecycle_stage="prospect",
        custom={"tier": "Gold", "account_manager": ADMIN},
    )
    s = app_server.services
    svc.save_customer(s.session_factory, s.search, ws, c.id, form, actor=REP_ACTOR, stages=LIFECYCLE)
    return c


def test_card_shows_the_record_within_slack_limits(slack, standin, app_server, ws):
    filled(app_server, ws)
    slack.command("/customer", "acme")
    reply = last_reply(standin)
    assert validate_message(reply) == []
    shown = text_of(reply)
    for expected in ("(415) 555-0123", "California 94105", "United States", "1,200", "$12,500,000.00", "EMEA"):
        assert expected in shown, expected
    assert "Robotics &lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert f"<@{ADMIN}>" in shown and "Tier" in shown and "Gold" in shown
    select_ = next(
        b["accessory"] for b in reply["blocks"] if b.get("accessory", {}).get("action_id") == record.LIFECYCLE_SET
    )
    assert select_["initial_option"]["value"].endswith(":prospect")
    description = next(b for b in reply["blocks"] if "*Description*" in b.get("text", {}).get("text", ""))
    assert len(description["text"]["text"]) < 700  # trimmed on the card


def test_lifecycle_select_on_the_card_records_who_and_when(slack, standin, app_server, ws):
    c = filled(app_server, ws)
    action = {
        "type": "static_select",
        "action_id": record.LIFECYCLE_SET,
        "block_id": "b",
        "selected_option": {"value": f"{c.id}:customer"},
    }
    slack.block_actions([action], user=REP)
    reply = last_reply(standin)
    assert reply.get("replace_original") and "Customer" in text_of(reply)
    with sf(app_server)() as s:
        changes = s.scalars(select(CustomerLifecycleChange).order_by(CustomerLifecycleChange.id)).all()
        assert [(x.from_stage, x.to_stage, x.created_by) for x in changes] == [
            (None, "prospect", REP),
            ("prospect", "customer", REP),
        ]
    action["selected_option"] = {"value": f"{c.id}:martian"}
    slack.block_actions([action], user=REP)
    assert "isn't a lifecycle stage" in last_reply(standin, count=2)["text"]


def edit_values(**over):
    values = {
        views.B_NAME: typed("Acme Corporation"),
        views.B_WEBSITE: typed(""),
        views.B_OWNER: {"value": {"type": "users_select", "selected_user": REP}},
        record.B_PHONE: typed("+49 30 1234567"),
        record.B_LIFECYCLE: {"value": {"type": "static_select", "selected_option": {"value": "customer"}}},
        record.B_INDUSTRY: typed("Robotics"),
        record.B_EMPLOYEES: typed("250"),
        record.B_REVENUE: typed("1.5m"),
        record.B_CURRENCY: typed("eur"),
        record.B_TAGS: typed("vip, VIP, Partner"),
        record.B_DESCRIPTION: typed("Robots."),
        "billing_country": typed("Germany"),
        "billing_region": typed("Berlin"),
        "cf:tier": {"value": {"type": "static_select", "selected_option": {"value": "silver"}}},
    }
    values.update(over)
    return values


def test_edit_modal_edits_everything_and_refuses_bad_fields_one_by_one(slack, standin, app_server, ws):
    c = filled(app_server, ws)
    slack.click(views.EDIT_OPEN, str(c.id))
    view = standin.wait_for("views.open")[0].params["view"]
    assert validate_view(view) == []
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    assert by_id[record.B_PHONE]["element"]["initial_value"] == "(415) 555-0123"
    assert by_id["billing_region"]["element"]["initial_value"] == "CA"
    assert by_id["cf:tier"]["element"]["initial_option"]["value"] == "gold"
    assert by_id[record.B_TAGS]["element"]["initial_value"] == "EMEA, Enterprise"
    meta = view["private_metadata"]

    bad = edit_values(
        **{
            record.B_PHONE: typed("N/A"),
            "billing_country": typed("Narnia"),
            record.B_DESCRIPTION: typed("x" * 10_000),
            record.B_EMPLOYEES: typed("a few"),
            "cf:tier": {"value": {"type": "static_select", "selected_option": {"value": "platinum"}}},
        }
    )
    resp = slack.view_submission(views.EDIT_VIEW, bad, private_metadata=meta, view_id="V0BAD")
    errors = resp.json()["errors"]
    assert set(errors) == {record.B_PHONE, "billing_country", record.B_DESCRIPTION, record.B_EMPLOYEES, "cf:tier"}
    assert "“N/A” isn't a phone number" in errors[record.B_PHONE]
    assert "isn't one of the options of Tier" in errors["cf:tier"]
    with sf(app_server)() as s:
        assert s.get(Customer, c.id).phone == "+14155550123"  # nothing written half

    resp = slack.view_submission(views.EDIT_VIEW, edit_values(), private_metadata=meta, view_id="V0GOOD")
    assert resp.status == 200 and resp.text == ""
    standin.wait_for("chat.postEphemeral")
    with sf(app_server)() as s:
        row = s.get(Customer, c.id)
        assert (row.phone, row.billing_country, row.billing_region) == ("+49301234567", "DE", "DE-BE")
        assert (row.employees, row.annual_revenue_minor, row.annual_revenue_currency) == (250, 150_000_000, "EUR")
        assert (row.lifecycle_stage, row.description) == ("customer", "Robots.")
        assert svc.tags_of(s, c.id) == ["Partner", "vip"]
        snap = svc.record_snapshot(s, row)
        assert snap["custom"] == {"tier": "Silver", "account_manager": ADMIN}  # a field not on the form is left alone
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity_id == c.id).order_by(AuditEntry.id.desc())).first()
        assert entry.before["custom"]["tier"] == "Gold" and entry.after["custom"]["tier"] == "Silver"


def test_contact_modal_has_work_and_mobile_phones_and_an_address(slack, standin, app_server, ws):
    c = make(app_server, ws)
    slack.click(views.CONTACT_ADD_OPEN, str(c.id))
    view = standin.wait_for("views.open")[0].params["view"]
    assert validate_view(view) == []
    values = {
        views.B_CONTACT_NAME: typed("Jane Doe"),
        views.B_CONTACT_EMAIL: typed("jane@acme.com"),
        views.B_CONTACT_PHONE: typed("415 555 0100"),
        views.B_CONTACT_TITLE: typed(""),
        record.B_MOBILE: typed("N/A"),
        "contact_country": typed("Atlantis"),
    }
    resp = slack.view_submission(views.CONTACT_VIEW, values, private_metadata=view["private_metadata"], view_id="V1")
    assert set(resp.json()["errors"]) == {record.B_MOBILE, "contact_country"}
    values |= {record.B_MOBILE: typed("+1 (415) 555-0199"), "contact_country": typed("usa")}
    resp = slack.view_submission(views.CONTACT_VIEW, values, private_metadata=view["private_metadata"], view_id="V2")
    assert resp.text == ""
    card = standin.wait_for("chat.postEphemeral")[0].params
    assert validate_message(card) == [] and "mobile (415) 555-0199" in text_of(card)
    with sf(app_server)() as s:
        jane = s.scalars(select(Contact)).one()
        assert (jane.work_phone, jane.mobile_phone, jane.country) == ("+14155550100", "+14155550199", "US")


# -- /crm fields -----------------------------------------------------------------------------------
def test_fields_admin_is_for_admins_only(slack, standin, app_server, ws):
    slack.command("/crm", "fields", user=REP)
    assert "Only workspace admins can change custom fields" in last_reply(standin)["text"]
    values = {
        field_views.B_ENTITY: {"value": {"type": "static_select", "selected_option": {"value": "customer"}}},
        field_views.B_LABEL: typed("Tier"),
        field_views.B_TYPE: {"value": {"type": "static_select", "selected_option": {"value": "text"}}},
    }
    resp = slack.view_submission(field_views.ADD_VIEW, values, user=REP, private_metadata="{}")
    assert "Only workspace admins" in resp.json()["errors"][field_views.B_LABEL]
    with sf(app_server)() as s:
        assert s.scalar(select(func.count()).select_from(CustomField)) == 0


def test_admin_adds_renames_and_retires_fields_in_slack(slack, standin, app_server, ws):
    slack.command("/crm", "fields", user=ADMIN)
    reply = last_reply(standin)
    assert validate_message(reply) == [] and "none yet" in text_of(reply)
    slack.click(field_views.ADD_OPEN, "add", user=ADMIN)
    view = standin.wait_for("views.open")[0].params["view"]
    assert validate_view(view) == []

    def add(label, kind, options=""):
        values = {
            field_views.B_ENTITY: {"value": {"type": "static_select", "selected_option": {"value": "customer"}}},
            field_views.B_LABEL: typed(label),
            field_views.B_TYPE: {"value": {"type": "static_select", "selected_option": {"value": kind}}},
            field_views.B_OPTIONS: typed(options),
        }
        return slack.view_submission(field_views.ADD_VIEW, values, user=ADMIN, private_metadata='{"channel":"C0SALES"}')

    assert "already a built-in field" in add("Phone", "text").json()["errors"][field_views.B_LABEL]
    assert "needs at least one option" in add("Tier", "one_of").json()["errors"][field_views.B_OPTIONS]
    assert add("Tier", "one_of", "Gold\nSilver\n").text == ""
    confirmation = standin.wait_for("chat.postEphemeral")[0].params
    assert validate_message(confirmation) == [] and "Added “Tier”" in text_of(confirmation)

    [tier] = cf.list_fields(sf(app_server), ws, "customer")
    for name in ("Acme", "Globex"):
        cf.set_values(sf(app_server), ws, "customer", make(app_server, ws, name).id, {"tier": "Gold"}, actor=REP_ACTOR)
    meta = json.dumps({"channel": "C0SALES", "field": tier.id})
    resp = slack.view_submission(
        field_views.OPTIONS_VIEW, {field_views.B_OPTIONS: typed("Silver")}, user=ADMIN, private_metadata=meta
    )
    assert "“Gold” is still used by 2 customers" in resp.json()["errors"][field_views.B_OPTIONS]
    resp = slack.view_submission(
        field_views.RENAME_VIEW, {field_views.B_LABEL: typed("Support tier")}, user=ADMIN, private_metadata=meta
    )
    assert resp.text == ""
    overflow = {"type": "overflow", "action_id": field_views.MENU, "block_id": "b"}
    slack.block_actions([{**overflow, "selected_option": {"value": f"retire:{tier.id}"}}], user=ADMIN)
    reply = last_reply(standin, count=2)
    assert validate_message(reply) == [] and "Retired “Support tier”" in text_of(reply)
    with sf(app_server)() as s:
        row = s.get(CustomField, tier.id)
        assert row.label == "Support tier" and row.retired_at is not None and row.key == "tier"
        acme = s.scalars(select(Customer).where(Customer.name == "Acme")).one()
        assert svc.record_snapshot(s, acme)["custom"] == {"tier": "Gold"}  # kept through rename and retire
    slack.block_actions([{**overflow, "selected_option": {"value": f"retire:{tier.id}"}}], user=REP)
    assert "Only workspace admins" in last_reply(standin, count=3)["text"]


def test_view_history_lists_the_record_changes(slack, standin, app_server, ws):
    c = filled(app_server, ws)
    cf.rename_field(
        sf(app_server), ws, cf.list_fields(sf(app_server), ws, "customer")[0].id, actor=ADMIN_ACTOR, label="Plan"
    )
    slack.click(views.HISTORY, f"{c.id}:1")
    reply = last_reply(standin)
    assert validate_message(reply) == []
    shown = text_of(reply)
    assert "Record changes" in shown
    assert "Phone: — → (415) 555-0123" in shown
    assert "Lifecycle stage: — → 🔭 Prospect" in shown
    assert "Plan: — → Gold" in shown  # a renamed field's history reads under its new name
    assert "Billing region: — → California" in shown and "Tags: — → EMEA, Enterprise" in shown


def test_deal_modal_edits_deal_custom_fields(slack, standin, app_server, ws):
    from commands.deals import views as deal_views
    from crm.models import Deal

    c = make(app_server, ws)
    for label, kind in (("Contract end", "date"), ("Probability", "number")):
        cf.define_field(sf(app_server), ws, actor=ADMIN_ACTOR, entity="deal", label=label, type=kind)
    slack.click(deal_views.NEW_OPEN, str(c.id))
    view = standin.wait_for("views.open")[0].params["view"]
    assert validate_view(view) == []
    assert {"cf:contract_end", "cf:probability"} <= {b.get("block_id") for b in view["blocks"]}

    def values(probability):
        return {
            deal_views.B_TITLE: typed("Annual licence"),
            deal_views.B_AMOUNT: typed("12,500"),
            deal_views.B_CURRENCY: typed("EUR"),
            deal_views.B_STAGE: {"value": {"type": "static_select", "selected_option": {"value": "qualified"}}},
            deal_views.B_OWNER: {"value": {"type": "users_select", "selected_user": REP}},
            "cf:contract_end": {"value": {"type": "datepicker", "selected_date": "2027-06-30"}},
            "cf:probability": typed(probability),
        }

    meta = view["private_metadata"]
    resp = slack.view_submission(deal_views.SAVE_VIEW, values("N/A"), private_metadata=meta, view_id="V0D1")
    assert "isn't a number" in resp.json()["errors"]["cf:probability"]
    with sf(app_server)() as s:
        assert s.scalar(select(func.count()).select_from(Deal)) == 0  # nothing written half
    resp = slack.view_submission(deal_views.SAVE_VIEW, values("62.5"), private_metadata=meta, view_id="V0D2")
    assert resp.text == ""
    with sf(app_server)() as s:
        deal = s.scalars(select(Deal)).one()
    assert cf.set_values(sf(app_server), ws, "deal", deal.id, {}, actor=REP_ACTOR) == {
        "contract_end": "2027-06-30",
        "probability": "62.5",
    }
    slack.click(deal_views.EDIT_OPEN, str(deal.id))
    edit = standin.wait_for("views.open", count=2)[1].params["view"]
    by_id = {b.get("block_id"): b for b in edit["blocks"]}
    assert by_id["cf:contract_end"]["element"]["initial_date"] == "2027-06-30"
    assert by_id["cf:probability"]["element"]["initial_value"] == "62.5"


# -- the create modal holds the whole record -------------------------------------------------------
def create_values(**over):
    values = edit_values(**{views.B_NAME: typed("Hooli Inc."), views.B_WEBSITE: typed("hooli.xyz")})
    values |= {
        views.B_CONTACT_NAME: typed("Gavin Belson"),
        views.B_CONTACT_EMAIL: typed("gavin@hooli.xyz"),
        views.B_CONTACT_PHONE: typed("+1 650 555 0199"),
        views.B_CONTACT_TITLE: typed("CEO"),
        views.B_CONTACT_MOBILE: typed("+1 650 555 0142"),
        "shipping_street": typed("1 Hacker Way"),
        "shipping_city": typed("Palo Alto"),
        "shipping_region": typed("CA"),
        "shipping_country": typed("USA"),
    }
    values.update(over)
    return values


def test_create_modal_offers_the_whole_record(slack, standin, app_server, ws):
    tier_field(app_server, ws)
    slack.command("/crm", "new Hooli")
    view = standin.wait_for("views.open")[0].params["view"]
    assert validate_view(view) == [] and view["callback_id"] == views.CREATE_VIEW
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    for block_id in (record.B_PHONE, record.B_INDUSTRY, record.B_EMPLOYEES, record.B_REVENUE, record.B_TAGS):
        assert block_id in by_id, block_id
    assert {"billing_country", "shipping_street", record.B_DESCRIPTION, "cf:tier"} <= set(by_id)
    assert by_id[record.B_LIFECYCLE]["element"]["initial_option"]["value"] == "lead"  # the first stage


def test_create_modal_refuses_every_bad_field_at_once_and_writes_nothing(slack, app_server, ws):
    tier_field(app_server, ws)
    bad = create_values(
        **{
            record.B_PHONE: typed("N/A"),
            "billing_country": typed("Narnia"),
            record.B_EMPLOYEES: typed("a few"),
            record.B_REVENUE: typed("12,5k"),
            record.B_TAGS: typed("x" * 200),
            record.B_LIFECYCLE: {"value": {"type": "static_select", "selected_option": {"value": "martian"}}},
            views.B_CONTACT_EMAIL: typed("gavin@"),
            views.B_CONTACT_MOBILE: typed("N/A"),
            "cf:tier": {"value": {"type": "static_select", "selected_option": {"value": "platinum"}}},
        }
    )
    resp = slack.view_submission(views.CREATE_VIEW, bad, private_metadata='{"channel":"C0SALES"}', view_id="V0C1")
    errors = resp.json()["errors"]
    assert set(errors) == {
        record.B_PHONE,
        "billing_country",
        record.B_EMPLOYEES,
        record.B_REVENUE,
        record.B_TAGS,
        record.B_LIFECYCLE,
        views.B_CONTACT_EMAIL,
        views.B_CONTACT_MOBILE,
        "cf:tier",
    }
    assert "“N/A” isn't a phone number" in errors[record.B_PHONE]
    assert "isn't a lifecycle stage" in errors[record.B_LIFECYCLE]
    with sf(app_server)() as s:
        for table in (Customer, Contact, CustomerLifecycleChange):
            assert s.scalar(select(func.count()).select_from(table)) == 0, table  # nothing written half
        audited = select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_type != "custom_field")
        assert s.scalar(audited) == 0


def test_create_modal_saves_the_whole_record_with_history_and_audit(slack, standin, app_server, ws):
    tier_field(app_server, ws)
    resp = slack.view_submission(
        views.CREATE_VIEW, create_values(), private_metadata='{"channel":"C0SALES"}', view_id="V0C2"
    )
    assert resp.status == 200 and resp.text == ""
    card = standin.wait_for("chat.postEphemeral")[0].params
    assert validate_message(card) == []
    shown = text_of(card)
    for expected in ("Hooli Inc.", "Robotics", "250", "Palo Alto", "Germany", "Partner", "Silver", "Gavin Belson"):
        assert expected in shown, expected
    with sf(app_server)() as s:
        row = s.scalars(select(Customer)).one()
        assert (row.phone, row.billing_country, row.billing_region) == ("+49301234567", "DE", "DE-BE")
        assert (row.shipping_street, row.shipping_region, row.shipping_country) == ("1 Hacker Way", "US-CA", "US")
        assert (row.employees, row.annual_revenue_minor, row.annual_revenue_currency) == (250, 150_000_000, "EUR")
        assert (row.industry, row.description, row.lifecycle_stage, row.created_by) == (
            "Robotics",
            "Robots.",
            "customer",
            REP,
        )
        assert svc.tags_of(s, row.id) == ["Partner", "vip"]
        assert svc.record_snapshot(s, row)["custom"] == {"tier": "Silver"}
        [change] = s.scalars(select(CustomerLifecycleChange)).all()
        assert (change.from_stage, change.to_stage, change.created_by) == (None, "customer", REP)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "customer")).one()
        assert entry.action == "create" and entry.after["tags"] == ["Partner", "vip"]
        assert entry.after["custom"] == {"tier": "Silver"} and entry.after["phone"] == "+49301234567"
        gavin = s.scalars(select(Contact)).one()
        assert (gavin.email, gavin.phone, gavin.title) == ("gavin@hooli.xyz", "+16505550199", "CEO")
        assert gavin.mobile_phone == "+16505550142"
    # A replay of the same form writes nothing more.
    again = slack.view_submission(
        views.CREATE_VIEW, create_values(), private_metadata='{"channel":"C0SALES"}', view_id="V0C2"
    )
    assert again.status == 200
    with sf(app_server)() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_create_modal_duplicate_warning_keeps_every_typed_value(slack, standin, app_server, ws):
    tier_field(app_server, ws)
    make(app_server, ws, "Hooli Inc.")
    resp = slack.view_submission(
        views.CREATE_VIEW, create_values(), private_metadata='{"channel":"C0SALES"}', view_id="V0C3"
    )
    view = resp.json()["view"]
    assert validate_view(view) == []
    by_id = {b.get("block_id"): b["element"] for b in view["blocks"] if b.get("type") == "input"}
    assert by_id[record.B_PHONE]["initial_value"] == "+49 30 1234567"
    assert by_id["shipping_city"]["initial_value"] == "Palo Alto"
    assert by_id[record.B_LIFECYCLE]["initial_option"]["value"] == "customer"
    assert by_id["cf:tier"]["initial_option"]["value"] == "silver"
    assert by_id[views.B_CONTACT_EMAIL]["initial_value"] == "gavin@hooli.xyz"
    assert views.B_FORCE in by_id
    with sf(app_server)() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1
    force = {views.B_FORCE: {"value": {"type": "checkboxes", "selected_options": [{"value": views.FORCE_VALUE}]}}}
    resp = slack.view_submission(
        views.CREATE_VIEW, create_values(**force), private_metadata='{"channel":"C0SALES"}', view_id="V0C4"
    )
    assert resp.text == ""
    with sf(app_server)() as s:
        twin = s.scalars(select(Customer).where(Customer.duplicate_override_by.is_not(None))).one()
        assert twin.industry == "Robotics" and svc.tags_of(s, twin.id) == ["Partner", "vip"]


def test_card_shows_deal_custom_values_and_history_shows_contact_edits(slack, standin, app_server, ws, tmp_path):
    import csv
    from datetime import UTC, datetime

    from crm import deals
    from crm.exporter import export_workspace
    from crm.pipeline_stages import DEFAULT as PIPELINE

    s = app_server.services
    c = make(app_server, ws)
    cf.define_field(sf(app_server), ws, actor=ADMIN_ACTOR, entity="deal", label="Probability", type="number")
    cf.define_field(sf(app_server), ws, actor=ADMIN_ACTOR, entity="deal", label="Contract end", type="date")
    deals.create_deal(
        sf(app_server),
        ws,
        c.id,
        deals.DealInput(
            "Annual licence", "12,500", "EUR", custom={"probability": "62.5", "contract_end": "2027-06-30"}
        ),
        actor=REP,
        stages=PIPELINE,
        now=datetime.now(UTC),
    )
    jane = svc.add_contact(
        s.session_factory, s.search, ws, c.id, svc.ContactInput(name="Jane Doe", phone="415 555 0100"), actor=REP
    )
    edited = svc.ContactInput(
        name="Jane Doe",
        phone="415 555 0100",
        mobile_phone="+1 (415) 555-0199",
        address=svc.AddressInput("1 Market St", "San Francisco", "CA", "94105", "US"),
    )
    svc.update_contact(s.session_factory, s.search, ws, jane.id, edited, actor=REP)

    slack.command("/customer", "acme")
    card = last_reply(standin)
    assert validate_message(card) == []
    shown = text_of(card)
    assert "Annual licence" in shown and "Probability: 62.5" in shown and "Contract end:" in shown
    assert "work (415) 555-0100" in shown and "mobile (415) 555-0199" in shown and "San Francisco" in shown

    slack.click(views.HISTORY, f"{c.id}:1")
    page = last_reply(standin, count=2)
    assert validate_message(page) == []
    history = text_of(page)
    assert "Jane Doe: mobile phone: — → (415) 555-0199" in history
    assert "Jane Doe: city: — → San Francisco" in history and "Jane Doe: region: — → California" in history

    export_workspace(sf(app_server), ws, tmp_path / "out")
    with (tmp_path / "out" / "contacts.csv").open(encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    assert (row["phone"], row["mobile_phone"], row["street"], row["region"], row["country"]) == (
        "+14155550100",
        "+14155550199",
        "1 Market St",
        "US-CA",
        "US",
    )
