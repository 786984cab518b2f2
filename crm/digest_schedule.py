"""Digest subscriptions and the exactly-once claim on each day's post.

A subscription says: post the digest in this channel at ``local_time`` on ``days``
(``weekdays`` or ``daily``) in ``timezone``. Each local day it is due from that moment until
local midnight; a digest missed while every replica was down is posted late that same day,
and a day that has passed is never caught up.

Exactly once per subscription per local day, with any number of replicas and restarts,
follows ``crm/nudges.py``: a :class:`~crm.models.DigestRun` row, unique on
``(subscription_id, run_date)``, is created with ``INSERT ... ON CONFLICT DO NOTHING`` and
claimed with one conditional ``UPDATE`` (a lease: ``claimed_by`` / ``claimed_until``). Only
the replica whose update matched posts. ``sent_at`` marks the run finished: posted, sent to
the subscriber by DM instead, skipped, or given up for the day (``error`` says which). A run
whose lease expired without an outcome, or whose attempt ended in doubt (timeout, 5xx), is
``recovered``: the sender first looks for the earlier post before posting again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.db import rows_changed
from crm.errors import InvalidInput, NotFound
from crm.models import DigestRun, DigestSubscription, Workspace
from crm.states import AuditAction, DigestDays, DigestScope, is_ambiguous

WEEKDAYS, DAILY = DigestDays.WEEKDAYS, DigestDays.DAILY
DEFAULT_TIME = time(9, 0)
LATE_AFTER = timedelta(minutes=15)  # posted later than this after its time, a digest says it is late

_DAY_WORDS = {
    WEEKDAYS: WEEKDAYS,
    "weekday": WEEKDAYS,
    "workdays": WEEKDAYS,
    "workday": WEEKDAYS,
    "mon-fri": WEEKDAYS,
    DAILY: DAILY,
    "everyday": DAILY,
    "every-day": DAILY,
}
_CLOCK = re.compile(r"(?P<h>\d{1,2})(?::(?P<m>\d{1,2}))?(?P<ampm>am|pm)?")
USAGE = "`/crm digest subscribe 9:00 weekdays`, `/crm digest subscribe 8:30am daily`"


@dataclass(frozen=True)
class Schedule:
    local_time: time = DEFAULT_TIME
    days: DigestDays = WEEKDAYS

    @property
    def hhmm(self) -> str:
        return self.local_time.strftime("%H:%M")

    def runs_on(self, day: date) -> bool:
        return self.days == DAILY or day.weekday() < 5

    def describe(self) -> str:
        return f"{self.hhmm} {'on weekdays' if self.days == WEEKDAYS else 'every day'}"


def _bad_time(word: str) -> InvalidInput:
    return InvalidInput(
        f"“{word[:20]}” isn't a time of day. Write it as 9:00, 17:30 or 8:30am. For example: {USAGE}.", field="time"
    )


def parse_time(word: str) -> time:
    """ "9:00", "09:30", "17:45", "9am", "9:30pm" → a time; "9", "25:00", "nine" → InvalidInput."""
    text = word.strip().lower().replace(".", "")
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise _bad_time(word)
    hour, minute, ampm = int(match["h"]), match["m"], match["ampm"]
    if minute is not None and len(minute) != 2:
        raise _bad_time(word)
    if ampm:
        if not 1 <= hour <= 12:
            raise _bad_time(word)
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif minute is None:
        raise InvalidInput(
            f"“{word[:20]}” could be morning or evening. Write {hour}:00 (24-hour clock) or {hour}am / {hour}pm.",
            field="time",
        )
    if not 0 <= hour <= 23 or not 0 <= int(minute or 0) <= 59:
        raise _bad_time(word)
    return time(hour, int(minute or 0))


def parse_schedule(text: str) -> Schedule:
    """The words after ``subscribe``: ``[time] [weekdays|daily]`` in either order, both optional."""
    normal = text.strip().lower()
    normal = re.sub(r"\bevery\s+day\b", "daily", normal)
    normal = re.sub(r"\b(mon(?:day)?)\s*(?:-|to|through)\s*(fri(?:day)?)\b", "mon-fri", normal)
    normal = re.sub(r"(\d)\s*([ap])\.?m\.?\b", r"\1\2m", normal)
    when: time | None = None
    days: DigestDays | None = None
    for word in normal.split():
        if word in _DAY_WORDS:
            if days is not None and _DAY_WORDS[word] != days:
                raise InvalidInput("Pick one of weekdays or daily, not both.", field="days")
            days = _DAY_WORDS[word]
        elif word[0].isdigit():
            if when is not None:
                raise InvalidInput(f"Give one time, not two. For example: {USAGE}.", field="time")
            when = parse_time(word)
        else:
            raise InvalidInput(
                f"I don't know “{word[:20]}”. After `subscribe` give a time (9:00, 8:30am) and `weekdays` or "
                f"`daily`; both are optional (default 9:00 on weekdays). For example: {USAGE}.",
                field="days",
            )
    return Schedule(when or DEFAULT_TIME, days or WEEKDAYS)


def zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def slot_at(day: date, schedule: Schedule, tz: str) -> datetime:
    """When the digest for local ``day`` is due, in UTC (a time in a DST gap moves forward)."""
    local = datetime.combine(day, schedule.local_time, tzinfo=zone(tz))
    return local.astimezone(UTC)


def next_slot(schedule: Schedule, tz: str, after: datetime) -> datetime:
    """The first due time strictly after ``after``."""
    day = after.astimezone(zone(tz)).date()
    for offset in range(9):
        candidate = day + timedelta(days=offset)
        if schedule.runs_on(candidate):
            at = slot_at(candidate, schedule, tz)
            if at > after:
                return at
    raise AssertionError("a schedule runs at least once a week")  # pragma: no cover


def slots_between(sf: sessionmaker[Session], start: datetime, end: datetime, *, limit: int = 200) -> list[datetime]:
    """The due times of every live subscription in ``(start, end]``, oldest first: what a clock
    that jumps (the playground's time travel) passes over. Only the last ``limit`` days of the
    span are looked at, and at most the last ``limit`` times are returned."""
    with sf() as session:
        subs = session.execute(
            select(DigestSubscription.local_time, DigestSubscription.days, DigestSubscription.timezone).where(
                DigestSubscription.deleted_at.is_(None)
            )
        ).all()
    slots: set[datetime] = set()
    for local_time, days, tz in subs:
        schedule = _stored_schedule(local_time, days)
        at = next_slot(schedule, tz, after=max(start, end - timedelta(days=limit)))
        while at <= end:
            slots.add(at)
            at = next_slot(schedule, tz, after=at)
    return sorted(slots)[-limit:]


def schedule_of(sub: DigestSubscription) -> Schedule:
    return _stored_schedule(sub.local_time, sub.days)


def _stored_schedule(local_time: str | None, days: str | None) -> Schedule:
    """The schedule a subscription row holds (``"09:00"``, ``"weekdays"``)."""
    hour, _, minute = (local_time or "09:00").partition(":")
    return Schedule(time(int(hour), int(minute or 0)), DAILY if days == DAILY else WEEKDAYS)


# -- subscriptions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Subscribed:
    subscription: DigestSubscription
    created: bool  # False: an existing subscription was updated
    first_at: datetime  # when the next digest goes out


def _live(session: Session, workspace_id: int, channel_id: str, *, lock: bool = False) -> DigestSubscription | None:
    query = select(DigestSubscription).where(
        DigestSubscription.workspace_id == workspace_id,
        DigestSubscription.channel_id == channel_id,
        DigestSubscription.deleted_at.is_(None),
    )
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def _insert_run_if_absent(session: Session, values: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        make(DigestRun).values(**values).on_conflict_do_nothing(index_elements=["subscription_id", "run_date"])
    )


def subscribe(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    channel_id: str,
    user: str,
    schedule: Schedule,
    timezone: str,
    now: datetime,
) -> Subscribed:
    """Subscribe the channel, or update its subscription (one per channel, race-safe).

    The first digest is the next due time after now: when today's time has already passed,
    today is marked done so that the change does not post a "late" digest at once.
    """
    for attempt in range(2):
        try:
            with sf.begin() as session:
                sub = _live(session, workspace_id, channel_id, lock=True)
                created = sub is None
                before = None if created else audit.snapshot(sub)
                if sub is None:
                    sub = DigestSubscription(
                        workspace_id=workspace_id,
                        channel_id=channel_id,
                        created_by=user,
                        created_at=now,
                        scope=DigestScope.TEAM,
                    )
                    session.add(sub)
                else:
                    sub.updated_by = user
                    sub.updated_at = now
                sub.local_time = schedule.hhmm
                sub.days = schedule.days
                sub.timezone = timezone
                sub.subscriber_user_id = user
                session.flush()
                today = now.astimezone(zone(timezone)).date()
                if schedule.runs_on(today) and slot_at(today, schedule, timezone) <= now:
                    _insert_run_if_absent(
                        session,
                        {
                            "workspace_id": workspace_id,
                            "subscription_id": sub.id,
                            "run_date": today,
                            "sent_at": now,
                            "error": "skipped: subscribed after today's time",
                            "attempts": 0,
                            "late": False,
                            "created_at": now,
                            "created_by": user,
                        },
                    )
                audit.change(
                    session,
                    sub,
                    AuditAction.SUBSCRIBE if created else AuditAction.UPDATE,
                    actor=user,
                    before=before,
                )
                return Subscribed(sub, created, next_slot(schedule, timezone, now))
        except IntegrityError:
            if attempt:
                raise
            continue  # another request subscribed the channel at the same moment: update that one
    raise AssertionError("unreachable")  # pragma: no cover


def unsubscribe(sf: sessionmaker[Session], workspace_id: int, *, channel_id: str, user: str, now: datetime):
    with sf.begin() as session:
        sub = _live(session, workspace_id, channel_id, lock=True)
        if sub is None:
            raise NotFound("This channel isn't subscribed to the digest, so there is nothing to stop.")
        before = audit.snapshot(sub)
        sub.deleted_at = now
        sub.deleted_by = user
        audit.change(
            session,
            sub,
            AuditAction.UNSUBSCRIBE,
            actor=user,
            before=before,
        )
        return sub


def get_subscription(sf: sessionmaker[Session], workspace_id: int, channel_id: str) -> DigestSubscription | None:
    with sf() as session:
        return _live(session, workspace_id, channel_id)


@dataclass(frozen=True)
class SubscriptionRow:
    subscription: DigestSubscription
    last_run: DigestRun | None


def list_subscriptions(sf: sessionmaker[Session], workspace_id: int, *, limit: int = 50) -> list[SubscriptionRow]:
    with sf() as session:
        subs = session.scalars(
            select(DigestSubscription)
            .where(DigestSubscription.workspace_id == workspace_id, DigestSubscription.deleted_at.is_(None))
            .order_by(DigestSubscription.id)
            .limit(limit)
        ).all()
        out = []
        for sub in subs:
            last = session.scalars(
                select(DigestRun)
                .where(DigestRun.subscription_id == sub.id, DigestRun.sent_at.is_not(None))
                .order_by(DigestRun.run_date.desc())
                .limit(1)
            ).first()
            out.append(SubscriptionRow(sub, last))
        return out


# -- due runs and claims ------------------------------------------------------------------------
@dataclass(frozen=True)
class DueRun:
    subscription_id: int
    run_date: date
    scheduled_at: datetime


def due_runs(sf: sessionmaker[Session], now: datetime) -> list[DueRun]:
    """Subscriptions whose time today (in their zone) has come and whose run is not finished."""
    with sf() as session:
        subs = session.execute(
            select(
                DigestSubscription.id,
                DigestSubscription.local_time,
                DigestSubscription.days,
                DigestSubscription.timezone,
                DigestSubscription.created_at,
            ).where(DigestSubscription.deleted_at.is_(None))
        ).all()
        candidates: dict[tuple[int, date], DueRun] = {}
        for sub_id, local_time, days, tz, created_at in subs:
            schedule = _stored_schedule(local_time, days)
            today = now.astimezone(zone(tz)).date()
            if not schedule.runs_on(today):
                continue
            at = slot_at(today, schedule, tz)
            if at <= now and at >= created_at:
                candidates[(sub_id, today)] = DueRun(sub_id, today, at)
        if not candidates:
            return []
        finished = session.execute(
            select(DigestRun.subscription_id, DigestRun.run_date).where(
                DigestRun.subscription_id.in_({k[0] for k in candidates}),
                DigestRun.run_date.in_({k[1] for k in candidates}),
                DigestRun.sent_at.is_not(None),
            )
        ).all()
        for key in finished:
            candidates.pop((key[0], key[1]), None)
        return sorted(candidates.values(), key=lambda d: (d.scheduled_at, d.subscription_id))


@dataclass(frozen=True)
class Claim:
    """A digest this replica must post now."""

    run_id: int
    subscription_id: int
    workspace_id: int
    team_id: str
    enterprise_id: str | None
    channel_id: str
    subscriber_user_id: str
    timezone: str
    schedule: Schedule
    run_date: date
    scheduled_at: datetime
    late: bool
    recovered: bool  # an earlier attempt may have posted: look before posting again
    attempts: int
    previous_snapshot: dict[str, Any] | None
    # Already posted by an earlier attempt: the summary (channel, ts) and its thread reply.
    posted_channel: str | None = None
    posted_ts: str | None = None
    detail_ts: str | None = None


def is_late(due: DueRun, now: datetime, up_since: datetime | None) -> bool:
    """Late means the app was down at the digest's time: more than :data:`LATE_AFTER` after it,
    and the replica has not been running (ticking) since before it. ``up_since`` is when this
    replica's ticks began without a gap (``reminders.digests.Uptime``); a clock that jumps
    forward while the app runs (the playground, NTP) leaves it where it was, so no "Late"."""
    if now - due.scheduled_at <= LATE_AFTER:
        return False
    return up_since is None or up_since > due.scheduled_at


def claim(
    sf: sessionmaker[Session],
    due: DueRun,
    *,
    now: datetime,
    replica: str,
    lease: timedelta,
    up_since: datetime | None = None,
) -> Claim | None:
    """Claim today's run of one subscription; None if another replica has it or it is finished."""
    with sf.begin() as session:
        sub = session.get(DigestSubscription, due.subscription_id)
        if sub is None or sub.deleted_at is not None:
            return None
        _insert_run_if_absent(
            session,
            {
                "workspace_id": sub.workspace_id,
                "subscription_id": sub.id,
                "run_date": due.run_date,
                "attempts": 0,
                "late": False,
                "created_at": now,
                "created_by": "system",
            },
        )
        mine = and_(DigestRun.subscription_id == sub.id, DigestRun.run_date == due.run_date)
        late = is_late(due, now, up_since)
        result = session.execute(
            update(DigestRun)
            .where(
                mine,
                DigestRun.sent_at.is_(None),
                or_(DigestRun.claimed_until.is_(None), DigestRun.claimed_until < now),
            )
            .values(
                claimed_by=replica,
                claimed_until=now + lease,
                attempts=DigestRun.attempts + 1,
                late=late,
            )
            .execution_options(synchronize_session=False)
        )
        if rows_changed(result) != 1:
            return None
        run = session.scalars(select(DigestRun).where(mine)).one()
        workspace = session.get_one(Workspace, sub.workspace_id)
        # No outcome recorded (the claimant died) or one in doubt: the post may exist already.
        recovered = run.attempts > 1 and (run.error is None or is_ambiguous(run.error))
        run.error = None
        return Claim(
            run_id=run.id,
            subscription_id=sub.id,
            workspace_id=sub.workspace_id,
            team_id=workspace.team_id,
            enterprise_id=workspace.enterprise_id,
            channel_id=sub.channel_id,
            subscriber_user_id=sub.subscriber_user_id,
            timezone=sub.timezone,
            schedule=schedule_of(sub),
            run_date=due.run_date,
            scheduled_at=due.scheduled_at,
            late=late,
            recovered=recovered,
            attempts=run.attempts,
            previous_snapshot=sub.last_snapshot,
            posted_channel=run.post_channel,
            posted_ts=run.message_ts if run.post_channel else None,
            detail_ts=run.detail_ts,
        )


def _still_mine(run_id: int, replica: str):
    return and_(DigestRun.id == run_id, DigestRun.claimed_by == replica, DigestRun.sent_at.is_(None))


def mark_done(
    sf: sessionmaker[Session],
    claimed: Claim,
    *,
    replica: str,
    now: datetime,
    ts: str | None,
    note: str | None = None,
    snapshot: dict[str, Any] | None = None,
) -> bool:
    """Finish the run (posted, or handled another way as ``note`` says); False if the claim was lost.

    ``snapshot`` (what the digest showed) becomes the subscription's comparison point.
    """
    with sf.begin() as session:
        result = session.execute(
            update(DigestRun)
            .where(_still_mine(claimed.run_id, replica))
            .values(sent_at=now, message_ts=ts, error=(note or None) and note[:255], claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        if rows_changed(result) != 1:
            return False
        if snapshot is not None:
            session.execute(
                update(DigestSubscription)
                .where(DigestSubscription.id == claimed.subscription_id)
                .values(last_snapshot=snapshot)
                .execution_options(synchronize_session=False)
            )
        return True


def mark_posted(
    sf: sessionmaker[Session],
    claimed: Claim,
    *,
    replica: str,
    channel: str | None,
    ts: str | None,
    detail_ts: str | None = None,
) -> bool:
    """Keep what has been posted so far (the summary, then its thread reply) while the run stays claimed."""
    values: dict[str, Any] = {"post_channel": channel, "message_ts": ts}
    if detail_ts is not None:
        values["detail_ts"] = detail_ts
    with sf.begin() as session:
        result = session.execute(
            update(DigestRun)
            .where(_still_mine(claimed.run_id, replica))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result) == 1


def mark_failed(
    sf: sessionmaker[Session],
    claimed: Claim,
    *,
    replica: str,
    now: datetime,
    error: str,
    retry_after: float | None = None,
) -> None:
    """Try again after a backoff (only while it is still the same local day: then it lapses)."""
    backoff = timedelta(seconds=min(2 ** min(claimed.attempts, 10) * 15, 1800))
    if retry_after:
        backoff = max(backoff, timedelta(seconds=retry_after))
    with sf.begin() as session:
        session.execute(
            update(DigestRun)
            .where(_still_mine(claimed.run_id, replica))
            .values(error=error[:255], claimed_by=None, claimed_until=now + backoff)
            .execution_options(synchronize_session=False)
        )


def release(sf: sessionmaker[Session], run_ids: list[int], *, replica: str) -> None:
    """Give claims back untouched (e.g. when Slack asks us to slow down)."""
    if not run_ids:
        return
    with sf.begin() as session:
        session.execute(
            update(DigestRun)
            .where(DigestRun.id.in_(run_ids), DigestRun.claimed_by == replica, DigestRun.sent_at.is_(None))
            .values(claimed_by=None, claimed_until=None, attempts=DigestRun.attempts - 1)
            .execution_options(synchronize_session=False)
        )
