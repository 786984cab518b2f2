"""Follow-up nudges: exactly once across replicas and crashes, retried, paced, never dropped."""

from __future__ import annotations

import signal
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, insert, select

from crm import nudges
from crm.models import FollowUp
from reminders.nudges import SlackNudgeSender, send_due_nudges
from reminders.scheduler import make_sender, nudge_client
from tests.conftest import REP, REP2

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def customer(make):
    return make.customer("Acme Corporation")


def add_follow_ups(services, ws, customer_id, n, *, due=NOW - timedelta(minutes=1), owners=(REP, REP2)):
    rows = [
        {
            "workspace_id": ws,
            "customer_id": customer_id,
            "owner_user_id": owners[i % len(owners)],
            "due_at": due,
            "nudge_at": due,
            "note": f"note {i}",
            "status": "open",
            "created_by": REP,
            "created_at": NOW - timedelta(days=1),
            "nudge_attempts": 0,
        }
        for i in range(n)
    ]
    with services.session_factory.begin() as s:
        s.execute(insert(FollowUp), rows)


def sender(services) -> SlackNudgeSender:
    return make_sender(services, nudge_client(services), rate=0)


def dm_counts(standin) -> Counter:
    """How many nudge DMs each follow-up got, from the messages Slack holds."""
    counts: Counter = Counter()
    for call in standin.calls_to("chat.postMessage"):
        if call.ok:
            counts[call.params["metadata"]["event_payload"]["follow_up_id"]] += 1
    return counts


def test_a_due_follow_up_is_nudged_with_its_context(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 1, owners=(REP,))
    report = send_due_nudges(services.session_factory, sender(services), NOW, replica="r1")
    assert (report.claimed, report.sent) == (1, 1)
    [post] = standin.calls_to("chat.postMessage")
    assert post.params["channel"].startswith("D")
    text = str(post.params["blocks"])
    assert "Acme Corporation" in text and "note 0" in text
    actions = [e["action_id"] for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions[:4] == ["followup_done", "followup_snooze", "followup_reschedule_open", "followup_reassign"]
    with services.session_factory() as s:
        row = s.scalars(select(FollowUp)).one()
        assert row.nudge_at is None and row.nudged_at == NOW and row.nudge_ts == post.response["ts"]
    # Nothing is due any more: a second tick sends nothing.
    assert send_due_nudges(services.session_factory, sender(services), NOW, replica="r1").claimed == 0


def test_not_yet_due_is_not_nudged(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 3, due=NOW + timedelta(minutes=5))
    assert send_due_nudges(services.session_factory, sender(services), NOW, replica="r1").claimed == 0
    assert standin.calls_to("chat.postMessage") == []


def test_thousand_due_follow_ups_two_schedulers_exactly_thousand_dms(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 1000)
    totals = Counter()

    def replica(name: str) -> None:
        s = sender(services)
        while True:
            report = send_due_nudges(services.session_factory, s, NOW, replica=name, batch=25)
            totals[name] += report.sent
            if report.claimed == 0:
                return

    threads = [threading.Thread(target=replica, args=(n,)) for n in ("replica-a", "replica-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = dm_counts(standin)
    assert len(counts) == 1000 and set(counts.values()) == {1}
    assert sum(totals.values()) == 1000
    assert all(totals[n] > 0 for n in totals), totals  # both replicas did share the work


def test_a_replica_that_dies_after_claiming_loses_its_lease(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 5)
    lease = timedelta(minutes=5)
    dead = nudges.claim_due(services.session_factory, now=NOW, replica="dead", limit=10, lease=lease)
    assert len(dead) == 5
    # While the lease holds, nobody else sends them.
    assert send_due_nudges(services.session_factory, sender(services), NOW, replica="alive").claimed == 0
    later = NOW + lease + timedelta(seconds=1)
    report = send_due_nudges(services.session_factory, sender(services), later, replica="alive")
    assert report.sent == 5
    assert set(dm_counts(standin).values()) == {1}


def test_a_replica_that_dies_after_sending_does_not_cause_a_second_dm(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 3, owners=(REP,))
    lease = timedelta(minutes=5)
    s = sender(services)
    claimed = nudges.claim_due(services.session_factory, now=NOW, replica="dead", limit=10, lease=lease)
    for item in claimed[:2]:
        assert s.send(item, NOW).ok  # posted... and the process dies before recording it
    later = NOW + lease + timedelta(seconds=1)
    report = send_due_nudges(services.session_factory, sender(services), later, replica="alive")
    assert report.sent == 3 and report.found_already_sent == 2
    counts = dm_counts(standin)
    assert len(counts) == 3 and set(counts.values()) == {1}


def test_rate_limited_send_is_retried_later_never_dropped(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 3, owners=(REP,))
    # Slack refuses twice: the client's own retry and our first attempt both get 429.
    standin.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=1, times=2)
    report = send_due_nudges(services.session_factory, sender(services), NOW, replica="r1")
    assert report.failed == 1 and report.sent == 0  # the tick stopped instead of hammering
    with services.session_factory() as s:
        waiting = s.scalars(select(FollowUp).where(FollowUp.nudge_at.is_not(None))).all()
        assert len(waiting) == 3
        refused = [f for f in waiting if f.nudge_error == "ratelimited"]
        assert len(refused) == 1 and refused[0].nudge_at > NOW
    report = send_due_nudges(services.session_factory, sender(services), NOW + timedelta(minutes=2), replica="r1")
    assert report.sent == 3
    assert set(dm_counts(standin).values()) == {1} and len(dm_counts(standin)) == 3


def test_server_error_is_retried_after_checking_it_did_not_post(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 1, owners=(REP,))
    standin.fail_next("chat.postMessage", status=500)
    report = send_due_nudges(services.session_factory, sender(services), NOW, replica="r1")
    assert report.failed == 1
    report = send_due_nudges(services.session_factory, sender(services), NOW + timedelta(minutes=5), replica="r1")
    assert report.sent == 1
    assert standin.calls_to("conversations.history"), "the retry first looked for an earlier post"
    assert list(dm_counts(standin).values()) == [1]


def test_timeout_after_slack_posted_does_not_duplicate(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 1, owners=(REP,))
    s = sender(services)
    s.client.timeout = 0.5
    standin.set_latency("chat.postMessage", 1.5)  # Slack posts, but answers too late
    assert send_due_nudges(services.session_factory, s, NOW, replica="r1").failed == 1
    standin.set_latency("chat.postMessage", 0)
    report = send_due_nudges(services.session_factory, sender(services), NOW + timedelta(minutes=5), replica="r1")
    assert report.found_already_sent == 1
    assert list(dm_counts(standin).values()) == [1]


def test_permanent_refusal_is_recorded_and_parked(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 1, owners=(REP,))
    standin.fail_next("chat.postMessage", error="cannot_dm_bot")
    send_due_nudges(services.session_factory, sender(services), NOW, replica="r1")
    with services.session_factory() as s:
        row = s.scalars(select(FollowUp)).one()
        assert row.nudge_error == "cannot_dm_bot" and row.nudge_at is None and row.status == "open"
    rows, _ = nudges.list_follow_ups(services.session_factory, ws, owner=None, include_failed_only=True)
    assert [r.follow_up.id for r in rows] == [row.id]
    # Parked: later ticks don't retry it.
    assert (
        send_due_nudges(services.session_factory, sender(services), NOW + timedelta(days=1), replica="r1").claimed == 0
    )


def test_missed_while_down_go_out_once_on_the_next_start(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 4, due=NOW - timedelta(days=3))
    assert send_due_nudges(services.session_factory, sender(services), NOW, replica="fresh").sent == 4
    assert send_due_nudges(services.session_factory, sender(services), NOW, replica="fresh").claimed == 0


def test_an_idle_tick_is_one_query(services, ws, customer):
    add_follow_ups(services, ws, customer.id, 300, due=NOW + timedelta(days=30))
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        assert (
            nudges.claim_due(services.session_factory, now=NOW, replica="r", limit=50, lease=timedelta(minutes=5)) == []
        )
    finally:
        event.remove(services.engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    with services.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 300


KILLED_REPLICA = """
import sys, time
from datetime import datetime, timedelta
from bot.config import Settings
from bot.services import Services
from reminders.nudges import send_due_nudges
from reminders.scheduler import make_sender, nudge_client

url, api, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
services = Services.from_settings(Settings(slack_bot_token="xoxb-t", slack_signing_secret="s", slack_api_url=api,
                                           database_url=url))
sender = make_sender(services, nudge_client(services), rate=0)
print("ticking", flush=True)
while True:
    send_due_nudges(services.session_factory, sender, now, replica="doomed", batch=10, lease=timedelta(minutes=5))
"""


def test_a_process_killed_mid_tick_leaves_no_nudge_lost_or_doubled(
    services, standin, ws, customer, database_url, processes
):
    add_follow_ups(services, ws, customer.id, 120, owners=(REP,))
    standin.set_latency("chat.postMessage", 0.02)  # Slack posts, then answers 20 ms later
    doomed = processes.start(
        "doomed-replica", [sys.executable, "-c", KILLED_REPLICA, database_url, standin.base_url, NOW.isoformat()]
    )
    processes.wait_until(lambda: "ticking" in doomed.output(), "the replica to start ticking", timeout=60)
    processes.wait_until(lambda: len(standin.calls_to("chat.postMessage")) >= 30, "30 DMs", timeout=30, every=0.01)
    doomed.signal(signal.SIGKILL)  # mid-tick: claims held, some DMs posted but not recorded
    doomed.wait(timeout=10)
    standin.set_latency("chat.postMessage", 0)
    before = len(dm_counts(standin))
    assert 0 < before < 120
    later = NOW + timedelta(minutes=6)  # the dead replica's leases have expired
    survivor = sender(services)
    while send_due_nudges(services.session_factory, survivor, later, replica="survivor").claimed:
        pass
    counts = dm_counts(standin)
    assert len(counts) == 120, "every follow-up was nudged"
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v > 1}


def test_without_the_history_scope_an_attempt_in_doubt_is_sent_again_not_lost(services, standin, ws, customer):
    add_follow_ups(services, ws, customer.id, 1, owners=(REP,))
    standin.fail_next("chat.postMessage", status=500)
    assert send_due_nudges(services.session_factory, sender(services), NOW, replica="r1").failed == 1
    standin.fail_next("conversations.history", error="missing_scope")
    report = send_due_nudges(services.session_factory, sender(services), NOW + timedelta(minutes=5), replica="r1")
    assert report.sent == 1
    with services.session_factory() as s:
        assert s.scalars(select(FollowUp.nudge_at)).one() is None
