"""The digest's content: SQL aggregates over a seeded workspace, and a message that always fits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, insert

from bot.dev.blockkit_check import validate_message
from commands.digests import views
from crm import deals as dsvc
from crm.deals import StageTotal
from crm.digest import (
    DealLine,
    Digest,
    Movement,
    Pareto,
    ParetoCustomer,
    RepActivity,
    RepOverdue,
    build_digest,
    local_day_bounds,
)
from crm.models import Activity, FollowUp
from crm.pipeline_stages import DEFAULT
from tests.conftest import ADMIN, MANAGER, REP, REP2

BERLIN = "Europe/Berlin"
# Tuesday 10 March 2026, 09:00 in Berlin (CET, UTC+1).
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
LAST = NOW - timedelta(days=1)  # the previous digest


def test_local_day_bounds_follow_dst():
    start, end = local_day_bounds(date(2026, 3, 29), BERLIN)
    assert (end - start) == timedelta(hours=23)
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    start, end = local_day_bounds(date(2026, 10, 25), BERLIN)
    assert (end - start) == timedelta(hours=25)


def deal(services, ws, cust, *, stage="lead", amount="1000", currency="USD", owner=REP, at=LAST - timedelta(days=30)):
    form = dsvc.DealInput(
        title=f"{cust.name} {stage}", amount=amount, currency=currency, stage=stage, owner_user_id=owner
    )
    return dsvc.create_deal(services.session_factory, ws, cust.id, form, actor=owner, stages=DEFAULT, now=at)


def move(services, ws, d, stage, at):
    form = dsvc.DealInput(
        title=d.title,
        amount=dsvc.format_totals({d.currency: d.amount_minor}).lstrip("$€") if d.amount_minor else None,
        currency=d.currency,
        stage=stage,
        owner_user_id=d.owner_user_id,
    )
    return dsvc.update_deal(services.session_factory, ws, d.id, form, actor=d.owner_user_id, stages=DEFAULT, now=at)


def activities(services, ws, cust, rows):
    with services.session_factory.begin() as s:
        s.execute(
            insert(Activity),
            [
                {
                    "workspace_id": ws,
                    "customer_id": cust.id,
                    "type_key": kind,
                    "summary": "talked",
                    "occurred_at": at,
                    "created_by": who,
                    "created_at": at,
                }
                for who, kind, at in rows
            ],
        )


@pytest.fixture
def seeded(services, ws, make):
    acme, globex, initech, quiet = (make.customer(n) for n in ("Acme", "Globex", "Initech", "Quiet Ltd"))
    old = LAST - timedelta(days=30)
    # Open pipeline: Acme 70k, Globex 20k, Initech 10k (USD) and one EUR deal.
    deal(services, ws, acme, stage="proposal", amount="70k", at=old)
    deal(services, ws, globex, stage="qualified", amount="20k", owner=REP2, at=old)
    moved = deal(services, ws, initech, stage="lead", amount="10k", at=old)
    deal(services, ws, quiet, stage="lead", amount="5k", currency="EUR", at=old)
    # Since the last digest: one created, one moved twice, one won, one lost.
    deal(services, ws, acme, stage="lead", amount="", owner=REP2, at=NOW - timedelta(hours=2))
    move(services, ws, moved, "qualified", LAST + timedelta(hours=1))
    move(services, ws, moved, "negotiation", LAST + timedelta(hours=3))
    won = deal(services, ws, globex, stage="negotiation", amount="8k", owner=REP2, at=old)
    move(services, ws, won, "won", LAST + timedelta(hours=5))
    lost = deal(services, ws, quiet, stage="proposal", amount="3k", at=old)
    move(services, ws, lost, "lost", LAST + timedelta(hours=6))
    # Closed before the last digest: not in "since".
    early = deal(services, ws, acme, stage="lead", amount="1k", at=old)
    move(services, ws, early, "won", LAST - timedelta(hours=1))
    # Yesterday in Berlin is Monday 9 March: [08 Mar 23:00 UTC, 09 Mar 23:00 UTC).
    activities(
        services,
        ws,
        acme,
        [
            (REP, "call", datetime(2026, 3, 8, 23, 0, tzinfo=UTC)),  # Mon 00:00 Berlin: yesterday
            (REP, "call", datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
            (REP, "meeting", datetime(2026, 3, 9, 22, 59, tzinfo=UTC)),  # Mon 23:59 Berlin
            (REP2, "email", datetime(2026, 3, 9, 9, 0, tzinfo=UTC)),
            (REP2, "call", datetime(2026, 3, 8, 22, 59, tzinfo=UTC)),  # Sun 23:59 Berlin: not yesterday
            (MANAGER, "note", datetime(2026, 3, 9, 23, 0, tzinfo=UTC)),  # Tue 00:00 Berlin: today
        ],
    )
    # Globex and Initech were touched recently; Quiet Ltd never: its open deal is stale.
    activities(services, ws, globex, [(REP2, "call", NOW - timedelta(days=3))])
    activities(services, ws, initech, [(REP, "call", NOW - timedelta(days=13))])
    # Overdue follow-ups: REP 2 (oldest 5 days), ADMIN 1; one done and one future don't count.
    rows = [
        (REP, NOW - timedelta(days=5), "open"),
        (REP, NOW - timedelta(hours=1), "snoozed"),
        (ADMIN, NOW - timedelta(days=1), "open"),
        (REP2, NOW - timedelta(days=9), "done"),
        (REP2, NOW + timedelta(hours=1), "open"),
    ]
    with services.session_factory.begin() as s:
        s.execute(
            insert(FollowUp),
            [
                {
                    "workspace_id": ws,
                    "customer_id": acme.id,
                    "owner_user_id": who,
                    "due_at": due,
                    "status": status,
                    "created_by": who,
                    "created_at": old,
                    "nudge_attempts": 0,
                }
                for who, due, status in rows
            ],
        )
    previous = {
        "at": LAST.isoformat(),
        "stages": {
            "lead": {"count": 2, "totals": {"USD": 1_000_000, "EUR": 500_000}},
            "qualified": {"count": 1, "totals": {"USD": 2_000_000}},
            "proposal": {"count": 2, "totals": {"USD": 7_300_000}},
            "negotiation": {"count": 1, "totals": {"USD": 800_000}},
        },
    }
    return {"acme": acme, "globex": globex, "initech": initech, "quiet": quiet, "previous": previous}


def build(services, ws, previous, **kw):
    return build_digest(
        services.session_factory, ws, now=NOW, tz=BERLIN, stages=DEFAULT, previous=previous, stale_days=14, **kw
    )


def test_digest_counts_totals_and_changes(services, ws, seeded):
    d = build(services, ws, seeded["previous"])
    stages = {s.stage: s for s in d.pipeline}
    assert [s.stage for s in d.pipeline] == ["lead", "qualified", "proposal", "negotiation"]
    assert (stages["lead"].count, stages["lead"].totals) == (2, {"EUR": 500_000})  # new Acme deal has no amount
    assert (stages["negotiation"].count, stages["negotiation"].totals) == (1, {"USD": 1_000_000})
    assert d.open_count == 5 and d.open_totals == {"USD": 10_000_000, "EUR": 500_000}
    assert d.since == LAST and d.local_date == date(2026, 3, 10)
    # Change since the last digest, as the message shows it.
    assert views.stage_change(stages["proposal"], d.previous_stage("proposal")) == "▼1 · −$3,000.00"
    assert views.stage_change(stages["qualified"], d.previous_stage("qualified")) == "="
    assert views.stage_change(stages["negotiation"], d.previous_stage("negotiation")) == "+$2,000.00"
    lead_change = views.stage_change(stages["lead"], d.previous_stage("lead"))
    assert lead_change == "−$10,000.00"

    assert (d.created.count, d.created.totals) == (1, {})
    assert d.created.items[0].owner_user_id == REP2
    assert d.moved.count == 1
    [m] = d.moved.items
    assert (m.customer_name, m.from_stage, m.to_stage, m.amount_minor) == ("Initech", "lead", "negotiation", 1_000_000)
    assert (d.won.count, d.won.totals, d.won.items[0].customer_name) == (1, {"USD": 800_000}, "Globex")
    assert (d.lost.count, d.lost.totals) == (1, {"USD": 300_000})


def test_digest_reps_yesterday_overdue_and_stale(services, ws, seeded):
    d = build(services, ws, seeded["previous"])
    assert [(r.user_id, r.total, r.by_type) for r in d.yesterday] == [
        (REP, 3, {"call": 2, "meeting": 1}),
        (REP2, 1, {"email": 1}),
    ]
    assert d.yesterday_total == 4
    assert [(r.user_id, r.count) for r in d.overdue] == [(REP, 2), (ADMIN, 1)]
    assert d.overdue[0].oldest_due == NOW - timedelta(days=5)
    assert d.stale.count == 1
    [stale] = d.stale.items
    assert (stale.customer_name, stale.last_touch) == ("Quiet Ltd", None)


def test_pareto_names_the_few_customers_with_most_open_value(services, ws, seeded):
    d = build(services, ws, None)
    usd = next(p for p in d.pareto if p.currency == "USD")
    # Acme 70k, Initech 10k→ in negotiation, Globex 20k: Acme + Globex reach 80% of 100k.
    assert (usd.grand_total, usd.customers, usd.top_count, usd.top_total) == (10_000_000, 3, 2, 9_000_000)
    assert [(c.name, c.total) for c in usd.top] == [("Acme", 7_000_000), ("Globex", 2_000_000)]
    eur = next(p for p in d.pareto if p.currency == "EUR")
    assert (eur.top_count, eur.top[0].name) == (1, "Quiet Ltd")
    assert d.pareto[0].currency == "USD"  # largest pipeline first


def test_first_digest_covers_the_last_day_and_says_so(services, ws, seeded):
    d = build(services, ws, None)
    assert d.previous is None and d.since == NOW - timedelta(days=1)
    blocks = views.digest_blocks(d, stages=DEFAULT, type_label=str.capitalize)
    assert "First digest" in str(blocks)
    snap = d.snapshot()
    assert snap["at"] == NOW.isoformat() and snap["stages"]["proposal"] == {"count": 1, "totals": {"USD": 7_000_000}}


def test_building_is_a_fixed_number_of_sql_statements(services, ws, seeded):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        build(services, ws, seeded["previous"])
        first = len(statements)
        statements.clear()
        for i in range(30):  # much more data: still the same statements
            deal(services, ws, seeded["acme"], amount=str(100 + i), at=NOW - timedelta(minutes=30))
        statements.clear()
        build(services, ws, seeded["previous"])
    finally:
        event.remove(services.engine, "before_cursor_execute", count)
    assert len(statements) == first <= 19  # key accounts: a count, a page and (when any) their won value
    assert all("GROUP BY" in s or "LIMIT" in s or "count(" in s.lower() for s in statements if "deals" in s)


def test_digest_message_is_valid_and_reads_well(services, ws, seeded):
    d = build(services, ws, seeded["previous"])
    blocks = views.digest_blocks(
        d, stages=DEFAULT, type_label=lambda k: k.capitalize(), late_for=NOW - timedelta(hours=2)
    )
    message = {"text": views.digest_text(d), "blocks": blocks}
    assert validate_message(message) == []
    summary = str(blocks)
    assert "⏰ *Late:* due at 07:00" in summary
    assert "*Open pipeline:* 5 deals · $100k + €5k" in summary and "Since the last digest" in summary
    assert "🏆 1 won ($8k)" in summary and "$100,000.00" not in summary
    detail = views.detail_blocks(d, stages=DEFAULT, type_label=lambda k: k.capitalize())
    assert validate_message({"text": views.detail_text(d), "blocks": detail}) == []
    text = str(detail)
    assert "Initech" in text and "Lead → Negotiation" in text
    assert f"<@{REP}> (3): Call 2 · Meeting 1" in text
    assert "Quiet Ltd" in text and "no activity yet" in text
    assert "2 of 3 make up 90% of $100,000.00 open" in text
    assert "5 open deals" in message["text"]


# -- pure: a huge digest still fits ----------------------------------------------------------------
def _line(i: int) -> DealLine:
    return DealLine(
        i, "Big deal <!here> " + "x" * 200, "Customer " + "y" * 200, f"U{i:08d}", 10**9 + i, "USD", "lead", "won"
    )


def test_a_huge_digest_fits_in_one_message():
    many = Movement(12_345, {"USD": 10**14, "EUR": 5}, [_line(i) for i in range(5)])
    stages = [StageTotal(f"retired{i}", 10_000, {"USD": 10**13}) for i in range(40)]
    d = Digest(
        workspace_id=1,
        built_at=NOW,
        since=LAST,
        tz=BERLIN,
        local_date=date(2026, 3, 10),
        stale_days=14,
        pipeline=stages,
        open_count=400_000,
        open_totals={"USD": 10**15},
        previous={"at": LAST.isoformat(), "stages": {}},
        created=many,
        moved=many,
        won=many,
        lost=many,
        yesterday=[RepActivity(f"U{i:08d}", 50, {f"type{j}": 5 for j in range(10)}) for i in range(500)],
        yesterday_total=25_000,
        overdue=[RepOverdue(f"U{i:08d}", 12, NOW - timedelta(days=40)) for i in range(500)],
        overdue_total=6000,
        stale=many,
        pareto=[
            Pareto(c, 10**14, 9000, 4000, [ParetoCustomer(i, "Z" * 300, 10**12) for i in range(5)], 8 * 10**13)
            for c in ("USD", "EUR", "GBP")
        ],
    )
    blocks = views.digest_blocks(d, stages=DEFAULT, type_label=lambda k: k * 10)
    assert validate_message({"text": views.digest_text(d), "blocks": blocks}) == []
    assert len(str(blocks)) < 3000 and "<!here>" not in str(blocks)
    blocks = views.detail_blocks(d, stages=DEFAULT, type_label=lambda k: k * 10)
    assert validate_message({"text": views.detail_text(d), "blocks": blocks}) == []
    assert len(blocks) <= 50
    text = str(blocks)
    assert "more reps_" in text and "…and 12,340 more deals" in text and "…and 3,995 more customers" in text
    assert "<!here>" not in text
