"""Activities: log one (with its follow-up, in one transaction), edit, soft-delete, restore.

Plain functions over a session factory, scoped by workspace; they raise ``crm.errors`` whose
``field`` names the form field at fault (``customer``, ``type``, ``contact``, ``deal``,
``summary``, ``occurred_at``, ``follow_up``). Logging is exactly-once per idempotency key:
a double-clicked submit or a replayed payload returns the activity saved the first time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm import audit, channel_events
from crm.activity_types import ActivityTypes
from crm.actors import Actor
from crm.customers import CLOSED_STAGES, live_customer
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.followups import create_follow_up, fit_key
from crm.models import Activity, ActivityParticipant, Contact, Customer, Deal, FollowUp
from crm.states import OPEN_STATUSES, ActivitySource, AuditAction, FollowUpStatus

MAX_SUMMARY = 20_000  # the column is Text; this only stops absurd input
MAX_PERMALINK = 1024
FUTURE_TOLERANCE = timedelta(hours=1)  # clocks and time zones disagree a little
OLDEST = timedelta(days=366 * 20)

# Controls except tab and newline, and the bidi overrides that can disguise text.
# (RTL text itself and the isolates/embeddings it uses are kept.)
_PERMALINK = re.compile(r"https://[^\s<>|\"]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202d\u202e\ufeff]")


@dataclass(frozen=True)
class FollowUpRequest:
    due_at: datetime
    note: str | None = None
    owner_user_id: str | None = None  # default: whoever logs the activity


@dataclass
class Logged:
    activity: Activity
    customer: Customer
    follow_up: FollowUp | None
    created: bool  # False when the idempotency key had been used: nothing new was saved
    contact: Contact | None = None  # the contact it was with, if one was picked


@dataclass
class LogChoices:
    """What the log form offers once a customer is picked."""

    customer: Customer
    contacts: list[Contact]
    deals: list[Deal]


# -- values -----------------------------------------------------------------------------
def clean_summary(text: str | None) -> str:
    """The summary as typed (newlines, emoji, RTL kept), without control characters."""
    cleaned = _CONTROL.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not cleaned:
        raise InvalidInput("Please write a short summary of what happened.", field="summary")
    if len(cleaned) > MAX_SUMMARY:
        raise InvalidInput(
            f"The summary is {len(cleaned):,} characters; at most {MAX_SUMMARY:,} fit. Nothing was saved.",
            field="summary",
        )
    return cleaned


def _check_type(types: ActivityTypes, type_key: str | None, *, keep: str | None = None) -> str:
    if type_key and (types.is_active(type_key) or type_key == keep):
        return type_key
    raise InvalidInput(f"Pick one of the activity types: {types.names()}.", field="type")


def _check_when(occurred_at: datetime, now: datetime) -> datetime:
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be an aware datetime")
    if occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("That's in the future: log what already happened.", field="occurred_at")
    if occurred_at < now - OLDEST:
        raise InvalidInput("That's too long ago; check the year.", field="occurred_at")
    return occurred_at


def _check_links(
    session: Session, workspace_id: int, customer: Customer, contact_id: int | None, deal_id: int | None
) -> None:
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if (
            contact is None
            or contact.workspace_id != workspace_id
            or contact.customer_id != customer.id
            or contact.deleted_at is not None
        ):
            raise InvalidInput(f"That contact isn't one of {customer.name}'s.", field="contact")
    if deal_id is not None:
        deal = session.get(Deal, deal_id)
        if deal is None or deal.workspace_id != workspace_id or deal.customer_id != customer.id or deal.deleted_at:
            raise InvalidInput(f"That deal isn't one of {customer.name}'s.", field="deal")


def _touch_deal(session: Session, deal_id: int | None) -> None:
    """Keep ``Deal.last_activity_at`` equal to its latest live activity."""
    if deal_id is None:
        return
    deal = session.get(Deal, deal_id)
    if deal is not None:
        session.flush()
        deal.last_activity_at = session.scalar(
            select(func.max(Activity.occurred_at)).where(Activity.deal_id == deal_id, Activity.deleted_at.is_(None))
        )


def _may_change(activity: Activity, actor: Actor) -> None:
    """The one rule for editing, deleting and restoring: whoever logged it, or an admin."""
    if activity.created_by != actor.user_id and not actor.is_admin:
        raise PermissionDenied("You can change only the activities you logged; an admin can change any.")


# -- queries ----------------------------------------------------------------------------
def _activity(
    session: Session, workspace_id: int, activity_id: int, *, include_deleted: bool = False, lock: bool = False
) -> Activity:
    """The workspace's activity; ``lock`` holds its row until the transaction ends (PostgreSQL
    ``FOR UPDATE``; SQLite transactions are serialised already), so concurrent changes queue."""
    activity = session.get(Activity, activity_id, with_for_update=lock)
    if activity is None or activity.workspace_id != workspace_id:
        raise NotFound("That activity doesn't exist.")
    if activity.deleted_at is not None and not include_deleted:
        raise NotFound("That activity was deleted.")
    return activity


def get_activity(
    sf: sessionmaker[Session], workspace_id: int, activity_id: int, *, include_deleted: bool = False
) -> Activity:
    with sf() as session:
        return _activity(session, workspace_id, activity_id, include_deleted=include_deleted)


def get_logged(sf: sessionmaker[Session], workspace_id: int, activity_id: int) -> Logged:
    """An activity with its customer (as stored, even if since deleted) and its follow-up."""
    with sf() as session:
        activity = _activity(session, workspace_id, activity_id, include_deleted=True)
        return _logged(session, activity, created=False)


def editable_activity(sf: sessionmaker[Session], workspace_id: int, activity_id: int, *, actor: Actor) -> Logged:
    """The activity for its edit form, if ``actor`` may edit it: NotFound when it is deleted (or
    its customer is), PermissionDenied when it is someone else's and the actor is no admin."""
    with sf() as session:
        activity = _activity(session, workspace_id, activity_id, include_deleted=True)
        if activity.deleted_at is not None:
            raise NotFound("That activity was deleted; press Undo to bring it back first.")
        _may_change(activity, actor)
        live_customer(session, workspace_id, activity.customer_id)
        return _logged(session, activity, created=False)


def _logged(session: Session, activity: Activity, *, created: bool) -> Logged:
    customer = session.get(Customer, activity.customer_id)
    follow_up = session.scalars(
        select(FollowUp).where(FollowUp.activity_id == activity.id).order_by(FollowUp.id).limit(1)
    ).first()
    assert customer is not None
    contact = session.get(Contact, activity.contact_id) if activity.contact_id else None
    return Logged(activity, customer, follow_up, created, contact)


def _by_key(session: Session, workspace_id: int, key: str) -> Activity | None:
    return session.scalars(
        select(Activity).where(Activity.workspace_id == workspace_id, Activity.idempotency_key == key)
    ).first()


def log_choices(sf: sessionmaker[Session], workspace_id: int, customer_id: int, *, limit: int = 100) -> LogChoices:
    """The customer with its live contacts and open deals, for the log form's pickers."""
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        contacts = session.scalars(
            select(Contact)
            .where(Contact.customer_id == customer.id, Contact.deleted_at.is_(None))
            .order_by(Contact.name, Contact.id)
            .limit(limit)
        ).all()
        deals = session.scalars(
            select(Deal)
            .where(Deal.customer_id == customer.id, Deal.deleted_at.is_(None), Deal.stage.not_in(CLOSED_STAGES))
            .order_by(Deal.title, Deal.id)
            .limit(limit)
        ).all()
        return LogChoices(customer, list(contacts), list(deals))


# -- log ----------------------------------------------------------------------------------
def log_activity(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    types: ActivityTypes,
    actor: Actor,
    customer_id: int,
    type_key: str,
    summary: str,
    occurred_at: datetime,
    source: ActivitySource,
    now: datetime,
    contact_id: int | None = None,
    deal_id: int | None = None,
    permalink: str | None = None,
    idempotency_key: str | None = None,
    follow_up: FollowUpRequest | None = None,
    participants: Sequence[str] = (),
    origin_channel: str | None = None,
) -> Logged:
    """Save an activity and its follow-up (if any) in one transaction.

    ``participants`` (Slack user ids: the people in a logged thread) are credited with it too;
    the channels linked to the record hear of it (``crm.channel_events``), except ``origin_channel``.

    With ``idempotency_key`` (``view:<id>``, ``slash:<trigger id>``) the activity is saved once:
    a repeat returns the first with ``created=False``; of concurrent ones, the unique key lets
    one insert win and the others return the winner's.
    """
    if source not in set(ActivitySource):
        raise ValueError(f"source must be one of {', '.join(ActivitySource)}, not {source!r}")
    summary = clean_summary(summary)
    type_key = _check_type(types, type_key)
    _check_when(occurred_at, now)
    if permalink is not None and (len(permalink) > MAX_PERMALINK or not _PERMALINK.fullmatch(permalink)):
        permalink = None  # not a link Slack made: dropped rather than shown
    activity = Activity(
        workspace_id=workspace_id,
        customer_id=customer_id,
        contact_id=contact_id,
        deal_id=deal_id,
        type_key=type_key,
        summary=summary,
        occurred_at=occurred_at,
        source=source,
        permalink=permalink,
        idempotency_key=fit_key(idempotency_key),
        created_by=actor.user_id,
        created_at=now,
    )
    key = activity.idempotency_key
    earlier = _logged_by_key(sf, workspace_id, key) if key else None
    if earlier is not None:
        return earlier
    try:
        with sf.begin() as session:
            logged = _insert(session, activity, actor=actor, now=now, follow_up=follow_up)
            for user_id in dict.fromkeys(participants):
                session.add(ActivityParticipant(workspace_id=workspace_id, activity_id=activity.id, user_id=user_id))
            channel_events.publish(
                session, channel_events.activity_event(session, activity, origin_channel=origin_channel), now=now
            )
    except IntegrityError:
        winner = _logged_by_key(sf, workspace_id, key) if key else None
        if winner is None:
            raise
        return winner  # lost the race to a concurrent request with the same key
    return logged


def _logged_by_key(sf: sessionmaker[Session], workspace_id: int, key: str) -> Logged | None:
    with sf() as session:
        existing = _by_key(session, workspace_id, key)
        return _logged(session, existing, created=False) if existing is not None else None


def _insert(
    session: Session, activity: Activity, *, actor: Actor, now: datetime, follow_up: FollowUpRequest | None
) -> Logged:
    """Add a checked activity (and its follow-up) for a live customer, with their audit entries."""
    customer = live_customer(session, activity.workspace_id, activity.customer_id)
    _check_links(session, activity.workspace_id, customer, activity.contact_id, activity.deal_id)
    activity.customer_id = customer.id
    session.add(activity)
    session.flush()
    audit.change(session, activity, AuditAction.CREATE, actor=actor.user_id, note=f"source: {activity.source}")
    saved_follow_up = None
    if follow_up is not None:
        saved_follow_up = create_follow_up(
            session,
            workspace_id=activity.workspace_id,
            customer_id=customer.id,
            owner_user_id=follow_up.owner_user_id or actor.user_id,
            due_at=follow_up.due_at,
            actor=actor,
            now=now,
            note=follow_up.note,
            activity_id=activity.id,
            deal_id=activity.deal_id,
        )
    _touch_deal(session, activity.deal_id)
    contact = session.get(Contact, activity.contact_id) if activity.contact_id else None
    return Logged(activity, customer, saved_follow_up, True, contact)


# -- edit, delete, restore ---------------------------------------------------------------
def update_activity(
    sf: sessionmaker[Session],
    workspace_id: int,
    activity_id: int,
    *,
    types: ActivityTypes,
    actor: Actor,
    now: datetime,
    customer_id: int,
    type_key: str,
    summary: str | None,
    occurred_at: datetime,
    contact_id: int | None = None,
    deal_id: int | None = None,
) -> Logged:
    """Edit an activity (its logger or an admin). ``summary=None`` keeps the summary as it is.

    A retired type may stay on an activity that has it, but no activity can move to one.
    """
    new_summary = clean_summary(summary) if summary is not None else None
    _check_when(occurred_at, now)
    with sf.begin() as session:
        activity = _activity(session, workspace_id, activity_id, lock=True)
        _may_change(activity, actor)
        type_key = _check_type(types, type_key, keep=activity.type_key)
        customer = live_customer(session, workspace_id, customer_id)
        _check_links(session, workspace_id, customer, contact_id, deal_id)
        before = audit.snapshot(activity)
        old_deal = activity.deal_id
        activity.customer_id = customer.id
        activity.type_key = type_key
        if new_summary is not None:
            activity.summary = new_summary
        activity.occurred_at = occurred_at
        activity.contact_id = contact_id
        activity.deal_id = deal_id
        after = audit.snapshot(activity)
        if after != before:
            activity.updated_by = actor.user_id
            activity.updated_at = now
            audit.change(session, activity, AuditAction.UPDATE, actor=actor.user_id, before=before)
            for deal in {old_deal, deal_id}:
                _touch_deal(session, deal)
        return _logged(session, activity, created=False)


def delete_activity(
    sf: sessionmaker[Session], workspace_id: int, activity_id: int, *, actor: Actor, now: datetime
) -> Logged:
    """Soft-delete an activity and cancel the open follow-up logged with it. Deleting twice is a
    no-op, concurrent deletes too: the row is locked, so one writes and the others find it deleted."""
    with sf.begin() as session:
        activity = _activity(session, workspace_id, activity_id, include_deleted=True, lock=True)
        _may_change(activity, actor)
        if activity.deleted_at is None:
            before = audit.snapshot(activity)
            activity.deleted_at, activity.deleted_by = now, actor.user_id
            audit.change(session, activity, AuditAction.DELETE, actor=actor.user_id, before=before)
            follow_ups = session.scalars(
                select(FollowUp).where(
                    FollowUp.activity_id == activity.id,
                    FollowUp.deleted_at.is_(None),
                    FollowUp.status.in_(OPEN_STATUSES),
                )
            ).all()

            def delete(fu: FollowUp) -> None:
                fu.deleted_at, fu.deleted_by, fu.nudge_at = now, actor.user_id, None

            _change_along(session, follow_ups, delete, AuditAction.DELETE, actor, "deleted with its activity")
            _touch_deal(session, activity.deal_id)
        return _logged(session, activity, created=False)


def restore_activity(
    sf: sessionmaker[Session], workspace_id: int, activity_id: int, *, actor: Actor, now: datetime
) -> Logged:
    """Undo a delete: the activity and the follow-up deleted with it come back. Restoring twice (or
    concurrently) is a no-op."""
    with sf.begin() as session:
        activity = _activity(session, workspace_id, activity_id, include_deleted=True, lock=True)
        _may_change(activity, actor)
        if activity.deleted_at is not None:
            live_customer(session, workspace_id, activity.customer_id)  # refuse if the customer is gone
            deleted_at = activity.deleted_at
            before = audit.snapshot(activity)
            activity.deleted_at, activity.deleted_by = None, None
            activity.updated_at, activity.updated_by = now, actor.user_id
            audit.change(session, activity, AuditAction.RESTORE, actor=actor.user_id, before=before)
            follow_ups = session.scalars(
                select(FollowUp).where(FollowUp.activity_id == activity.id, FollowUp.deleted_at == deleted_at)
            ).all()

            def restore(fu: FollowUp) -> None:
                fu.deleted_at, fu.deleted_by = None, None
                if fu.status == FollowUpStatus.OPEN and fu.nudged_at is None:
                    fu.nudge_at = fu.due_at

            _change_along(session, follow_ups, restore, AuditAction.RESTORE, actor, "restored with its activity")
            _touch_deal(session, activity.deal_id)
        return _logged(session, activity, created=False)


def _change_along(
    session: Session,
    follow_ups: Sequence[FollowUp],
    apply: Callable[[FollowUp], None],
    action: AuditAction,
    actor: Actor,
    note: str,
) -> None:
    """Apply ``apply`` to the follow-ups logged with an activity, each with its audit entry."""
    for fu in follow_ups:
        before = audit.snapshot(fu)
        apply(fu)
        audit.change(session, fu, action, actor=actor.user_id, before=before, note=note)


def add_activity(session: Session, activity: Activity, *, actor: Actor, types: ActivityTypes, now: datetime) -> Logged:
    """Insert a prepared activity inside the caller's transaction (email capture saves its mail row
    with it, so the two exist together or not at all), checked as :func:`log_activity` checks."""
    activity.summary = clean_summary(activity.summary)
    activity.type_key = _check_type(types, activity.type_key)
    _check_when(activity.occurred_at, now)
    activity.idempotency_key = fit_key(activity.idempotency_key)
    return _insert(session, activity, actor=actor, now=now, follow_up=None)
