"""Linked channels, deal rooms, `@crm log`, routed alerts and `/crm capture` end to end: signed slash
commands, events and shortcuts to the running app, answers read from the stand-in (which checks every
Block Kit payload), rows read from the database. The pure parts (filters, event lines) first."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.dev.blockkit_check import validate_message
from commands.rooms import views
from commands.rooms.alert_words import parse_filters
from commands.rooms.threads import MAX_MESSAGES, log_request
from crm import insights
from crm.errors import InvalidInput
from crm.models import Activity, ActivityParticipant, AlertSubscription, ChannelPost, LinkedChannel
from crm.states import ActivitySource, ChannelEventKind, LinkStatus
from reminders.channel_posts import make_poster, send_channel_posts
from reminders.scheduler import nudge_client
from tests.conftest import ADMIN, REP, REP2
from tests.support.hostile import mrkdwn_in

STAGES = {"lead", "qualified", "proposal", "won", "lost"}


# -- pure ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "events", "stage", "minor", "reps"),
    [
        ("", ("won", "lost"), None, None, ()),
        ("won", ("won",), None, None, ()),
        ("stage:proposal mine", ("stage",), "proposal", None, (REP,)),
        ("proposal", ("stage",), "proposal", None, ()),
        ("new over 10k", ("new",), None, 1_000_000, ()),
        ("over 500 EUR", ("new",), None, 50_000, ()),
        ("won lost by <@U0REP2|sam> <@U0MGR>", ("won", "lost"), None, None, (REP2, "U0MGR")),
    ],
)
def test_alert_filters_are_read(text, events, stage, minor, reps):
    f = parse_filters(text, user_id=REP, stage_keys=STAGES)
    assert (tuple(str(e) for e in f.events), f.stage, f.min_amount_minor, f.reps) == (events, stage, minor, reps)


def test_unknown_alert_words_are_refused_with_a_hint():
    with pytest.raises(InvalidInput, match="won lost over 10000"):
        parse_filters("wonn", user_id=REP, stage_keys=STAGES)


@pytest.mark.parametrize(
    ("text", "words"),
    [("log", ""), ("log call pricing", "call pricing"), ("Log this thread: meeting", "meeting"), ("logo?", None)],
)
def test_log_requests_are_recognised(text, words):
    assert log_request(text) == words


def test_event_lines_name_people_and_escape_text():
    for kind in ChannelEventKind:
        payload = {
            "kind": kind.value,
            "deal": "<!channel> big",
            "customer": "Acme & Co",
            "stage": "won",
            "from_stage": "lead",
            "amount_minor": 1_250_000,
            "currency": "USD",
            "owner": REP,
            "actor": REP2,
            "summary": "<@U999> hi",
            "type_key": "call",
            "due": "2026-12-01T09:00:00+00:00",
            "note": "quote",
            "permalink": "https://x.slack.com/archives/C1/p1",
        }
        text, blocks = views.event_message(
            payload, name_of={REP: "rita", REP2: "sam"}.get, stage_label=str.title, type_label=str.title, route="link"
        )
        assert validate_message({"text": text, "blocks": blocks}) == []
        shown = " ".join(mrkdwn_in(blocks))
        assert "<!channel>" not in shown and "<@" not in shown and "<!channel>" not in text
        if kind in (ChannelEventKind.NEW_DEAL, ChannelEventKind.WON):
            assert "$12,500.00" in shown and "rita" in shown


# -- end to end ------------------------------------------------------------------------------------------
@pytest.fixture
def acme(make, ws):
    return make.customer("Acme Corporation", owner_user_id=REP)


@pytest.fixture
def deal(make, acme):
    return make.deal(acme, "Annual licence", owner=REP2)


def reply_text(standin, count=1) -> str:
    call = standin.wait_for("response_url", count=count)[count - 1]
    return call.params.get("text", "") + json.dumps(call.params.get("blocks") or [])


def rows(services, model):
    with services.session_factory() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def test_link_posts_the_card_and_the_card_lists_the_channel(slack, standin, app_server, acme):
    slack.command("/crm", "link acme corporation")
    assert "is linked to *Acme Corporation*" in reply_text(standin)
    [card] = standin.wait_for("chat.postMessage")
    assert card.params["channel"] == "C0SALES" and "Acme Corporation" in json.dumps(card.params["blocks"])
    [link] = rows(app_server.services, LinkedChannel)
    assert (link.customer_id, link.deal_id, link.is_shared, link.channel_name) == (acme.id, None, False, "sales")
    slack.command("/crm", "link acme corporation")  # again: nothing changes, no second card
    assert "already linked" in reply_text(standin, 2)
    slack.command("/customer", "acme corporation")
    card_reply = standin.wait_for("response_url", count=3)[2].params
    assert "Linked channels: <#C0SALES>" in json.dumps(card_reply["blocks"])
    slack.command("/crm", "unlink")
    assert "no longer linked" in reply_text(standin, 4)
    app_server.drain()
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert rows(app_server.services, LinkedChannel)[0].deleted_at is not None


def test_link_asks_when_a_word_names_customers_and_a_deal(slack, standin, app_server, make):
    """`/crm link globex` with two Globex customers and one Globex deal: asked, not a guess at the deal."""
    first = make.customer("Globex Aerospace Pty Ltd")
    make.customer("Globex Dairy AG", force=True)
    make.deal(first, "Globex Training")
    slack.command("/crm", "link globex")
    text = reply_text(standin)
    assert "Which one?" in text and "*Globex Dairy AG*" in text and "`/crm link Globex Training`" in text
    assert rows(app_server.services, LinkedChannel) == []


def test_a_slack_connect_channel_is_linked_as_shared_and_gets_nothing(slack, standin, app_server, acme, deal, make):
    standin.add_channel("C0EXT", name="acme-shared", is_ext_shared=True)
    slack.command("/crm", "link Acme Corporation", channel="C0EXT")
    assert "shared with another organisation" in reply_text(standin)
    [link] = rows(app_server.services, LinkedChannel)
    assert link.is_shared
    make.deal(acme, "Expansion")
    app_server.drain()
    assert standin.calls_to("chat.postMessage") == [] and rows(app_server.services, ChannelPost) == []
    slack.command("/crm", "alerts won", channel="C0EXT")
    assert "can't get deal alerts" in reply_text(standin, 2)


def test_room_is_created_with_a_free_name_people_invited_linked_and_carded(slack, standin, app_server, deal):
    standin.add_channel("C0TAKEN", name="deal-acme-corporation-annual-licence")
    slack.command("/crm", "room Annual licence <@U0MGR|maria>")
    text = reply_text(standin)
    assert "Created <#G" in text and "Annual licence" in text
    assert "In it with you: <@U0REP2>, <@U0MGR>." in text  # the owner and the people named, said back
    creates = standin.calls_to("conversations.create")
    assert [c.error for c in creates] == ["name_taken", None]
    room = creates[1].response["channel"]
    assert room["name"] == "deal-acme-corporation-annual-licence-2" and room["is_private"]
    invited = [c.params["users"] for c in standin.calls_to("conversations.invite") if c.ok]
    assert invited == [REP, REP2, "U0MGR"]  # the asker, the deal's owner, the people named
    [link] = rows(app_server.services, LinkedChannel)
    assert (link.channel_id, link.deal_id, link.is_room) == (room["id"], deal.id, True)
    [card] = standin.wait_for("chat.postMessage")
    assert card.params["channel"] == room["id"]
    slack.command("/crm", "room annual licence")  # a second room for the same deal is not made
    assert "already has a room" in reply_text(standin, 2)
    assert len([c for c in standin.calls_to("conversations.create") if c.ok]) == 1


def seed_thread(standin, channel, n=3):
    parent = standin.post_message(channel, "Acme wants a price for 200 seats", user=REP)
    for i in range(n - 1):
        standin.post_message(channel, f"reply {i}", user=REP2 if i % 2 == 0 else REP, thread_ts=parent["ts"])
    return parent


def mention(slack, standin, channel, text, thread_ts, user=REP, event_id=None):
    message = standin.post_message(channel, text, user=user, thread_ts=thread_ts)
    event = {"type": "app_mention", "user": user, "text": text, "ts": message["ts"], "channel": channel}
    event["thread_ts"] = thread_ts
    assert slack.event(event, event_id=event_id).status == 200
    return message


def test_at_crm_log_in_a_thread_logs_it_with_permalink_and_participants(slack, standin, app_server, acme, deal):
    slack.command("/crm", "link annual licence")
    standin.wait_for("chat.postMessage")
    parent = seed_thread(standin, "C0SALES", n=4)
    mention(slack, standin, "C0SALES", "<@U0BOT> log call agreed on pricing", parent["ts"], event_id="Ev0LOG")
    answer = standin.wait_for("chat.postMessage", count=2)[1].params
    assert answer["thread_ts"] == parent["ts"] and "Logged this thread" in answer["text"]
    assert "4 messages" not in answer["text"] and "5 messages, 2 people" in answer["text"]
    [activity] = rows(app_server.services, Activity)
    assert activity.source == ActivitySource.CHANNEL and activity.deal_id == deal.id
    assert activity.type_key == "call" and activity.summary.startswith("agreed on pricing")
    assert activity.permalink and f"p{parent['ts'].replace('.', '')}" in activity.permalink
    assert sorted(p.user_id for p in rows(app_server.services, ActivityParticipant)) == [REP, REP2]
    who = insights.who_talked(app_server.services.session_factory, app_server.services.workspace_id("T0TEST"), acme.id)
    assert {r.rep for r in who.reps} == {REP, REP2}  # sam only wrote in the thread, and counts
    # Slack's retry of the same event, and logging the thread again, save nothing new.
    mention(slack, standin, "C0SALES", "<@U0BOT> log call", parent["ts"])
    again = standin.wait_for("chat.postMessage", count=3)[2].params
    assert "already logged" in again["text"]
    assert len(rows(app_server.services, Activity)) == 1
    slack.command("/customer", "acme corporation")  # the card marks it as captured, with the thread's link
    card = standin.wait_for("response_url", count=2)[1].params
    assert f"_captured from <{activity.permalink}|a channel>_" in json.dumps(card["blocks"])


def test_slack_refusals_while_making_a_room_or_reading_a_thread_are_said(slack, standin, app_server, acme, deal):
    standin.fail_next("conversations.create", error="restricted_action")
    slack.command("/crm", "room annual licence")
    assert "didn't let me create a channel" in reply_text(standin)
    assert rows(app_server.services, LinkedChannel) == []
    slack.command("/crm", "link acme corporation")
    standin.wait_for("chat.postMessage")
    parent = seed_thread(standin, "C0SALES")
    standin.fail_next("conversations.replies", status=500, times=3)  # the client retries 5xx twice
    mention(slack, standin, "C0SALES", "<@U0BOT> log call", parent["ts"])
    [note] = standin.wait_for("chat.postEphemeral")
    assert "Nothing was logged" in note.params["text"] and "http 500" in note.params["text"]
    assert rows(app_server.services, Activity) == []


def test_log_without_a_type_asks_with_buttons(slack, standin, app_server, acme):
    slack.command("/crm", "link acme corporation")
    standin.wait_for("chat.postMessage")
    parent = seed_thread(standin, "C0SALES")
    mention(slack, standin, "C0SALES", "<@U0BOT> log", parent["ts"])
    [ask] = standin.wait_for("chat.postEphemeral")
    buttons = [e for b in ask.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    meeting = next(b for b in buttons if b["action_id"].endswith(":meeting"))
    slack.click(meeting["action_id"], meeting["value"])
    assert "Logged this thread" in reply_text(standin, 2)
    [activity] = rows(app_server.services, Activity)
    assert activity.type_key == "meeting" and activity.summary.startswith("Acme wants a price")


def test_a_thread_of_more_than_a_thousand_messages_is_capped_with_a_note(slack, standin, app_server, acme):
    slack.command("/crm", "link acme corporation")
    standin.wait_for("chat.postMessage")
    parent = seed_thread(standin, "C0SALES", n=1200)
    mention(slack, standin, "C0SALES", "<@U0BOT> log email", parent["ts"])
    answer = standin.wait_for("chat.postMessage", count=2, timeout=15)[1].params
    assert f"longer than {MAX_MESSAGES:,} messages" in answer["text"]
    pages = standin.calls_to("conversations.replies")
    assert len(pages) == 5 and all(int(p.params["limit"]) <= 200 for p in pages)
    [activity] = rows(app_server.services, Activity)
    assert "(the first 1,000 read)" in activity.summary


def test_log_in_an_unlinked_channel_says_how_to_link(slack, standin, app_server, acme):
    parent = seed_thread(standin, "C0SALES")
    mention(slack, standin, "C0SALES", "<@U0BOT> log call", parent["ts"])
    [note] = standin.wait_for("chat.postEphemeral")
    assert "isn't linked" in note.params["text"]
    app_server.drain()
    assert rows(app_server.services, Activity) == []


def test_the_message_shortcut_preselects_the_linked_customer(slack, standin, app_server, acme, deal, make):
    make.customer("Globex")
    slack.command("/crm", "link annual licence")
    standin.wait_for("chat.postMessage")
    message = standin.post_message("C0SALES", "Globex asked too, but this is about the licence", user=REP)
    slack.message_shortcut("log_activity_message", message)
    [opened] = standin.wait_for("views.open")
    view = json.dumps(opened.params["view"])
    assert "Acme Corporation" in view and "Annual licence" in view


def test_channel_events_are_recorded_and_stop_posts(slack, standin, app_server, acme):
    slack.command("/crm", "link acme corporation")
    standin.wait_for("chat.postMessage")
    slack.event({"type": "channel_rename", "channel": {"id": "C0SALES", "name": "acme-deals", "created": 1}})
    slack.event({"type": "channel_archive", "channel": "C0SALES", "user": REP})
    app_server.drain()
    [link] = rows(app_server.services, LinkedChannel)
    assert (link.channel_name, link.status) == ("acme-deals", LinkStatus.ARCHIVED)
    slack.event({"type": "channel_unarchive", "channel": "C0SALES", "user": REP})
    app_server.drain()  # events run on the work pool after their ack, in any order: Slack's come one by one
    slack.event({"type": "member_left_channel", "user": "U0BOT", "channel": "C0SALES", "channel_type": "C"})
    app_server.drain()
    assert rows(app_server.services, LinkedChannel)[0].status == LinkStatus.REMOVED


def test_alerts_subscribe_list_preview_and_off(slack, standin, app_server, acme, deal, make):
    slack.command("/crm", "alerts won new over 5000 by <@U0REP2|sam>")
    assert "gets deal alerts" in reply_text(standin)
    [sub] = rows(app_server.services, AlertSubscription)
    assert (sub.events, sub.min_amount_minor, sub.reps) == (["won", "new"], 500_000, [REP2])
    make.deal(acme, "Big one", amount="9000", owner=REP2)
    make.deal(acme, "Not theirs", amount="9000", owner=REP)
    services = app_server.services
    report = send_channel_posts(
        services.session_factory, make_poster(services, nudge_client(services), rate=0), services.now(), replica="r1"
    )
    assert report.sent == 1
    [post] = standin.calls_to("chat.postMessage")
    assert post.params["channel"] == "C0SALES" and "Big one" in post.params["text"]
    assert "sam" in post.params["text"] and "<@" not in json.dumps(post.params["blocks"])  # named, not pinged
    slack.command("/crm", "alerts list")
    assert "<#C0SALES>" in reply_text(standin, 2)
    slack.command("/crm", "alerts preview new")
    assert "Big one" in reply_text(standin, 3) and "Not theirs" in reply_text(standin, 3)
    slack.command("/crm", "alerts off")
    assert "won't get deal alerts" in reply_text(standin, 4)
    assert rows(services, AlertSubscription)[0].deleted_at is not None


def test_capture_is_turned_off_by_an_admin_and_then_refused(slack, standin, app_server, acme):
    slack.command("/crm", "capture channel off")
    assert "Only a workspace admin" in reply_text(standin)
    slack.command("/crm", "capture channel off", user=ADMIN)
    assert "linked channels (`channel`): *off*" in reply_text(standin, 2)
    slack.command("/crm", "link acme corporation")
    assert "turned off" in reply_text(standin, 3)
    app_server.drain()
    assert rows(app_server.services, LinkedChannel) == []


def test_a_stage_change_reaches_the_linked_room_once(slack, standin, app_server, acme, deal):
    slack.command("/crm", "link annual licence")
    standin.wait_for("chat.postMessage")
    services = app_server.services
    from crm.deals import DealInput, update_deal
    from crm.pipeline_stages import DEFAULT

    form = DealInput(title="Annual licence", amount="1000", currency="USD", stage="won", owner_user_id=REP2)
    update_deal(services.session_factory, services.workspace_id("T0TEST"), deal.id, form, actor=REP, stages=DEFAULT,
                now=services.now() + timedelta(minutes=1))  # fmt: skip
    poster = make_poster(services, nudge_client(services), rate=0)
    for _ in range(2):
        send_channel_posts(services.session_factory, poster, services.now() + timedelta(minutes=2), replica="r1")
    posts = [c for c in standin.calls_to("chat.postMessage") if c.params.get("metadata")]
    assert len(posts) == 1 and "was won" in posts[0].params["text"] and "rita" in posts[0].params["text"]


def test_the_stand_in_creates_and_invites_like_slack(standin):
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token="xoxb-test-token", base_url=standin.base_url)

    def error(call) -> str:
        with pytest.raises(SlackApiError) as exc:
            call()
        return exc.value.response["error"]

    room = client.conversations_create(name="deal-acme", is_private=True)["channel"]
    assert room["is_private"] and room["is_member"] and room["id"].startswith("G")
    assert error(lambda: client.conversations_create(name="deal-acme")) == "name_taken"
    assert error(lambda: client.conversations_create(name="Deal Acme!")) == "invalid_name_specials"
    assert error(lambda: client.conversations_create(name="x" * 81)) == "invalid_name_maxlength"
    client.conversations_invite(channel=room["id"], users=f"{REP},{REP2}")
    assert error(lambda: client.conversations_invite(channel=room["id"], users=REP)) == "already_in_channel"
    assert error(lambda: client.conversations_invite(channel=room["id"], users="U0BOT")) == "cant_invite_self"
    assert error(lambda: client.conversations_invite(channel=room["id"], users="U0NOBODY")) == "user_not_found"
    standin.remove_bot(room["id"])
    assert error(lambda: client.conversations_invite(channel=room["id"], users="U0MGR")) == "not_in_channel"
    standin.archive_channel("C0SALES")
    assert client.conversations_info(channel="C0SALES")["channel"]["is_archived"] is True
    assert error(lambda: client.chat_postMessage(channel="C0SALES", text="hi")) == "is_archived"


def test_alerts_tier_filter_end_to_end(slack, standin, app_server, acme, make):
    """`tier:A` is taken and described; a word that is no tier is refused, saying what the tiers are."""
    slack.command("/crm", "alerts won tier:gold")
    assert "The value tiers are A, B and C" in reply_text(standin)
    assert rows(app_server.services, AlertSubscription) == []
    slack.command("/crm", "alerts won new tier:A")
    assert "customers in tier A" in reply_text(standin, 2)
    [sub] = rows(app_server.services, AlertSubscription)
    assert sub.tier == "A"
    make.deal(acme, "Not key yet", amount="9000")  # Acme is not ranked yet: C, so no alert
    services = app_server.services
    report = send_channel_posts(
        services.session_factory, make_poster(services, nudge_client(services), rate=0), services.now(), replica="r1"
    )
    assert report.sent == 0 and not standin.calls_to("chat.postMessage")
