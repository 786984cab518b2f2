"""A record's events, routed to the channels that care, through an exactly-once outbox.

:func:`publish` runs inside the transaction that made the change (a deal created or moved, an
activity logged) and queues one ``channel_posts`` row per interested channel: the channels linked
to the record (unless shared with another organisation: no internal data goes there) and the
alert subscriptions whose filters match. The row's key ``(workspace, event, channel)`` is unique
and inserted with ON CONFLICT DO NOTHING, so an event published twice queues one message.
:func:`queue_overdue` does the same for follow-ups gone overdue (every replica may scan at once).

The scheduled sender claims rows like nudges (``crm/nudges.py``): a lease with the replica's
name, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, :func:`mark_sent` only while still holding the
claim, and a recovered flag when an earlier claim ran out (its message may have gone out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from crm.capture import capture_on
from crm.db import rows_changed
from crm.models import (
    Activity,
    AlertSubscription,
    ChannelPost,
    Customer,
    CustomerValueTier,
    Deal,
    FollowUp,
    LinkedChannel,
    Workspace,
)
from crm.pipeline_stages import LOST, WON
from crm.states import OPEN_STATUSES, CaptureKind, ChannelEventKind, LinkStatus, is_ambiguous

ROUTE_LINK = "link"
ROUTE_ALERT = "alert"
MAX_BACKOFF = timedelta(hours=1)
OVERDUE_WINDOW = timedelta(days=1)  # a follow-up overdue longer than this when first seen is not announced
SUMMARY_CHARS = 280

# Slack errors after which posting to the channel cannot help: the post is parked and the
# channel's link or subscription records why, so nothing is retried forever.
GONE_ERRORS = {
    "channel_not_found": LinkStatus.GONE,
    "is_archived": LinkStatus.ARCHIVED,
    "not_in_channel": LinkStatus.REMOVED,
    "restricted_action": LinkStatus.REMOVED,
    "ekm_access_denied": LinkStatus.REMOVED,
}
# Ours: the sender found the channel shared with another organisation just before posting. The
# link is kept and marked shared (nothing internal goes there again); an alert subscription stops.
SHARED_ERROR = "slack_connect"
GONE_ERRORS[SHARED_ERROR] = LinkStatus.REMOVED
PERMANENT_ERRORS = frozenset({*GONE_ERRORS, "invalid_auth", "not_authed", "token_revoked", "account_inactive"})


@dataclass(frozen=True)
class Event:
    """Something that happened to a record, as the channels are told it."""

    key: str  # unique per event: "deal:7:stage:31", "activity:12", "follow-up:3:overdue:1733..."
    kind: ChannelEventKind
    workspace_id: int
    customer_id: int
    deal_id: int | None = None
    origin_channel: str | None = None  # where it happened: that channel is not told again
    facts: dict[str, Any] = field(default_factory=dict)


def customer_tier(session: Session, customer_id: int) -> str:
    """The customer's stored value tier; C until the daily recompute has ranked it (``crm.value``)."""
    tier = session.scalar(select(CustomerValueTier.tier).where(CustomerValueTier.customer_id == customer_id))
    return tier or "C"


def deal_facts(session: Session, deal: Deal, **extra: Any) -> dict[str, Any]:
    customer = session.get(Customer, deal.customer_id)
    return {
        "customer": customer.name if customer else "",
        "customer_id": deal.customer_id,
        "deal": deal.title,
        "deal_id": deal.id,
        "stage": deal.stage,
        "amount_minor": deal.amount_minor,
        "currency": deal.currency,
        "owner": deal.owner_user_id,
        "tier": customer_tier(session, deal.customer_id),
        **extra,
    }


def deal_event(
    session: Session, deal: Deal, *, actor: str, from_stage: str | None, change_id: int, to_stage: str | None = None
) -> Event:
    """The event of a deal created (``from_stage`` None) or moved to ``to_stage`` (default: its stage now)."""
    to_stage = to_stage or deal.stage
    if from_stage is None:
        kind = ChannelEventKind.NEW_DEAL
    else:
        kind = {WON: ChannelEventKind.WON, LOST: ChannelEventKind.LOST}.get(to_stage, ChannelEventKind.STAGE)
    facts = deal_facts(session, deal, actor=actor, from_stage=from_stage)
    facts["stage"] = to_stage
    return Event(f"deal:{deal.id}:stage:{change_id}", kind, deal.workspace_id, deal.customer_id, deal.id, facts=facts)


def activity_event(session: Session, activity: Activity, *, origin_channel: str | None) -> Event:
    customer = session.get(Customer, activity.customer_id)
    deal = session.get(Deal, activity.deal_id) if activity.deal_id else None
    facts = {
        "customer": customer.name if customer else "",
        "customer_id": activity.customer_id,
        "deal": deal.title if deal else None,
        "deal_id": activity.deal_id,
        "actor": activity.created_by,
        "type_key": activity.type_key,
        "summary": activity.summary[:SUMMARY_CHARS],
        "source": activity.source,
        "permalink": activity.permalink,
        "activity_id": activity.id,
    }
    return Event(
        f"activity:{activity.id}",
        ChannelEventKind.ACTIVITY,
        activity.workspace_id,
        activity.customer_id,
        activity.deal_id,
        origin_channel,
        facts,
    )


# -- routing ---------------------------------------------------------------------------------------
def _linked(session: Session, event: Event) -> list[LinkedChannel]:
    """The live, active, internal channels linked to the event's customer (whole-customer links)
    or its deal."""
    about: ColumnElement[bool] = LinkedChannel.deal_id.is_(None)
    if event.deal_id is not None:
        about = or_(about, LinkedChannel.deal_id == event.deal_id)
    return list(
        session.scalars(
            select(LinkedChannel).where(
                LinkedChannel.workspace_id == event.workspace_id,
                LinkedChannel.customer_id == event.customer_id,
                LinkedChannel.deleted_at.is_(None),
                LinkedChannel.status == LinkStatus.ACTIVE,
                LinkedChannel.is_shared.is_(False),
                about,
            )
        )
    )


def alert_matches(sub: AlertSubscription, event: Event) -> bool:
    """Whether a subscription's filters take this event. The tier filter compares the customer's
    stored tier (``facts["tier"]``); a stored filter that is not A/B/C letters (saved before tiers
    existed, like "gold") filters nothing, as it did then."""
    if event.kind not in (sub.events or []):
        return False
    facts = event.facts
    if (
        sub.stage
        and event.kind in (ChannelEventKind.STAGE, ChannelEventKind.NEW_DEAL)
        and facts.get("stage") != sub.stage
    ):
        return False
    if sub.min_amount_minor is not None:
        amount = facts.get("amount_minor")
        if amount is None or amount < sub.min_amount_minor:
            return False
        if sub.currency and facts.get("currency") != sub.currency:
            return False
    if sub.reps and facts.get("owner") not in sub.reps:
        return False
    return not (tier_filter(sub.tier) and (facts.get("tier") or "C") not in tier_filter(sub.tier))


def tier_filter(stored: str | None) -> str:
    """The tier letters a subscription keeps ("" for none, or a legacy word like "gold")."""
    letters = (stored or "").upper()
    return letters if letters and set(letters) <= {"A", "B", "C"} else ""


def _alerted(session: Session, event: Event) -> list[AlertSubscription]:
    if event.deal_id is None:
        return []
    subs = session.scalars(
        select(AlertSubscription).where(
            AlertSubscription.workspace_id == event.workspace_id,
            AlertSubscription.deleted_at.is_(None),
            AlertSubscription.status == LinkStatus.ACTIVE,
        )
    )
    return [s for s in subs if alert_matches(s, event)]


def publish(session: Session, event: Event, *, now: datetime) -> int:
    """Queue the event for every channel that should hear of it (in the caller's transaction);
    how many posts were queued. Each channel gets it once, even when both linked and subscribed."""
    targets: dict[str, str] = {}
    if capture_on(session, event.workspace_id, CaptureKind.ALERT):
        for sub in _alerted(session, event):
            targets[sub.channel_id] = ROUTE_ALERT
    if capture_on(session, event.workspace_id, CaptureKind.CHANNEL):
        for link in _linked(session, event):
            targets[link.channel_id] = ROUTE_LINK
    targets.pop(event.origin_channel or "", None)
    if not targets:
        return 0
    payload = {"kind": event.kind.value, **event.facts}
    rows = [
        {
            "workspace_id": event.workspace_id,
            "channel_id": channel,
            "event_key": event.key,
            "route": route,
            "payload": payload,
            "send_at": now,
            "attempts": 0,
            "created_at": now,
            "created_by": "system",
        }
        for channel, route in sorted(targets.items())
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ChannelPost)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["workspace_id", "event_key", "channel_id"])
        .returning(ChannelPost.id)
    )
    return len(session.execute(statement).all())


def queue_overdue(sf: sessionmaker[Session], *, now: datetime, window: timedelta = OVERDUE_WINDOW) -> int:
    """Queue "follow-up overdue" for open follow-ups that fell due within ``window`` on records
    with linked channels; safe to run on every replica at once (the outbox key dedupes)."""
    queued = 0
    with sf.begin() as session:
        rows = session.scalars(
            select(FollowUp)
            .join(
                LinkedChannel,
                and_(
                    LinkedChannel.workspace_id == FollowUp.workspace_id,
                    LinkedChannel.customer_id == FollowUp.customer_id,
                    LinkedChannel.deleted_at.is_(None),
                ),
            )
            .where(
                FollowUp.due_at <= now,
                FollowUp.due_at > now - window,
                FollowUp.status.in_(OPEN_STATUSES),
                FollowUp.deleted_at.is_(None),
            )
            .distinct()
            .limit(500)
        ).all()
        for row in rows:
            customer = session.get(Customer, row.customer_id)
            deal = session.get(Deal, row.deal_id) if row.deal_id else None
            facts = {
                "customer": customer.name if customer else "",
                "customer_id": row.customer_id,
                "deal": deal.title if deal else None,
                "deal_id": row.deal_id,
                "owner": row.owner_user_id,
                "note": (row.note or "")[:SUMMARY_CHARS],
                "due": row.due_at.isoformat(),
            }
            key = f"follow-up:{row.id}:overdue:{int(row.due_at.timestamp())}"
            event = Event(key, ChannelEventKind.OVERDUE, row.workspace_id, row.customer_id, row.deal_id, facts=facts)
            queued += publish(session, event, now=now)
    return queued


# -- the outbox's claims ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimedPost:
    post_id: int
    workspace_id: int
    team_id: str
    channel_id: str
    route: str
    payload: dict[str, Any]
    attempts: int
    recovered: bool  # an earlier claim ran out or ended in doubt: its message may be out already


def _due(now: datetime):
    return and_(
        ChannelPost.send_at.is_not(None),
        ChannelPost.send_at <= now,
        or_(ChannelPost.claimed_until.is_(None), ChannelPost.claimed_until < now),
    )


def claim_posts(
    sf: sessionmaker[Session], *, now: datetime, replica: str, limit: int, lease: timedelta
) -> list[ClaimedPost]:
    """Claim up to ``limit`` due posts for ``replica``, oldest first."""
    with sf.begin() as session:
        query = select(ChannelPost).where(_due(now)).order_by(ChannelPost.send_at, ChannelPost.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.scalars(query).all()
        claimed = []
        for row in rows:
            recovered = (row.claimed_by is not None and row.error is None and row.attempts > 0) or is_ambiguous(
                row.error
            )
            row.claimed_by, row.claimed_until = replica, now + lease
            row.attempts += 1
            workspace = session.get(Workspace, row.workspace_id)
            claimed.append(
                ClaimedPost(
                    row.id,
                    row.workspace_id,
                    workspace.team_id if workspace else "",
                    row.channel_id,
                    row.route,
                    dict(row.payload or {}),
                    row.attempts,
                    recovered,
                )
            )
        return claimed


def mark_posted(sf: sessionmaker[Session], post_id: int, *, replica: str, now: datetime, ts: str | None) -> bool:
    """Record the message; False if this replica had lost the claim meanwhile."""
    with sf.begin() as session:
        result = session.execute(
            update(ChannelPost)
            .where(ChannelPost.id == post_id, ChannelPost.claimed_by == replica)
            .values(send_at=None, sent_at=now, message_ts=ts, error=None, claimed_by=None, claimed_until=None)
        )
        return rows_changed(result) == 1


def mark_refused(
    sf: sessionmaker[Session],
    post_id: int,
    *,
    replica: str,
    now: datetime,
    error: str,
    permanent: bool,
    retry_after: float | None = None,
) -> LinkStatus | None:
    """A refused post: parked (permanent; a channel gone, archived or without the bot records so on
    its link and subscription, and what else waits for it is parked too) or retried with backoff.
    The status recorded on the channel, if any."""
    with sf.begin() as session:
        row = session.get(ChannelPost, post_id)
        if row is None or row.claimed_by != replica:
            return None
        row.error, row.claimed_by, row.claimed_until = error[:255], None, None
        if not permanent:
            backoff = timedelta(seconds=min(2 ** min(row.attempts, 12) * 15, MAX_BACKOFF.total_seconds()))
            row.send_at = now + max(backoff, timedelta(seconds=retry_after or 0))
            return None
        row.send_at = None
        status = GONE_ERRORS.get(error)
        if status is None:
            return None
        note = f"{error} (seen {now:%Y-%m-%d %H:%M} UTC)"
        for model in (LinkedChannel, AlertSubscription):
            shared_link = model is LinkedChannel and error == SHARED_ERROR
            values = (
                {"is_shared": True, "status_note": note} if shared_link else {"status": status, "status_note": note}
            )
            session.execute(
                update(model)
                .where(
                    model.workspace_id == row.workspace_id,
                    model.channel_id == row.channel_id,
                    model.deleted_at.is_(None),
                )
                .values(**values)
            )
        session.execute(
            update(ChannelPost)
            .where(
                ChannelPost.workspace_id == row.workspace_id,
                ChannelPost.channel_id == row.channel_id,
                ChannelPost.send_at.is_not(None),
                ChannelPost.id != row.id,
            )
            .values(send_at=None, error=f"parked: {error}"[:255], claimed_by=None, claimed_until=None)
        )
        return status


def release_posts(sf: sessionmaker[Session], post_ids: list[int], *, replica: str) -> None:
    """Give claims back untouched (rate limited: the rest waits for the next tick)."""
    if not post_ids:
        return
    with sf.begin() as session:
        session.execute(
            update(ChannelPost)
            .where(ChannelPost.id.in_(post_ids), ChannelPost.claimed_by == replica)
            .values(claimed_by=None, claimed_until=None, attempts=ChannelPost.attempts - 1)
        )


KEEP_SENT = timedelta(days=30)  # far longer than anything can publish the same event again (OVERDUE_WINDOW)


def prune_sent_posts(sf: sessionmaker[Session], *, now: datetime, keep: timedelta = KEEP_SENT) -> int:
    """Delete posts sent more than ``keep`` ago (parked ones stay, as the record of why); how many went."""
    with sf.begin() as session:
        result = session.execute(
            delete(ChannelPost).where(ChannelPost.sent_at.is_not(None), ChannelPost.sent_at < now - keep)
        )
        return rows_changed(result)
