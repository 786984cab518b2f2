"""Housekeeping: forget Slack deliveries once Slack can no longer retry them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from crm.db import rows_changed
from crm.models import ProcessedEvent

# Slack retries an event for about 5 minutes and a payload's signature is good for 5; a
# week leaves ample margin for replays, replica clocks and the odd support investigation.
KEEP_DELIVERIES = timedelta(days=7)


def prune_processed_events(sf: sessionmaker[Session], *, now: datetime, keep: timedelta = KEEP_DELIVERIES) -> int:
    """Delete delivery keys older than ``keep``; return how many went. Safe on every replica."""
    with sf.begin() as session:
        result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.created_at < now - keep))
        return rows_changed(result)
