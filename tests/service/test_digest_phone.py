"""The digest as a manager reads it on a phone, for a 50-rep, 3-currency workspace: a short
summary on top, the exact detail and the charts in its thread, each posted once; reps by name;
amounts rounded at the top and exact below; one currency order; "stale" only as the exception;
the first digest's wording; "Late" only when the app was down, not when the clock jumped."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import insert, select

from commands.digests import views
from crm import digest_schedule as subs
from crm.digest import build_digest
from crm.digest_schedule import DAILY, Schedule
from crm.models import Activity, Customer, Deal, DealStageChange, DigestRun, FollowUp
from crm.pipeline_stages import DEFAULT
from crm.value import recompute_tiers, untouched_key_accounts
from reminders.digests import DETAIL_EVENT, METADATA_EVENT, Uptime, make_digest_sender, send_due_digests
from reminders.scheduler import nudge_client
from tests.conftest import REP

TZ = "Europe/Berlin"
SUBSCRIBED = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
FIRST = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # Tuesday 09:00 in Berlin
REPS = [f"U0REP{i:04d}" for i in range(50)]
STAGES = ("lead", "qualified", "proposal", "negotiation")
CURRENCIES = ("USD", "EUR", "GBP")
STALE = (3, 7, 11, 15, 19, 23)  # deals (and their customers) quiet and 40 days in negotiation


def seed(services, standin, ws, now: datetime) -> None:
    """50 reps with names, 120 customers, 300 open deals in 3 currencies, a few closed, stage
    history, a busy yesterday and overdue follow-ups; a handful of deals truly stale."""
    rnd = random.Random(16)
    for i, user in enumerate(REPS):
        standin.add_user(user, name=f"rep{i}", real_name=f"Rep Number{i} Surname", tz=TZ)  # handle, full name
    with services.session_factory.begin() as s:
        customers = [
            s.execute(
                insert(Customer)
                .values(
                    workspace_id=ws,
                    name=f"Customer {i:03d}",
                    normalized_name=f"customer {i:03d}",
                    created_by=REP,
                    created_at=now - timedelta(days=200),
                )
                .returning(Customer.id)
            ).scalar_one()
            for i in range(120)
        ]
        deals = []
        for i in range(300):
            age = 60 if i in STALE else rnd.randint(3, 120)
            deals.append(
                {
                    "workspace_id": ws,
                    "customer_id": customers[i % 120],
                    "title": f"Deal {i}",
                    "amount_minor": rnd.randint(5, 900) * 100_000,
                    "currency": CURRENCIES[i % 3],
                    "stage": STAGES[i % 4],
                    "owner_user_id": REPS[i % 50],
                    "created_by": REPS[i % 50],
                    "created_at": now - timedelta(days=age),
                }
            )
        for i in range(20):  # closed in the last weeks
            deals.append({**deals[i], "title": f"Closed {i}", "stage": "won" if i % 2 else "lost"})
            deals[-1]["closed_at"] = now - timedelta(days=i + 1)
        ids = [s.execute(insert(Deal).values(**d).returning(Deal.id)).scalar_one() for d in deals]
        # Every deal entered its stage recently, but for 6 that have sat in negotiation for 40 days.
        changes = []
        for n, (deal_id, d) in enumerate(zip(ids, deals, strict=True)):
            entered = now - timedelta(days=40) if n in STALE else now - timedelta(days=2)
            changes.append(
                {
                    "workspace_id": ws,
                    "deal_id": deal_id,
                    "from_stage": None,
                    "to_stage": d["stage"],
                    "created_by": REP,
                    "created_at": entered,
                }
            )
        s.execute(insert(DealStageChange), changes)
        # Yesterday (Monday in Berlin): 40 of the reps logged activities; recent activity on most customers.
        yesterday = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        acts = []
        for i, user in enumerate(REPS[:40]):
            for j in range(1 + i % 5):
                acts.append((user, ("call", "email", "meeting")[j % 3], customers[30 + (i * 3 + j) % 90], yesterday))
        for k, cust in enumerate(customers):
            if k not in STALE:
                acts.append((REPS[k % 50], "note", cust, now - timedelta(days=1 + k % 5)))
        s.execute(
            insert(Activity),
            [
                {
                    "workspace_id": ws,
                    "customer_id": cust,
                    "type_key": kind,
                    "summary": "talked",
                    "occurred_at": at,
                    "created_by": user,
                    "created_at": at,
                }
                for user, kind, cust, at in acts
            ],
        )
        s.execute(
            insert(FollowUp),
            [
                {
                    "workspace_id": ws,
                    "customer_id": customers[i],
                    "owner_user_id": REPS[i % 30],
                    "due_at": now - timedelta(hours=3 + i * 7),
                    "status": "open",
                    "created_by": REP,
                    "created_at": now - timedelta(days=20),
                    "nudge_attempts": 0,
                }
                for i in range(45)
            ],
        )


def summary_lines(blocks) -> list[str]:
    lines = []
    for block in blocks:
        if block["type"] == "section":
            lines += block["text"]["text"].split("\n")
        elif block["type"] == "context":
            lines += [e["text"] for e in block["elements"]]
        elif block["type"] == "header":
            lines.append(block["text"]["text"])
    return lines


def sender(services):
    return make_digest_sender(services, nudge_client(services), rate=0)


def tick(services, now, snd=None, **kw):
    return send_due_digests(services.session_factory, snd or sender(services), now, replica="r1", **kw)


def top_posts(standin):
    return [c for c in standin.calls_to("chat.postMessage") if c.ok and not c.params.get("thread_ts")]


def thread_posts(standin):
    return [c for c in standin.calls_to("chat.postMessage") if c.ok and c.params.get("thread_ts")]


@pytest.fixture
def busy(services, standin, ws):
    subs.subscribe(
        services.session_factory,
        ws,
        channel_id="C0SALES",
        user=REP,
        schedule=Schedule(time(9, 0), DAILY),
        timezone=TZ,
        now=SUBSCRIBED,
    )
    seed(services, standin, ws, FIRST)
    return ws


def test_fifty_reps_three_currencies_read_well_on_a_phone(services, standin, busy):
    report = tick(services, FIRST)
    assert (report.posted, report.late, report.failed) == (1, 0, 0)
    [top] = top_posts(standin)
    lines = summary_lines(top.params["blocks"])
    text = "\n".join(lines)
    assert len(lines) <= 15 + 3, lines  # header, when, at most 15 lines, the thread pointer
    # First digest: no "since the last digest".
    assert "First digest · the last 24 hours" in text and "Since the last digest" not in text
    assert "*In the last 24 hours:*" in text
    # Reps by display name: never a mention or a user id.
    assert "<@" not in text and "U0REP" not in text
    assert "Rep Number" in text and not re.search(r"\brep\d", text)  # full names, not handles
    # Rounded amounts, in one currency order: $ before € before £ on every line.
    assert not re.search(r"\d\.\d\d\b", text), "cents in the summary"
    assert re.search(r"\*Open pipeline:\* 300 deals · \$\d+(\.\d)?M \+ €\d+(\.\d)?M \+ £\d+(\.\d)?M", text), text
    for line in lines:
        found = [line.find(sym) for sym in "$€£" if sym in line]
        assert found == sorted(found), line
    # Stale: six deals that sat 40 days in their stage with no activity, out of 300.
    assert "💤 *6 stale deals:*" in text
    assert "Key accounts" not in text  # no tiers computed yet: no key-accounts part at all
    assert "0d" not in text and "overdue" in text.lower()
    # The detail: exact amounts, every part, in the thread under the summary, once.
    [detail] = thread_posts(standin)
    assert detail.params["thread_ts"] == top.response["ts"]
    assert detail.params["metadata"]["event_type"] == DETAIL_EVENT
    detail_text = str(detail.params["blocks"])
    assert re.search(r"\$[\d,]+\.00", detail_text) and "<@" not in detail_text
    assert "Negotiation for 40 days (limit 10)" in detail_text and "0d overdue" not in detail_text
    assert "oldest 12 days overdue" in detail_text or "days overdue" in detail_text
    # The charts: three PNGs, with text alternatives, in the same thread.
    [upload] = [c for c in standin.calls_to("files.completeUploadExternal") if c.ok]
    assert upload.params["thread_ts"] == top.response["ts"] and upload.params["channel_id"] == "C0SALES"
    files = standin.uploaded()
    assert sorted(f["name"] for f in files) == [
        "activities-per-rep.png",
        "pipeline-by-stage.png",
        "pipeline-weekly.png",
    ]
    assert all(f["content"].startswith(b"\x89PNG") and len(f["alt_txt"]) > 40 for f in files)
    with services.session_factory() as s:
        run = s.scalars(select(DigestRun)).one()
        assert (run.post_channel, run.message_ts, run.detail_ts) == (
            "C0SALES",
            top.response["ts"],
            detail.response["ts"],
        )


def test_key_accounts_and_the_weekly_forecast_still_fit_a_phone(services, standin, busy):
    """With tiers computed, the quiet A-tier customers and the week's forecast join the summary:
    still at most 15 lines, rounded, in the one currency order, names not pings."""
    recompute_tiers(services.session_factory, busy, now=FIRST)
    quiet = untouched_key_accounts(services.session_factory, busy, days=30, now=FIRST)
    assert quiet.total >= 1  # A-tier customers among the six left without activity
    tick(services, FIRST)
    [top] = top_posts(standin)
    lines = summary_lines(top.params["blocks"])
    assert len(lines) <= 15 + 3, lines
    text = "\n".join(lines)
    assert f"💎 *Key accounts gone quiet:* {quiet.total} A-tier with no activity for 30 days" in text
    money = r"\$[\d.]+[kM] \+ €[\d.]+[kM] \+ £[\d.]+[kM]"
    assert re.search(r"📈 \*This week's forecast:\* " + money + " weighted · win rate 50%", text), text
    assert "<@" not in text and "U0REP" not in text and not re.search(r"\d\.\d\d\b", text)
    for line in lines:
        found = [line.find(sym) for sym in "$€£" if sym in line]
        assert found == sorted(found), line
    [detail] = thread_posts(standin)
    detail_text = str(detail.params["blocks"])
    assert "Key accounts gone quiet" in detail_text and "Win rate (90 days): 50% · 10 won, 10 lost" in detail_text
    assert len(detail.params["blocks"]) <= views.MAX_DIGEST_BLOCKS
    # The next day's digest (Wednesday): the forecast waits for next week.
    tick(services, FIRST + timedelta(days=1))
    assert "forecast" not in str(top_posts(standin)[-1].params["blocks"])


def test_the_second_digest_says_since_the_last_one(services, standin, busy):
    tick(services, FIRST)
    tick(services, FIRST + timedelta(days=1))
    second = top_posts(standin)[-1]
    text = "\n".join(summary_lines(second.params["blocks"]))
    assert "Since the last digest, Tue 3 Mar 09:00" in text and "First digest" not in text


def test_a_thread_reply_in_doubt_is_found_not_posted_twice(services, standin, busy):
    def slow_after_the_summary(call) -> None:  # Slack posts the reply but answers too late
        if call.method == "chat.postMessage" and call.ok and not call.params.get("thread_ts"):
            standin.set_latency("chat.postMessage", 1.5)

    standin.add_listener(slow_after_the_summary)
    snd = sender(services)
    snd.client.timeout = 0.5
    report = tick(services, FIRST, snd=snd)
    assert (report.posted, report.failed) == (0, 1)
    standin.set_latency("chat.postMessage", 0)
    assert len(top_posts(standin)) == 1 and len(thread_posts(standin)) == 1
    assert standin.calls_to("files.completeUploadExternal") == []
    assert tick(services, FIRST + timedelta(minutes=10)).posted == 1  # finds the reply, adds the charts
    assert len(top_posts(standin)) == 1 and len(thread_posts(standin)) == 1
    assert len([c for c in standin.calls_to("files.completeUploadExternal") if c.ok]) == 1
    assert tick(services, FIRST + timedelta(minutes=20)).claimed == 0


def test_a_replica_that_died_after_the_summary_finishes_only_the_thread(services, standin, busy):
    snd = sender(services)
    due = subs.due_runs(services.session_factory, FIRST)
    claimed = subs.claim(services.session_factory, due[0], now=FIRST, replica="dead", lease=timedelta(minutes=5))
    digest = build_digest(services.session_factory, busy, now=FIRST, tz=TZ, stages=DEFAULT, previous=None)
    posted = snd.deliver(claimed, digest)  # the summary went out, then the replica died
    subs.mark_posted(services.session_factory, claimed, replica="dead", channel=posted.channel, ts=posted.ts)
    report = tick(services, FIRST + timedelta(minutes=6), snd=sender(services))
    assert report.posted == 1
    assert len(top_posts(standin)) == 1 and len(thread_posts(standin)) == 1
    assert thread_posts(standin)[0].params["thread_ts"] == posted.ts


def test_no_charts_into_slack_connect(services, standin, busy):
    standin.add_channel("C0SHARED", name="with-partner", is_ext_shared=True)
    subs.subscribe(
        services.session_factory,
        busy,
        channel_id="C0SHARED",
        user=REP,
        schedule=Schedule(time(9, 0), DAILY),
        timezone=TZ,
        now=SUBSCRIBED,
    )
    tick(services, FIRST)
    channels = {c.params["channel_id"] for c in standin.calls_to("files.completeUploadExternal") if c.ok}
    assert "C0SHARED" not in channels and standin.messages("C0SHARED") == []
    assert any(ch.startswith("D") for ch in channels)  # the subscriber's DM copy has them


def test_late_only_when_the_app_was_down_not_when_the_clock_jumped(services, standin, busy):
    clock = iter(range(0, 10_000, 60))  # a minute of real time between ticks, never asleep
    seconds = [0.0]

    def real() -> float:
        seconds[0] = float(next(clock))
        return seconds[0]

    running = Uptime(FIRST - timedelta(hours=1), monotonic=real, boottime=lambda: seconds[0])
    jumped = FIRST + timedelta(hours=4, minutes=30)  # the clock jumps from 08:00 to 13:30
    report = tick(services, jumped, up_since=running.tick(jumped))
    assert (report.posted, report.late) == (1, 0)
    assert "Late" not in str(top_posts(standin)[-1].params["blocks"])
    # The next day the app was really down at 09:00 and started again at 13:30: that one is late.
    later = jumped + timedelta(days=1)
    report = tick(services, later, up_since=Uptime(later).tick(later))
    assert (report.posted, report.late) == (1, 1)
    assert "⏰ *Late:* due at 09:00, posted at 13:30" in str(top_posts(standin)[-1].params["blocks"])


def test_a_suspended_machine_counts_as_down():
    now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    mono, boot = iter([0.0, 60.0]), iter([0.0, 3 * 3600.0])  # a minute awake, three hours asleep
    uptime = Uptime(now - timedelta(hours=5), monotonic=lambda: next(mono), boottime=lambda: next(boot))
    assert uptime.tick(now) == now


def test_metadata_of_summary_and_reply_differ(services, standin, busy):
    tick(services, FIRST)
    assert top_posts(standin)[0].params["metadata"]["event_type"] == METADATA_EVENT
    assert thread_posts(standin)[0].params["metadata"]["event_type"] == DETAIL_EVENT
    assert views.SUMMARY_LINES_MAX == 15
