"""Linked channels and routed alerts: events queued in the changing transaction, at most one post
per (event, channel), sent exactly once across replicas, and never retried forever."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from commands.rooms import views as rooms_views
from crm import alerts, capture, channel_events, channels, insights
from crm.actors import Actor
from crm.alerts import AlertFilters
from crm.db import make_engine, make_session_factory
from crm.deals import DealInput, update_deal
from crm.errors import Conflict, InvalidInput, PermissionDenied
from crm.models import Activity, ActivityParticipant, AlertSubscription, ChannelPost, LinkedChannel, Workspace
from crm.pipeline_stages import DEFAULT as STAGES
from crm.states import ActivitySource, CaptureKind, ChannelEventKind, LinkStatus
from crm.value import recompute_tiers
from reminders.channel_posts import make_poster, send_channel_posts
from reminders.scheduler import nudge_client
from tests.conftest import ADMIN, REP, REP2

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
KEYS = {s.key for s in STAGES.stages}


@pytest.fixture
def acme(make):
    return make.customer("Acme Corporation")


def link(services, ws, channel, **target):
    sf = services.session_factory
    return channels.link_channel(
        sf, ws, channel, channel_name=channel.lower(), is_shared=False, actor=REP, now=NOW, **target
    )


def move(services, ws, deal, stage, *, actor=REP, at=NOW):
    form = DealInput(title=deal.title, amount="12000", currency="USD", stage=stage, owner_user_id=deal.owner_user_id)
    return update_deal(services.session_factory, ws, deal.id, form, actor=actor, stages=STAGES, now=at)


def posts(services) -> list[ChannelPost]:
    with services.session_factory() as s:
        return list(s.scalars(select(ChannelPost).order_by(ChannelPost.id)))


def poster(services):
    return make_poster(services, nudge_client(services), rate=0)


def sent_per_post(standin) -> Counter:
    counts: Counter = Counter()
    for call in standin.calls_to("chat.postMessage"):
        if call.ok:
            counts[call.params["metadata"]["event_payload"]["post_id"]] += 1
    return counts


def test_a_stage_change_is_queued_once_for_each_interested_channel(services, ws, make, acme):
    deal = make.deal(acme, "Annual licence", at=NOW - timedelta(days=1))
    link(services, ws, "C0ACME", customer_id=acme.id)
    link(services, ws, "C0ROOM", deal_id=deal.id)
    alerts.subscribe(
        services.session_factory,
        ws,
        "C0WINS",
        AlertFilters(events=(ChannelEventKind.WON,)),
        actor=REP2,
        stage_keys=KEYS,
        shared=False,
        now=NOW,
    )
    alerts.subscribe(  # linked and subscribed: still one message
        services.session_factory, ws, "C0ACME", AlertFilters(events=(ChannelEventKind.WON,)), actor=REP2,
        stage_keys=KEYS, shared=False, now=NOW,
    )  # fmt: skip
    move(services, ws, deal, "proposal")
    queued = posts(services)
    assert sorted(p.channel_id for p in queued) == ["C0ACME", "C0ROOM"]  # the alert is for wins only
    assert {p.payload["kind"] for p in queued} == {"stage"}
    move(services, ws, deal, "won")
    won = [p for p in posts(services) if p.payload["kind"] == "won"]
    assert sorted((p.channel_id, p.route) for p in won) == [("C0ACME", "link"), ("C0ROOM", "link"), ("C0WINS", "alert")]
    # Publishing the same event again (a retry, a second replica) queues nothing new.
    with services.session_factory.begin() as s:
        event = channel_events.Event(won[0].event_key, ChannelEventKind.WON, ws, acme.id, deal.id, facts={"deal": "x"})
        assert channel_events.publish(s, event, now=NOW) == 0
    assert len(posts(services)) == 5


def test_shared_and_gone_channels_get_no_internal_data(services, ws, make, acme):
    deal = make.deal(acme, "Annual licence", at=NOW - timedelta(days=1))
    channels.link_channel(
        services.session_factory, ws, "C0SHARED", customer_id=acme.id, channel_name="acme-ext", is_shared=True,
        actor=REP, now=NOW,
    )  # fmt: skip
    link(services, ws, "C0OLD", customer_id=acme.id)
    channels.channel_changed(services.session_factory, ws, "C0OLD", now=NOW, status=LinkStatus.ARCHIVED, note="x")
    move(services, ws, deal, "proposal")
    assert posts(services) == []
    with pytest.raises(Exception, match="shared with another organisation"):
        alerts.subscribe(
            services.session_factory, ws, "C0SHARED", AlertFilters(), actor=REP, stage_keys=KEYS, shared=True, now=NOW
        )


def test_alert_filters_amount_reps_and_stage(services, ws, make, acme):
    def sub(channel, **filters):
        alerts.subscribe(
            services.session_factory, ws, channel, AlertFilters(**filters), actor=REP, stage_keys=KEYS, shared=False,
            now=NOW,
        )  # fmt: skip

    sub("C0BIG", events=(ChannelEventKind.NEW_DEAL,), min_amount_minor=500_000, currency="USD")
    sub("C0MINE", events=(ChannelEventKind.NEW_DEAL, ChannelEventKind.STAGE), reps=(REP2,))
    sub("C0PROP", events=(ChannelEventKind.STAGE,), stage="proposal")
    sub("C0TIER", events=(ChannelEventKind.NEW_DEAL,))
    with services.session_factory.begin() as s:  # a filter saved before tiers existed filters nothing
        s.scalars(select(AlertSubscription).where(AlertSubscription.channel_id == "C0TIER")).one().tier = "gold"
    small = make.deal(acme, "Small", amount="100", owner=REP, at=NOW)
    big = make.deal(acme, "Big", amount="10000", owner=REP2, at=NOW)
    move(services, ws, small, "qualified")
    move(services, ws, small, "proposal")
    got = sorted((p.channel_id, p.payload["deal"], p.payload["kind"]) for p in posts(services))
    assert got == [
        ("C0BIG", "Big", "new"),
        ("C0MINE", "Big", "new"),
        ("C0PROP", "Small", "stage"),
        ("C0TIER", "Big", "new"),
        ("C0TIER", "Small", "new"),
    ]
    preview = alerts.preview(services.session_factory, ws, AlertFilters(events=(ChannelEventKind.STAGE,)), now=NOW)
    assert [e.facts["stage"] for e in preview] == ["proposal", "qualified"]
    assert big.id  # the big deal moved nowhere


def test_the_tier_filter_uses_the_stored_value_tiers(services, ws, make, acme):
    """`tier:A` hears only of A-tier customers as the daily recompute stored them; one not ranked
    yet counts as C; a word that is not a tier is refused with the tiers named."""
    big, small = make.customer("Big Spender"), make.customer("Small Shop")
    make.deal(big, "Old win", stage="won", amount="90000", at=NOW - timedelta(days=40))
    make.deal(small, "Tiny win", stage="won", amount="100", at=NOW - timedelta(days=40))
    recompute_tiers(services.session_factory, ws, now=NOW - timedelta(days=1))  # Big: A, Small: B/C
    for channel, tier in (("C0KEY", "a"), ("C0REST", "b/c"), ("C0ALL", None)):
        alerts.subscribe(services.session_factory, ws, channel, AlertFilters(events=(ChannelEventKind.NEW_DEAL,),
                         tier=tier), actor=REP, stage_keys=KEYS, shared=False, now=NOW)  # fmt: skip
    make.deal(big, "Renewal", at=NOW)
    make.deal(small, "Top-up", at=NOW)
    make.deal(acme, "First deal", at=NOW)  # Acme was created after the recompute: not ranked, so C
    got = sorted((p.channel_id, p.payload["deal"], p.payload["tier"]) for p in posts(services))
    assert got == [
        ("C0ALL", "First deal", "C"),
        ("C0ALL", "Renewal", "A"),
        ("C0ALL", "Top-up", value_tier(services, small)),
        ("C0KEY", "Renewal", "A"),
        ("C0REST", "First deal", "C"),
        ("C0REST", "Top-up", value_tier(services, small)),
    ]
    assert alerts.subscription_of(services.session_factory, ws, "C0REST").tier == "BC"
    renewal = next(p for p in posts(services) if p.payload["deal"] == "Renewal")
    line = rooms_views.event_line(renewal.payload, name_of=str, stage_label=str, type_label=str)
    assert line.startswith(":new: New deal *Renewal* with *Big Spender 💎*")  # a key account, marked
    only_a = alerts.preview(services.session_factory, ws, AlertFilters(events=(ChannelEventKind.NEW_DEAL,),
                            tier="key"), now=NOW)  # fmt: skip
    assert [e.facts["deal"] for e in only_a] == ["Renewal"]
    for bad, words in (("gold", "The value tiers are A, B and C"), ("abc", "leave `tier:` out")):
        with pytest.raises(InvalidInput, match=re.escape(words)):
            alerts.subscribe(services.session_factory, ws, "C0BAD", AlertFilters(tier=bad), actor=REP,
                             stage_keys=KEYS, shared=False, now=NOW)  # fmt: skip


def value_tier(services, customer) -> str:
    with services.session_factory() as s:
        return channel_events.customer_tier(s, customer.id)


def test_two_replicas_racing_send_each_post_exactly_once(services, standin, ws, make, acme, database_url):
    """Two replicas, each with its own engine (its own connections), drain 120 posts at once."""
    for i in range(60):
        link(services, ws, f"C0CH{i:03d}", customer_id=acme.id)
    make.deal(acme, "One", at=NOW)
    make.deal(acme, "Two", at=NOW)
    assert len(posts(services)) == 120
    other = make_engine(database_url)
    factories = {"replica-a": services.session_factory, "replica-b": make_session_factory(other)}
    totals: Counter = Counter()
    start = threading.Barrier(2)

    def replica(name: str) -> None:
        p = poster(services)
        start.wait()
        while True:
            report = send_channel_posts(factories[name], p, NOW, replica=name, batch=4)
            totals[name] += report.sent
            if report.claimed == 0:
                return

    threads = [threading.Thread(target=replica, args=(n,)) for n in factories]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.dispose()
    counts = sent_per_post(standin)
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert sum(totals.values()) == 120 and all(totals[n] > 0 for n in factories), totals
    assert all(p.sent_at == NOW and p.send_at is None for p in posts(services))


def test_a_removed_bot_parks_the_channel_instead_of_retrying(services, standin, ws, make, acme):
    link(services, ws, "C0GONE", customer_id=acme.id)
    make.deal(acme, "One", at=NOW)
    make.deal(acme, "Two", at=NOW)
    standin.fail_next("chat.postMessage", error="not_in_channel")
    report = send_channel_posts(services.session_factory, poster(services), NOW, replica="r1")
    assert (report.claimed, report.failed) == (2, 1)
    queued = posts(services)
    assert all(p.send_at is None for p in queued) and {p.error for p in queued} == {
        "not_in_channel",
        "parked: not_in_channel",
    }
    with services.session_factory() as s:
        row = s.scalars(select(LinkedChannel)).one()
        assert row.status == LinkStatus.REMOVED and "not_in_channel" in (row.status_note or "")
    make.deal(acme, "Three", at=NOW)  # a removed channel is not queued for any more
    assert len(posts(services)) == 2
    later = send_channel_posts(services.session_factory, poster(services), NOW + timedelta(hours=3), replica="r1")
    assert later.claimed == 0


def test_a_timeout_after_posting_is_found_not_sent_twice(services, standin, ws, make, acme):
    link(services, ws, "C0ACME", customer_id=acme.id)
    make.deal(acme, "One", at=NOW)
    p = poster(services)
    p.client.timeout = 0.5
    standin.set_latency("chat.postMessage", 1.5)  # Slack posts, but answers too late
    assert send_channel_posts(services.session_factory, p, NOW, replica="r1").failed == 1
    standin.set_latency("chat.postMessage", 0)
    [post] = posts(services)
    assert post.error and post.error.startswith("ambiguous")
    again = send_channel_posts(services.session_factory, poster(services), NOW + timedelta(hours=1), replica="r1")
    assert (again.sent, again.found_already_sent) == (1, 1)
    assert list(sent_per_post(standin).values()) in ([1], [])  # the late answer was never read as a success
    assert len([m for m in standin.messages("C0ACME") if m.get("user") == "U0BOT"]) == 1


def test_overdue_follow_ups_are_queued_once_even_when_scanned_twice(services, ws, make, acme):
    link(services, ws, "C0ACME", customer_id=acme.id)
    make.follow_up(acme, "send the quote", due=NOW - timedelta(minutes=5))
    make.follow_up(acme, "ancient", due=NOW - timedelta(days=3))  # overdue long before: not announced
    make.follow_up(acme, "later", due=NOW + timedelta(hours=1))
    assert channel_events.queue_overdue(services.session_factory, now=NOW) == 1
    assert channel_events.queue_overdue(services.session_factory, now=NOW + timedelta(minutes=1)) == 0
    [post] = posts(services)
    assert post.payload["kind"] == "overdue" and post.payload["note"] == "send the quote"


def test_logged_thread_credits_its_participants_and_tells_other_channels(services, ws, make, acme):
    deal = make.deal(acme, "Annual licence", at=NOW - timedelta(days=1))
    room = link(services, ws, "C0ROOM", deal_id=deal.id)
    link(services, ws, "C0ACME", customer_id=acme.id)
    logged = channels.log_thread(
        services.session_factory,
        ws,
        room.link,
        types=services.config(ws).types,
        actor=Actor(REP),
        type_key="meeting",
        summary="Pricing talk",
        occurred_at=NOW - timedelta(minutes=3),
        permalink="https://x.slack.com/archives/C0ROOM/p1",
        participants=[REP, REP2, REP2, "not-a-user"],
        thread_ts="1700000000.000100",
        now=NOW,
    )
    again = channels.log_thread(
        services.session_factory, ws, room.link, types=services.config(ws).types, actor=Actor(REP), type_key="meeting",
        summary="again", occurred_at=NOW, permalink=None, participants=[REP], thread_ts="1700000000.000100", now=NOW,
    )  # fmt: skip
    assert logged.created and not again.created and again.activity.id == logged.activity.id
    assert logged.activity.source == ActivitySource.CHANNEL and logged.activity.deal_id == deal.id
    with services.session_factory() as s:
        assert sorted(s.scalars(select(ActivityParticipant.user_id))) == [REP, REP2]
        assert s.scalar(select(func.count()).select_from(Activity)) == 1
    who = insights.who_talked(services.session_factory, ws, acme.id)
    assert {r.rep: r.total for r in who.reps} == {REP: 1, REP2: 1} and who.activity_count == 1
    # The customer's channel hears of it; the room it was logged in does not.
    assert [(p.channel_id, p.payload["kind"]) for p in posts(services)] == [("C0ACME", "activity")]


def test_capture_kinds_are_turned_off_by_admins_only(services, ws, make, acme):
    with pytest.raises(PermissionDenied):
        capture.set_capture(services.session_factory, ws, CaptureKind.ALERT, False, actor=Actor(REP))
    admin = Actor(ADMIN, is_admin=True)
    after = capture.set_capture(services.session_factory, ws, CaptureKind.ALERT, False, actor=admin)
    assert after == {CaptureKind.CHANNEL: True, CaptureKind.ALERT: False, CaptureKind.EMAIL: True}
    alerts_sub = AlertFilters(events=(ChannelEventKind.NEW_DEAL,))
    with pytest.raises(PermissionDenied, match="turned off"):
        alerts.subscribe(
            services.session_factory, ws, "C0X", alerts_sub, actor=REP, stage_keys=KEYS, shared=False, now=NOW
        )
    capture.set_capture(services.session_factory, ws, CaptureKind.CHANNEL, False, actor=admin)
    with pytest.raises(PermissionDenied, match="turned off"):
        link(services, ws, "C0ACME", customer_id=acme.id)


def test_room_names_are_readable_and_fit_slack(services):
    assert channels.room_name("Acme Corp.", "Annual licence 2027") == "deal-acme-corp-annual-licence-2027"
    assert channels.room_name("Ærø Fisk ÅS", "Größe", suffix=3) == "deal-aero-fisk-as-grosse-3"
    long = channels.room_name("x" * 200, "y" * 200, suffix=10)
    assert len(long) <= 80 and long.endswith("-10")
    assert channels.room_name("!!!", "???") == "deal-customer-deal"


def test_linking_one_channel_twice_at_once_leaves_one_live_link(services, ws, make, acme):
    globex = make.customer("Globex")
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def link_to(customer_id: int) -> None:
        start.wait()
        try:
            link(services, ws, "C0RACE", customer_id=customer_id)
            outcomes.append("linked")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=link_to, args=(c,)) for c in (acme.id, globex.id, acme.id, globex.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 4 and "linked" in outcomes
    with services.session_factory() as s:
        live = s.scalars(select(LinkedChannel).where(LinkedChannel.deleted_at.is_(None))).all()
    assert len(live) == 1


def test_sent_posts_are_pruned_after_a_month_parked_ones_stay(services, standin, ws, make, acme):
    link(services, ws, "C0ACME", customer_id=acme.id)
    make.deal(acme, "One", at=NOW)
    send_channel_posts(services.session_factory, poster(services), NOW, replica="r1")
    channels.unlink_channel(services.session_factory, ws, "C0ACME", actor=REP, now=NOW)
    link(services, ws, "C0GONE", customer_id=acme.id)
    standin.fail_next("chat.postMessage", error="channel_not_found")
    make.deal(acme, "Two", at=NOW)
    send_channel_posts(services.session_factory, poster(services), NOW, replica="r1")
    assert channel_events.prune_sent_posts(services.session_factory, now=NOW + timedelta(days=29)) == 0
    assert channel_events.prune_sent_posts(services.session_factory, now=NOW + timedelta(days=31)) == 1
    [kept] = posts(services)
    assert kept.channel_id == "C0GONE" and kept.error == "channel_not_found"


def test_links_alerts_and_participants_survive_export_and_restore(services, ws, make, acme, tmp_path):
    from crm.exporter import export_workspace, restore_workspace

    deal = make.deal(acme, "Annual licence", at=NOW - timedelta(days=1))
    room = channels.link_channel(
        services.session_factory, ws, "G0ROOM", deal_id=deal.id, channel_name="deal-acme", is_shared=False,
        actor=REP, now=NOW, is_room=True,
    )  # fmt: skip
    alerts.subscribe(
        services.session_factory, ws, "C0WINS", AlertFilters(reps=(REP2,)), actor=REP, stage_keys=KEYS, shared=False,
        now=NOW,
    )  # fmt: skip
    channels.log_thread(
        services.session_factory, ws, room.link, types=services.config(ws).types, actor=Actor(REP), type_key="call",
        summary="talk", occurred_at=NOW, permalink=None, participants=[REP, REP2], thread_ts="1.000100", now=NOW,
    )  # fmt: skip
    export_workspace(services.session_factory, ws, tmp_path / "out")
    copy = services.workspace_id("T0COPY")
    report = restore_workspace(services.session_factory, copy, tmp_path / "out")
    assert (report.counts["linked_channels"], report.counts["alert_subscriptions"]) == (1, 1)
    assert report.counts["activity_participants"] == 2
    with services.session_factory() as s:
        [restored] = s.scalars(select(LinkedChannel).where(LinkedChannel.workspace_id == copy)).all()
        assert restored.is_room and restored.channel_id == "G0ROOM" and restored.deal_id != deal.id
    who = insights.who_talked(services.session_factory, copy, restored.customer_id)
    assert {r.rep for r in who.reps} == {REP, REP2}


def test_a_channel_shared_without_us_hearing_gets_nothing(services, standin, ws, make, acme):
    standin.add_channel("C0ACME", name="acme")
    link(services, ws, "C0ACME", customer_id=acme.id)
    make.deal(acme, "One", at=NOW)
    make.deal(acme, "Two", at=NOW)
    standin.share_channel("C0ACME")  # no channel_shared event reached the app
    report = send_channel_posts(services.session_factory, poster(services), NOW, replica="r1")
    assert (report.claimed, report.sent, report.failed) == (2, 0, 1)
    assert standin.calls_to("chat.postMessage") == []
    with services.session_factory() as s:
        row = s.scalars(select(LinkedChannel)).one()
        assert row.is_shared and row.status == LinkStatus.ACTIVE
    make.deal(acme, "Three", at=NOW)  # a shared link queues nothing any more
    assert len(posts(services)) == 2 and all(p.send_at is None for p in posts(services))


def test_an_uninstalled_workspace_gets_no_channel_post_and_nothing_is_retried(services, standin, ws, make, acme):
    """app_uninstalled (or a revoked token) stops the channel outbox too: posts are parked without
    a call to Slack, and the channel's link keeps its status for a reinstall."""
    from crm.models import Workspace
    from crm.workspaces import mark_uninstalled

    link(services, ws, "C0DEALS", customer_id=acme.id)
    make.deal(acme, "One", at=NOW)
    with services.session_factory() as s:
        team_id = s.get(Workspace, ws).team_id
    mark_uninstalled(services.session_factory, team_id=team_id, enterprise_id=None, reason="app_uninstalled", now=NOW)
    seen = len(standin.calls)
    report = send_channel_posts(services.session_factory, poster(services), NOW, replica="r1")
    assert (report.claimed, report.sent, report.failed) == (1, 0, 1)
    assert not [c for c in standin.calls[seen:] if c.method in ("chat.postMessage", "conversations.info")]
    (post,) = posts(services)
    assert post.send_at is None and post.error == "not installed"
    with services.session_factory() as s:
        assert s.scalars(select(LinkedChannel)).one().status == LinkStatus.ACTIVE
    assert send_channel_posts(services.session_factory, poster(services), NOW, replica="r1").claimed == 0


def test_a_reinstall_sends_the_posts_parked_while_the_app_was_gone_unless_stale(services, ws, make, acme):
    from crm.states import DeliveryError
    from crm.workspaces import mark_installed, mark_uninstalled

    sf = services.session_factory
    with sf() as s:
        team = s.get(Workspace, ws).team_id

    def post(key: str, *, error: str | None, age: timedelta, sent: bool = False) -> None:
        with sf.begin() as s:
            s.add(
                ChannelPost(
                    workspace_id=ws, channel_id="C0DEALS", event_key=key, route="alert", payload={},
                    send_at=None, attempts=1, error=error, sent_at=NOW - age if sent else None,
                    created_at=NOW - age, created_by="system",
                )
            )  # fmt: skip

    assert mark_uninstalled(sf, team_id=team, enterprise_id=None, reason="app_uninstalled", now=NOW) == 1
    post("won-today", error=DeliveryError.NOT_INSTALLED, age=timedelta(hours=3))
    post("revoked-today", error="token_revoked", age=timedelta(hours=5))
    post("won-last-week", error=DeliveryError.NOT_INSTALLED, age=timedelta(days=6))
    post("channel-gone", error="channel_not_found", age=timedelta(hours=1))
    post("sent-before", error=None, age=timedelta(hours=2), sent=True)
    assert mark_installed(sf, team_id=team, enterprise_id=None, now=NOW) == 1
    with sf() as s:
        rows = {p.event_key: p for p in s.scalars(select(ChannelPost))}
    assert {k for k, p in rows.items() if p.send_at is not None} == {"won-today", "revoked-today"}
    assert rows["won-today"].error is None and rows["won-today"].send_at == NOW
    assert rows["won-last-week"].error == DeliveryError.NOT_INSTALLED  # stale news stays parked
    assert rows["channel-gone"].error == "channel_not_found" and rows["sent-before"].send_at is None
