"""What a rep's App Home shows: their follow-ups, recent activity and open deals (and, to
admins, the reminder DMs Slack refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.actors import Actor
from crm.customers import CLOSED_STAGES
from crm.models import Activity, Customer, Deal, FollowUp
from crm.nudges import FollowUpRow, follow_up_rows
from crm.states import OPEN_STATUSES
from crm.value import DEFAULT_KEY_ACCOUNT_DAYS, KeyAccounts, key_accounts_in


@dataclass
class MyDay:
    overdue: list[FollowUpRow]
    overdue_total: int
    upcoming: list[FollowUpRow]
    upcoming_total: int
    activities: list[tuple[Activity, str]]
    deals: list[tuple[Deal, str]]
    failed: list[FollowUpRow]
    key_accounts: KeyAccounts | None = None  # my A-tier customers nobody touched lately


def my_day(
    sf: sessionmaker[Session],
    workspace_id: int,
    actor: Actor,
    *,
    now: datetime,
    limit: int = 10,
    key_account_days: int = DEFAULT_KEY_ACCOUNT_DAYS,
) -> MyDay:
    user_id = actor.user_id
    mine = (
        FollowUp.workspace_id == workspace_id,
        FollowUp.owner_user_id == user_id,
        FollowUp.deleted_at.is_(None),
        FollowUp.status.in_(OPEN_STATUSES),
    )
    with sf() as session:
        overdue, overdue_total = follow_up_rows(session, (*mine, FollowUp.due_at <= now), limit)
        upcoming, upcoming_total = follow_up_rows(session, (*mine, FollowUp.due_at > now), limit)
        failed: list[FollowUpRow] = []
        if actor.is_admin:
            failed, _ = follow_up_rows(
                session,
                (
                    FollowUp.workspace_id == workspace_id,
                    FollowUp.deleted_at.is_(None),
                    FollowUp.status.in_(OPEN_STATUSES),
                    FollowUp.nudge_error.is_not(None),
                    FollowUp.nudge_at.is_(None),
                ),
                limit,
            )
        activities = session.execute(
            select(Activity, Customer.name)
            .join(Customer, Customer.id == Activity.customer_id)
            .where(Activity.workspace_id == workspace_id, Activity.created_by == user_id, Activity.deleted_at.is_(None))
            .order_by(Activity.occurred_at.desc())
            .limit(limit)
        ).all()
        deals = session.execute(
            select(Deal, Customer.name)
            .join(Customer, Customer.id == Deal.customer_id)
            .where(
                Deal.workspace_id == workspace_id,
                Deal.owner_user_id == user_id,
                Deal.deleted_at.is_(None),
                Deal.stage.not_in(CLOSED_STAGES),
            )
            .order_by(Deal.expected_close.asc().nulls_last(), Deal.id)
            .limit(limit)
        ).all()
        return MyDay(
            overdue,
            overdue_total,
            upcoming,
            upcoming_total,
            [(a, n) for a, n in activities],
            [(d, n) for d, n in deals],
            failed,
            key_accounts_in(session, workspace_id, days=key_account_days, now=now, owner=user_id, limit=5),
        )
