"""The daily pipeline digest as data: every part is one SQL aggregate, bounded lists only.

:func:`build_digest` runs a fixed, small number of statements (GROUP BY, window functions,
``LIMIT``) whatever the size of the workspace; nothing loads deals or activities into
Python to count them. The result is a plain :class:`Digest`; ``commands/digests/views.py``
turns it into Block Kit.

Windows:

- *since the last digest*: from the previous digest's snapshot time (``last_snapshot["at"]``),
  or the last 24 hours for a first digest or a preview;
- *yesterday*: the calendar day before today in the subscription's time zone;
- *stale*: an open deal longer in its stage than that stage's limit (``crm.stale``) whose
  customer has had no activity for as long.

- *key accounts*: A-tier customers (``crm.value``'s stored tiers) with no activity for
  ``key_account_days`` (``CRM_KEY_ACCOUNT_DAYS``);
- *forecast*: ``crm.forecast`` for the team, only in the first digest of the week (see
  :func:`first_of_week`), and only when the caller passes ``forecast_with``.

A later part is a new field here filled in :func:`build_digest`, and a new section function in
``commands/digests/views.py`` (``SECTIONS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.deals import StageTotal, add_totals, open_stage_list, stage_totals
from crm.forecast import Forecast, forecast
from crm.lifecycle import LifecycleStages
from crm.models import Activity, Customer, Deal, DealStageChange, FollowUp
from crm.pipeline_stages import CLOSED_KEYS, LOST, WON, PipelineStages
from crm.stale import StaleRule
from crm.states import OPEN_STATUSES
from crm.value import DEFAULT_KEY_ACCOUNT_DAYS, KeyAccounts, key_accounts_in

LIST_LIMIT = 5  # deals listed per part; the counts and totals cover them all
PARETO_SHARE = (4, 5)  # 80%: a customer is in the top while the ones before it sum to < 4/5
PARETO_CURRENCIES = 3


@dataclass(frozen=True)
class DealLine:
    deal_id: int
    title: str
    customer_name: str
    owner_user_id: str | None
    amount_minor: int | None
    currency: str
    from_stage: str | None = None
    to_stage: str | None = None
    last_touch: datetime | None = None  # stale deals: the customer's (or deal's) last activity
    stage: str | None = None  # stale deals: the stage it sits in, and since when
    in_stage_since: datetime | None = None


@dataclass(frozen=True)
class Movement:
    """Deals created, moved, won or lost in the window: all counted, the largest listed."""

    count: int
    totals: dict[str, int]
    items: list[DealLine]


@dataclass(frozen=True)
class RepActivity:
    user_id: str
    total: int
    by_type: dict[str, int]  # type key → count, most first


@dataclass(frozen=True)
class RepOverdue:
    user_id: str
    count: int
    oldest_due: datetime


@dataclass(frozen=True)
class ParetoCustomer:
    customer_id: int
    name: str
    total: int


@dataclass(frozen=True)
class Pareto:
    """The few customers making up 80% of the open pipeline in one currency."""

    currency: str
    grand_total: int
    customers: int  # customers with open value in this currency
    top_count: int  # how many it takes to reach 80%
    top: list[ParetoCustomer]  # the largest of them (at most LIST_LIMIT)
    top_total: int  # value of all ``top_count`` customers


@dataclass
class Digest:
    workspace_id: int
    built_at: datetime
    since: datetime
    tz: str
    local_date: date
    stale_days: int
    pipeline: list[StageTotal]
    open_count: int
    open_totals: dict[str, int]
    previous: dict[str, Any] | None
    created: Movement
    moved: Movement
    won: Movement
    lost: Movement
    yesterday: list[RepActivity]
    yesterday_total: int
    overdue: list[RepOverdue]
    overdue_total: int
    stale: Movement
    pareto: list[Pareto] = field(default_factory=list)
    stale_rule: StaleRule = field(default_factory=StaleRule)
    key_accounts: KeyAccounts | None = None  # A-tier customers nobody touched lately
    forecast: Forecast | None = None  # the weekly part: only in the first digest of the week
    extras: dict[str, Any] = field(default_factory=dict)  # parts added later

    @property
    def first(self) -> bool:
        """No digest came before this one (in this channel)."""
        return snapshot_time(self.previous) is None

    def snapshot(self) -> dict[str, Any]:
        """What the next digest compares against (stored on the subscription as JSON)."""
        return {
            "at": self.built_at.isoformat(),
            "stages": {s.stage: {"count": s.count, "totals": dict(s.totals)} for s in self.pipeline},
        }

    def previous_stage(self, key: str) -> StageTotal | None:
        if not self.previous:
            return None
        found = (self.previous.get("stages") or {}).get(key)
        if not isinstance(found, dict):
            return StageTotal(key, 0, {})
        totals = {str(k): int(v) for k, v in (found.get("totals") or {}).items()}
        return StageTotal(key, int(found.get("count") or 0), totals)


def snapshot_time(snapshot: dict[str, Any] | None) -> datetime | None:
    """When the digest that stored this snapshot was built, or None."""
    try:
        at = datetime.fromisoformat(str((snapshot or {})["at"]))
    except (KeyError, ValueError, TypeError):
        return None
    return at if at.tzinfo else None


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of ``day`` in ``tz``, in UTC (23 or 25 hours apart across DST)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


# -- the parts ------------------------------------------------------------------------------
def _live_deals(workspace_id: int) -> tuple:
    return (Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None))


def _plain_line(row) -> DealLine:
    deal_id, title, customer_name, owner, amount, currency = row[:6]
    return DealLine(deal_id, title, customer_name, owner, amount, currency)


def _movement(session: Session, where: tuple, *, extra_cols=(), join=None, limit: int, line=_plain_line) -> Movement:
    """Count, per-currency totals and the largest ``limit`` deals among those matching ``where``."""
    agg = select(Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount_minor), 0))
    items = select(
        Deal.id, Deal.title, Customer.name, Deal.owner_user_id, Deal.amount_minor, Deal.currency, *extra_cols
    )
    if join is not None:
        agg = agg.select_from(join)
        items = items.select_from(join)
    agg = agg.where(*where).group_by(Deal.currency)
    items = (
        items.join(Customer, Customer.id == Deal.customer_id)
        .where(*where)
        .order_by(func.coalesce(Deal.amount_minor, -1).desc(), Deal.id)
        .limit(limit)
    )
    count = 0
    totals: dict[str, int] = {}
    for currency, n, total in session.execute(agg).all():
        count += int(n)
        if total:
            totals[currency] = totals.get(currency, 0) + int(total)
    return Movement(count, totals, [line(row) for row in session.execute(items).all()])


def _moved(session: Session, workspace_id: int, since: datetime, until: datetime, limit: int) -> Movement:
    """Deals that changed between open stages: first "from" and last "to" in the window, per deal."""
    changes = (
        select(
            DealStageChange.deal_id.label("deal_id"),
            DealStageChange.to_stage.label("to_stage"),
            func.row_number()
            .over(
                partition_by=DealStageChange.deal_id,
                order_by=(DealStageChange.created_at.desc(), DealStageChange.id.desc()),
            )
            .label("rn"),
            func.first_value(DealStageChange.from_stage)
            .over(partition_by=DealStageChange.deal_id, order_by=(DealStageChange.created_at, DealStageChange.id))
            .label("first_from"),
        )
        .where(
            DealStageChange.workspace_id == workspace_id,
            DealStageChange.from_stage.is_not(None),
            DealStageChange.created_at >= since,
            DealStageChange.created_at < until,
        )
        .subquery()
    )
    join = Deal.__table__.join(changes, and_(changes.c.deal_id == Deal.id, changes.c.rn == 1))
    where = (*_live_deals(workspace_id), changes.c.to_stage.not_in(CLOSED_KEYS), Deal.stage.not_in(CLOSED_KEYS))

    def line(row) -> DealLine:
        return replace(_plain_line(row), from_stage=row[6], to_stage=row[7])

    return _movement(
        session, where, extra_cols=(changes.c.first_from, changes.c.to_stage), join=join, limit=limit, line=line
    )


def rep_activity(session: Session, workspace_id: int, start: datetime, end: datetime) -> tuple[list[RepActivity], int]:
    """Activities per rep (and per type) in [start, end), most active first."""
    rows = session.execute(
        select(Activity.created_by, Activity.type_key, func.count())
        .where(
            Activity.workspace_id == workspace_id,
            Activity.occurred_at >= start,
            Activity.occurred_at < end,
            Activity.deleted_at.is_(None),
        )
        .group_by(Activity.created_by, Activity.type_key)
    ).all()
    reps: dict[str, dict[str, int]] = {}
    for user, type_key, n in rows:
        reps.setdefault(user, {})[type_key] = int(n)
    out = [
        RepActivity(user, sum(types.values()), dict(sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))))
        for user, types in reps.items()
    ]
    out.sort(key=lambda r: (-r.total, r.user_id))
    return out, sum(r.total for r in out)


def _overdue(session: Session, workspace_id: int, now: datetime) -> tuple[list[RepOverdue], int]:
    rows = session.execute(
        select(FollowUp.owner_user_id, func.count(), func.min(FollowUp.due_at))
        .where(
            FollowUp.workspace_id == workspace_id,
            FollowUp.status.in_(OPEN_STATUSES),
            FollowUp.deleted_at.is_(None),
            FollowUp.due_at < now,
        )
        .group_by(FollowUp.owner_user_id)
    ).all()
    out = [RepOverdue(user, int(n), _aware(oldest)) for user, n, oldest in rows]
    out.sort(key=lambda r: (-r.count, r.user_id))
    return out, sum(r.count for r in out)


def _aware(value: datetime | str) -> datetime:
    """An aware UTC datetime from an aggregate (SQLite gives MIN()/MAX() of a datetime as text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stale(session: Session, workspace_id: int, now: datetime, rule: StaleRule, keys, limit: int) -> Movement:
    """Open deals longer in their stage than its limit, with no activity with the customer as long."""
    cutoff = case(
        *((Deal.stage == key, now - timedelta(days=rule.days(key))) for key in keys),
        else_=now - timedelta(days=rule.default_days),
    )
    entered = select(func.max(DealStageChange.created_at)).where(DealStageChange.deal_id == Deal.id).scalar_subquery()
    in_stage_since = func.coalesce(entered, Deal.created_at)
    recent = exists().where(
        Activity.customer_id == Deal.customer_id,
        Activity.occurred_at >= cutoff,
        Activity.deleted_at.is_(None),
    )
    where = (
        *_live_deals(workspace_id),
        Deal.stage.not_in(CLOSED_KEYS),
        Deal.created_at < cutoff,
        in_stage_since < cutoff,
        func.coalesce(Deal.last_activity_at, Deal.created_at) < cutoff,
        ~recent,
    )
    last_touch = (
        select(func.max(Activity.occurred_at))
        .where(Activity.customer_id == Deal.customer_id, Activity.deleted_at.is_(None))
        .scalar_subquery()
    )

    def line(row) -> DealLine:
        touch, since, stage = row[6], row[7], row[8]
        return replace(
            _plain_line(row),
            last_touch=_aware(touch) if touch is not None else None,
            in_stage_since=_aware(since) if since is not None else None,
            stage=stage,
        )

    return _movement(session, where, extra_cols=(last_touch, in_stage_since, Deal.stage), limit=limit, line=line)


def _pareto(session: Session, workspace_id: int, limit: int) -> list[Pareto]:
    per_customer = (
        select(
            Deal.currency.label("currency"),
            Deal.customer_id.label("customer_id"),
            func.sum(Deal.amount_minor).label("total"),
        )
        .where(*_live_deals(workspace_id), Deal.stage.not_in(CLOSED_KEYS), Deal.amount_minor > 0)
        .group_by(Deal.currency, Deal.customer_id)
        .subquery()
    )
    ordering = (per_customer.c.total.desc(), per_customer.c.customer_id)
    ranked = select(
        per_customer.c.currency,
        per_customer.c.customer_id,
        per_customer.c.total,
        func.sum(per_customer.c.total)
        .over(partition_by=per_customer.c.currency, order_by=ordering, rows=(None, -1))
        .label("before"),
        func.sum(per_customer.c.total).over(partition_by=per_customer.c.currency).label("grand"),
        func.count().over(partition_by=per_customer.c.currency).label("customers"),
        func.row_number().over(partition_by=per_customer.c.currency, order_by=ordering).label("rn"),
    ).subquery()
    num, den = PARETO_SHARE
    top = (
        select(
            ranked,
            func.count().over(partition_by=ranked.c.currency).label("top_count"),
            func.sum(ranked.c.total).over(partition_by=ranked.c.currency).label("top_total"),
        )
        .where(func.coalesce(ranked.c.before, 0) * den < ranked.c.grand * num)
        .subquery()
    )
    rows = session.execute(
        select(
            top.c.currency,
            top.c.customer_id,
            top.c.total,
            top.c.grand,
            top.c.customers,
            top.c.top_count,
            top.c.top_total,
            Customer.name,
        )
        .join(Customer, Customer.id == top.c.customer_id)
        .where(top.c.rn <= limit)
        .order_by(top.c.grand.desc(), top.c.currency, top.c.rn)
    ).all()
    out: dict[str, Pareto] = {}
    for currency, customer_id, total, grand, customers, top_count, top_total, name in rows:
        if currency not in out:
            if len(out) >= PARETO_CURRENCIES:
                continue
            out[currency] = Pareto(currency, int(grand), int(customers), int(top_count), [], int(top_total))
        out[currency].top.append(ParetoCustomer(customer_id, name, int(total)))
    return list(out.values())


@dataclass(frozen=True)
class ForecastInputs:
    """What the weekly forecast part needs from the workspace's settings."""

    lifecycle: LifecycleStages
    probabilities: dict[str, int]


def first_of_week(previous: dict[str, Any] | None, now: datetime, tz: str) -> bool:
    """Whether a digest at ``now`` is the first of its week (Monday to Sunday in ``tz``) in its
    channel: no digest came before, or the last one was in an earlier week. A channel that gets
    the digest on weekdays has it on Mondays, or on Tuesday after a Monday it skipped."""
    before = snapshot_time(previous)
    if before is None:
        return True
    zone = ZoneInfo(tz)
    return before.astimezone(zone).isocalendar()[:2] != now.astimezone(zone).isocalendar()[:2]


# -- the whole digest -----------------------------------------------------------------------
def build_digest(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    now: datetime,
    tz: str,
    stages: PipelineStages,
    previous: dict[str, Any] | None = None,
    stale_days: int = 14,
    stale: StaleRule | None = None,
    limit: int = LIST_LIMIT,
    key_account_days: int = DEFAULT_KEY_ACCOUNT_DAYS,
    forecast_with: ForecastInputs | None = None,
) -> Digest:
    """The digest for a workspace at ``now``, compared with ``previous`` (an earlier snapshot).

    ``stale``: the per-stage rule (default: :data:`crm.stale.DEFAULT_BY_STAGE`, ``stale_days`` for the rest).
    ``forecast_with``: add the forecast and conversion part when this is the first digest of the week."""
    rule = stale or StaleRule(stale_days)
    since = snapshot_time(previous) or now - timedelta(days=1)
    since = min(since, now)
    local_today = now.astimezone(ZoneInfo(tz)).date()
    y_start, y_end = local_day_bounds(local_today - timedelta(days=1), tz)
    live = _live_deals(workspace_id)
    with sf() as session:
        pipeline = open_stage_list(stages, stage_totals(session, (*live, Deal.stage.not_in(CLOSED_KEYS))))
        created = _movement(session, (*live, Deal.created_at >= since, Deal.created_at < now), limit=limit)
        moved = _moved(session, workspace_id, since, now, limit)
        won, lost = (
            _movement(session, (*live, Deal.stage == key, Deal.closed_at >= since, Deal.closed_at < now), limit=limit)
            for key in (WON, LOST)
        )
        yesterday, yesterday_total = rep_activity(session, workspace_id, y_start, y_end)
        overdue, overdue_total = _overdue(session, workspace_id, now)
        keys = tuple(dict.fromkeys((*stages.open_keys, *rule.by_stage)))
        stale_deals = _stale(session, workspace_id, now, rule, keys, limit)
        pareto = _pareto(session, workspace_id, limit)
        key_accounts = key_accounts_in(session, workspace_id, days=key_account_days, now=now, limit=limit)
    weekly = None
    if forecast_with is not None and first_of_week(previous, now, tz):
        weekly = forecast(sf, workspace_id, stages=stages, lifecycle=forecast_with.lifecycle,
                          probabilities=forecast_with.probabilities, now=now, tz=tz)  # fmt: skip
    return Digest(
        workspace_id=workspace_id,
        built_at=now,
        since=since,
        tz=tz,
        local_date=local_today,
        stale_days=rule.default_days,
        pipeline=pipeline,
        open_count=sum(s.count for s in pipeline),
        open_totals=add_totals([s.totals for s in pipeline]),
        previous=previous,
        created=created,
        moved=moved,
        won=won,
        lost=lost,
        yesterday=yesterday,
        yesterday_total=yesterday_total,
        overdue=overdue,
        overdue_total=overdue_total,
        stale=stale_deals,
        pareto=pareto,
        stale_rule=rule,
        key_accounts=key_accounts,
        forecast=weekly,
    )
