"""Follow-up nudges in the database: claiming due ones exactly once, and what people do with them.

The scheduler in every replica calls :func:`claim_due`. A claim is a lease: the row gets
``nudge_claimed_by`` (the replica) and ``nudge_claimed_until``. Only the claimant sends, then
:func:`mark_sent` clears ``nudge_at`` *if it still holds the claim*. A replica that dies
mid-tick leaves leases that expire, and another replica takes the rows over; such a
take-over is flagged (``recovered``) so the sender first checks whether the dead replica's
message already went out before sending again.

On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED``, so replicas never wait on each
other; on SQLite the immediate transaction serialises them. An idle tick is one range scan
of the partial index on ``nudge_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.db import rows_changed
from crm.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm.followups import check_owner
from crm.models import Activity, Customer, FollowUp, Workspace
from crm.states import OPEN_STATUSES, AuditAction, FollowUpStatus, is_ambiguous

MAX_BACKOFF = timedelta(hours=1)

# Slack errors after which sending again cannot help; the nudge is parked and shown to admins.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "invalid_auth",
        "is_archived",
        "messages_tab_disabled",
        "not_authed",
        "restricted_action",
        "token_revoked",
        "user_disabled",
        "user_not_found",
        "user_not_visible",
    }
)


@dataclass(frozen=True)
class Claimed:
    """A follow-up this replica must nudge now, with what the DM shows."""

    follow_up_id: int
    workspace_id: int
    team_id: str
    enterprise_id: str | None
    owner_user_id: str
    customer_id: int
    customer_name: str
    due_at: datetime
    note: str | None
    attempts: int
    recovered: bool  # a previous claim expired: its message may already have gone out
    claimed_at: datetime
    last_activity: Activity | None


def _due_filter(now: datetime):
    return and_(
        FollowUp.nudge_at.is_not(None),
        FollowUp.nudge_at <= now,
        or_(FollowUp.nudge_claimed_until.is_(None), FollowUp.nudge_claimed_until < now),
    )


def claim_due(sf: sessionmaker[Session], *, now: datetime, replica: str, limit: int, lease: timedelta) -> list[Claimed]:
    """Claim up to ``limit`` due follow-ups for ``replica`` (oldest first)."""
    with sf.begin() as session:
        query = select(FollowUp).where(_due_filter(now)).order_by(FollowUp.nudge_at, FollowUp.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.scalars(query).all()
        if not rows:
            return []
        claimed = []
        for row in rows:
            # An expired claim, or an attempt that ended in doubt (timeout, 5xx), may have posted.
            recovered = (
                row.nudge_claimed_by is not None and row.nudge_error is None and row.nudge_attempts > 0
            ) or is_ambiguous(row.nudge_error)
            row.nudge_claimed_by = replica
            row.nudge_claimed_until = now + lease
            row.nudge_attempts += 1
            claimed.append((row, recovered))
        session.flush()
        return [_describe(session, row, recovered, now) for row, recovered in claimed]


def _describe(session: Session, row: FollowUp, recovered: bool, now: datetime) -> Claimed:
    customer = session.get(Customer, row.customer_id)
    workspace = session.get(Workspace, row.workspace_id)
    last = session.scalars(
        select(Activity)
        .where(Activity.customer_id == row.customer_id, Activity.deleted_at.is_(None))
        .order_by(Activity.occurred_at.desc())
        .limit(1)
    ).first()
    return Claimed(
        follow_up_id=row.id,
        workspace_id=row.workspace_id,
        team_id=workspace.team_id if workspace else "",
        enterprise_id=workspace.enterprise_id if workspace else None,
        owner_user_id=row.owner_user_id,
        customer_id=row.customer_id,
        customer_name=customer.name if customer else "a customer",
        due_at=row.due_at,
        note=row.note,
        attempts=row.nudge_attempts,
        recovered=recovered,
        claimed_at=now,
        last_activity=last,
    )


def _still_mine(follow_up_id: int, replica: str):
    return and_(FollowUp.id == follow_up_id, FollowUp.nudge_claimed_by == replica)


def mark_sent(
    sf: sessionmaker[Session], follow_up_id: int, *, replica: str, now: datetime, channel: str | None, ts: str | None
) -> bool:
    """Record the DM; False if this replica had lost the claim meanwhile."""
    with sf.begin() as session:
        result = session.execute(
            update(FollowUp)
            .where(_still_mine(follow_up_id, replica))
            .values(
                nudge_at=None,
                nudged_at=now,
                nudge_channel=channel,
                nudge_ts=ts,
                nudge_error=None,
                nudge_claimed_by=None,
                nudge_claimed_until=None,
            )
        )
        return rows_changed(result) == 1


def mark_failed(
    sf: sessionmaker[Session],
    follow_up_id: int,
    *,
    replica: str,
    now: datetime,
    error: str,
    permanent: bool,
    retry_after: float | None = None,
) -> None:
    """A refused send: park it (permanent) or try again later with backoff (never dropped)."""
    with sf.begin() as session:
        row = session.get(FollowUp, follow_up_id)
        if row is None or row.nudge_claimed_by != replica:
            return
        row.nudge_error = error[:255]
        row.nudge_claimed_by = None
        row.nudge_claimed_until = None
        if permanent:
            row.nudge_at = None
        else:
            backoff = timedelta(seconds=min(2 ** min(row.nudge_attempts, 12) * 15, MAX_BACKOFF.total_seconds()))
            if retry_after:
                backoff = max(backoff, timedelta(seconds=retry_after))
            row.nudge_at = now + backoff


def release(sf: sessionmaker[Session], follow_up_ids: list[int], *, replica: str) -> None:
    """Give claims back untouched (e.g. on shutdown before sending)."""
    if not follow_up_ids:
        return
    with sf.begin() as session:
        session.execute(
            update(FollowUp)
            .where(FollowUp.id.in_(follow_up_ids), FollowUp.nudge_claimed_by == replica)
            .values(nudge_claimed_by=None, nudge_claimed_until=None, nudge_attempts=FollowUp.nudge_attempts - 1)
        )


# -- what people do with a nudge ----------------------------------------------------------
def _owned(session: Session, workspace_id: int, follow_up_id: int, actor: Actor) -> FollowUp:
    """The open follow-up, locked, if ``actor`` may change it: its owner, or an admin."""
    row = session.get(FollowUp, follow_up_id, with_for_update=True)
    if row is None or row.workspace_id != workspace_id or row.deleted_at is not None:
        raise NotFound("That follow-up no longer exists.")
    if row.owner_user_id != actor.user_id and not actor.is_admin:
        raise PermissionDenied("This follow-up belongs to someone else; only they (or an admin) can change it.")
    if row.status not in OPEN_STATUSES:
        raise Conflict(f"This follow-up is already {row.status}; nothing changed.")
    return row


def _change(
    session: Session, row: FollowUp, actor: Actor, action: AuditAction, apply: Callable[[FollowUp], None]
) -> FollowUp:
    before = audit.snapshot(row)
    apply(row)
    row.updated_by = actor.user_id
    audit.change(session, row, action, actor=actor.user_id, before=before)
    return row


def complete(
    sf: sessionmaker[Session], workspace_id: int, follow_up_id: int, *, actor: Actor, now: datetime
) -> FollowUp:
    with sf.begin() as session:
        row = _owned(session, workspace_id, follow_up_id, actor)

        def apply(r: FollowUp) -> None:
            r.status, r.completed_at, r.completed_by, r.nudge_at = FollowUpStatus.DONE, now, actor.user_id, None

        return _change(session, row, actor, AuditAction.DONE, apply)


def reschedule(
    sf: sessionmaker[Session],
    workspace_id: int,
    follow_up_id: int,
    *,
    actor: Actor,
    now: datetime,
    due_at: datetime,
    snooze: bool = False,
) -> FollowUp:
    """Snooze or reschedule: a new due time, nudged again then."""
    if due_at <= now:
        raise InvalidInput("That time is in the past; pick a time after now.", field="when")
    with sf.begin() as session:
        row = _owned(session, workspace_id, follow_up_id, actor)

        def apply(r: FollowUp) -> None:
            r.due_at, r.nudge_at = due_at, due_at
            r.status = FollowUpStatus.SNOOZED if snooze else FollowUpStatus.OPEN
            r.nudge_error, r.nudge_claimed_by, r.nudge_claimed_until = None, None, None

        return _change(session, row, actor, AuditAction.SNOOZE if snooze else AuditAction.RESCHEDULE, apply)


def reassign(
    sf: sessionmaker[Session],
    workspace_id: int,
    follow_up_id: int,
    *,
    actor: Actor,
    new_owner: str,
    now: datetime,
) -> FollowUp:
    """Hand the follow-up to someone else; if it was already nudged and is due, they get a nudge too."""
    new_owner = check_owner(new_owner)
    with sf.begin() as session:
        row = _owned(session, workspace_id, follow_up_id, actor)

        def apply(r: FollowUp) -> None:
            r.owner_user_id = new_owner
            r.nudge_error = None
            if r.nudge_at is None:
                r.nudge_at = max(r.due_at, now)

        return _change(session, row, actor, AuditAction.REASSIGN, apply)


def get_follow_up(sf: sessionmaker[Session], workspace_id: int, follow_up_id: int) -> FollowUp:
    with sf() as session:
        row = session.get(FollowUp, follow_up_id)
        if row is None or row.workspace_id != workspace_id or row.deleted_at is not None:
            raise NotFound("That follow-up no longer exists.")
        return row


@dataclass(frozen=True)
class FollowUpRow:
    follow_up: FollowUp
    customer_name: str


def list_follow_ups(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    owner: str | None,
    limit: int = 50,
    include_failed_only: bool = False,
) -> tuple[list[FollowUpRow], int]:
    """Open follow-ups, earliest (most overdue) first; ``owner=None`` means everyone's."""
    where = [
        FollowUp.workspace_id == workspace_id,
        FollowUp.deleted_at.is_(None),
        FollowUp.status.in_(OPEN_STATUSES),
    ]
    if owner:
        where.append(FollowUp.owner_user_id == owner)
    if include_failed_only:
        where.append(FollowUp.nudge_error.is_not(None))
    with sf() as session:
        return follow_up_rows(session, where, limit)


def follow_up_rows(session: Session, where, limit: int) -> tuple[list[FollowUpRow], int]:
    """Follow-ups matching ``where`` with their customer's name, earliest due first, and the total."""
    total = session.scalar(select(func.count()).select_from(FollowUp).where(*where)) or 0
    rows = session.execute(
        select(FollowUp, Customer.name)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(*where)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
    ).all()
    return [FollowUpRow(f, name) for f, name in rows], total
