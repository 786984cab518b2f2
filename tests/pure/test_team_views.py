"""The Team section's and the handover brief's builders: Slack's limits whatever the data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.dev.blockkit_check import validate_message, validate_view
from commands.followups.home import home_view
from commands.handover import views as handover_views
from commands.team import views
from crm.deals import StageTotal
from crm.handover import Brief, BriefAccount, KeyAccount, TierGroup
from crm.models import Activity, FollowUp
from crm.money import format_money_short
from crm.my_day import MyDay
from crm.nudges import FollowUpRow
from crm.team import RepOverdue, RepPipeline, RepWeek, TeamOverview, WeekDeal, WeekDeals

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
EVIL = "<!channel> <@U0BOSS> " + "z" * 300


def mrkdwn(node) -> str:
    """The texts Slack parses for mentions (plain_text, such as a menu's options, is never parsed)."""
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return "\n".join(own + [mrkdwn(v) for v in node.values()])
    if isinstance(node, list):
        return "\n".join(mrkdwn(v) for v in node)
    return ""


def label(key: str) -> str:
    return f"{EVIL} {key}"


def overview(reps: int) -> TeamOverview:
    users = [f"U0R{i:04d}" for i in range(reps)]
    stage = {
        s: StageTotal(s, 3, {"USD": 10**12, "EUR": 5, "JPY": 7}) for s in ("lead", "qualified", "proposal", "x" * 60)
    }
    deal = WeekDeal(1, EVIL, EVIL, "U0R0001", 10**15, "USD", "lead", "proposal")
    return TeamOverview(
        week_start=NOW - timedelta(days=2),
        pipeline=[RepPipeline(u, 12, {"USD": 10**12, "GBP": 1}, stage) for u in users],
        open_count=12 * reps,
        open_totals={"USD": 10**14},
        overdue=[RepOverdue(u, 3000, NOW - timedelta(days=400)) for u in users],
        overdue_total=3000 * reps,
        activity=[RepWeek(u, {t: 9 for t in "abcdefghij"}, {"a": 1}, {"a": 4}) for u in users],
        week={k: WeekDeals(k, 500, {"USD": 10**15, "EUR": 3}, [deal] * 10) for k in ("won", "lost", "moved")},
    )


@pytest.mark.parametrize("reps", [0, 1, 50, 500])
def test_the_team_section_is_compact_and_valid(reps):
    team = overview(reps)
    blocks = views.team_blocks(team, name_of=label, stage_label=label, type_label=label, tz="Europe/Berlin", now=NOW)
    assert len(blocks) <= views.TEAM_BLOCKS
    rows = [
        FollowUpRow(FollowUp(id=i, customer_id=1, owner_user_id="U1", due_at=NOW, note=EVIL), EVIL) for i in range(30)
    ]
    later = [
        FollowUpRow(FollowUp(id=100 + i, customer_id=1, owner_user_id="U1", due_at=NOW, note=EVIL), EVIL)
        for i in range(30)
    ]
    day = MyDay(
        rows, 300, later, 300, [(Activity(type_key="call", occurred_at=NOW, summary=EVIL), EVIL)] * 20, [], rows
    )
    home = home_view(day, tz="UTC", now=NOW, type_label=label, stage_label=label, team=blocks)
    assert validate_view(home) == [] and len(home["blocks"]) <= 100
    shown = mrkdwn(home)
    assert "<!channel>" not in shown and "<@U0BOSS>" not in shown
    for modal in (
        views.all_reps_modal(
            "pipeline", [(r.user_id, views.pipeline_line(r, label, label, exact=True)) for r in team.pipeline]
        ),
        views.week_deals_modal(team.week["moved"], name_of=label, stage_label=label),
        views.activity_modal("x", team.activity[0] if reps else None, [], 0, type_label=label, tz="UTC", now=NOW),
    ):
        assert validate_view(modal) == []


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [(666_100_000, "USD", "$6.7M"), (12_000_000, "EUR", "€120k"), (95_000, "GBP", "£950"), (5000, "JPY", "¥5k"),
     (123_456_789, "CHF", "CHF 1.2M"), (0, "USD", "$0"), (10**15, "USD", "$10000B")],
)  # fmt: skip
def test_rounded_amounts(minor, currency, shown):
    assert format_money_short(minor, currency) == shown


def test_totals_keep_one_currency_order():
    assert views.totals_text({"USD": 100, "EUR": 200, "GBP": 300}) == views.totals_text(
        {"GBP": 300, "USD": 100, "EUR": 200}
    )
    assert views.totals_text({"USD": 100, "EUR": 200}).startswith("$")  # USD, EUR, GBP, … as everywhere


def test_a_huge_brief_fits_one_message():
    rows = [
        FollowUpRow(FollowUp(id=i, customer_id=1, owner_user_id="U1", due_at=NOW, note=EVIL), EVIL) for i in range(8)
    ]
    account = BriefAccount(1, EVIL, "A", 3)
    acts = [Activity(type_key="call", occurred_at=NOW, summary=EVIL)] * 3
    brief = Brief(
        handover_id=1, from_user_id="U1", to_user_id="U2", scope="tier:A",
        groups=[TierGroup(t, [account] * 8, 900) for t in ("A", "B", "C", None)], customers_total=3600,
        stages={f"s{i}": StageTotal(f"s{i}", 9, {"USD": 10**15, "EUR": 1}) for i in range(20)}, deals_total=180,
        next_follow_ups=rows, follow_ups_total=3000, overdue_total=3000,
        key_accounts=[KeyAccount(account, acts)] * 8, key_accounts_total=900, tiers=True,
    )  # fmt: skip
    payload = {
        "text": handover_views.brief_text(brief, leaving=EVIL),
        "blocks": handover_views.brief_blocks(
            brief, leaving=EVIL, by=EVIL, stage_label=label, type_label=label, tz="UTC", now=NOW
        ),
    }
    assert validate_message(payload) == []
    assert "<!channel>" not in mrkdwn(payload["blocks"]) and "…and 2,992 more" in json.dumps(
        payload, ensure_ascii=False
    )


def test_the_key_accounts_slot():
    from types import SimpleNamespace

    rows = [SimpleNamespace(name=EVIL, owner_user_id="U1", last_touch=NOW - timedelta(days=40))] * 9
    rows[0] = SimpleNamespace(name="Never Co", owner_user_id=None, last_touch=None)
    assert views.untouched_blocks([], 0, 30, name_of=label, now=NOW) == []
    blocks = views.untouched_blocks(rows, 25, 30, name_of=label, now=NOW)
    text = mrkdwn(blocks)
    assert len(blocks) == 1 and "(25)" in text and "never touched" in text and "quiet for 40 days" in text
    assert "…and 17 more" in text and "<!channel>" not in text
    team = overview(50)
    section = views.team_blocks(
        team, name_of=label, stage_label=label, type_label=label, tz="UTC", now=NOW, key_accounts=blocks
    )
    assert blocks[0] in section and len(section) <= views.TEAM_BLOCKS
