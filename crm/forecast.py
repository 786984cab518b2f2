"""Forecast and conversion for `/crm pipeline team` and the weekly digest (issue 16, item 5).

* **Weighted pipeline**: each open deal's amount times its stage's probability, by expected
  close month, per currency (never converted). Deals whose close date has passed are one
  bucket ("past close date"), deals without one another. Probabilities are whole percents set
  by admins in ``CRM_STAGE_PROBABILITIES`` (``lead:10,qualified:25``); a stage left out takes
  its default (:data:`DEFAULT_PROBABILITIES`, or for a stage of the workspace's own, a share
  by its place in the pipeline). Weighted sums are exact: minor units × percent summed as
  integers, divided by 100 once per total, rounded half up.
* **Win rate and days to close** over the last :data:`WINDOW_DAYS` days: won ÷ (won + lost) by
  count among deals closed in the window, and the average of created → closed for the won ones.
* **Lead → customer conversions this month**, from the lifecycle history: customers moved into
  the ``customer`` stage this month from an earlier stage (a lead or prospect), not those created
  as customers or imported that way.

:func:`forecast` reads the database; :func:`build_forecast` and :func:`digest_lines` are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.deals import format_totals
from crm.lifecycle import LifecycleStages
from crm.models import Customer, CustomerLifecycleChange, Deal
from crm.pipeline_stages import CLOSED_KEYS, LOST, WON, PipelineStages, stages_for

WINDOW_DAYS = 90
MAX_MONTHS = 6  # months shown one by one; later ones are summed as "later"
CUSTOMER_STAGE = "customer"
DEFAULT_PROBABILITIES: dict[str, int] = {"lead": 10, "qualified": 25, "proposal": 50, "negotiation": 75}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
Totals = dict[str, int]


# -- probabilities ------------------------------------------------------------------------------
def default_probability(stages: PipelineStages, key: str) -> int:
    if key in DEFAULT_PROBABILITIES:
        return DEFAULT_PROBABILITIES[key]
    open_keys = stages.open_keys
    if key not in open_keys:
        return 10
    return round(100 * (open_keys.index(key) + 1) / (len(open_keys) + 1))


def parse_stage_probabilities(raw: str | None, stages: PipelineStages) -> dict[str, int]:
    """Read ``CRM_STAGE_PROBABILITIES`` (``lead:10,qualified:25``) into a percent for every open stage.

    Raises ``ValueError`` with a sentence saying what is wrong (``bot.config`` adds the name)."""
    given: dict[str, int] = {}
    for entry in (raw or "").split(","):
        if not entry.strip():
            continue
        key, sep, number = entry.partition(":")
        key, number = key.strip().lower(), number.strip().rstrip("%").strip()
        if not sep or not key:
            raise ValueError(f"{entry.strip()[:40]!r} is not stage:percent")
        if key in CLOSED_KEYS:
            raise ValueError(f"{key} is a closed stage; won counts 100% and lost 0%, always")
        stage = stages.resolve(key)
        if stage is None or stage.closed:
            raise ValueError(f"{key[:40]!r} is not an open pipeline stage (the stages are {stages.names()})")
        if not number.isdigit() or not 0 <= int(number) <= 100:
            raise ValueError(f"{stage.key}'s probability {number[:20]!r} is not a whole percent from 0 to 100")
        if stage.key in given:
            raise ValueError(f"{stage.key} is given twice")
        given[stage.key] = int(number)
    return {key: given.get(key, default_probability(stages, key)) for key in stages.open_keys}


@lru_cache(maxsize=8)
def probabilities_for(raw: str | None, deal_stages: str | None) -> tuple[tuple[str, int], ...]:
    """:func:`parse_stage_probabilities` under ``CRM_DEAL_STAGES``, parsed once per configuration."""
    return tuple(parse_stage_probabilities(raw, stages_for(deal_stages)).items())


# -- the forecast, pure ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenDealRow:
    stage: str
    currency: str
    expected_close: date | None
    count: int
    amount_minor: int  # summed over ``count`` deals


@dataclass(frozen=True)
class Bucket:
    key: str  # "past", "2026-03", ..., "later", "none"
    label: str
    count: int
    totals: Totals
    weighted: Totals


@dataclass(frozen=True)
class WinRate:
    won: int
    lost: int
    won_totals: Totals
    avg_days_to_close: float | None  # over the won deals; None when none was won

    @property
    def rate(self) -> int | None:
        """Percent, rounded; None when nothing closed in the window."""
        closed = self.won + self.lost
        return round(100 * self.won / closed) if closed else None


@dataclass(frozen=True)
class Conversions:
    count: int
    names: list[str]  # the first few, for the message
    new_leads: int  # customers who entered the first lifecycle stage this month
    month_start: date
    available: bool = True  # False: the lifecycle stages have no "customer" stage


@dataclass(frozen=True)
class Forecast:
    buckets: list[Bucket]
    open_count: int
    totals: Totals
    weighted: Totals
    probabilities: dict[str, int]
    win: WinRate
    conversions: Conversions
    today: date
    window_days: int = WINDOW_DAYS
    by_stage: list[tuple[str, int, Totals]] = field(default_factory=list)  # stage, count, weighted

    @property
    def empty(self) -> bool:
        return self.open_count == 0 and self.win.won + self.win.lost == 0 and self.conversions.count == 0


def _add(totals: Totals, currency: str, minor: int) -> None:
    if minor:
        totals[currency] = totals.get(currency, 0) + minor


def _weighted(hundredths: Mapping[str, int]) -> Totals:
    """Sums of minor units × percent, divided by 100 and rounded half up (all integers)."""
    return {cur: (v + 50) // 100 for cur, v in hundredths.items() if v}


def month_label(key: str, today: date) -> str:
    year, month = (int(p) for p in key.split("-"))
    return MONTHS[month - 1] + (f" {year}" if year != today.year else "")


def build_forecast(
    rows: Iterable[OpenDealRow],
    probabilities: Mapping[str, int],
    *,
    today: date,
    win: WinRate,
    conversions: Conversions,
    stage_order: Iterable[str] = (),
) -> Forecast:
    """Weighted pipeline by close month from grouped open-deal rows. A retired stage's deals
    weigh 0% until they are moved (their amount still shows in the totals)."""
    first_month = today.replace(day=1)
    months = []
    for i in range(MAX_MONTHS):
        y, m = divmod(first_month.month - 1 + i, 12)
        months.append(f"{first_month.year + y:04d}-{m + 1:02d}")
    count: dict[str, int] = {}
    raw: dict[str, Totals] = {}
    hundredths: dict[str, Totals] = {}
    stage_count: dict[str, int] = {}
    stage_weight: dict[str, Totals] = {}
    for row in rows:
        if row.expected_close is None:
            key = "none"
        elif row.expected_close < first_month:
            key = "past"
        else:
            key = f"{row.expected_close.year:04d}-{row.expected_close.month:02d}"
            key = key if key in months else "later"
        pct = probabilities.get(row.stage, 0)
        count[key] = count.get(key, 0) + row.count
        _add(raw.setdefault(key, {}), row.currency, row.amount_minor)
        _add(hundredths.setdefault(key, {}), row.currency, row.amount_minor * pct)
        stage_count[row.stage] = stage_count.get(row.stage, 0) + row.count
        _add(stage_weight.setdefault(row.stage, {}), row.currency, row.amount_minor * pct)
    labels = {"past": "Past close date", "later": "Later", "none": "No close date"}
    buckets = [
        Bucket(key, labels.get(key) or month_label(key, today), count[key], raw.get(key, {}),
               _weighted(hundredths.get(key, {})))
        for key in ("past", *months, "later", "none") if count.get(key)
    ]  # fmt: skip
    all_raw: Totals = {}
    all_hundredths: Totals = {}
    for key in count:
        for cur, v in raw.get(key, {}).items():
            _add(all_raw, cur, v)
        for cur, v in hundredths.get(key, {}).items():
            _add(all_hundredths, cur, v)
    order = list(stage_order) + sorted(k for k in stage_count if k not in stage_order)
    by_stage = [(k, stage_count[k], _weighted(stage_weight.get(k, {}))) for k in order if stage_count.get(k)]
    return Forecast(
        buckets,
        sum(count.values()),
        all_raw,
        _weighted(all_hundredths),
        dict(probabilities),
        win,
        conversions,
        today,
        by_stage=by_stage,
    )


# -- the forecast, from the database ------------------------------------------------------------------
def _open_rows(session: Session, where: tuple) -> list[OpenDealRow]:
    rows = session.execute(
        select(Deal.stage, Deal.currency, Deal.expected_close, func.count(),
               func.coalesce(func.sum(Deal.amount_minor), 0))
        .where(*where, Deal.stage.not_in(CLOSED_KEYS))
        .group_by(Deal.stage, Deal.currency, Deal.expected_close)
    ).all()  # fmt: skip
    return [OpenDealRow(s, c, d, int(n), int(t or 0)) for s, c, d, n, t in rows]


def _win_rate(session: Session, where: tuple, now: datetime, days: int) -> WinRate:
    since = now - timedelta(days=days)
    rows = session.execute(
        select(Deal.stage, Deal.currency, Deal.amount_minor, Deal.created_at, Deal.closed_at).where(
            *where, Deal.stage.in_(CLOSED_KEYS), Deal.closed_at >= since, Deal.closed_at <= now
        )
    ).all()
    won = [r for r in rows if r.stage == WON]
    totals: Totals = {}
    for r in won:
        _add(totals, r.currency, r.amount_minor or 0)
    spans = [max(0.0, (r.closed_at - r.created_at).total_seconds() / 86400) for r in won]
    average = sum(spans) / len(spans) if spans else None
    return WinRate(len(won), sum(1 for r in rows if r.stage == LOST), totals, average)


def _conversions(session: Session, workspace_id: int, lifecycle: LifecycleStages, start: datetime,
                 now: datetime, month_start: date) -> Conversions:  # fmt: skip
    keys = [s.key for s in lifecycle.stages]
    if CUSTOMER_STAGE not in keys:
        return Conversions(0, [], 0, month_start, available=False)
    earlier = keys[: keys.index(CUSTOMER_STAGE)]
    live = (Customer.deleted_at.is_(None), Customer.merged_into_id.is_(None))
    in_month = (
        CustomerLifecycleChange.workspace_id == workspace_id,
        CustomerLifecycleChange.created_at >= start,
        CustomerLifecycleChange.created_at <= now,
    )
    converted = session.execute(
        select(Customer.id, Customer.name)
        .join(CustomerLifecycleChange, CustomerLifecycleChange.customer_id == Customer.id)
        .where(*in_month, *live, CustomerLifecycleChange.to_stage == CUSTOMER_STAGE,
               CustomerLifecycleChange.from_stage.in_(earlier))
        .distinct()
        .order_by(Customer.name, Customer.id)
    ).all()  # fmt: skip
    new_leads = 0
    if earlier:
        new_leads = session.scalar(
            select(func.count(func.distinct(CustomerLifecycleChange.customer_id)))
            .join(Customer, Customer.id == CustomerLifecycleChange.customer_id)
            .where(*in_month, *live, CustomerLifecycleChange.to_stage == earlier[0])
        ) or 0  # fmt: skip
    return Conversions(len(converted), [name for _, name in converted[:5]], int(new_leads), month_start)


def forecast(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    stages: PipelineStages,
    lifecycle: LifecycleStages,
    probabilities: Mapping[str, int],
    now: datetime,
    tz: str = "UTC",
    owner: str | None = None,
    window_days: int = WINDOW_DAYS,
) -> Forecast:
    """The forecast for the team (``owner=None``) or one rep; months and "this month" in ``tz``."""
    local = now.astimezone(ZoneInfo(tz))
    today = local.date()
    month_start = today.replace(day=1)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    where: tuple = (Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None))
    if owner:
        where = (*where, Deal.owner_user_id == owner)
    with sf() as session:
        rows = _open_rows(session, where)
        win = _win_rate(session, where, now, window_days)
        conversions = _conversions(session, workspace_id, lifecycle, start, now, month_start)
    built = build_forecast(
        rows, probabilities, today=today, win=win, conversions=conversions, stage_order=stages.open_keys
    )
    return replace(built, window_days=window_days)


# -- words -----------------------------------------------------------------------------------------
def win_line(f: Forecast) -> str:
    w = f.win
    if w.rate is None:
        return f"Win rate: no deals won or lost in the last {f.window_days} days"
    line = f"Win rate ({f.window_days} days): {w.rate}% · {w.won:,} won, {w.lost:,} lost"
    if w.avg_days_to_close is not None:
        line += f" · {round(w.avg_days_to_close):,} days to close on average"
    return line


def conversion_line(f: Forecast) -> str:
    c = f.conversions
    month = MONTHS[c.month_start.month - 1]
    if not c.available:
        return "Lead → customer: the lifecycle stages have no “customer” stage to count"
    line = f"Lead → customer in {month}: {f'{c.count:,}' if c.count else 'none yet'}"
    if c.new_leads:
        line += f" · {c.new_leads:,} new lead{'s' if c.new_leads != 1 else ''}"
    return line


def bucket_line(b: Bucket) -> str:
    return (
        f"{b.label}: {format_totals(b.weighted, empty='nothing')} weighted · "
        f"{b.count:,} deal{'s' if b.count != 1 else ''}, {format_totals(b.totals, empty='no amount')} in all"
    )


def digest_lines(f: Forecast) -> list[str]:
    """The weekly digest's forecast section: at most about 10 short plain lines (mrkdwn-safe,
    no names), the heading first."""
    if f.open_count == 0:
        lines = ["*Forecast:* no open deals to forecast."]
    else:
        lines = [f"*Forecast:* {format_totals(f.weighted, empty='nothing')} weighted of {format_totals(f.totals)} open"]
        lines += ["• " + bucket_line(b) for b in f.buckets]
    lines.append(win_line(f))
    lines.append(conversion_line(f))
    return lines
