"""Customer value (lifetime value, tiers, key accounts, cadence), `/crm accounts` and the forecast,
on a real SQLite file and a real PostgreSQL database, with exact numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.dev.blockkit_check import validate_message
from commands.digests.forecast_view import digest_section_blocks, forecast_blocks
from crm import custom_fields as cf
from crm.accounts import AccountFilter, list_accounts
from crm.actors import Actor
from crm.customers import change_lifecycle
from crm.deals import DealInput, update_deal
from crm.errors import InvalidInput
from crm.forecast import forecast
from crm.lifecycle import DEFAULT as LIFECYCLE
from crm.lifecycle import parse_lifecycle_stages
from crm.models import Customer, CustomerValueTier
from crm.pipeline_stages import DEFAULT as STAGES
from crm.value import (
    contact_cadence,
    customer_value,
    key_account_lines,
    recompute_all_tiers,
    recompute_tiers,
    untouched_key_accounts,
)
from reminders.scheduler import start_scheduler
from tests.conftest import ADMIN, REP, REP2
from tests.support.hostile import PLANTED, together

NOW = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)
PROBS = {"lead": 10, "qualified": 25, "proposal": 50, "negotiation": 75}


@pytest.fixture
def ws(services, ws) -> int:
    services.clock = lambda: NOW
    return ws


def tiers(services, ws) -> dict[str, str]:
    with services.session_factory() as s:
        rows = s.execute(
            select(Customer.name, CustomerValueTier.tier).join(
                CustomerValueTier, CustomerValueTier.customer_id == Customer.id
            )
        ).all()
    return dict(rows)


def close(services, ws, deal, stage: str, at: datetime) -> None:
    form = DealInput(title=deal.title, amount=str(deal.amount_minor / 100), currency=deal.currency, stage=stage)
    update_deal(services.session_factory, ws, deal.id, form, actor=REP, stages=STAGES, now=at)


@pytest.fixture
def book(make, ws):
    """Ten customers whose won deals (USD) are 500, 200, 100, 80, 70, 20, 10, 10, 5, 5 thousand."""
    names = [f"Cust {i:02d}" for i in range(1, 11)]
    customers = [make.customer(n, owner_user_id=REP if i % 2 else REP2, force=True) for i, n in enumerate(names)]
    for c, k in zip(customers, [500, 200, 100, 80, 70, 20, 10, 10, 5, 5], strict=True):
        make.deal(c, "Won deal", stage="won", amount=f"{k}k", at=NOW - timedelta(days=40))
    return customers


def test_lifetime_value_is_exact_per_currency_and_open_pipeline_apart(make, services, ws, acme):
    make.deal(acme, stage="won", amount="1,000.10", currency="USD")
    make.deal(acme, stage="won", amount="0.01", currency="USD")
    make.deal(acme, stage="won", amount="250", currency="EUR")
    make.deal(acme, stage="won", amount="1234", currency="JPY")
    make.deal(acme, stage="lost", amount="99999", currency="USD")
    make.deal(acme, stage="proposal", amount="500", currency="USD")
    make.deal(acme, stage="lead", amount=None, currency="USD")
    value = customer_value(services.session_factory, ws, acme.id)
    assert value.won == {"USD": 100_011, "EUR": 25_000, "JPY": 1234}
    assert value.won_count == 4
    assert value.open == {"USD": 50_000} and value.open_count == 2
    assert value.tier is None  # not yet recomputed


def test_tiers_by_pareto_are_stored_and_the_recompute_is_idempotent(make, services, ws, book):
    sf = services.session_factory
    report = recompute_tiers(sf, ws, now=NOW)
    assert (report.customers, report.changed, report.counts) == (10, 10, {"A": 3, "B": 2, "C": 5})
    got = tiers(services, ws)
    assert [got[f"Cust {i:02d}"] for i in range(1, 11)] == list("AAABBCCCCC")
    assert recompute_tiers(sf, ws, now=NOW + timedelta(days=1)).changed == 0  # nothing to rewrite
    # A big win moves Cust 10 to the top; the customers it passes move down.
    make.deal(book[9], "Huge", stage="won", amount="5m")  # 5,005k of 6,000k: alone past 80%
    report = recompute_tiers(sf, ws, now=NOW + timedelta(days=2))
    got = tiers(services, ws)
    assert [got[f"Cust {i:02d}"] for i in (10, 1, 2, 3)] == ["A", "B", "B", "C"]
    assert report.counts == {"A": 1, "B": 2, "C": 7} and report.changed == 6
    # A deleted customer loses its row.
    with sf.begin() as s:
        s.get(Customer, book[0].id).deleted_at = NOW
    assert recompute_tiers(sf, ws, now=NOW).customers == 9
    assert "Cust 01" not in tiers(services, ws)
    assert [r.workspace_id for r in recompute_all_tiers(sf, now=NOW)] == [ws]


def test_one_currency_and_twelve_currencies(make, services, ws):
    codes = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "INR"]
    for code in codes:
        big, small = make.customer(f"Big {code}", force=True), make.customer(f"Small {code}", force=True)
        make.deal(big, stage="won", amount="900", currency=code)
        make.deal(small, stage="won", amount="100", currency=code)
    nothing = make.customer("Nothing won")
    make.deal(nothing, stage="lead", amount="5000")
    report = recompute_tiers(services.session_factory, ws, now=NOW)
    got = tiers(services, ws)
    assert all(got[f"Big {c}"] == "A" and got[f"Small {c}"] == "B" for c in codes)
    assert got["Nothing won"] == "C" and report.counts == {"A": 12, "B": 12, "C": 1}
    with services.session_factory() as s:
        basis = s.scalar(select(CustomerValueTier.basis_currency).where(CustomerValueTier.customer_id == nothing.id))
    assert basis is None


def test_untouched_key_accounts_for_the_team_and_for_an_owner(make, services, ws, book):
    sf = services.session_factory
    recompute_tiers(sf, ws, now=NOW)
    a1, a2, a3 = book[:3]  # the A tier; a1 and a3 are REP2's... by construction i % 2: 0 -> REP2
    make.activity(a1, at=NOW - timedelta(days=45))
    make.activity(a2, at=NOW - timedelta(days=2))
    make.activity(book[3], at=NOW - timedelta(days=90))  # B tier: never listed
    team = untouched_key_accounts(sf, ws, days=30, now=NOW)
    assert [(k.name, k.quiet_days(NOW)) for k in team.rows] == [("Cust 03", None), ("Cust 01", 45)]
    assert team.total == 2 and team.rows[1].won == {"USD": 50_000_000}
    mine = untouched_key_accounts(sf, ws, days=30, now=NOW, owner=a1.owner_user_id)
    assert [k.name for k in mine.rows] == ["Cust 03", "Cust 01"] and a1.owner_user_id == a3.owner_user_id == REP2
    assert untouched_key_accounts(sf, ws, days=30, now=NOW, owner=REP).total == 0
    assert untouched_key_accounts(sf, ws, days=60, now=NOW).total == 1
    limited = untouched_key_accounts(sf, ws, days=30, now=NOW, limit=1)
    assert len(limited.rows) == 1 and limited.total == 2


def test_cadence_warns_about_too_much_and_about_a_key_contact_gone_quiet(make, services, ws, acme):
    busy = make.contact(acme, "Busy Bee")
    quiet = make.contact(acme, "Quiet Quinn")
    fine = make.contact(acme, "Fine Fran")
    for days in (1, 2, 3):
        make.activity(acme, type_key="email" if days != 2 else "call", contact=busy, at=NOW - timedelta(days=days))
    make.activity(acme, type_key="meeting", contact=fine, at=NOW - timedelta(days=1))
    make.activity(acme, type_key="email", contact=fine, at=NOW - timedelta(days=1))
    make.activity(acme, type_key="email", contact=fine, at=NOW - timedelta(days=9))  # last week: not counted
    for days in (40, 60, 80):
        make.activity(acme, contact=quiet, at=NOW - timedelta(days=days))
    hints = contact_cadence(services.session_factory, ws, acme.id, now=NOW, quiet_days=30)
    assert [(h.contact_name, h.kind, h.count) for h in hints] == [("Busy Bee", "busy", 3), ("Quiet Quinn", "quiet", 3)]
    assert contact_cadence(services.session_factory, ws, acme.id, now=NOW, quiet_days=90)[1:] == []


# -- /crm accounts --------------------------------------------------------------------------------------
def accounts(services, ws, f: AccountFilter, **kw):
    return list_accounts(services.session_factory, ws, f, lifecycle=LIFECYCLE, now=NOW, **kw)


def test_accounts_filters_tier_owner_stage_industry_quiet_and_custom(make, services, ws, book):
    sf = services.session_factory
    admin = Actor(ADMIN, is_admin=True)
    recompute_tiers(sf, ws, now=NOW)
    region = cf.definitions.define_field(sf, ws, actor=admin, entity="customer", label="Sales zone", type="one_of",
                                         options=["EMEA", "Americas"])  # fmt: skip
    note = cf.definitions.define_field(sf, ws, actor=admin, entity="customer", label="Note", type="text")
    emea = region.options[0].key
    cf.set_values(sf, ws, "customer", book[0].id, {region.key: emea, note.key: "50% off_100"}, actor=admin)
    cf.set_values(sf, ws, "customer", book[3].id, {region.key: emea}, actor=admin)
    with sf.begin() as s:
        s.get(Customer, book[0].id).industry = "Financial services"
        s.get(Customer, book[1].id).industry = "Software"
    change_lifecycle(sf, ws, book[1].id, "customer", actor=Actor(REP), stages=LIFECYCLE, now=NOW)
    make.activity(book[2], at=NOW - timedelta(days=1))

    def names(f: AccountFilter, **kw) -> list[str]:
        return [r.name for r in accounts(services, ws, f, **kw).rows]

    assert names(AccountFilter(tiers=("A",))) == ["Cust 01", "Cust 02", "Cust 03"]
    assert names(AccountFilter(tiers=("A", "B"), owner=REP)) == ["Cust 02", "Cust 04"]
    assert names(AccountFilter(lifecycle="Customer")) == ["Cust 02"]
    assert names(AccountFilter(industry="financial")) == ["Cust 01"]
    assert names(AccountFilter(tiers=("A",), quiet_days=30)) == ["Cust 01", "Cust 02"]
    assert names(AccountFilter(custom=(("sales zone", "emea"),))) == ["Cust 01", "Cust 04"]
    assert names(AccountFilter(custom=(("Note", "50%"),))) == ["Cust 01"]
    assert names(AccountFilter(custom=(("note", "%"),))) == ["Cust 01"]  # % is a character, not a wildcard
    assert names(AccountFilter(custom=(("note", "o_f"),))) == []
    assert names(AccountFilter(name="cust 1")) == ["Cust 10"]
    assert names(AccountFilter(tiers=("none",))) == []
    first = accounts(services, ws, AccountFilter(), per_page=4)
    assert (first.total, first.pages, [r.name for r in first.rows]) == (
        10,
        3,
        ["Cust 01", "Cust 02", "Cust 03", "Cust 04"],
    )
    last = accounts(services, ws, AccountFilter(), per_page=4, page=99)
    assert last.page == 3 and [r.name for r in last.rows] == ["Cust 09", "Cust 10"]
    row = first.rows[0]
    assert row.value.tier == "A" and row.value.won == {"USD": 50_000_000} and row.industry == "Financial services"


def test_accounts_bad_and_hostile_filters(make, services, ws, book):
    for f, words in (
        (AccountFilter(lifecycle="banana"), "isn't a lifecycle stage"),
        (AccountFilter(custom=(("colour", "red"),)), "isn't a filter or a customer field"),
        (AccountFilter(quiet_days=-1), "quiet days"),
    ):
        with pytest.raises(InvalidInput, match=words):
            accounts(services, ws, f)
    for text in (PLANTED, "'; DROP TABLE customers; --", "%", "_", "\\", "\x00"[:0] + "ü" * 100):
        assert accounts(services, ws, AccountFilter(industry=text, name=text)).total == 0
    assert accounts(services, ws, AccountFilter()).total == 10  # still there


# -- the forecast --------------------------------------------------------------------------------------
def run_forecast(services, ws, lifecycle=LIFECYCLE, **kw):
    return forecast(services.session_factory, ws, stages=STAGES, lifecycle=lifecycle, probabilities=PROBS,
                    now=NOW, **kw)  # fmt: skip


def test_forecast_with_no_deals(services, ws):
    f = run_forecast(services, ws)
    assert f.empty and f.open_count == 0 and f.win.rate is None and f.conversions.count == 0


def test_forecast_win_rate_days_to_close_and_conversions(make, services, ws, acme):
    globex, initech = make.customer("Globex"), make.customer("Initech")
    make.deal(acme, stage="proposal", amount="10,000.01", expected_close=date(2026, 3, 31))
    make.deal(globex, stage="lead", amount="333", expected_close=date(2026, 4, 2), owner=REP2)
    make.deal(globex, stage="negotiation", amount="100", currency="EUR")
    for days_open, stage in ((10, "won"), (20, "won"), (30, "lost")):
        deal = make.deal(initech, stage="qualified", amount="1000", at=NOW - timedelta(days=days_open + 5))
        close(services, ws, deal, stage, NOW - timedelta(days=5))
    old = make.deal(initech, stage="qualified", amount="1000", at=NOW - timedelta(days=200))
    close(services, ws, old, "won", NOW - timedelta(days=100))  # outside the 90 days
    sf = services.session_factory
    rep = Actor(REP)
    for c, path in ((acme, ["lead", "prospect", "customer"]), (globex, ["lead"]), (initech, ["customer"])):
        for i, stage in enumerate(path):
            change_lifecycle(sf, ws, c.id, stage, actor=rep, stages=LIFECYCLE, now=NOW - timedelta(days=3 - i))
    last_month = make.customer("Hooli")
    change_lifecycle(sf, ws, last_month.id, "lead", actor=rep, stages=LIFECYCLE, now=NOW - timedelta(days=40))
    change_lifecycle(sf, ws, last_month.id, "customer", actor=rep, stages=LIFECYCLE, now=NOW - timedelta(days=30))

    f = run_forecast(services, ws)
    assert {b.label: b.weighted for b in f.buckets} == {
        "Mar": {"USD": 500_001},
        "Apr": {"USD": 3330},
        "No close date": {"EUR": 7500},
    }
    assert f.weighted == {"USD": 503_331, "EUR": 7500} and f.totals == {"USD": 1_033_301, "EUR": 10_000}
    assert (f.win.won, f.win.lost, f.win.rate, f.win.avg_days_to_close) == (2, 1, 67, 15.0)
    assert f.win.won_totals == {"USD": 200_000}
    assert (f.conversions.count, f.conversions.names, f.conversions.new_leads) == (1, ["Acme Corp"], 2)
    mine = run_forecast(services, ws, owner=REP2)
    assert mine.open_count == 1 and mine.weighted == {"USD": 3330}
    no_customer_stage = parse_lifecycle_stages("lead:Lead:🌱,client:Client:🤝")
    assert not run_forecast(services, ws, lifecycle=no_customer_stage).conversions.available


def test_recompute_on_two_replicas_at_once_gives_one_row_each(make, services, ws, book):
    sf = services.session_factory
    reports = together(2, lambda: recompute_tiers(sf, ws, now=NOW))
    assert [r.counts for r in reports] == [{"A": 3, "B": 2, "C": 5}] * 2
    with sf() as s:
        assert len(s.scalars(select(CustomerValueTier)).all()) == 10
    assert recompute_tiers(sf, ws, now=NOW).changed == 0


def test_key_account_lines_for_the_digest(make, services, ws, book):
    sf = services.session_factory
    assert key_account_lines(untouched_key_accounts(sf, ws, days=30, now=NOW), now=NOW, name_of=str) == [
        "Key accounts: every A-tier customer had activity in the last 30 days."
    ]  # no tiers yet: nothing is A
    recompute_tiers(sf, ws, now=NOW)
    make.activity(book[0], at=NOW - timedelta(days=31))
    found = untouched_key_accounts(sf, ws, days=30, now=NOW, limit=2)
    names = {REP: "Rita", REP2: "Sam"}
    assert key_account_lines(found, now=NOW, name_of=names.__getitem__) == [
        "Key accounts untouched for 30+ days: 3",
        "• Cust 02 · Rita · nothing logged yet",
        "• Cust 03 · Sam · nothing logged yet",
        "…and 1 more",
    ]


def test_accounts_person_and_unfilterable_custom_fields(make, services, ws, book):
    sf = services.session_factory
    admin = Actor(ADMIN, is_admin=True)
    am = cf.definitions.define_field(sf, ws, actor=admin, entity="customer", label="Account manager", type="person")
    cf.definitions.define_field(sf, ws, actor=admin, entity="customer", label="Seats", type="number")
    cf.set_values(sf, ws, "customer", book[4].id, {am.key: REP2}, actor=admin)
    found = accounts(services, ws, AccountFilter(custom=(("account manager", f"<@{REP2}|sam>"),)))
    assert [r.name for r in found.rows] == ["Cust 05"] and found.described == [f"Account manager: @{REP2}"]
    with pytest.raises(InvalidInput, match="@-mention"):
        accounts(services, ws, AccountFilter(custom=(("account manager", "sam"),)))
    with pytest.raises(InvalidInput, match="Seats is a number field"):
        accounts(services, ws, AccountFilter(custom=(("seats", "5"),)))


def test_the_scheduler_recomputes_tiers_daily(services, ws):
    scheduler = start_scheduler(services)
    try:
        job = scheduler.get_job("value_tiers")
        assert job is not None and job.trigger.interval == timedelta(hours=24)
    finally:
        scheduler.shutdown(wait=True)


def test_digest_section_blocks_escape_names_and_validate(make, services, ws):
    sf = services.session_factory
    hostile = make.customer(f"Evil {PLANTED}", force=True)
    make.deal(hostile, stage="won", amount="100")
    make.deal(hostile, stage="proposal", amount="50", expected_close=date(2026, 3, 30))
    recompute_tiers(sf, ws, now=NOW)
    found = untouched_key_accounts(sf, ws, days=30, now=NOW)
    blocks = digest_section_blocks(run_forecast(services, ws), found, now=NOW, name_of=lambda u: "<!channel> Rita")
    assert validate_message({"text": "t", "blocks": blocks}) == []
    text = "\n".join(b["text"]["text"] for b in blocks)
    assert text.startswith("*Forecast:* $25.00 weighted of $50.00 open\n• Mar: $25.00 weighted")
    assert "*Key accounts untouched for 30+ days: 1*" in text and "&lt;!channel&gt; Rita" in text
    assert "<!channel>" not in text


def test_forecast_in_twelve_currencies_stays_valid_and_exact(make, services, ws, acme):
    codes = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "BHD"]
    for i, code in enumerate(codes):
        make.deal(acme, stage="negotiation", amount="1000", currency=code, expected_close=date(2026, 3 + i % 9, 1))
    f = run_forecast(services, ws)
    assert f.weighted["JPY"] == 750 and f.weighted["BHD"] == 750_000 and f.weighted["USD"] == 75_000
    assert len(f.weighted) == 12 and f.open_count == 12
    blocks = forecast_blocks(f, stage_label=str.title)
    assert validate_message({"text": "t", "blocks": blocks}) == [] and len(blocks) <= 6
    assert [b.label for b in f.buckets] == ["Mar", "Apr", "May", "Jun", "Jul", "Aug", "Later"]
