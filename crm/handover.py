"""Handing a rep's work to someone else: ``/crm handover @leaving to @taking-over``.

:func:`handover_preview` counts what would move; :func:`hand_over` moves the owned customers,
open deals and open follow-ups in one audited transaction and keeps their ids on a
:class:`~crm.models.Handover` row, so :func:`undo_handover` puts back exactly those (and only
those still with the new owner: anything changed since by someone else is left alone). The
Confirm button's key makes a replayed or double-clicked confirmation move nothing twice, and
:func:`claim_brief` / :func:`mark_brief_sent` let the new owner's DM brief go out once.

Every function takes ``tier_of``, a function giving customer ids their value tier ("A", "B",
"C"): :func:`value_tiers` (``crm.value``) in the app; None hands over without tiers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.db import rows_changed
from crm.deals import StageTotal, stage_totals
from crm.errors import CRMError, InvalidInput, NotFound, PermissionDenied
from crm.models import Activity, Customer, Deal, FollowUp, Handover
from crm.nudges import FollowUpRow, follow_up_rows
from crm.people import Person
from crm.pipeline_stages import CLOSED_KEYS
from crm.states import OPEN_STATUSES, AuditAction

TierOf = Callable[[Session, int, Sequence[int]], Mapping[int, str]]
KINDS = ("customers", "deals", "follow_ups")
CHUNK = 500  # ids per IN (...): well inside SQLite's and PostgreSQL's parameter limits
MANAGERS_ONLY = "Only managers and admins can hand over someone's customers."
NO_TIERS = "Value tiers aren't available yet. Hand over everything, or one customer with `customer Acme`."
ALREADY_UNDONE = "This handover was undone already. Nothing was changed."


@dataclass(frozen=True)
class Scope:
    """What to hand over: everything, one value tier, or one customer."""

    tier: str | None = None
    customer_id: int | None = None

    @property
    def key(self) -> str:
        if self.customer_id is not None:
            return f"customer:{self.customer_id}"
        return f"tier:{self.tier}" if self.tier else "all"

    @classmethod
    def from_key(cls, key: str) -> Scope:
        kind, _, value = key.partition(":")
        if kind == "customer" and value.isdigit():
            return cls(customer_id=int(value))
        if kind == "tier" and value:
            return cls(tier=value)
        return cls()


@dataclass(frozen=True)
class Selection:
    customers: list[int]
    deals: list[int]
    follow_ups: list[int]
    overdue: int  # of the follow-ups, how many are due already

    @property
    def empty(self) -> bool:
        return not (self.customers or self.deals or self.follow_ups)

    def ids(self) -> dict[str, list[int]]:
        return {"customers": self.customers, "deals": self.deals, "follow_ups": self.follow_ups}


@dataclass(frozen=True)
class Moved:
    """What one handover moved (or put back): counts per kind."""

    handover_id: int
    from_user_id: str
    to_user_id: str
    scope: str
    customers: int
    deals: int
    follow_ups: int
    again: bool = False  # the same confirmation came twice: nothing moved this time
    skipped: dict[str, int] = field(default_factory=dict)  # Undo: rows changed since, left alone
    undone: bool = False  # undone already (a replayed Confirm of an undone handover)


def value_tiers() -> TierOf:
    """The value tiers (``crm.value.tiers_of``) as a :data:`TierOf`: the brief groups the
    accounts by them and `tier A` hands over only the key accounts."""
    from crm import value  # here: crm.value reads deals, which this module's callers also load

    def tier_of(session: Session, workspace_id: int, customer_ids: Sequence[int]) -> dict[int, str]:
        return {cid: row.tier for cid, row in value.tiers_of(session, list(customer_ids)).items() if row.tier}

    return tier_of


def check_can_hand_over(actor: Actor) -> None:
    if not actor.sees_team:
        raise PermissionDenied(MANAGERS_ONLY)


def check_people(leaving: Person, taking: Person) -> None:
    """Refuse a handover to oneself, to a bot or to a deactivated account."""
    if leaving.user_id == taking.user_id:
        raise InvalidInput(f"{leaving.name} can't hand over to themselves. Name two different people.")
    if taking.is_bot:
        raise InvalidInput(f"{taking.name} is a bot, and bots can't own customers. Hand over to a person.")
    if taking.deleted:
        raise InvalidInput(f"{taking.name}'s account is deactivated. Hand over to someone still in the workspace.")


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for at in range(0, len(ids), CHUNK):
        yield list(ids[at : at + CHUNK])


def _ids(session: Session, query, ids: Sequence[int] | None = None) -> list:
    """Run ``query`` (a select of ids), narrowed to ``ids`` chunk by chunk when given."""
    if ids is None:
        return list(session.execute(query).all())
    out: list = []
    column = query.selected_columns[0]
    for chunk in _chunks(ids):
        out += session.execute(query.where(column.in_(chunk))).all()
    return out


def _in_scope(
    session: Session, workspace_id: int, leaving: str, scope: Scope, tier_of: TierOf | None
) -> set[int] | None:
    """The customers a partial handover is about (None: no limit)."""
    if scope.customer_id is not None:
        found = session.scalar(
            select(Customer.id).where(
                Customer.id == scope.customer_id,
                Customer.workspace_id == workspace_id,
                Customer.deleted_at.is_(None),
                Customer.merged_into_id.is_(None),
            )
        )
        if found is None:
            raise NotFound("That customer doesn't exist any more.")
        return {found}
    if not scope.tier:
        return None
    if tier_of is None:
        raise InvalidInput(NO_TIERS)
    related: set[int] = set()
    related |= set(session.scalars(select(Customer.id).where(*_owned_customers(workspace_id, leaving))))
    related |= set(session.scalars(select(Deal.customer_id).where(*_open_deals(workspace_id, leaving))))
    related |= set(session.scalars(select(FollowUp.customer_id).where(*_open_follow_ups(workspace_id, leaving))))
    tiers = tier_of(session, workspace_id, sorted(related))
    return {cid for cid in related if (tiers.get(cid) or "").upper() == scope.tier.upper()}


def _owned_customers(workspace_id: int, owner: str) -> tuple:
    return (
        Customer.workspace_id == workspace_id,
        Customer.owner_user_id == owner,
        Customer.deleted_at.is_(None),
        Customer.merged_into_id.is_(None),
    )


def _open_deals(workspace_id: int, owner: str) -> tuple:
    return (
        Deal.workspace_id == workspace_id,
        Deal.owner_user_id == owner,
        Deal.deleted_at.is_(None),
        Deal.stage.not_in(CLOSED_KEYS),
    )


def _open_follow_ups(workspace_id: int, owner: str) -> tuple:
    return (
        FollowUp.workspace_id == workspace_id,
        FollowUp.owner_user_id == owner,
        FollowUp.deleted_at.is_(None),
        FollowUp.status.in_(OPEN_STATUSES),
    )


def _select(
    session: Session,
    workspace_id: int,
    leaving: str,
    scope: Scope,
    tier_of: TierOf | None,
    now: datetime,
    *,
    lock: bool = False,
) -> Selection:
    limit = _in_scope(session, workspace_id, leaving, scope, tier_of)
    narrowed = sorted(limit) if limit is not None else None

    def run(query) -> list:
        return _ids(session, query.with_for_update() if lock else query, narrowed)

    customers = [r[0] for r in run(select(Customer.id).where(*_owned_customers(workspace_id, leaving)))]
    deal_q = select(Deal.customer_id, Deal.id).where(*_open_deals(workspace_id, leaving))
    follow_q = select(FollowUp.customer_id, FollowUp.id, FollowUp.due_at).where(
        *_open_follow_ups(workspace_id, leaving)
    )
    deals = [r[1] for r in run(deal_q)]
    follow_rows = run(follow_q)
    overdue = sum(1 for r in follow_rows if r[2] <= now)
    return Selection(sorted(customers), sorted(deals), sorted(r[1] for r in follow_rows), overdue)


def handover_preview(
    sf: sessionmaker[Session],
    workspace_id: int,
    actor: Actor,
    leaving: str,
    scope: Scope,
    *,
    now: datetime,
    tier_of: TierOf | None = None,
) -> Selection:
    """What a handover would move now (the counts shown before Confirm)."""
    check_can_hand_over(actor)
    with sf() as session:
        return _select(session, workspace_id, leaving, scope, tier_of, now)


_MODELS: dict[str, Any] = {"customers": Customer, "deals": Deal, "follow_ups": FollowUp}


def _set_owner(
    session: Session,
    kind: str,
    ids: Iterable[int],
    *,
    expect: str,
    owner: str,
    actor: str,
    action: AuditAction,
    note: str,
) -> list[int]:
    """Give the rows of ``ids`` still owned by ``expect`` to ``owner``, each audited; the ids changed."""
    model = _MODELS[kind]
    changed: list[int] = []
    for chunk in _chunks(list(ids)):
        rows = session.scalars(
            select(model).where(model.id.in_(chunk), model.owner_user_id == expect).with_for_update()
        ).all()
        for row in rows:
            before = audit.snapshot(row)
            row.owner_user_id = owner
            row.updated_by = actor
            audit.change(session, row, action, actor=actor, before=before, note=note)
            changed.append(row.id)
    session.flush()
    return changed


def hand_over(
    sf: sessionmaker[Session],
    workspace_id: int,
    actor: Actor,
    leaving: str,
    taking: str,
    scope: Scope,
    *,
    key: str,
    now: datetime,
    tier_of: TierOf | None = None,
) -> Moved:
    """Move what :func:`handover_preview` counted, in one transaction. ``key`` is the
    confirmation's: the same key again moves nothing and answers with the first handover."""
    check_can_hand_over(actor)
    if leaving == taking:
        raise InvalidInput("Name two different people.")
    try:
        with sf.begin() as session:
            handover = Handover(
                workspace_id=workspace_id,
                from_user_id=leaving,
                to_user_id=taking,
                scope=scope.key,
                moved={},
                idempotency_key=key[:64],
                created_by=actor.user_id,
                created_at=now,
            )
            session.add(handover)
            session.flush()  # the key is claimed here (a concurrent twin waits, then fails)
            chosen = _select(session, workspace_id, leaving, scope, tier_of, now, lock=True)
            if chosen.empty:
                raise InvalidInput("There is nothing to hand over: no customers, open deals or open follow-ups.")
            note = f"handover {handover.id}"
            moved = {
                kind: _set_owner(
                    session,
                    kind,
                    ids,
                    expect=leaving,
                    owner=taking,
                    actor=actor.user_id,
                    action=AuditAction.HANDOVER,
                    note=note,
                )
                for kind, ids in chosen.ids().items()
            }
            handover.moved = moved
            audit.record(
                session,
                workspace_id=workspace_id,
                entity_type="handover",
                entity_id=handover.id,
                action=AuditAction.HANDOVER,
                actor=actor.user_id,
                after={"from": leaving, "to": taking, "scope": scope.key, **{k: len(v) for k, v in moved.items()}},
            )
            return _moved(handover)
    except IntegrityError:
        with sf() as session:
            existing = session.scalars(
                select(Handover).where(Handover.workspace_id == workspace_id, Handover.idempotency_key == key[:64])
            ).first()
            if existing is None:
                raise
            return _moved(existing, again=True)


def _moved(handover: Handover, *, again: bool = False, counts: Mapping[str, int] | None = None) -> Moved:
    moved = handover.moved or {}
    n = counts or {kind: len(moved.get(kind) or []) for kind in KINDS}
    return Moved(
        handover.id,
        handover.from_user_id,
        handover.to_user_id,
        handover.scope,
        n.get("customers", 0),
        n.get("deals", 0),
        n.get("follow_ups", 0),
        again,
        undone=handover.undone_at is not None,
    )


def undo_handover(
    sf: sessionmaker[Session], workspace_id: int, actor: Actor, handover_id: int, *, now: datetime
) -> Moved:
    """Put back what the handover moved, where it is still with the new owner."""
    check_can_hand_over(actor)
    with sf.begin() as session:
        handover = session.scalars(
            select(Handover).where(Handover.id == handover_id, Handover.workspace_id == workspace_id).with_for_update()
        ).first()
        if handover is None:
            raise NotFound("That handover doesn't exist.")
        if handover.undone_at is not None:
            raise CRMError(ALREADY_UNDONE)
        note = f"undo handover {handover.id}"
        restored: dict[str, int] = {}
        skipped: dict[str, int] = {}
        for kind in KINDS:
            ids = list((handover.moved or {}).get(kind) or [])
            back = _set_owner(
                session,
                kind,
                ids,
                expect=handover.to_user_id,
                owner=handover.from_user_id,
                actor=actor.user_id,
                action=AuditAction.HANDOVER_UNDO,
                note=note,
            )
            restored[kind] = len(back)
            if len(ids) > len(back):
                skipped[kind] = len(ids) - len(back)
        handover.undone_at, handover.undone_by = now, actor.user_id
        audit.record(
            session,
            workspace_id=workspace_id,
            entity_type="handover",
            entity_id=handover.id,
            action=AuditAction.HANDOVER_UNDO,
            actor=actor.user_id,
            after={**restored, "skipped": skipped},
        )
        result = _moved(handover, counts=restored)
        return Moved(**{**result.__dict__, "skipped": skipped})


# -- the new owner's brief -----------------------------------------------------------------------
@dataclass(frozen=True)
class BriefAccount:
    customer_id: int
    name: str
    tier: str | None
    open_deals: int


@dataclass(frozen=True)
class TierGroup:
    tier: str | None  # None: tiers not available, or a customer without one
    accounts: list[BriefAccount]  # the first few
    total: int


@dataclass(frozen=True)
class KeyAccount:
    account: BriefAccount
    activities: list[Activity]  # the last three


@dataclass
class Brief:
    handover_id: int
    from_user_id: str
    to_user_id: str
    scope: str
    groups: list[TierGroup]
    customers_total: int
    stages: dict[str, StageTotal]
    deals_total: int
    next_follow_ups: list[FollowUpRow]
    follow_ups_total: int
    overdue_total: int
    key_accounts: list[KeyAccount]
    key_accounts_total: int
    tiers: bool


TIER_ORDER = ("A", "B", "C")


def _tier_rank(tier: str | None) -> tuple[int, str]:
    if tier is None:
        return (len(TIER_ORDER) + 1, "")
    upper = tier.upper()
    return (TIER_ORDER.index(upper), "") if upper in TIER_ORDER else (len(TIER_ORDER), upper)


def handover_brief(
    sf: sessionmaker[Session],
    workspace_id: int,
    handover_id: int,
    *,
    now: datetime,
    tier_of: TierOf | None = None,
    limit: int = 8,
    key_limit: int = 8,
) -> Brief:
    """What the new owner is told: the accounts by tier, deals by stage, the next follow-ups,
    and each key account's last three activities (key: tier A, or where no account has a tier
    yet, the accounts with the most open deals)."""
    with sf() as session:
        handover = session.get(Handover, handover_id)
        if handover is None or handover.workspace_id != workspace_id:
            raise NotFound("That handover doesn't exist.")
        moved = handover.moved or {}
        customer_ids = list(moved.get("customers") or [])
        deal_ids = list(moved.get("deals") or [])
        follow_ids = list(moved.get("follow_ups") or [])
        names: dict[int, str] = {}
        for chunk in _chunks(customer_ids):
            for cid, name in session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(chunk))):
                names[cid] = name
        open_deals: dict[int, int] = {}
        stages: dict[str, StageTotal] = {}
        for chunk in _chunks(deal_ids):
            live = (Deal.id.in_(chunk), Deal.deleted_at.is_(None), Deal.stage.not_in(CLOSED_KEYS))
            for stage, total in stage_totals(session, live).items():
                old = stages.get(stage)
                merged = dict(old.totals) if old else {}
                for cur, minor in total.totals.items():
                    merged[cur] = merged.get(cur, 0) + minor
                stages[stage] = StageTotal(stage, (old.count if old else 0) + total.count, merged)
            for cid, n in session.execute(
                select(Deal.customer_id, func.count()).where(*live).group_by(Deal.customer_id)
            ).all():
                open_deals[cid] = open_deals.get(cid, 0) + int(n)
        tiers = dict(tier_of(session, workspace_id, customer_ids)) if tier_of and customer_ids else {}
        accounts = sorted(
            (
                BriefAccount(cid, names[cid], tiers.get(cid), open_deals.get(cid, 0))
                for cid in customer_ids
                if cid in names
            ),
            key=lambda a: (_tier_rank(a.tier), -a.open_deals, a.name.lower()),
        )
        groups: list[TierGroup] = []
        for account in accounts:
            if not groups or groups[-1].tier != account.tier:
                groups.append(TierGroup(account.tier, [], 0))
            group = groups[-1]
            shown = [*group.accounts, account] if len(group.accounts) < limit else group.accounts
            groups[-1] = TierGroup(group.tier, shown, group.total + 1)
        # The follow-ups still open, the soonest due (most overdue) first.
        dues: list[tuple[datetime, int]] = []
        for chunk in _chunks(follow_ids):
            dues += [
                (due, fid)
                for fid, due in session.execute(
                    select(FollowUp.id, FollowUp.due_at).where(
                        FollowUp.id.in_(chunk), FollowUp.deleted_at.is_(None), FollowUp.status.in_(OPEN_STATUSES)
                    )
                ).all()
            ]
        dues.sort()
        first = [fid for _, fid in dues[:limit]]
        rows, _ = follow_up_rows(session, (FollowUp.id.in_(first),), limit) if first else ([], 0)
        tiered = any(a.tier for a in accounts)  # tiers installed and computed for these accounts
        if tiered:
            key = [a for a in accounts if (a.tier or "").upper() == "A"]
        else:
            key = sorted((a for a in accounts if a.open_deals), key=lambda a: (-a.open_deals, a.name.lower()))
        key_accounts = [
            KeyAccount(
                a,
                list(
                    session.scalars(
                        select(Activity)
                        .where(Activity.customer_id == a.customer_id, Activity.deleted_at.is_(None))
                        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
                        .limit(3)
                    ).all()
                ),
            )
            for a in key[:key_limit]
        ]
        return Brief(
            handover_id=handover.id,
            from_user_id=handover.from_user_id,
            to_user_id=handover.to_user_id,
            scope=handover.scope,
            groups=groups,
            customers_total=len(accounts),
            stages=stages,
            deals_total=sum(s.count for s in stages.values()),
            next_follow_ups=rows,
            follow_ups_total=len(dues),
            overdue_total=sum(1 for due, _ in dues if due <= now),
            key_accounts=key_accounts,
            key_accounts_total=len(key),
            tiers=tiered,
        )


def claim_brief(sf: sessionmaker[Session], handover_id: int, *, replica: str, now: datetime, lease: timedelta) -> bool:
    """Claim the right to send the brief: True for exactly one caller until it is sent (or the
    claim runs out, e.g. its replica died before sending)."""
    with sf.begin() as session:
        result = session.execute(
            update(Handover)
            .where(
                Handover.id == handover_id,
                Handover.brief_sent_at.is_(None),
                Handover.brief_error.is_(None),
                or_(Handover.brief_claimed_until.is_(None), Handover.brief_claimed_until < now),
            )
            .values(brief_claimed_by=replica, brief_claimed_until=now + lease)
        )
        return bool(rows_changed(result))


def mark_brief_sent(
    sf: sessionmaker[Session], handover_id: int, *, replica: str, now: datetime, ts: str | None
) -> None:
    with sf.begin() as session:
        session.execute(
            update(Handover)
            .where(Handover.id == handover_id, Handover.brief_claimed_by == replica)
            .values(brief_sent_at=now, brief_ts=ts, brief_claimed_until=None)
        )


def mark_brief_failed(sf: sessionmaker[Session], handover_id: int, *, replica: str, error: str) -> None:
    """Slack refused the DM for good: recorded, and not tried again."""
    with sf.begin() as session:
        session.execute(
            update(Handover)
            .where(Handover.id == handover_id, Handover.brief_claimed_by == replica)
            .values(brief_error=error[:255], brief_claimed_until=None)
        )
