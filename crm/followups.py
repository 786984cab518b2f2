"""Follow-ups: a promise to get back to a customer by a due time.

:func:`create_follow_up` adds one inside the caller's transaction (logging an activity saves the
activity and its follow-up together); :func:`add_follow_up` is the standalone version with its
own transaction. An open follow-up waits for its nudge at ``nudge_at`` (= ``due_at``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.customers import live_customer
from crm.errors import DateParseError, InvalidInput, NotFound
from crm.models import Customer, Deal, FollowUp

MAX_NOTE = 3000


def create_follow_up(
    session: Session,
    *,
    workspace_id: int,
    customer_id: int,
    owner_user_id: str,
    due_at: datetime,
    actor: str,
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
    if not owner_user_id:
        raise InvalidInput("Pick who owns the follow-up.", field="owner")
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
        status="open",
        nudge_at=due_at,
        created_by=actor,
        created_at=now,
        idempotency_key=idempotency_key,
    )
    session.add(follow_up)
    session.flush()
    audit.change(
        session,
        follow_up,
        "create",
        actor=actor,
    )
    return follow_up


def add_follow_up(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    customer_id: int,
    owner_user_id: str,
    due_at: datetime,
    actor: str,
    now: datetime,
    note: str | None = None,
    deal_id: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[FollowUp, bool]:
    """Add a follow-up in its own transaction: (the follow-up, whether it is new).

    With ``idempotency_key``, a replayed request returns the follow-up saved the first time.
    Follow-ups have no unique key column, so concurrent requests are serialised on the
    customer's row instead.
    """
    with sf.begin() as session:
        customer = live_customer(session, workspace_id, customer_id)
        session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
        if idempotency_key:
            existing = session.scalars(
                select(FollowUp).where(
                    FollowUp.workspace_id == workspace_id, FollowUp.idempotency_key == idempotency_key
                )
            ).first()
            if existing is not None:
                return existing, False
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
            idempotency_key=idempotency_key,
        )
    return follow_up, True
