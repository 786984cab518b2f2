"""What the charts need beyond the digest: the open pipeline week by week, and this week's activity.

The open pipeline at a past moment is derived from each deal's ``created_at`` and ``closed_at``
(a deal is open at ``t`` when it was created by then and not closed by then; reopening a deal
clears its ``closed_at``). The stage history (``deal_stage_changes``) keeps stages, not amounts,
so every deal counts with its current amount; deleted deals are left out. One statement with a
``SUM(CASE ...)`` per week, whatever the size of the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from crm.digest import RepActivity, local_day_bounds, rep_activity
from crm.models import Deal
from crm.money import in_currency_order
from crm.pipeline_stages import CLOSED_KEYS

WEEKS = 8


@dataclass(frozen=True)
class WeeklyOpen:
    """The open pipeline at ``points`` (oldest first, the last is now), per currency."""

    points: list[datetime]
    totals: dict[str, list[int]]  # currency → value at each point, in the fixed currency order
    counts: list[int]

    @property
    def empty(self) -> bool:
        return not any(self.counts)


def weekly_open(
    sf: sessionmaker[Session], workspace_id: int, *, now: datetime, weeks: int = WEEKS, owner: str | None = None
) -> WeeklyOpen:
    points = [now - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    where = [Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None)]
    if owner:
        where.append(Deal.owner_user_id == owner)

    def open_at(at: datetime):
        # closed_at may be missing on a closed deal imported without dates: it counts as closed then.
        still_open = or_(
            and_(Deal.closed_at.is_(None), Deal.stage.not_in(CLOSED_KEYS)),
            Deal.closed_at > at,
        )
        return and_(Deal.created_at <= at, still_open)

    columns = []
    for at in points:
        columns.append(func.sum(case((open_at(at), func.coalesce(Deal.amount_minor, 0)), else_=0)))
        columns.append(func.sum(case((open_at(at), 1), else_=0)))
    with sf() as session:
        rows = session.execute(select(Deal.currency, *columns).where(*where).group_by(Deal.currency)).all()
    counts = [0] * weeks
    totals: dict[str, list[int]] = {}
    for row in rows:
        values = [int(v or 0) for v in row[1::2]]
        for i, n in enumerate(row[2::2]):
            counts[i] += int(n or 0)
        if any(values):
            totals[row[0]] = values
    ordered = [cur for cur, _ in in_currency_order({c: 0 for c in totals})]
    return WeeklyOpen(points, {cur: totals[cur] for cur in ordered}, counts)


@dataclass(frozen=True)
class WeekActivity:
    since: datetime  # Monday 00:00 local, in UTC
    reps: list[RepActivity]
    total: int


def activities_this_week(sf: sessionmaker[Session], workspace_id: int, *, now: datetime, tz: str) -> WeekActivity:
    """Activities per rep and type from Monday 00:00 (in ``tz``) until ``now``."""
    today = now.astimezone(ZoneInfo(tz)).date()
    start, _ = local_day_bounds(today - timedelta(days=today.weekday()), tz)
    with sf() as session:
        reps, total = rep_activity(session, workspace_id, start, now)
    return WeekActivity(start, reps, total)
