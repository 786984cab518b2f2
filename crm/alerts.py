"""Routed alerts: a channel subscribed to deal events (won, lost, a stage reached, new deals),
filtered by whose deals, a stage, an amount and the customer's value tier (``crm.value``: A, B
or C as the daily recompute stored it; a customer it has not ranked yet counts as C, like one
with nothing won).

Delivery goes through the outbox in ``crm.channel_events``; this module keeps the subscriptions
and answers "what would this channel have been told lately" (:func:`preview`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.capture import check_capture
from crm.channel_events import Event, alert_matches, deal_event
from crm.errors import Conflict, InvalidInput, NotFound
from crm.models import AlertSubscription, Deal, DealStageChange
from crm.slack_ids import is_user_id
from crm.states import AuditAction, CaptureKind, ChannelEventKind, LinkStatus
from crm.value import TIERS

DEAL_EVENTS = (ChannelEventKind.WON, ChannelEventKind.LOST, ChannelEventKind.STAGE, ChannelEventKind.NEW_DEAL)
MAX_REPS = 50
PREVIEW_DAYS = 30


@dataclass(frozen=True)
class AlertFilters:
    """What a channel wants to hear: the events, and the filters every one of them must pass."""

    events: tuple[ChannelEventKind, ...] = (ChannelEventKind.WON, ChannelEventKind.LOST)
    stage: str | None = None
    min_amount_minor: int | None = None
    currency: str | None = None
    reps: tuple[str, ...] = field(default_factory=tuple)  # empty: everyone's deals
    tier: str | None = None  # "A", "AB": the customer's value tier is one of these letters


TIER_WORDS = {"key": "A", "top": "A"}


def normalize_tier(raw: str | None) -> str | None:
    """ "a", "A", "a/b", "ab", "a+b", "key" → "A", "AB" (sorted, each once); None for nothing.

    Raises :class:`InvalidInput` for anything else ("gold": the tiers are A, B and C)."""
    text = (raw or "").strip().lower()
    if not text:
        return None
    text = TIER_WORDS.get(text, text)
    letters = {c for c in text.upper() if c not in "/+|-,"}
    if not letters or not letters <= set(TIERS):
        raise InvalidInput(
            f"The value tiers are A, B and C (A: the few customers holding 80% of won value), not "
            f"“{text[:30]}”. Try `tier:A` or `tier:AB`.",
            field="tier",
        )
    if letters == set(TIERS):
        raise InvalidInput("Every customer is in tier A, B or C: leave `tier:` out to hear of all of them.")
    return "".join(sorted(letters))


def _check(filters: AlertFilters, stage_keys: set[str]) -> AlertFilters:
    if not filters.events:
        raise InvalidInput("Pick at least one event: won, lost, stage or new.")
    unknown = [e for e in filters.events if e not in DEAL_EVENTS]
    if unknown:
        raise InvalidInput(f"Alerts are about deals: won, lost, stage or new (not {unknown[0]}).")
    if filters.stage is not None and filters.stage not in stage_keys:
        raise InvalidInput(f"There is no pipeline stage “{filters.stage}”.", field="stage")
    if filters.min_amount_minor is not None and filters.min_amount_minor < 0:
        raise InvalidInput("The amount must be zero or more.", field="amount")
    filters = replace(filters, tier=normalize_tier(filters.tier))
    if len(filters.reps) > MAX_REPS or not all(is_user_id(r) for r in filters.reps):
        raise InvalidInput(f"Name at most {MAX_REPS} people, as @mentions.", field="reps")
    return filters


def _live(session: Session, workspace_id: int, channel_id: str) -> AlertSubscription | None:
    return session.scalars(
        select(AlertSubscription).where(
            AlertSubscription.workspace_id == workspace_id,
            AlertSubscription.channel_id == channel_id,
            AlertSubscription.deleted_at.is_(None),
        )
    ).first()


def subscribe(
    sf: sessionmaker[Session],
    workspace_id: int,
    channel_id: str,
    filters: AlertFilters,
    *,
    actor: str,
    stage_keys: set[str],
    shared: bool,
    now: datetime,
) -> AlertSubscription:
    """Subscribe the channel (or change its filters): one live subscription per channel."""
    if not channel_id or channel_id[0] not in "CG":
        raise InvalidInput("Run `/crm alerts` in the channel that should get the alerts (not in a DM).")
    if shared:
        raise InvalidInput(
            "This channel is shared with another organisation, so it can't get deal alerts (they are internal)."
        )
    filters = _check(filters, stage_keys)
    try:
        return _subscribe(sf, workspace_id, channel_id, filters, actor=actor, now=now)
    except IntegrityError:
        raise Conflict(
            "Someone subscribed this channel at the same moment; run `/crm alerts` again to change it."
        ) from None


def _subscribe(
    sf: sessionmaker[Session], workspace_id: int, channel_id: str, filters: AlertFilters, *, actor: str, now: datetime
) -> AlertSubscription:
    with sf.begin() as session:
        check_capture(session, workspace_id, CaptureKind.ALERT)
        sub = _live(session, workspace_id, channel_id)
        if sub is None:
            sub = AlertSubscription(workspace_id=workspace_id, channel_id=channel_id, created_by=actor, created_at=now)
            session.add(sub)
        else:
            sub.updated_by, sub.updated_at = actor, now
        sub.subscriber_user_id = actor
        sub.events = [e.value for e in filters.events]
        sub.stage, sub.min_amount_minor, sub.currency = filters.stage, filters.min_amount_minor, filters.currency
        sub.reps = list(dict.fromkeys(filters.reps)) or None
        sub.tier = filters.tier
        sub.status, sub.status_note = LinkStatus.ACTIVE, None
        session.flush()
        audit.record(
            session,
            workspace_id=workspace_id,
            entity_type="alert_subscription",
            entity_id=sub.id,
            action=AuditAction.SUBSCRIBE,
            actor=actor,
            after={"channel": channel_id, "events": sub.events, "stage": sub.stage, "reps": sub.reps, "tier": sub.tier},
        )
        return sub


def unsubscribe(sf: sessionmaker[Session], workspace_id: int, channel_id: str, *, actor: str, now: datetime) -> None:
    with sf.begin() as session:
        sub = _live(session, workspace_id, channel_id)
        if sub is None:
            raise NotFound("This channel gets no deal alerts.")
        sub.deleted_at, sub.deleted_by = now, actor
        audit.record(
            session,
            workspace_id=workspace_id,
            entity_type="alert_subscription",
            entity_id=sub.id,
            action=AuditAction.UNSUBSCRIBE,
            actor=actor,
        )


def subscription_of(sf: sessionmaker[Session], workspace_id: int, channel_id: str | None) -> AlertSubscription | None:
    if not channel_id:
        return None
    with sf() as session:
        return _live(session, workspace_id, channel_id)


def subscriptions(sf: sessionmaker[Session], workspace_id: int) -> list[AlertSubscription]:
    """Every live subscription in the workspace, oldest first."""
    with sf() as session:
        return list(
            session.scalars(
                select(AlertSubscription)
                .where(AlertSubscription.workspace_id == workspace_id, AlertSubscription.deleted_at.is_(None))
                .order_by(AlertSubscription.created_at, AlertSubscription.id)
                .limit(100)
            )
        )


def preview(
    sf: sessionmaker[Session], workspace_id: int, filters: AlertFilters, *, now: datetime, limit: int = 5
) -> list[Event]:
    """The latest events of the past :data:`PREVIEW_DAYS` days these filters would have sent (newest first)."""
    probe = AlertSubscription(
        events=[e.value for e in filters.events],
        stage=filters.stage,
        min_amount_minor=filters.min_amount_minor,
        currency=filters.currency,
        reps=list(filters.reps) or None,
        tier=normalize_tier(filters.tier),
    )
    found: list[Event] = []
    with sf() as session:
        changes = session.execute(
            select(DealStageChange, Deal)
            .join(Deal, Deal.id == DealStageChange.deal_id)
            .where(
                DealStageChange.workspace_id == workspace_id,
                DealStageChange.created_at >= now - timedelta(days=PREVIEW_DAYS),
                Deal.deleted_at.is_(None),
            )
            .order_by(DealStageChange.created_at.desc(), DealStageChange.id.desc())
            .limit(500)
        ).all()
        for change, deal in changes:
            event = deal_event(
                session,
                deal,
                actor=change.created_by,
                from_stage=change.from_stage,
                change_id=change.id,
                to_stage=change.to_stage,
            )
            if alert_matches(probe, event):
                found.append(event)
                if len(found) >= limit:
                    break
    return found
