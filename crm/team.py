"""The team view for managers and admins (the App Home's Team section and its details).

Aggregates over the whole workspace, a few GROUP BYs each: open pipeline by rep and stage,
overdue follow-ups per rep, activities this week against last week per rep and type, and the
deals that moved, were won or were lost this week. Only managers and admins may see it
(:func:`check_sees_team`); every function asks, so a forwarded button is refused too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.actors import Actor
from crm.deals import StageTotal, add_totals
from crm.errors import InvalidInput, PermissionDenied
from crm.models import Activity, Customer, Deal, DealStageChange, FollowUp
from crm.nudges import FollowUpRow, follow_up_rows
from crm.pipeline_stages import CLOSED_KEYS, LOST, WON
from crm.states import OPEN_STATUSES

TEAM_ONLY = "Only managers and admins see the team view."
WEEK_KINDS = ("won", "lost", "moved")


def check_sees_team(actor: Actor) -> None:
    if not actor.sees_team:
        raise PermissionDenied(TEAM_ONLY)


def week_start(now: datetime, tz: str) -> datetime:
    """Monday 00:00 of ``now``'s week in ``tz``, as UTC."""
    local = now.astimezone(ZoneInfo(tz))
    monday = (local - timedelta(days=local.weekday())).date()
    return datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@dataclass(frozen=True)
class RepPipeline:
    user_id: str
    count: int
    totals: dict[str, int]  # currency -> minor units
    stages: dict[str, StageTotal]


@dataclass(frozen=True)
class RepOverdue:
    user_id: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class RepWeek:
    """A rep's activities per type: this week so far, last week by the same time, all last week."""

    user_id: str
    this_week: dict[str, int]
    last_week_so_far: dict[str, int]
    last_week: dict[str, int]

    @property
    def this_total(self) -> int:
        return sum(self.this_week.values())

    @property
    def so_far_total(self) -> int:
        return sum(self.last_week_so_far.values())

    @property
    def last_total(self) -> int:
        return sum(self.last_week.values())


@dataclass(frozen=True)
class WeekDeal:
    deal_id: int
    title: str
    customer_name: str
    owner_user_id: str | None
    amount_minor: int | None
    currency: str
    from_stage: str | None
    to_stage: str


@dataclass(frozen=True)
class WeekDeals:
    kind: str  # "won", "lost" or "moved"
    count: int
    totals: dict[str, int]
    items: list[WeekDeal]  # the largest first, at most the limit asked for


@dataclass
class TeamOverview:
    week_start: datetime
    pipeline: list[RepPipeline]
    open_count: int
    open_totals: dict[str, int]
    overdue: list[RepOverdue]
    overdue_total: int
    activity: list[RepWeek]
    week: dict[str, WeekDeals] = field(default_factory=dict)


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite gives MIN() of a datetime as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _open_deals(workspace_id: int) -> tuple:
    return (Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None), Deal.stage.not_in(CLOSED_KEYS))


def _overdue_where(workspace_id: int, now: datetime) -> tuple:
    return (
        FollowUp.workspace_id == workspace_id,
        FollowUp.deleted_at.is_(None),
        FollowUp.status.in_(OPEN_STATUSES),
        FollowUp.due_at <= now,
    )


def _pipeline(session: Session, workspace_id: int) -> list[RepPipeline]:
    rows = session.execute(
        select(
            Deal.owner_user_id, Deal.stage, Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount_minor), 0)
        )
        .where(*_open_deals(workspace_id))
        .group_by(Deal.owner_user_id, Deal.stage, Deal.currency)
    ).all()
    reps: dict[str, dict[str, tuple[int, dict[str, int]]]] = {}
    for owner, stage, currency, n, total in rows:
        stages = reps.setdefault(owner or "", {})
        count, totals = stages.get(stage, (0, {}))
        if total:
            totals = {**totals, currency: totals.get(currency, 0) + int(total)}
        stages[stage] = (count + int(n), totals)
    out = [
        RepPipeline(
            user,
            sum(c for c, _ in stages.values()),
            add_totals([t for _, t in stages.values()]),
            {s: StageTotal(s, c, t) for s, (c, t) in stages.items()},
        )
        for user, stages in reps.items()
    ]
    out.sort(key=lambda r: (-r.count, r.user_id))
    return out


def _overdue(session: Session, workspace_id: int, now: datetime) -> list[RepOverdue]:
    rows = session.execute(
        select(FollowUp.owner_user_id, func.count(), func.min(FollowUp.due_at))
        .where(*_overdue_where(workspace_id, now))
        .group_by(FollowUp.owner_user_id)
    ).all()
    out = [RepOverdue(user, int(n), _aware(oldest)) for user, n, oldest in rows]
    out.sort(key=lambda r: (-r.count, r.user_id))
    return out


def _activity(session: Session, workspace_id: int, start: datetime, now: datetime) -> list[RepWeek]:
    last_start = start - timedelta(days=7)
    so_far_end = now - timedelta(days=7)
    bucket = case((Activity.occurred_at >= start, "this"), (Activity.occurred_at < so_far_end, "so_far"), else_="last")
    rows = session.execute(
        select(Activity.created_by, Activity.type_key, bucket, func.count())
        .where(
            Activity.workspace_id == workspace_id,
            Activity.deleted_at.is_(None),
            Activity.occurred_at >= last_start,
            Activity.occurred_at <= now,
        )
        .group_by(Activity.created_by, Activity.type_key, bucket)
    ).all()
    reps: dict[str, tuple[dict[str, int], dict[str, int], dict[str, int]]] = {}
    for user, type_key, which, n in rows:
        this, so_far, last = reps.setdefault(user, ({}, {}, {}))
        if which == "this":
            this[type_key] = this.get(type_key, 0) + int(n)
        else:  # "so_far" is part of last week too
            last[type_key] = last.get(type_key, 0) + int(n)
            if which == "so_far":
                so_far[type_key] = so_far.get(type_key, 0) + int(n)
    out = [RepWeek(u, *buckets) for u, buckets in reps.items()]
    out.sort(key=lambda r: (-r.this_total, -r.last_total, r.user_id))
    return out


def _deal_rows(session: Session, where: tuple, changes: dict[int, tuple[str | None, str]], kind: str, limit: int):
    agg = session.execute(
        select(Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount_minor), 0))
        .where(*where)
        .group_by(Deal.currency)
    ).all()
    count = sum(int(n) for _, n, _ in agg)
    totals = {cur: int(t) for cur, _, t in agg if t}
    rows = session.execute(
        select(Deal.id, Deal.title, Customer.name, Deal.owner_user_id, Deal.amount_minor, Deal.currency, Deal.stage)
        .join(Customer, Customer.id == Deal.customer_id)
        .where(*where)
        .order_by(func.coalesce(Deal.amount_minor, -1).desc(), Deal.id)
        .limit(limit)
    ).all()
    items = [
        WeekDeal(i, title, name, owner, amount, cur, changes.get(i, (None, stage))[0], stage)
        for i, title, name, owner, amount, cur, stage in rows
    ]
    return WeekDeals(kind, count, totals, items)


def _week_deals(session: Session, workspace_id: int, start: datetime, limit: int) -> dict[str, WeekDeals]:
    # Each deal's first "from" stage this week (its last "to" is where it is now).
    changes: dict[int, tuple[str | None, str]] = {}
    for deal_id, from_stage, to_stage in session.execute(
        select(DealStageChange.deal_id, DealStageChange.from_stage, DealStageChange.to_stage)
        .where(DealStageChange.workspace_id == workspace_id, DealStageChange.created_at >= start)
        .order_by(DealStageChange.created_at, DealStageChange.id)
    ).all():
        first = changes.get(deal_id)
        changes[deal_id] = (first[0] if first else from_stage, to_stage)
    live = (Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None))
    moved_ids = [i for i, (frm, _) in changes.items() if frm is not None and frm not in CLOSED_KEYS]
    out = {
        kind: _deal_rows(session, (*live, Deal.stage == kind, Deal.closed_at >= start), changes, kind, limit)
        for kind in (WON, LOST)
    }
    moved_where = (*live, Deal.stage.not_in(CLOSED_KEYS), Deal.id.in_(moved_ids[:5000]))
    out["moved"] = _deal_rows(session, moved_where, changes, "moved", limit)
    return out


def team_overview(
    sf: sessionmaker[Session], workspace_id: int, actor: Actor, *, now: datetime, limit: int = 10
) -> TeamOverview:
    """Everything the Team section shows, in one read."""
    check_sees_team(actor)
    start = week_start(now, actor.tz)
    with sf() as session:
        pipeline = _pipeline(session, workspace_id)
        overdue = _overdue(session, workspace_id, now)
        return TeamOverview(
            week_start=start,
            pipeline=pipeline,
            open_count=sum(r.count for r in pipeline),
            open_totals=add_totals([r.totals for r in pipeline]),
            overdue=overdue,
            overdue_total=sum(r.count for r in overdue),
            activity=_activity(session, workspace_id, start, now),
            week=_week_deals(session, workspace_id, start, limit),
        )


# -- the details a row opens --------------------------------------------------------------------
def rep_open_deals(
    sf: sessionmaker[Session], workspace_id: int, actor: Actor, rep: str, *, limit: int = 60
) -> tuple[list[tuple[Deal, str]], int]:
    """A rep's open deals (largest first) and how many there are."""
    check_sees_team(actor)
    where = (*_open_deals(workspace_id), Deal.owner_user_id == rep)
    with sf() as session:
        total = session.scalar(select(func.count()).select_from(Deal).where(*where)) or 0
        rows = session.execute(
            select(Deal, Customer.name)
            .join(Customer, Customer.id == Deal.customer_id)
            .where(*where)
            .order_by(Deal.stage, func.coalesce(Deal.amount_minor, -1).desc(), Deal.id)
            .limit(limit)
        ).all()
        return [(d, n) for d, n in rows], int(total)


def rep_overdue(
    sf: sessionmaker[Session], workspace_id: int, actor: Actor, rep: str, *, now: datetime, limit: int = 40
) -> tuple[list[FollowUpRow], int]:
    """A rep's overdue follow-ups, the oldest first."""
    check_sees_team(actor)
    with sf() as session:
        return follow_up_rows(session, (*_overdue_where(workspace_id, now), FollowUp.owner_user_id == rep), limit)


def rep_week_activities(
    sf: sessionmaker[Session], workspace_id: int, actor: Actor, rep: str, *, now: datetime, limit: int = 40
) -> tuple[list[tuple[Activity, str]], int]:
    """What a rep logged since the start of last week, the latest first."""
    check_sees_team(actor)
    since = week_start(now, actor.tz) - timedelta(days=7)
    where = (
        Activity.workspace_id == workspace_id,
        Activity.deleted_at.is_(None),
        Activity.created_by == rep,
        Activity.occurred_at >= since,
        Activity.occurred_at <= now,
    )
    with sf() as session:
        total = session.scalar(select(func.count()).select_from(Activity).where(*where)) or 0
        rows = session.execute(
            select(Activity, Customer.name)
            .join(Customer, Customer.id == Activity.customer_id)
            .where(*where)
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(limit)
        ).all()
        return [(a, n) for a, n in rows], int(total)


def week_deals(
    sf: sessionmaker[Session], workspace_id: int, actor: Actor, kind: str, *, now: datetime, limit: int = 60
) -> WeekDeals:
    """The deals won, lost or moved this week (the actor's week), the largest first."""
    check_sees_team(actor)
    if kind not in WEEK_KINDS:
        raise InvalidInput("That list does not exist.")
    with sf() as session:
        return _week_deals(session, workspace_id, week_start(now, actor.tz), limit)[kind]
