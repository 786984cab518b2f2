"""Value tiers, stage probabilities, the forecast arithmetic and the `/crm accounts` grammar: pure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.config import ConfigError, load_settings
from bot.dev.blockkit_check import validate_message
from commands.accounts import filters
from commands.accounts import views as account_views
from commands.customers.value import value_line
from commands.digests.forecast_view import forecast_blocks
from crm.accounts import AccountFilter, AccountPage, AccountRow
from crm.errors import InvalidInput
from crm.forecast import (
    Conversions,
    OpenDealRow,
    WinRate,
    build_forecast,
    digest_lines,
    parse_stage_probabilities,
    probabilities_for,
)
from crm.pipeline_stages import DEFAULT, parse_pipeline_stages
from crm.value import CustomerValue, Tier, pareto_tiers
from tests.support.hostile import PLANTED

TODAY = date(2026, 3, 4)


# -- tiers ------------------------------------------------------------------------------------------
def test_pareto_the_fewest_customers_holding_80_percent_are_a():
    # 10 customers, 1000 in all: 500 + 200 + 100 = 800 (80%) -> A; + 80 + 70 = 950 (95%) -> B; rest C.
    won = {i: {"USD": v} for i, v in enumerate([500, 200, 100, 80, 70, 20, 10, 10, 5, 5], start=1)}
    tiers = pareto_tiers(won, customers=[99])
    assert [tiers[i].tier for i in range(1, 11)] == ["A", "A", "A", "B", "B", "C", "C", "C", "C", "C"]
    assert tiers[99] == Tier("C")  # nothing won
    assert tiers[1].basis_currency == "USD"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([100], ["A"]),  # one customer holds everything
        ([50, 50], ["A", "A"]),  # 50% is not yet 80%
        ([80, 20], ["A", "B"]),  # 80 reaches 80% exactly: the second is not needed for A
        ([81, 14, 5], ["A", "B", "C"]),
        ([1, 1, 1, 1, 1], ["A", "A", "A", "A", "B"]),  # ties: ranked by id, stable
    ],
)
def test_pareto_boundaries(values, expected):
    won = {i: {"EUR": v} for i, v in enumerate(values, start=1)}
    tiers = pareto_tiers(won)
    assert [tiers[i].tier for i in range(1, len(values) + 1)] == expected


def test_pareto_per_currency_takes_the_best_tier():
    won = {
        1: {"USD": 900, "EUR": 10},  # A in USD, C in EUR
        2: {"USD": 100},
        3: {"EUR": 1000},
        4: {"EUR": 90},
    }
    tiers = pareto_tiers(won)
    assert tiers[1] == Tier("A", "USD")
    assert tiers[2] == Tier("B", "USD")  # 900 of 1000 before it: past 80%, before 95%
    assert tiers[3] == Tier("A", "EUR")
    assert tiers[4].tier == "B"


def test_pareto_twelve_currencies_and_zero_amounts():
    codes = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "INR"]
    won = {i: {code: 1000 * (i + 1)} for i, code in enumerate(codes)}
    won[100] = {"USD": 0}
    tiers = pareto_tiers(won)
    assert all(tiers[i] == Tier("A", code) for i, code in enumerate(codes))  # each alone in its currency
    assert tiers[100] == Tier("C")
    assert pareto_tiers({}) == {}


# -- probabilities ----------------------------------------------------------------------------------
def test_stage_probabilities_defaults_and_admin_values():
    assert parse_stage_probabilities(None, DEFAULT) == {"lead": 10, "qualified": 25, "proposal": 50, "negotiation": 75}
    assert parse_stage_probabilities("lead:5, Proposal:60%", DEFAULT)["proposal"] == 60
    custom = parse_pipeline_stages("lead:Lead:🌱,demo:Demo:🖥️,trial:Trial:🧪,won:Won:🏆,lost:Lost:🪦")
    assert parse_stage_probabilities("", custom) == {"lead": 10, "demo": 50, "trial": 75}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("lead", "is not stage:percent"),
        ("won:100", "closed stage"),
        ("banana:10", "is not an open pipeline stage"),
        ("lead:150", "whole percent from 0 to 100"),
        ("lead:-5", "whole percent"),
        ("lead:1.5", "whole percent"),
        ("lead:10,lead:20", "given twice"),
        (f"{PLANTED}:10", "is not an open pipeline stage"),
    ],
)
def test_stage_probabilities_refuse_bad_values(raw, words):
    with pytest.raises(ValueError, match=words):
        parse_stage_probabilities(raw, DEFAULT)


# -- the forecast -------------------------------------------------------------------------------------
NO_WIN = WinRate(0, 0, {}, None)
NO_CONV = Conversions(0, [], 0, TODAY.replace(day=1))
PROBS = {"lead": 10, "qualified": 25, "proposal": 50, "negotiation": 75}


def test_forecast_weights_by_stage_and_close_month_exactly():
    rows = [
        OpenDealRow("proposal", "USD", date(2026, 3, 20), 2, 1_000_001),  # $10,000.01 -> 50% = 500000.5 -> 500001
        OpenDealRow("lead", "USD", date(2026, 4, 1), 1, 333),  # 10% = 33.3 -> 33
        OpenDealRow("negotiation", "EUR", date(2026, 2, 27), 1, 10_000),  # past close date: 75% = 7500
        OpenDealRow("qualified", "JPY", None, 1, 999),  # no close date: 25% = 249.75 -> 250
        OpenDealRow("lead", "USD", date(2027, 1, 1), 1, 1000),  # beyond six months: "Later", 100
        OpenDealRow("discovery", "USD", date(2026, 3, 5), 1, 5000),  # retired stage: weighs 0
    ]
    f = build_forecast(rows, PROBS, today=TODAY, win=NO_WIN, conversions=NO_CONV, stage_order=DEFAULT.open_keys)
    got = {b.label: (b.count, b.totals, b.weighted) for b in f.buckets}
    assert got == {
        "Past close date": (1, {"EUR": 10_000}, {"EUR": 7500}),
        "Mar": (3, {"USD": 1_005_001}, {"USD": 500_001}),
        "Apr": (1, {"USD": 333}, {"USD": 33}),
        "Later": (1, {"USD": 1000}, {"USD": 100}),
        "No close date": (1, {"JPY": 999}, {"JPY": 250}),
    }
    assert [b.key for b in f.buckets] == ["past", "2026-03", "2026-04", "later", "none"]
    # the total is rounded once: 500000.5 + 33.3 + 100 = 500133.8 -> 500134
    assert f.weighted == {"USD": 500_134, "EUR": 7500, "JPY": 250}
    assert f.open_count == 7
    assert [s for s, _, _ in f.by_stage] == ["lead", "qualified", "proposal", "negotiation", "discovery"]
    lines = digest_lines(f)
    assert lines[0] == "*Forecast:* $5,001.34 + €75.00 + ¥250 weighted of $10,063.34 + €100.00 + ¥999 open"
    assert "Mar: $5,000.01 weighted · 3 deals, $10,050.01 in all" in lines[2]


def test_forecast_with_no_deals_says_so():
    f = build_forecast([], PROBS, today=TODAY, win=NO_WIN, conversions=NO_CONV)
    assert f.empty and f.buckets == [] and f.weighted == {}
    assert digest_lines(f) == [
        "*Forecast:* no open deals to forecast.",
        "Win rate: no deals won or lost in the last 90 days",
        "Lead → customer in Mar: none yet",
    ]
    blocks = forecast_blocks(f, stage_label=str.title)
    assert "no open deals to forecast" in blocks[1]["text"]["text"]
    assert validate_message({"text": "t", "blocks": blocks}) == []


def test_win_rate_words():
    f = build_forecast([], PROBS, today=TODAY, win=WinRate(3, 1, {"USD": 100}, 12.4),
                       conversions=Conversions(2, ["Acme", "Globex"], 5, date(2026, 3, 1)))  # fmt: skip
    assert f.win.rate == 75
    assert digest_lines(f)[1:] == [
        "Win rate (90 days): 75% · 3 won, 1 lost · 12 days to close on average",
        "Lead → customer in Mar: 2 · 5 new leads",
    ]
    text = forecast_blocks(f, stage_label=str.title)[-2]["text"]["text"]
    assert text.endswith("Lead → customer in Mar: 2 · 5 new leads: Acme, Globex")


# -- the /crm accounts grammar ------------------------------------------------------------------------
ME = "U0ASKER"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", AccountFilter()),
        ("tier:A", AccountFilter(tiers=("A",))),
        ("tier:a,b", AccountFilter(tiers=("A", "B"))),
        ("TIER:AB", AccountFilter(tiers=("A", "B"))),
        ("tier:none", AccountFilter(tiers=("none",))),
        ("owner:me", AccountFilter(owner=ME)),
        ("owner:<@U012ABCDEF|rita>", AccountFilter(owner="U012ABCDEF")),
        ("stage:customer", AccountFilter(lifecycle="customer")),
        ('industry:"Financial services"', AccountFilter(industry="Financial services")),
        ("industry:“Financial services”", AccountFilter(industry="Financial services")),
        ("quiet:30", AccountFilter(quiet_days=30)),
        ("untouched:45d", AccountFilter(quiet_days=45)),
        ("region:EMEA plan:Gold", AccountFilter(custom=(("region", "EMEA"), ("plan", "Gold")))),
        ("acme corp", AccountFilter(name="acme corp")),
        ('industry:"unterminated', AccountFilter(industry="unterminated")),
    ],
)
def test_accounts_filters(text, expected):
    assert filters.parse(text, asker=ME).filters == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tier:D", "isn't a tier"),
        ("tier:,", "Say which tier"),
        ("owner:rita", "@-mention"),
        ("quiet:soon", "quiet days"),
        ("quiet:99999", "quiet days"),
        ("page:zero", "page as a number"),
        ("industry:", "needs a value"),
        ("x" * 1200, "too long"),
        (" ".join(f"f{i}:v" for i in range(20)), "more than 12 filters"),
    ],
)
def test_accounts_filters_refuse_what_they_cannot_read(text, words):
    with pytest.raises(InvalidInput, match=words):
        filters.parse(text, asker=ME)


def test_accounts_filter_text_round_trips_for_the_page_buttons():
    text = 'tier:A owner:<@U012ABCDEF> stage:customer industry:"Financial services" quiet:30 region:EMEA acme page:3'
    query = filters.parse(text, asker=ME)
    assert query.page == 3
    assert filters.parse(filters.unparse(query.filters), asker=ME).filters == query.filters


def test_no_match_blocks_are_valid_and_escape_the_filter():
    f = filters.parse(f"industry:{PLANTED}", asker=ME).filters
    page = AccountPage([], 0, 1, 10, [f"industry “{f.industry}”"])
    now = datetime(2026, 3, 4, tzinfo=UTC)
    blocks = account_views.accounts_blocks(page, f, query_text="", now=now, lifecycle_label=str, usage=filters.USAGE)
    assert validate_message({"text": "t", "blocks": blocks}) == []
    text = blocks[1]["text"]["text"]
    assert text.startswith("No accounts match industry") and "<!channel>" not in text


# -- settings -----------------------------------------------------------------------------------------
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "abc123"}


def test_settings_key_account_days_and_stage_probabilities():
    s = load_settings(GOOD)
    assert (s.key_account_days, s.stage_probabilities) == (30, None)
    s = load_settings({**GOOD, "CRM_KEY_ACCOUNT_DAYS": "45", "CRM_STAGE_PROBABILITIES": "lead:5, proposal:60"})
    assert s.key_account_days == 45
    assert dict(probabilities_for(s.stage_probabilities, s.deal_stages)) == {
        "lead": 5, "qualified": 25, "proposal": 60, "negotiation": 75
    }  # fmt: skip


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"CRM_KEY_ACCOUNT_DAYS": "0"}, "CRM_KEY_ACCOUNT_DAYS"),
        ({"CRM_STAGE_PROBABILITIES": "lead:120"}, "CRM_STAGE_PROBABILITIES is malformed: lead's probability"),
        ({"CRM_DEAL_STAGES": "lead:Lead:🌱,demo:Demo:🖥️,won:Won:🏆,lost:Lost:🪦",
          "CRM_STAGE_PROBABILITIES": "proposal:50"}, "'proposal' is not an open pipeline stage"),
    ],
)  # fmt: skip
def test_bad_value_settings_name_the_variable(env, words):
    with pytest.raises(ConfigError, match=words):
        load_settings({**GOOD, **env})


# -- the card's value line ------------------------------------------------------------------------------
def test_card_value_line():
    several = CustomerValue(1, {"USD": 500_000, "EUR": 1_000}, 3, {}, 0, "A", "USD")
    assert value_line(several) == (
        "🥇 *Tier A* (key account) by its USD deals · lifetime $5,000.00 + €10.00 (3 won deals) · no open deals"
    )
    fresh = CustomerValue(2, {}, 0, {"GBP": 100}, 1, None)
    assert value_line(fresh) == "Tier: worked out at the next daily run · nothing won yet · open £1.00 (1 deal)"


def test_an_account_line_reads_as_a_sentence_with_or_without_won_deals():
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    never = AccountRow(1, "Hooli Foods", "U0REP", None, None, None, CustomerValue(1, {}, 0, {"USD": 7_200_000}, 2, "C"))
    line = account_views.account_line(never, now=now, lifecycle_label=str)
    assert "Nothing won yet · open $72,000.00 (2 deals) · never touched" in line
    assert "Lifetime nothing" not in line
    won = AccountRow(2, "Acme", "U0REP", None, None, now, CustomerValue(2, {"EUR": 2_400_000}, 1, {}, 0, "B"))
    assert "Lifetime €24,000.00 · no open deals · touched today" in account_views.account_line(
        won, now=now, lifecycle_label=str
    )
