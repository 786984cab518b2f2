"""Channels linked to a customer or a deal, and what capturing from them may do.

* :func:`link_channel` / :func:`unlink_channel`: one live link per channel (a deal room is a
  link made by ``/crm room``); a Slack Connect channel is linked with ``is_shared`` and never
  gets internal data;
* :func:`channel_changed`: what Slack told us about a channel (archived, renamed, the bot
  removed, shared), recorded on its link and its alert subscription so nothing is retried forever;
* :func:`log_thread`: a thread as an activity on the linked record, with its participants.

Plain functions over a session factory, scoped by workspace; they raise ``crm.errors``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.activities import Logged, log_activity
from crm.activity_types import ActivityTypes
from crm.actors import Actor
from crm.capture import check_capture
from crm.customers import live_customer
from crm.errors import Conflict, InvalidInput, NotFound
from crm.models import CHANNEL_NAME, AlertSubscription, Customer, Deal, LinkedChannel
from crm.slack_ids import is_user_id
from crm.states import ActivitySource, AuditAction, CaptureKind, LinkStatus

# Letters NFKD does not take apart into a base letter and an accent.
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"})
MAX_PARTICIPANTS = 200  # a thread's distinct people kept with its activity


# -- links ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """A live link with what it points at."""

    link: LinkedChannel
    customer_name: str
    deal_title: str | None
    created: bool = True  # False when the channel was already linked to this record
    replaced: str | None = None  # what the channel was linked to before, when that changed

    @property
    def record_name(self) -> str:
        return f"{self.deal_title} ({self.customer_name})" if self.deal_title else self.customer_name


def _live_link(session: Session, workspace_id: int, channel_id: str) -> LinkedChannel | None:
    return session.scalars(
        select(LinkedChannel).where(
            LinkedChannel.workspace_id == workspace_id,
            LinkedChannel.channel_id == channel_id,
            LinkedChannel.deleted_at.is_(None),
        )
    ).first()


def _described(session: Session, link: LinkedChannel, **kw) -> Link:
    customer = session.get(Customer, link.customer_id)
    deal = session.get(Deal, link.deal_id) if link.deal_id else None
    return Link(link, customer.name if customer else "a customer", deal.title if deal else None, **kw)


def live_deal(session: Session, workspace_id: int, deal_id: int) -> Deal:
    deal = session.get(Deal, deal_id)
    if deal is None or deal.workspace_id != workspace_id or deal.deleted_at is not None:
        raise NotFound("That deal no longer exists.")
    return deal


def _check_channel(channel_id: str | None) -> str:
    if not channel_id or not re.fullmatch(r"[CG][A-Z0-9]{2,30}", channel_id):
        raise InvalidInput("Run this in the channel you want to link (not in a DM).")
    return channel_id


def link_channel(
    sf: sessionmaker[Session],
    workspace_id: int,
    channel_id: str | None,
    *,
    customer_id: int | None = None,
    deal_id: int | None = None,
    channel_name: str | None,
    is_shared: bool,
    actor: str,
    now: datetime,
    is_room: bool = False,
) -> Link:
    """Link the channel to a deal (and so its customer) or a customer; relinking moves the link.
    Of two links of one channel at the same moment, the second is told (the unique index decides)."""
    channel_id = _check_channel(channel_id)
    try:
        with sf.begin() as session:
            check_capture(session, workspace_id, CaptureKind.CHANNEL)
            if deal_id is not None:
                deal = live_deal(session, workspace_id, deal_id)
                customer = live_customer(session, workspace_id, deal.customer_id)
            elif customer_id is not None:
                customer = live_customer(session, workspace_id, customer_id)
            else:
                raise InvalidInput("Which customer or deal? Try `/crm link acme`.")
            existing = _live_link(session, workspace_id, channel_id)
            replaced = None
            if existing is not None:
                if existing.customer_id == customer.id and existing.deal_id == deal_id:
                    existing.is_shared, existing.channel_name = is_shared, channel_name or existing.channel_name
                    return _described(session, existing, created=False)
                replaced = _described(session, existing).record_name
                existing.deleted_at, existing.deleted_by = now, actor
                session.flush()
            link = LinkedChannel(
                workspace_id=workspace_id,
                channel_id=channel_id,
                channel_name=(channel_name or "")[:CHANNEL_NAME] or None,
                customer_id=customer.id,
                deal_id=deal_id,
                is_room=is_room,
                is_shared=is_shared,
                status=LinkStatus.ACTIVE,
                created_by=actor,
                created_at=now,
            )
            session.add(link)
            session.flush()
            _audit_link(
                session, link, AuditAction.LINK, actor, note=f"replaces a link to {replaced}" if replaced else None
            )
            return _described(session, link, replaced=replaced)
    except IntegrityError:
        raise Conflict("Someone linked this channel at the same moment; run `/crm link` again to change it.") from None


def _audit_link(
    session: Session, link: LinkedChannel, action: AuditAction, actor: str, note: str | None = None
) -> None:
    audit.record(
        session,
        workspace_id=link.workspace_id,
        entity_type="customer",
        entity_id=link.customer_id,
        action=action,
        actor=actor,
        after={"channel": link.channel_id, "deal_id": link.deal_id, "shared": link.is_shared, "room": link.is_room},
        note=note,
    )


def unlink_channel(
    sf: sessionmaker[Session], workspace_id: int, channel_id: str | None, *, actor: str, now: datetime
) -> Link:
    """Undo the channel's link (soft: the row stays, with who unlinked it and when)."""
    channel_id = _check_channel(channel_id)
    with sf.begin() as session:
        link = _live_link(session, workspace_id, channel_id)
        if link is None:
            raise NotFound("This channel isn't linked to a customer or a deal.")
        described = _described(session, link)
        link.deleted_at, link.deleted_by = now, actor
        _audit_link(session, link, AuditAction.UNLINK, actor)
        return described


def link_of(sf: sessionmaker[Session], workspace_id: int, channel_id: str | None) -> Link | None:
    """The channel's live link, or None."""
    if not channel_id:
        return None
    with sf() as session:
        link = _live_link(session, workspace_id, channel_id)
        return _described(session, link) if link else None


def links_of_customer(
    sf: sessionmaker[Session], workspace_id: int, customer_id: int
) -> list[tuple[LinkedChannel, str | None]]:
    """The channels linked to the customer or to one of its deals (with the deal's title), oldest first."""
    with sf() as session:
        rows = session.execute(
            select(LinkedChannel, Deal.title)
            .outerjoin(Deal, Deal.id == LinkedChannel.deal_id)
            .where(
                LinkedChannel.workspace_id == workspace_id,
                LinkedChannel.customer_id == customer_id,
                LinkedChannel.deleted_at.is_(None),
            )
            .order_by(LinkedChannel.created_at, LinkedChannel.id)
            .limit(50)
        ).all()
        return [(link, title) for link, title in rows]


# -- what Slack tells us about a channel ---------------------------------------------------------------
def channel_changed(
    sf: sessionmaker[Session],
    workspace_id: int,
    channel_id: str,
    *,
    now: datetime,
    status: LinkStatus | None = None,
    note: str | None = None,
    name: str | None = None,
    shared: bool | None = None,
) -> int:
    """Record a channel's new status, name or sharing on its link and alert subscription; how many
    rows it touched. A channel that shares with another organisation stops getting alerts."""
    touched = 0
    with sf.begin() as session:
        link = _live_link(session, workspace_id, channel_id)
        alert = session.scalars(
            select(AlertSubscription).where(
                AlertSubscription.workspace_id == workspace_id,
                AlertSubscription.channel_id == channel_id,
                AlertSubscription.deleted_at.is_(None),
            )
        ).first()
        if link is not None:
            touched += 1
            if status is not None:
                link.status, link.status_note, link.status_at = status, (note or "")[:255] or None, now
            if name:
                link.channel_name = name[:CHANNEL_NAME]
            if shared is not None:
                link.is_shared = shared
        if alert is not None:
            touched += 1
            if status is not None:
                alert.status, alert.status_note = status, (note or "")[:255] or None
            if shared:
                alert.status, alert.status_note = LinkStatus.REMOVED, "shared with another organisation"
    return touched


# -- logging a thread ---------------------------------------------------------------------------------
def room_name(customer_name: str, deal_title: str, *, suffix: int = 0) -> str:
    """A readable channel name for a deal room: ``deal-acme-corp-annual-licence`` (at most 80
    characters, Slack's rule: lower-case letters, digits, ``-`` and ``_``); ``-2``, ``-3`` on retries."""

    def slug(text: str) -> str:
        folded = text.casefold().translate(_LETTERS)
        ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")

    customer, title = slug(customer_name) or "customer", slug(deal_title) or "deal"
    tail = f"-{suffix}" if suffix > 1 else ""
    base = f"deal-{customer[:30].strip('-')}-{title}"
    return base[: CHANNEL_NAME - len(tail)].strip("-") + tail


def clean_participants(user_ids: list[str]) -> list[str]:
    """Distinct Slack user ids, in order, at most :data:`MAX_PARTICIPANTS`."""
    return [u for u in dict.fromkeys(user_ids) if is_user_id(u)][:MAX_PARTICIPANTS]


def log_thread(
    sf: sessionmaker[Session],
    workspace_id: int,
    link: LinkedChannel,
    *,
    types: ActivityTypes,
    actor: Actor,
    type_key: str,
    summary: str,
    occurred_at: datetime,
    permalink: str | None,
    participants: list[str],
    thread_ts: str,
    now: datetime,
) -> Logged:
    """The thread as one activity on the linked record (once per thread: logging it again returns
    the first with ``created=False``), crediting everyone who took part."""
    with sf() as session:
        check_capture(session, workspace_id, CaptureKind.CHANNEL)
    return log_activity(
        sf,
        workspace_id,
        types=types,
        actor=actor,
        customer_id=link.customer_id,
        deal_id=link.deal_id,
        type_key=type_key,
        summary=summary,
        occurred_at=min(occurred_at, now),
        source=ActivitySource.CHANNEL,
        now=now,
        permalink=permalink,
        idempotency_key=f"thread:{link.channel_id}:{thread_ts}",
        participants=clean_participants(participants),
        origin_channel=link.channel_id,
    )


# -- finding the deal a command names ------------------------------------------------------------------
@dataclass(frozen=True)
class DealRef:
    deal_id: int
    title: str
    customer_id: int
    customer_name: str
    stage: str


def deals_named(
    sf: sessionmaker[Session], workspace_id: int, query: str, *, customer_id: int | None = None, limit: int = 10
) -> tuple[list[DealRef], bool]:
    """Live deals whose title is ``query`` (case-insensitive), else contains it; with
    ``customer_id`` only that customer's (all of them for an empty query). Whether the match was exact."""
    words = " ".join(query.split()).casefold()
    with sf() as session:
        where = [Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None), Customer.deleted_at.is_(None)]
        if customer_id is not None:
            where.append(Deal.customer_id == customer_id)
        rows = session.execute(
            select(Deal, Customer.name)
            .join(Customer, Customer.id == Deal.customer_id)
            .where(*where)
            .order_by(Deal.created_at.desc(), Deal.id.desc())
            .limit(2000)
        ).all()
    refs = [DealRef(d.id, d.title, d.customer_id, name, d.stage) for d, name in rows]
    if not words:
        return refs[:limit], False
    exact = [r for r in refs if r.title.casefold() == words]
    if exact:
        return exact[:limit], True
    return [r for r in refs if words in r.title.casefold()][:limit], False


def room_of_deal(sf: sessionmaker[Session], workspace_id: int, deal_id: int) -> LinkedChannel | None:
    """The deal's live deal room, if it has one."""
    with sf() as session:
        return session.scalars(
            select(LinkedChannel).where(
                LinkedChannel.workspace_id == workspace_id,
                LinkedChannel.deal_id == deal_id,
                LinkedChannel.is_room.is_(True),
                LinkedChannel.deleted_at.is_(None),
            )
        ).first()
