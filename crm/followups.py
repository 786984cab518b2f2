"""Follow-ups: a promise to get back to a customer by a due time.

:func:`create_follow_up` adds one inside the caller's transaction (logging an activity saves the
activity and its follow-up together); :func:`add_follow_up` is the standalone version with its
own transaction. An open follow-up waits for its nudge at ``nudge_at`` (= ``due_at``).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.customers import live_customer
from crm.errors import DateParseError, InvalidInput, NotFound
from crm.models import Deal, FollowUp
from crm.slack_ids import is_user_id
from crm.states import AuditAction, FollowUpStatus

MAX_NOTE = 3000
MAX_KEY = 128  # the idempotency_key columns


def fit_key(key: str | None) -> str | None:
    """An idempotency key that fits its column: as given when short, else a digest of it
    (a forged view or trigger id can be any length; the same one still gives the same key)."""
    if not key or len(key) <= MAX_KEY:
        return key or None
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_owner(owner_user_id: str | None) -> str:
    if not owner_user_id:
        raise InvalidInput("Pick who owns the follow-up.", field="owner")
    if not is_user_id(owner_user_id):
        raise InvalidInput("Pick a person from your workspace as the owner.", field="owner")
    return owner_user_id


def read_due(actor: Actor, now: datetime, text: str | None, day: str | None) -> datetime | None:
    """A follow-up's due time from a form's free text ("next friday") or its date picker (a day
    at the start of the actor's working day), or None when both are empty. Refusals name the
    field at fault: ``follow_up`` (the text) or ``follow_up_date`` (the picker)."""
    text = (text or "").strip()
    if text and day:
        raise InvalidInput("Type a time or pick a date, not both.", field="follow_up")
    if text:
        try:
            return actor.read_follow_up(text, now)
        except DateParseError as err:
            raise DateParseError(err.message, field="follow_up") from None
    if not day:
        return None
    try:
        return actor.follow_up_on(date.fromisoformat(day), now)
    except (ValueError, OverflowError):  # not a date, or one no calendar reaches
        raise InvalidInput("Pick a date from the calendar.", field="follow_up_date") from None


def create_follow_up(
    session: Session,
    *,
    workspace_id: int,
    customer_id: int,
    owner_user_id: str,
    due_at: datetime,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    activity_id: int | None = None,
    deal_id: int | None = None,
    idempotency_key: str | None = None,
) -> FollowUp:
    """Add an open follow-up in ``session``'s transaction. The caller has checked the customer."""
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime")
    if due_at <= now:
        raise DateParseError("The follow-up is in the past; pick a time after now.", field="follow_up")
    owner_user_id = check_owner(owner_user_id)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"The follow-up note is too long: at most {MAX_NOTE} characters.", field="note")
    follow_up = FollowUp(
        workspace_id=workspace_id,
        customer_id=customer_id,
        activity_id=activity_id,
        deal_id=deal_id,
        owner_user_id=owner_user_id,
        due_at=due_at,
        note=note,
        status=FollowUpStatus.OPEN,
        nudge_at=due_at,
        created_by=actor.user_id,
        created_at=now,
        idempotency_key=fit_key(idempotency_key),
    )
    session.add(follow_up)
    session.flush()
    audit.change(session, follow_up, AuditAction.CREATE, actor=actor.user_id)
    return follow_up


def _by_key(sf: sessionmaker[Session], workspace_id: int, key: str) -> FollowUp | None:
    with sf() as session:
        return session.scalars(
            select(FollowUp).where(FollowUp.workspace_id == workspace_id, FollowUp.idempotency_key == key)
        ).first()


def add_follow_up(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    customer_id: int,
    owner_user_id: str,
    due_at: datetime,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    deal_id: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[FollowUp, bool]:
    """Add a follow-up in its own transaction: (the follow-up, whether it is new).

    With ``idempotency_key`` (``view:<id>``, ``slash:<trigger id>``) the follow-up is saved once:
    a replay returns the first, and of concurrent requests the unique index on
    (workspace, key) lets one insert win; the others return the winner's with ``False``.
    """
    key = fit_key(idempotency_key)
    if key:
        existing = _by_key(sf, workspace_id, key)
        if existing is not None:
            return existing, False
    try:
        with sf.begin() as session:
            customer = live_customer(session, workspace_id, customer_id)
            if deal_id is not None:
                deal = session.get(Deal, deal_id)
                if deal is None or deal.workspace_id != workspace_id or deal.customer_id != customer.id:
                    raise NotFound("That deal is not one of this customer's.", field="deal")
            follow_up = create_follow_up(
                session,
                workspace_id=workspace_id,
                customer_id=customer.id,
                owner_user_id=owner_user_id,
                due_at=due_at,
                actor=actor,
                now=now,
                note=note,
                deal_id=deal_id,
                idempotency_key=key,
            )
    except IntegrityError:
        winner = _by_key(sf, workspace_id, key) if key else None
        if winner is None:
            raise
        return winner, False
    return follow_up, True
