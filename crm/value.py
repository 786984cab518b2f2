"""Customer value: lifetime value, open pipeline, the A/B/C tier, key accounts and contact cadence.

**Lifetime value** is the sum of a customer's won deals, per currency, exact (minor units summed
by the database); **open pipeline** the same over its open deals. Currencies are never added
together or converted: the CRM keeps no exchange rates.

**Tiers (Pareto).** Within each currency, customers are ranked by won value (largest first, ties
by customer id so the answer is stable): the fewest customers whose won value reaches 80% of the
currency's total are **A**, the next ones up to 95% are **B**, the rest are **C**. A customer
with won deals in several currencies takes its best tier among them (the currency that gave it
is kept as ``basis_currency``), so a workspace that sells in euros and in dollars ranks each
market on its own instead of by a rate nobody agreed on. Customers with no won value are C.

Tiers are stored (``customer_value_tiers``) by :func:`recompute_tiers`, which the scheduler runs
daily: one GROUP BY over the won deals, then only the rows whose tier changed are written. Running
it twice, or on two replicas at once, gives the same rows.

**Key accounts** are the A-tier customers; :func:`untouched_key_accounts` lists those with no
activity for ``CRM_KEY_ACCOUNT_DAYS``. **Cadence** hints (:func:`contact_cadence`) warn when a
contact has been emailed or called :data:`CADENCE_LIMIT` times or more in the last 7 days, and
when a key contact (one with :data:`KEY_CONTACT_ACTIVITIES` or more logged activities) has had
none for ``CRM_KEY_ACCOUNT_DAYS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Activity, Contact, Customer, CustomerValueTier, Deal, Workspace
from crm.pipeline_stages import CLOSED_KEYS, WON

log = logging.getLogger(__name__)

TIERS = ("A", "B", "C")
A_SHARE = 80  # percent of a currency's won value held by the A customers
B_SHARE = 95  # ... by the A and B customers together
CADENCE_DAYS = 7
CADENCE_LIMIT = 3  # emails or calls to one contact in CADENCE_DAYS before the card warns
CADENCE_TYPES = ("email", "call")
KEY_CONTACT_ACTIVITIES = 3  # logged activities that make a contact a key contact
DEFAULT_KEY_ACCOUNT_DAYS = 30

Totals = dict[str, int]  # currency -> minor units


def live_customers(workspace_id: int) -> tuple:
    return (Customer.workspace_id == workspace_id, Customer.deleted_at.is_(None), Customer.merged_into_id.is_(None))


def _live_deals(workspace_id: int) -> tuple:
    return (Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None))


# -- tiers: pure ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tier:
    tier: str
    basis_currency: str | None = None


def pareto_tiers(won: Mapping[int, Mapping[str, int]], customers: Iterable[int] = ()) -> dict[int, Tier]:
    """Each customer's tier from its won value per currency (see the module docstring).

    ``customers`` adds customers with nothing won (they are C). Integer arithmetic only.
    """
    best: dict[int, Tier] = {cid: Tier("C") for cid in customers}
    currencies = sorted({cur for totals in won.values() for cur, minor in totals.items() if minor > 0})
    for currency in currencies:
        ranked = sorted(
            ((cid, totals.get(currency, 0)) for cid, totals in won.items() if totals.get(currency, 0) > 0),
            key=lambda item: (-item[1], item[0]),
        )
        grand = sum(minor for _, minor in ranked)
        before = 0
        for cid, minor in ranked:
            if before * 100 < A_SHARE * grand:
                tier = "A"
            elif before * 100 < B_SHARE * grand:
                tier = "B"
            else:
                tier = "C"
            before += minor
            current = best.get(cid)
            if current is None or current.basis_currency is None or TIERS.index(tier) < TIERS.index(current.tier):
                best[cid] = Tier(tier, currency)
    for cid in won:
        best.setdefault(cid, Tier("C"))
    return best


# -- tiers: stored ----------------------------------------------------------------------------
def won_by_customer(
    session: Session, workspace_id: int, customer_ids: Sequence[int] | None = None
) -> dict[int, Totals]:
    """Won value per customer and currency: the whole workspace, or only ``customer_ids``."""
    where = [*_live_deals(workspace_id), *live_customers(workspace_id), Deal.stage == WON]
    if customer_ids is not None:
        where.append(Deal.customer_id.in_(list(customer_ids)))
    rows = session.execute(
        select(Deal.customer_id, Deal.currency, func.sum(Deal.amount_minor))
        .join(Customer, Customer.id == Deal.customer_id)
        .where(*where)
        .group_by(Deal.customer_id, Deal.currency)
    ).all()
    out: dict[int, Totals] = {}
    for cid, currency, total in rows:
        if total:
            out.setdefault(cid, {})[currency] = int(total)
    return out


@dataclass(frozen=True)
class TierReport:
    workspace_id: int
    customers: int
    changed: int
    counts: dict[str, int]


def _apply_tiers(session: Session, workspace_id: int, now: datetime) -> TierReport:
    """Core statements, not ORM objects: a 20,000-customer workspace is a few bulk statements."""
    live = list(session.scalars(select(Customer.id).where(*live_customers(workspace_id))))
    tiers = pareto_tiers(won_by_customer(session, workspace_id), live)
    table = cast(Table, CustomerValueTier.__table__)
    stored = {
        cid: (rid, tier, basis)
        for rid, cid, tier, basis in session.execute(
            select(table.c.id, table.c.customer_id, table.c.tier, table.c.basis_currency).where(
                table.c.workspace_id == workspace_id
            )
        )
    }
    new, changed = [], []
    for cid, tier in tiers.items():
        row = stored.pop(cid, None)
        if row is None:
            new.append({"workspace_id": workspace_id, "customer_id": cid, "tier": tier.tier,
                        "basis_currency": tier.basis_currency, "computed_at": now})  # fmt: skip
        elif (row[1], row[2]) != (tier.tier, tier.basis_currency):
            changed.append({"rid": row[0], "t": tier.tier, "b": tier.basis_currency, "at": now})
    if new:
        session.execute(insert(table), new)
    if changed:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("rid"))
            .values(tier=bindparam("t"), basis_currency=bindparam("b"), computed_at=bindparam("at")),
            changed,
        )
    if stored:  # customers deleted or merged away since the last run
        session.execute(delete(table).where(table.c.id.in_([rid for rid, _, _ in stored.values()])))
    counts = {t: sum(1 for x in tiers.values() if x.tier == t) for t in TIERS}
    return TierReport(workspace_id, len(tiers), len(new) + len(changed) + len(stored), counts)


def recompute_tiers(sf: sessionmaker[Session], workspace_id: int, *, now: datetime) -> TierReport:
    """Store every live customer's tier; idempotent, and safe when two replicas run it at once
    (the loser of a race on a new row runs again and finds the winner's rows already right)."""
    for attempt in range(3):
        try:
            with sf.begin() as session:
                return _apply_tiers(session, workspace_id, now)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("value tiers for workspace %s written concurrently; running again", workspace_id)
    raise AssertionError("unreachable")  # pragma: no cover


def recompute_all_tiers(sf: sessionmaker[Session], *, now: datetime) -> list[TierReport]:
    """The daily job: every workspace, one transaction each."""
    with sf() as session:
        ids = list(session.scalars(select(Workspace.id).order_by(Workspace.id)))
    return [recompute_tiers(sf, wid, now=now) for wid in ids]


def tiers_of(session: Session, customer_ids: list[int]) -> dict[int, CustomerValueTier]:
    if not customer_ids:
        return {}
    rows = session.scalars(select(CustomerValueTier).where(CustomerValueTier.customer_id.in_(customer_ids)))
    return {row.customer_id: row for row in rows}


# -- one customer's value -----------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerValue:
    customer_id: int
    won: Totals
    won_count: int
    open: Totals
    open_count: int
    tier: str | None  # None until the first daily recompute saw this customer
    basis_currency: str | None = None
    tier_at: datetime | None = None


def _deal_totals(session: Session, where: tuple) -> dict[int, tuple[int, Totals]]:
    rows = session.execute(
        select(Deal.customer_id, Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount_minor), 0))
        .where(*where)
        .group_by(Deal.customer_id, Deal.currency)
    ).all()
    out: dict[int, tuple[int, Totals]] = {}
    for cid, currency, count, total in rows:
        n, totals = out.get(cid, (0, {}))
        if total:
            totals[currency] = totals.get(currency, 0) + int(total)
        out[cid] = (n + int(count), totals)
    return out


def customer_values(session: Session, workspace_id: int, customer_ids: list[int]) -> dict[int, CustomerValue]:
    """Lifetime value and open pipeline for these customers (two GROUP BYs), with their stored tier."""
    if not customer_ids:
        return {}
    mine = (*_live_deals(workspace_id), Deal.customer_id.in_(customer_ids))
    won = _deal_totals(session, (*mine, Deal.stage == WON))
    open_ = _deal_totals(session, (*mine, Deal.stage.not_in(CLOSED_KEYS)))
    tiers = tiers_of(session, customer_ids)
    out = {}
    for cid in customer_ids:
        row = tiers.get(cid)
        won_n, won_t = won.get(cid, (0, {}))
        open_n, open_t = open_.get(cid, (0, {}))
        out[cid] = CustomerValue(
            cid, won_t, won_n, open_t, open_n,
            row.tier if row else None, row.basis_currency if row else None, row.computed_at if row else None,
        )  # fmt: skip
    return out


def customer_value(sf: sessionmaker[Session], workspace_id: int, customer_id: int) -> CustomerValue:
    with sf() as session:
        return customer_values(session, workspace_id, [customer_id])[customer_id]


# -- key accounts --------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyAccount:
    customer_id: int
    name: str
    owner_user_id: str | None
    last_touch: datetime | None  # None: nothing ever logged
    won: Totals = field(default_factory=dict)

    def quiet_days(self, now: datetime) -> int | None:
        return None if self.last_touch is None else max(0, (now - self.last_touch).days)


@dataclass(frozen=True)
class KeyAccounts:
    rows: list[KeyAccount]  # longest quiet first (never touched first of all)
    total: int
    days: int


def last_touch_column():
    """Per customer, the time of its latest live activity (a correlated subquery)."""
    return (
        select(func.max(Activity.occurred_at))
        .where(Activity.customer_id == Customer.id, Activity.deleted_at.is_(None))
        .correlate(Customer)
        .scalar_subquery()
    )


def untouched_key_accounts(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    days: int,
    now: datetime,
    owner: str | None = None,
    limit: int = 10,
) -> KeyAccounts:
    """A-tier customers with no activity in the last ``days`` days, longest quiet first.

    ``owner`` keeps one rep's accounts (their "my day"); ``None`` is the team (digest, team Home).
    ``total`` counts them all; ``rows`` holds at most ``limit``, with each one's won value."""
    with sf() as session:
        return key_accounts_in(session, workspace_id, days=days, now=now, owner=owner, limit=limit)


def key_accounts_in(
    session: Session, workspace_id: int, *, days: int, now: datetime, owner: str | None = None, limit: int = 10
) -> KeyAccounts:
    """:func:`untouched_key_accounts` inside a caller's session (one transaction for a whole page)."""
    since = now - timedelta(days=days)
    touch = last_touch_column().label("last_touch")
    where = [*live_customers(workspace_id), CustomerValueTier.tier == "A"]
    if owner:
        where.append(Customer.owner_user_id == owner)
    base = (
        select(Customer.id, Customer.name, Customer.owner_user_id, touch)
        .join(CustomerValueTier, CustomerValueTier.customer_id == Customer.id)
        .where(*where)
    )
    quiet = base.subquery()
    untouched = (quiet.c.last_touch.is_(None)) | (quiet.c.last_touch < since)
    total = session.scalar(select(func.count()).select_from(quiet).where(untouched)) or 0
    rows = session.execute(
        select(quiet)
        .where(untouched)
        .order_by(quiet.c.last_touch.asc().nulls_first(), quiet.c.name, quiet.c.id)
        .limit(limit)
    ).all()
    won = won_by_customer(session, workspace_id, [r.id for r in rows]) if rows else {}
    accounts = [KeyAccount(r.id, r.name, r.owner_user_id, r.last_touch, won.get(r.id, {})) for r in rows]
    return KeyAccounts(accounts, total, days)


# -- contact cadence -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CadenceHint:
    contact_id: int
    contact_name: str
    kind: str  # "busy": CADENCE_LIMIT+ emails/calls this week; "quiet": a key contact gone quiet
    count: int  # busy: touches in CADENCE_DAYS; quiet: activities logged in all
    last: datetime | None


def contact_cadence(
    sf: sessionmaker[Session], workspace_id: int, customer_id: int, *, now: datetime, quiet_days: int
) -> list[CadenceHint]:
    """The card's cadence warnings for a customer's live contacts: too much first, then gone quiet."""
    week = now - timedelta(days=CADENCE_DAYS)
    live = (
        Activity.workspace_id == workspace_id,
        Activity.customer_id == customer_id,
        Activity.deleted_at.is_(None),
        Activity.contact_id.is_not(None),
    )
    this_week = and_(Activity.type_key.in_(CADENCE_TYPES), Activity.occurred_at >= week, Activity.occurred_at <= now)
    recent = func.sum(case((this_week, 1), else_=0))
    with sf() as session:
        rows = session.execute(
            select(Contact.id, Contact.name, func.count(Activity.id), recent, func.max(Activity.occurred_at))
            .join(Contact, Contact.id == Activity.contact_id)
            .where(*live, Contact.deleted_at.is_(None), Contact.merged_into_id.is_(None))
            .group_by(Contact.id, Contact.name)
        ).all()
    busy, quiet = [], []
    since = now - timedelta(days=quiet_days)
    for cid, name, count, touches, last in rows:
        if int(touches or 0) >= CADENCE_LIMIT:
            busy.append(CadenceHint(cid, name, "busy", int(touches), last))
        elif int(count) >= KEY_CONTACT_ACTIVITIES and last is not None and last < since:
            quiet.append(CadenceHint(cid, name, "quiet", int(count), last))
    busy.sort(key=lambda h: (-h.count, h.contact_name))
    quiet.sort(key=lambda h: (h.last or now, h.contact_name))
    return busy + quiet


def key_account_lines(found: KeyAccounts, *, now: datetime, name_of: Callable[[str], str]) -> list[str]:
    """The digest's "key accounts nobody touched" lines (plain text: escape before mrkdwn).
    ``name_of`` gives a rep's display name, so a channel post pings nobody."""
    if not found.total:
        return [f"Key accounts: every A-tier customer had activity in the last {found.days} days."]
    lines = [f"Key accounts untouched for {found.days}+ days: {found.total:,}"]
    for k in found.rows:
        quiet = "nothing logged yet" if k.last_touch is None else f"quiet {k.quiet_days(now)} days"
        owner = name_of(k.owner_user_id) if k.owner_user_id else "no owner"
        lines.append(f"• {k.name} · {owner} · {quiet}")
    if found.total > len(found.rows):
        lines.append(f"…and {found.total - len(found.rows):,} more")
    return lines
