"""Old delivery keys are pruned; recent ones, which a retry could still hit, are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.housekeeping import prune_processed_events
from crm.models import ProcessedEvent

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_prune_keeps_what_slack_could_still_retry(services):
    ws = services.workspace_id("T0TEST")
    with services.session_factory.begin() as s:
        s.add(ProcessedEvent(workspace_id=ws, event_key="event:old", created_at=NOW - timedelta(days=8)))
        s.add(ProcessedEvent(workspace_id=ws, event_key="event:recent", created_at=NOW - timedelta(minutes=3)))
    assert prune_processed_events(services.session_factory, now=NOW) == 1
    with services.session_factory() as s:
        assert s.scalars(select(ProcessedEvent.event_key)).all() == ["event:recent"]
