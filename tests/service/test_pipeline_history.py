"""The open pipeline week by week, derived from created and closed dates, and this week's activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm.pipeline_history import activities_this_week, weekly_open
from tests.conftest import REP, REP2

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday


def test_weekly_open_counts_what_was_open_at_each_point(services, ws, make, acme):
    old = make.deal(acme, stage="lead", amount="1000", currency="EUR", at=NOW - timedelta(weeks=10))
    make.deal(acme, stage="proposal", amount="500", currency="USD", at=NOW - timedelta(weeks=3, days=1))
    won = make.deal(acme, stage="lead", amount="200", currency="USD", at=NOW - timedelta(weeks=9))
    make.deal(acme, stage="lead", amount=None, at=NOW - timedelta(days=1))  # counted, adds nothing
    from crm.models import Deal

    with services.session_factory.begin() as s:
        s.get(Deal, won.id).stage = "won"
        s.get(Deal, won.id).closed_at = NOW - timedelta(weeks=5, days=1)
    w = weekly_open(services.session_factory, ws, now=NOW)
    assert len(w.points) == 8 and w.points[-1] == NOW
    assert list(w.totals) == ["USD", "EUR"]  # the fixed order, not by size
    assert w.totals["EUR"] == [100_000] * 8
    # Points are 7, 6, ... 0 weeks ago: $200 open until 5 weeks ago, $500 from 3 weeks ago.
    assert w.totals["USD"] == [20_000, 20_000, 0, 0, 50_000, 50_000, 50_000, 50_000]
    assert w.counts == [2, 2, 1, 1, 2, 2, 2, 3] and old.id
    assert weekly_open(services.session_factory, ws, now=NOW, owner=REP2).empty


def test_this_week_starts_on_monday_in_the_zone(services, ws, make, acme):
    monday = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # Monday 01:30 in Berlin
    make.activity(acme, by=REP, at=monday)
    make.activity(acme, by=REP2, at=monday - timedelta(hours=2))  # Sunday 23:30 in Berlin
    make.activity(acme, by=REP2, at=NOW - timedelta(hours=1), type_key="email")
    week = activities_this_week(services.session_factory, ws, now=NOW, tz="Europe/Berlin")
    assert week.since == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert [(r.user_id, r.total) for r in week.reps] == [(REP, 1), (REP2, 1)] and week.total == 2
