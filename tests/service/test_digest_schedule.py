"""Digest schedules: parsing, local times across DST, exactly once with two replicas and restarts,
late posts, and every way a channel can refuse the digest."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from crm import digest_schedule as subs
from crm.customers import create_customer
from crm.deals import DealInput, create_deal
from crm.digest_schedule import DAILY, WEEKDAYS, Schedule
from crm.errors import InvalidInput, NotFound
from crm.models import DigestRun, DigestSubscription
from crm.pipeline_stages import DEFAULT
from reminders.digests import METADATA_EVENT, send_due_digests
from reminders.scheduler import nudge_client
from tests.conftest import REP, REP2

BERLIN = "Europe/Berlin"


# -- pure: what people type -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Schedule(time(9, 0), WEEKDAYS)),
        ("8:30", Schedule(time(8, 30), WEEKDAYS)),
        ("17:45 daily", Schedule(time(17, 45), DAILY)),
        ("daily 07:05", Schedule(time(7, 5), DAILY)),
        ("9am", Schedule(time(9, 0), WEEKDAYS)),
        ("9:30 pm weekdays", Schedule(time(21, 30), WEEKDAYS)),
        ("12am every day", Schedule(time(0, 0), DAILY)),
        ("12pm", Schedule(time(12, 0), WEEKDAYS)),
        ("0:00 Weekdays", Schedule(time(0, 0), WEEKDAYS)),
        ("mon-fri 10:00", Schedule(time(10, 0), WEEKDAYS)),
        ("Monday to Friday 10:00", Schedule(time(10, 0), WEEKDAYS)),
        ("9 a.m. daily", Schedule(time(9, 0), DAILY)),
    ],
)
def test_schedules_people_type(text, expected):
    assert subs.parse_schedule(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25:00", "isn't a time of day"),
        ("9:60", "isn't a time of day"),
        ("13pm", "isn't a time of day"),
        ("9", "could be morning or evening"),
        ("nine", "I don't know “nine”"),
        ("tomorrowish", "I don't know “tomorrowish”"),
        ("9:00 weekends", "I don't know “weekends”"),
        ("9:00 10:00", "one time, not two"),
        ("daily weekdays", "not both"),
        ("9:5", "isn't a time of day"),
        ("9:00:00", "isn't a time of day"),
    ],
)
def test_bad_schedules_say_what_to_type(text, message):
    with pytest.raises(InvalidInput, match=message):
        subs.parse_schedule(text)


@pytest.mark.parametrize(
    ("after", "days", "expected"),
    [
        # Winter (CET, UTC+1): 09:00 Berlin is 08:00 UTC.
        (datetime(2026, 3, 27, 0, 0, tzinfo=UTC), WEEKDAYS, datetime(2026, 3, 27, 8, 0, tzinfo=UTC)),
        # Friday after 09:00 → Monday, which is summer time (CEST, UTC+2): 07:00 UTC.
        (datetime(2026, 3, 27, 9, 0, tzinfo=UTC), WEEKDAYS, datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),
        # The change day itself (Sunday 29 March) for a daily digest.
        (datetime(2026, 3, 28, 9, 0, tzinfo=UTC), DAILY, datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        # Back to winter on Sunday 25 October.
        (datetime(2026, 10, 24, 9, 0, tzinfo=UTC), DAILY, datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
        (datetime(2026, 10, 23, 0, 0, tzinfo=UTC), WEEKDAYS, datetime(2026, 10, 23, 7, 0, tzinfo=UTC)),
        (datetime(2026, 10, 23, 8, 0, tzinfo=UTC), WEEKDAYS, datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),
    ],
)
def test_next_digest_time_across_dst(after, days, expected):
    assert subs.next_slot(Schedule(time(9, 0), days), BERLIN, after) == expected


# -- subscriptions -------------------------------------------------------------------------------
def subscribe(services, ws, channel="C0SALES", *, at, when=time(9, 0), days=WEEKDAYS, tz=BERLIN, user=REP):
    return subs.subscribe(
        services.session_factory,
        ws,
        channel_id=channel,
        user=user,
        schedule=Schedule(when, days),
        timezone=tz,
        now=at,
    )


def live_subs(services) -> list[DigestSubscription]:
    with services.session_factory() as s:
        return list(s.scalars(select(DigestSubscription).where(DigestSubscription.deleted_at.is_(None))))


def test_subscribing_twice_updates_the_one_subscription(services, ws):
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    first = subscribe(services, ws, at=start)
    again = subscribe(services, ws, at=start, when=time(8, 0), days=DAILY, tz="America/New_York", user=REP2)
    assert first.created and not again.created
    [sub] = live_subs(services)
    assert (sub.local_time, sub.days, sub.timezone, sub.subscriber_user_id) == (
        "08:00",
        DAILY,
        "America/New_York",
        REP2,
    )
    assert again.first_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 08:00 EST


def test_concurrent_subscribes_make_one_row(services, ws):
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            subscribe(services, ws, at=start)
        except BaseException as exc:  # report any failure to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(live_subs(services)) == 1


def test_unsubscribe_then_again_is_a_clear_no(services, ws):
    at = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    subscribe(services, ws, at=at)
    subs.unsubscribe(services.session_factory, ws, channel_id="C0SALES", user=REP, now=at)
    assert live_subs(services) == []
    with pytest.raises(NotFound, match="isn't subscribed"):
        subs.unsubscribe(services.session_factory, ws, channel_id="C0SALES", user=REP, now=at)
    # Subscribing again after stopping works (the old row stays for history).
    assert subscribe(services, ws, at=at).created


def test_slots_between_lists_each_live_subscriptions_due_times_across_dst(services, ws):
    """What a jumping clock passes over: weekdays in Berlin, daily in New York (DST starts on
    8 March), a stopped subscription left out; ``limit`` keeps the latest."""
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday
    subscribe(services, ws, at=start)  # 09:00 weekdays, Berlin: 08:00 UTC
    subscribe(services, ws, "C0OTHER", at=start, when=time(8, 0), days=DAILY, tz="America/New_York")
    subscribe(services, ws, "C0GONE", at=start, days=DAILY)
    subs.unsubscribe(services.session_factory, ws, channel_id="C0GONE", user=REP, now=start)
    end = start + timedelta(days=7)
    berlin = [datetime(2026, 3, d, 8, 0, tzinfo=UTC) for d in range(2, 7)]
    new_york = [datetime(2026, 3, d, 13, 0, tzinfo=UTC) for d in range(2, 8)] + [
        datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    ]
    assert subs.slots_between(services.session_factory, start, end) == sorted(berlin + new_york)
    assert subs.slots_between(services.session_factory, start, end, limit=3) == new_york[-3:]
    assert subs.slots_between(services.session_factory, end, end + timedelta(hours=1)) == []


# -- sending --------------------------------------------------------------------------------------
def sender(services):
    from reminders.digests import make_digest_sender

    return make_digest_sender(services, nudge_client(services), rate=0)


def tick(services, now, replica="r1", snd=None):
    return send_due_digests(services.session_factory, snd or sender(services), now, replica=replica)


def posts(standin, channel=None) -> Counter:
    """How many digests each (subscription, day) got, from what Slack holds."""
    counts: Counter = Counter()
    for call in standin.calls_to("chat.postMessage"):
        meta = (call.params.get("metadata") or {}) if call.ok else {}
        if meta.get("event_type") == METADATA_EVENT and (channel is None or call.params["channel"] == channel):
            payload = meta["event_payload"]
            counts[(payload["subscription_id"], payload["run_date"])] += 1
    return counts


def tops(standin, channel) -> list[dict]:
    """The channel's top-level messages (a digest's detail and charts are in its thread)."""
    return [m for m in standin.messages(channel) if m.get("thread_ts") in (None, m["ts"])]


def test_fires_at_local_time_across_both_dst_changes(services, standin, ws):
    subscribe(services, ws, at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC), days=DAILY)
    for day, utc_hour in [
        (date(2026, 3, 27), 8),  # Friday, CET
        (date(2026, 3, 29), 7),  # Sunday: clocks went forward at 02:00
        (date(2026, 3, 30), 7),
        (date(2026, 10, 24), 7),
        (date(2026, 10, 25), 8),  # Sunday: clocks went back at 03:00
        (date(2026, 10, 26), 8),
    ]:
        slot = datetime.combine(day, time(utc_hour, 0), tzinfo=UTC)
        assert tick(services, slot - timedelta(minutes=1)).claimed == 0, day
        report = tick(services, slot)
        assert (report.posted, report.late) == (1, 0), day
        assert tick(services, slot + timedelta(minutes=1)).claimed == 0, day
    assert len(posts(standin)) == 6 and set(posts(standin).values()) == {1}


def test_weekdays_skip_the_weekend(services, standin, ws):
    subscribe(services, ws, at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert tick(services, saturday).due == 0
    assert tick(services, saturday + timedelta(days=2)).posted == 1  # Monday noon: late, but today


def test_two_replicas_and_a_restart_post_each_digest_exactly_once(services, standin, ws):
    at = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    for i in range(8):
        standin.add_channel(f"C0TEAM{i}", name=f"team-{i}")
        subscribe(services, ws, f"C0TEAM{i}", at=at)
    due = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # Tuesday 09:00 Berlin
    totals: Counter = Counter()

    def replica(name: str) -> None:
        snd = sender(services)
        for second in range(0, 180, 30):  # each replica ticks a few times around the minute
            totals[name] += tick(services, due + timedelta(seconds=second), name, snd).posted

    threads = [threading.Thread(target=replica, args=(n,)) for n in ("replica-a", "replica-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A restarted process (new replica id) later the same day posts nothing again.
    assert tick(services, due + timedelta(hours=5), "replica-c").claimed == 0
    counts = posts(standin)
    assert len(counts) == 8 and set(counts.values()) == {1}
    assert sum(totals.values()) == 8
    with services.session_factory() as s:
        runs = s.scalars(select(DigestRun)).all()
        assert len(runs) == 8 and all(r.sent_at is not None and r.message_ts for r in runs)


def test_missed_while_down_is_posted_late_that_day_only(services, standin, ws):
    subscribe(services, ws, at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    # Down at 09:00 on Tuesday; back at 13:30 Berlin.
    report = tick(services, datetime(2026, 3, 3, 12, 30, tzinfo=UTC))
    assert (report.posted, report.late) == (1, 1)
    post = next(c for c in standin.calls_to("chat.postMessage") if c.ok)  # the summary; the detail is in its thread
    assert "⏰ *Late:* due at 09:00, posted at 13:30" in str(post.params["blocks"])
    with services.session_factory() as s:
        assert s.scalars(select(DigestRun)).one().late is True
    # Down all of Wednesday: Thursday does not post Wednesday's, and posts its own on time.
    assert tick(services, datetime(2026, 3, 5, 7, 0, tzinfo=UTC)).claimed == 0
    assert tick(services, datetime(2026, 3, 5, 8, 0, tzinfo=UTC)).late == 0
    assert list(posts(standin).keys())[-1][1] == "2026-03-05" and len(posts(standin)) == 2


def test_subscribing_after_todays_time_starts_tomorrow(services, standin, ws):
    result = subscribe(services, ws, at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC))  # 11:00 Berlin
    assert result.first_at == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    assert tick(services, datetime(2026, 3, 3, 10, 1, tzinfo=UTC)).claimed == 0
    assert tick(services, datetime(2026, 3, 4, 8, 0, tzinfo=UTC)).posted == 1


def test_a_replica_that_dies_after_claiming_or_posting_causes_no_gap_and_no_repeat(services, standin, ws):
    subscribe(services, ws, at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    subscribe(services, ws, "C0OTHER", at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    standin.add_channel("C0OTHER", name="other")
    due_at = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    lease = timedelta(minutes=5)
    first, second = subs.due_runs(services.session_factory, due_at)
    # The dead replica claimed both, posted the first, and died before recording anything.
    dead_first = subs.claim(services.session_factory, first, now=due_at, replica="dead", lease=lease)
    dead_second = subs.claim(services.session_factory, second, now=due_at, replica="dead", lease=lease)
    assert dead_first and dead_second
    from crm.digest import build_digest

    digest = build_digest(services.session_factory, ws, now=due_at, tz=BERLIN, stages=DEFAULT)
    assert sender(services).deliver(dead_first, digest).ok
    # While the lease holds nobody else touches them.
    assert tick(services, due_at + timedelta(minutes=1), "alive").claimed == 0
    report = tick(services, due_at + lease + timedelta(seconds=1), "alive")
    assert (report.claimed, report.posted, report.found_already_sent) == (2, 2, 1)
    counts = posts(standin)
    assert len(counts) == 2 and set(counts.values()) == {1}


def test_timeout_after_slack_posted_does_not_post_twice(services, standin, ws):
    subscribe(services, ws, at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    snd = sender(services)
    snd.client.timeout = 0.5
    standin.set_latency("chat.postMessage", 1.5)  # Slack posts but answers too late
    report = tick(services, datetime(2026, 3, 3, 8, 0, tzinfo=UTC), snd=snd)
    assert report.failed == 1 and report.posted == 0
    standin.set_latency("chat.postMessage", 0)
    report = tick(services, datetime(2026, 3, 3, 8, 10, tzinfo=UTC))
    assert report.found_already_sent == 1
    assert list(posts(standin).values()) == [1]


def test_rate_limited_digest_is_retried_not_dropped(services, standin, ws):
    subscribe(services, ws, at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    standin.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=1, times=2)
    report = tick(services, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert report.failed == 1 and report.posted == 0
    assert tick(services, datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC)).claimed == 0  # backing off
    assert tick(services, datetime(2026, 3, 3, 8, 5, tzinfo=UTC)).posted == 1
    assert list(posts(standin).values()) == [1]


def test_not_in_a_public_channel_joins_and_posts(services, standin, ws):
    standin.chat_write_public = False
    standin.add_channel("C0PUBLIC", name="public", is_member=False)
    subscribe(services, ws, "C0PUBLIC", at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    assert tick(services, datetime(2026, 3, 3, 8, 0, tzinfo=UTC)).posted == 1
    assert [c.params["channel"] for c in standin.calls_to("conversations.join")] == ["C0PUBLIC"]
    assert len(tops(standin, "C0PUBLIC")) == 1


def test_private_channel_without_the_bot_dms_the_subscriber_how_to_invite(services, standin, ws):
    standin.add_channel("G0SECRET", name="secret", is_private=True, is_member=False)
    subscribe(services, ws, "G0SECRET", at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    standin.fail_next("conversations.info", error="channel_not_found")  # Slack hides it from the bot
    report = tick(services, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert (report.posted, report.by_dm) == (1, 1)
    [dm] = tops(standin, REP)
    assert "/invite @crm" in str(dm["blocks"]) and "Pipeline digest" in str(dm["blocks"])
    assert standin.messages("G0SECRET") == []
    with services.session_factory() as s:
        assert s.scalars(select(DigestRun)).one().error == "dm: channel_not_found"


def test_private_channel_member_check_without_hiding(services, standin, ws):
    standin.add_channel("G0SEEN", name="seen", is_private=True, is_member=False)
    subscribe(services, ws, "G0SEEN", at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    assert tick(services, datetime(2026, 3, 3, 8, 0, tzinfo=UTC)).by_dm == 1
    assert standin.calls_to("conversations.join") == []
    assert "Invite me with `/invite @crm`" in str(standin.messages(REP)[0]["blocks"])


def test_never_posts_into_slack_connect_and_tells_the_subscriber(services, standin, ws):
    standin.add_channel("C0SHARED", name="shared-with-partner", is_ext_shared=True)
    subscribe(services, ws, "C0SHARED", at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC), user=REP2)
    report = tick(services, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert report.by_dm == 1
    assert standin.messages("C0SHARED") == []
    [dm] = tops(standin, REP2)
    assert "Slack Connect" in str(dm["blocks"])
    assert tick(services, datetime(2026, 3, 3, 9, 0, tzinfo=UTC)).claimed == 0  # once a day, by DM too


def test_an_archived_channel_does_not_stop_the_others(services, standin, ws):
    standin.add_channel("C0OLD", name="old", is_archived=True)
    standin.add_channel("C0NEW", name="new")
    at = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    subscribe(services, ws, "C0OLD", at=at)
    subscribe(services, ws, "C0NEW", at=at)
    report = tick(services, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert (report.posted, report.by_dm) == (2, 1)
    assert len(tops(standin, "C0NEW")) == 1 and standin.messages("C0OLD") == []
    assert "archived" in str(standin.messages(REP)[0]["blocks"])


def test_the_next_digest_compares_with_the_last_one(services, standin, ws):
    subscribe(services, ws, at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    acme = create_customer(services.session_factory, services.search, ws, actor=REP, name="Acme")
    first_day = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    create_deal(
        services.session_factory,
        ws,
        acme.id,
        DealInput(title="Licence", amount="1000", stage="lead"),
        actor=REP,
        stages=DEFAULT,
        now=first_day - timedelta(hours=3),
    )
    tick(services, first_day)
    [sub] = live_subs(services)
    assert sub.last_snapshot["stages"]["lead"] == {"count": 1, "totals": {"USD": 100_000}}
    create_deal(
        services.session_factory,
        ws,
        acme.id,
        DealInput(title="Support", amount="500", stage="lead"),
        actor=REP,
        stages=DEFAULT,
        now=first_day + timedelta(hours=3),
    )
    tick(services, first_day + timedelta(days=1))
    second = [c for c in standin.calls_to("chat.postMessage") if c.ok and c.params.get("thread_ts")][-1]
    text = str(second.params["blocks"])  # the detail, in the thread
    assert "▲1 · +$500.00" in text and "🆕 *Created* (1 · $500.00)" in text and "Support" in text
    top = [c for c in standin.calls_to("chat.postMessage") if c.ok and not c.params.get("thread_ts")][-1]
    summary = str(top.params["blocks"])
    assert "🆕 1 created" in summary and "_(▲1 · +$500)_" in summary and "Since the last digest" in summary
