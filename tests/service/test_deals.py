"""Deals: stages from configuration, exact amounts, stage history and audit, the pipeline summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.dev.blockkit_check import validate_message, validate_view
from commands.deals import views as ui
from commands.digests import views
from crm import deals as svc
from crm.errors import InvalidInput, NotFound
from crm.models import AuditEntry, Customer, Deal, DealStageChange
from crm.pipeline_stages import DEFAULT, parse_pipeline_stages
from tests.conftest import REP, REP2

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


# -- pure: stages ---------------------------------------------------------------------------
def test_default_stages_and_look_up_by_key_label_or_alias():
    assert DEFAULT.keys == ("lead", "qualified", "proposal", "negotiation", "won", "lost")
    assert DEFAULT.open_keys == ("lead", "qualified", "proposal", "negotiation")
    assert DEFAULT.resolve("Qualified").key == "qualified"
    assert DEFAULT.resolve(" WON ").key == "won"
    assert DEFAULT.resolve("banana") is None
    retired = DEFAULT.describe("discovery")
    assert retired.retired and retired.label == "discovery"


def test_configured_stages_keep_their_order_and_aliases():
    stages = parse_pipeline_stages("lead:Lead:🌱,demo:Demo done:🖥️:demoed|shown,won:Won:🏆,lost:Lost")
    assert stages.keys == ("lead", "demo", "won", "lost")
    assert stages.resolve("shown").key == "demo"
    assert stages.get("lost").emoji == "🗂️"
    assert stages.get("won").closed and not stages.get("demo").closed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("lead,won", "no 'lost' stage"),
        ("lead,,won,lost", "entry 2 is empty"),
        ("Lead Stage,won,lost", "a key is a letter"),
        ("lead,lead,won,lost", "appears twice"),
        ("won,lost", "at least one open stage"),
        ("lead:Lead,qualified:lead,won,lost", "used by both"),
    ],
)
def test_malformed_stage_lists_say_what_is_wrong(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_pipeline_stages(raw)


def test_config_names_the_variable():
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="CRM_DEAL_STAGES"):
        load_settings({"CRM_DEAL_STAGES": "lead,won"})
    with pytest.raises(ConfigError, match="CRM_STALE_DAYS"):
        load_settings({"CRM_STALE_DAYS": "0"})
    settings = load_settings({"CRM_DEAL_STAGES": "a:A,won,lost", "CRM_STALE_DAYS": "30"})
    assert settings.deal_stages == "a:A,won,lost" and settings.stale_days == 30


# -- pure: amounts and currencies -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12500", "USD", 1_250_000),
        ("12,500.50", "USD", 1_250_050),
        ("$12,500", "USD", 1_250_000),
        ("12.5k", "EUR", 1_250_000),
        ("1.2m", "USD", 120_000_000),
        ("0.10", "USD", 10),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("", "USD", None),
        ("  ", "USD", None),
        ("999999999999.99", "USD", 99_999_999_999_999),
    ],
)
def test_amounts_are_exact_minor_units(text, currency, minor):
    assert svc.parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("12,5k", "USD", "isn't an amount"),
        ("-5", "USD", "can't be negative"),
        ("1e9", "USD", "isn't an amount"),
        ("abc", "USD", "isn't an amount"),
        ("12.345", "USD", "2 decimal places"),
        ("10.5", "JPY", "no decimal places"),
        ("1.2.3", "USD", "isn't an amount"),
        ("12 500", "USD", "isn't an amount"),
        ("9" * 20, "USD", "too large"),
    ],
)
def test_bad_amounts_are_refused_with_a_reason(text, currency, message):
    with pytest.raises(InvalidInput, match=message) as err:
        svc.parse_amount(text, currency)
    assert err.value.field == "amount"


@pytest.mark.parametrize(("code", "expected"), [("usd", "USD"), (" eur ", "EUR"), ("", "USD"), (None, "USD")])
def test_currency_codes(code, expected):
    assert svc.clean_currency(code) == expected


@pytest.mark.parametrize("code", ["XYZ", "US", "DOLLAR", "€"])
def test_unknown_currency_is_refused(code):
    with pytest.raises(InvalidInput, match="currency code") as err:
        svc.clean_currency(code)
    assert err.value.field == "currency"


def test_format_totals_never_adds_currencies():
    # One fixed order (USD, EUR, GBP, ... then A-Z), never by amount, so lines read alike.
    assert svc.format_totals({"USD": 150_000, "EUR": 2_000_000}) == "$1,500.00 + €20,000.00"
    mixed = {"SEK": 1, "GBP": 5_000_000, "EUR": 9, "USD": 2}
    assert svc.format_totals(mixed) == "$0.02 + €0.09 + £50,000.00 + SEK 0.01"
    assert svc.format_totals({"EUR": 12_000_000, "USD": 666_100_000}, short=True) == "$6.7M + €120k"
    assert svc.format_totals({}) == "no amount"


# -- pure: builders -----------------------------------------------------------------------------
def _deal(i: int, **kw) -> Deal:
    values = {
        "id": i,
        "workspace_id": 1,
        "customer_id": 1,
        "title": f"Deal {i} <!channel> " + "x" * 300,
        "amount_minor": 1_000_000 * i,
        "currency": "USD",
        "stage": "lead",
        "owner_user_id": REP,
        "expected_close": date(2026, 4, 1),
    }
    values.update(kw)
    return Deal(**values)


def test_deal_list_fits_and_escapes():
    customer = Customer(id=1, workspace_id=1, name="Acme " * 60, normalized_name="acme")
    data = svc.CustomerDeals(customer, [_deal(i) for i in range(1, 21)], 45)
    blocks = ui.deal_list_blocks(data, DEFAULT)
    assert validate_message({"text": "deals", "blocks": blocks}) == []
    text = str(blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "25 older closed deals" in text


def test_deal_modal_fits_with_history_and_a_retired_stage():
    customer = Customer(id=1, workspace_id=1, name="Acme", normalized_name="acme")
    deal = _deal(1, stage="discovery", amount_minor=1_250_050)
    history = [
        DealStageChange(from_stage=None if i == 0 else "lead", to_stage="discovery", created_by=REP, created_at=NOW)
        for i in range(10)
    ]
    view = ui.deal_modal(
        stages=DEFAULT, owner=REP, meta={"channel": "C1", "deal": 1}, customer=customer, deal=deal, history=history
    )
    assert validate_view(view) == []
    stage_block = next(b for b in view["blocks"] if b.get("block_id") == ui.B_STAGE)
    assert stage_block["element"]["initial_option"]["value"] == "discovery"
    amount = next(b for b in view["blocks"] if b.get("block_id") == ui.B_AMOUNT)
    assert amount["element"]["initial_value"] == "12500.50"
    # Without a customer the modal starts with the shared picker.
    fresh = ui.deal_modal(stages=DEFAULT, owner=REP, meta={})
    assert validate_view(fresh) == [] and fresh["blocks"][0]["element"]["action_id"] == ui.PICKER


# -- services ------------------------------------------------------------------------------------
def form(**kw) -> svc.DealInput:
    values = {"title": "Annual licence", "amount": "12,500.50", "currency": "usd", "stage": "lead"}
    values.update(kw)
    return svc.DealInput(**values)


def test_create_records_the_first_stage_and_audit(services, ws, acme):
    deal = svc.create_deal(services.session_factory, ws, acme.id, form(), actor=REP, stages=DEFAULT, now=NOW)
    with services.session_factory() as s:
        row = s.get(Deal, deal.id)
        assert (row.amount_minor, row.currency, row.stage, row.owner_user_id) == (1_250_050, "USD", "lead", REP)
        [change] = s.scalars(select(DealStageChange)).all()
        assert (change.from_stage, change.to_stage, change.created_by, change.created_at) == (None, "lead", REP, NOW)
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "deal")).all()
        assert entry.action == "create" and entry.after["amount_minor"] == 1_250_050


def test_every_stage_change_is_kept_with_who_and_when(services, ws, acme):
    sf = services.session_factory
    deal = svc.create_deal(sf, ws, acme.id, form(), actor=REP, stages=DEFAULT, now=NOW)
    svc.update_deal(sf, ws, deal.id, form(stage="qualified"), actor=REP2, stages=DEFAULT, now=NOW + timedelta(days=1))
    won = svc.update_deal(sf, ws, deal.id, form(stage="won"), actor=REP, stages=DEFAULT, now=NOW + timedelta(days=2))
    assert won.closed_at == NOW + timedelta(days=2)
    reopened = svc.update_deal(
        sf, ws, deal.id, form(stage="Negotiation"), actor=REP, stages=DEFAULT, now=NOW + timedelta(days=3)
    )
    assert reopened.closed_at is None and reopened.stage == "negotiation"
    # An edit that changes nothing else keeps the history as it is.
    svc.update_deal(sf, ws, deal.id, form(stage="negotiation"), actor=REP, stages=DEFAULT, now=NOW + timedelta(days=4))
    history = svc.stage_history(sf, ws, deal.id)
    assert [(h.from_stage, h.to_stage, h.created_by) for h in history] == [
        (None, "lead", REP),
        ("lead", "qualified", REP2),
        ("qualified", "won", REP),
        ("won", "negotiation", REP),
    ]
    with sf() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "deal").order_by(AuditEntry.id))
        assert list(actions) == ["create", "stage", "stage", "stage"]


def test_edit_without_stage_change_is_audited_as_update(services, ws, acme):
    sf = services.session_factory
    deal = svc.create_deal(sf, ws, acme.id, form(), actor=REP, stages=DEFAULT, now=NOW)
    svc.update_deal(sf, ws, deal.id, form(amount="13k", currency="EUR"), actor=REP2, stages=DEFAULT, now=NOW)
    with sf() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.action == "update"
        assert (entry.before["amount_minor"], entry.after["amount_minor"], entry.after["currency"]) == (
            1_250_050,
            1_300_000,
            "EUR",
        )


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"title": "  "}, "title"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "12,5k"}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"stage": "banana"}, "stage"),
        ({"expected_close": date(1900, 1, 1)}, "expected_close"),
    ],
)
def test_bad_input_saves_nothing(services, ws, acme, kw, field):
    with pytest.raises(InvalidInput) as err:
        svc.create_deal(services.session_factory, ws, acme.id, form(**kw), actor=REP, stages=DEFAULT, now=NOW)
    assert err.value.field == field
    with services.session_factory() as s:
        assert s.scalars(select(Deal)).all() == []


def test_other_workspaces_deals_are_not_found(services, ws, acme):
    deal = svc.create_deal(services.session_factory, ws, acme.id, form(), actor=REP, stages=DEFAULT, now=NOW)
    other = services.workspace_id("T0OTHER")
    with pytest.raises(NotFound):
        svc.update_deal(services.session_factory, other, deal.id, form(), actor=REP, stages=DEFAULT, now=NOW)
    with pytest.raises(NotFound):
        svc.create_deal(services.session_factory, other, acme.id, form(), actor=REP, stages=DEFAULT, now=NOW)


def test_pipeline_summary_mine_and_team_by_stage_and_currency(services, ws, acme):
    sf = services.session_factory
    for owner, stage, amount, currency in [
        (REP, "lead", "1000", "USD"),
        (REP, "lead", "2000", "USD"),
        (REP, "lead", "500", "EUR"),
        (REP2, "proposal", "10k", "USD"),
        (REP2, "lead", "", "USD"),
        (REP, "won", "7000", "USD"),
        (REP2, "lost", "3000", "USD"),
    ]:
        svc.create_deal(
            sf,
            ws,
            acme.id,
            form(stage=stage, amount=amount, currency=currency, owner_user_id=owner),
            actor=owner,
            stages=DEFAULT,
            now=NOW,
        )
    team = svc.pipeline_summary(sf, ws, owner=None, stages=DEFAULT, now=NOW + timedelta(hours=1))
    by_stage = {r.stage: r for r in team.open}
    assert [r.stage for r in team.open] == ["lead", "qualified", "proposal", "negotiation"]
    assert by_stage["lead"].count == 4 and by_stage["lead"].totals == {"USD": 300_000, "EUR": 50_000}
    assert by_stage["proposal"].totals == {"USD": 1_000_000} and by_stage["qualified"].count == 0
    assert team.open_count == 5 and team.open_totals == {"USD": 1_300_000, "EUR": 50_000}
    assert [(r.stage, r.count, r.totals) for r in team.closed] == [
        ("won", 1, {"USD": 700_000}),
        ("lost", 1, {"USD": 300_000}),
    ]
    mine = svc.pipeline_summary(sf, ws, owner=REP, stages=DEFAULT, now=NOW + timedelta(hours=1))
    assert mine.open_count == 3 and mine.open_totals == {"USD": 300_000, "EUR": 50_000}
    # Closed more than 30 days ago no longer shows.
    later = svc.pipeline_summary(sf, ws, owner=None, stages=DEFAULT, now=NOW + timedelta(days=31))
    assert all(r.count == 0 for r in later.closed)
    blocks = views.pipeline_blocks(team, stages=DEFAULT, title="Team pipeline")
    assert validate_message({"text": views.pipeline_text(team, "Team pipeline"), "blocks": blocks}) == []
    assert "$13,000.00 + €500.00" in str(blocks)
