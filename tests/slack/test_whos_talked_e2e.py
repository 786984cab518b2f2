"""“Who's talked to this customer?”: the question parser and builders (pure), then end to end:
signed events, shortcuts, commands and clicks to the running app, answers read from the stand-in."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.dev.blockkit_check import validate_message
from commands.whos_talked import questions
from commands.whos_talked import views as wt
from commands.whos_talked.handlers import DUPLICATE
from crm import customers as svc
from crm import insights
from crm.models import Activity, Customer, ProcessedEvent
from tests.conftest import REP, REP2
from tests.support.hostile import PLANTED, assert_nothing_raw, mrkdwn_in, wait_logged

WHEN = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)  # 09:00 in New York, where REP lives


# -- pure: reading the question ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent", "query"),
    [
        ("<@U0BOT> who's talked to Acme?", True, "Acme"),
        ("who has spoken with Globex Corp lately?", True, "Globex Corp"),
        ("who knows anyone at Initech", True, "Initech"),
        ("what's our history with acme", True, "acme"),
        ("has anyone here spoken with Umbrella recently?", True, "Umbrella"),
        ("somebody met Hooli this week?", True, "Hooli"),
        ("Who talked to <mailto:jane@acme.com|jane@acme.com>?", True, "jane@acme.com"),
        ("anyone talked to them?", True, None),
        ("<@U0BOT> who's talked to this customer?", True, None),
        ("who's been in touch with them", True, None),
        ("<@U0BOT>", False, None),
        (":tada: :rocket:", False, None),
        ("hello there", False, None),
    ],
)
def test_parse_question(text, intent, query):
    question = questions.parse_question(questions.plain_text(text))
    assert (question.intent, question.query) == (intent, query)


def test_plain_text_reads_slack_markup():
    text = questions.plain_text(
        "cc <@U1> <!here> in <#C1|sales>: <https://acme.com|Acme site> &amp; <mailto:a@b.co|a@b.co>"
    )
    assert "U1" not in text and "here" not in text
    assert text == "cc in #sales : Acme site ( https://acme.com ) & a@b.co"


# -- pure: builders ------------------------------------------------------------------------------
def summary_with(reps: int) -> insights.WhoTalked:
    return insights.WhoTalked(
        customer_id=7,
        customer_name="Acme <!channel> Corp",
        owner_user_id="U0OWNER",
        reps=[
            insights.RepSummary(
                rep=f"U{i:04d}",
                total=3,
                by_type=(("call", 2), ("email", 1)),
                last_at=WHEN - timedelta(days=i),
                last_type="call",
                last_summary="Talked <@U999> pricing " + "x" * 600,
                contacts=tuple(f"Contact {k} <b>" for k in range(5)),
                contact_count=9,
            )
            for i in range(min(reps, wt.REPS_SHOWN))
        ],
        rep_count=reps,
        activity_count=reps * 3,
    )


def mrkdwn_texts(node) -> str:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            found.append(node.get("text", ""))
        found += [mrkdwn_texts(v) for v in node.values()]
    elif isinstance(node, list):
        found += [mrkdwn_texts(v) for v in node]
    return "\n".join(found)


def test_answer_with_60_reps_fits_slack_and_pings_nobody():
    names = {f"U{i:04d}": f"<!here> rep {i}" for i in range(60)}
    text, blocks = wt.build_answer(
        summary_with(60),
        names=names,
        type_label=lambda k: k.title(),
        tz="America/New_York",
        now=WHEN,
        note=wt.SHARED_NOTE,
    )
    assert validate_message({"text": text, "blocks": blocks}) == []
    assert len(blocks) <= 50
    assert text.startswith("Who's talked to Acme &lt;!channel&gt; Corp: &lt;!here&gt; rep 0 (3)")
    shown = mrkdwn_texts(blocks)
    assert "…and 45 more people" in shown and "Times are in America/New_York" in shown
    assert "<@" not in shown and "<!" not in shown and "<b>" not in shown  # everything escaped
    assert "Call ×2, Email ×1" in shown and "Contact 0 &lt;b&gt;" in shown and "and 4 more" in shown
    assert "today 09:00" in shown and wt.SHARED_NOTE in shown
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(e["action_id"], e["value"]) for e in buttons] == [(wt.OPEN_CARD, "7"), (wt.LOG_OPEN, "7")]


def test_no_activity_pick_and_not_found_messages_are_valid():
    for text, blocks in (
        wt.build_answer(summary_with(0), names={}, type_label=str, tz="UTC", now=WHEN),
        wt.build_pick(
            [insights.CustomerRef(i, f"Acme {'x' * 100} {i}", "acme", "name") for i in range(30)], private=False
        ),
        wt.build_not_found("<!channel>" * 50),
        wt.build_not_found(None, note=wt.SHARED_NOTE),
        wt.build_help(),
    ):
        assert validate_message({"text": text, "blocks": blocks}) == []
        assert "<!channel>" not in mrkdwn_texts(blocks) and "<!channel>" not in text
    text, blocks = wt.build_answer(summary_with(0), names={}, type_label=str, tz="UTC", now=WHEN)
    assert text.startswith("Nobody has logged anything with Acme")
    assert blocks[1]["elements"][0]["action_id"] == wt.LOG_OPEN


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def acme(make, ws):
    customer = make.customer("Acme Corporation", owner_user_id=REP2, contacts=["Jane Doe"])
    jane = svc.list_contacts(make.services.session_factory, ws, customer.id)[0].id
    make.activity(customer.id, "Discussed <!channel> renewal", type_key="call", at=WHEN, by=REP, contact=jane)
    make.activity(customer.id, "Sent the deck", type_key="email", at=WHEN - timedelta(days=2), by=REP)
    make.activity(customer.id, "Kick-off", type_key="meeting", at=WHEN - timedelta(days=30), by=REP2)
    return customer


def ask(slack, standin, text, *, channel="C0SALES", user=REP, thread_ts=None, event_id=None, **extra):
    """Post the message in the stand-in (so threads can be read), then deliver its app_mention."""
    message = standin.post_message(channel, text, user=user, thread_ts=thread_ts)
    event = {"type": "app_mention", "user": user, "text": text, "ts": message["ts"], "channel": channel}
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update(extra)
    assert slack.event(event, event_id=event_id).status == 200
    return message


def blocks_text(params) -> str:
    return json.dumps(params.get("blocks"), ensure_ascii=False)


@pytest.fixture
def logged(caplog):
    """The who's-talked handlers' log records (they say what they skipped, and why)."""
    caplog.set_level(logging.INFO, logger="commands.whos_talked.handlers")
    return lambda: list(caplog.records)


def test_mention_answers_in_a_new_thread(slack, standin, acme):
    question = ask(slack, standin, "<@U0BOT> who's talked to Acme?")
    [call] = standin.wait_for("chat.postMessage")
    reply = call.params
    assert reply["channel"] == "C0SALES" and reply["thread_ts"] == question["ts"]
    shown = blocks_text(reply)
    assert "Who's talked to Acme Corporation" in shown
    assert "*rita* · 2 activities: 📞 Call ×1, ✉️ Email ×1" in shown  # display names, not pings
    assert "Wed 15 Jan 2025, 09:00" in shown  # the asker's zone
    assert "Discussed &lt;!channel&gt; renewal" in shown and "Jane Doe" in shown
    assert "*Owner:* sam" in shown and "3 activities by 2 people" in shown
    assert shown.index("rita") < shown.index("*sam* · 1 activity")  # most recent first
    assert "<@U0REP>" not in shown and "<!channel>" not in mrkdwn_texts(reply["blocks"])
    assert reply["text"] == "Who's talked to Acme Corporation: rita (2), sam (1)"
    buttons = {e["action_id"]: e["value"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert buttons == {wt.OPEN_CARD: str(acme.id), wt.LOG_OPEN: str(acme.id)}
    assert [m["text"] for m in standin.messages("C0SALES") if m.get("thread_ts") == question["ts"]][-1] == reply["text"]


@pytest.mark.parametrize(
    "text",
    ["who has spoken with acme corp lately?", "who knows Acme", "history with ACME?", "anyone talked to acme"],
)
def test_natural_variants(slack, standin, acme, text):
    ask(slack, standin, f"<@U0BOT> {text}")
    assert "Who's talked to Acme Corporation" in blocks_text(standin.wait_for("chat.postMessage")[0].params)


def test_retries_and_duplicates_answer_once(slack, standin, app_server, acme, logged):
    question = ask(slack, standin, "<@U0BOT> who's talked to Acme?", event_id="Ev0ONCE")
    standin.wait_for("chat.postMessage")
    event = {"type": "app_mention", "user": REP, "text": "who's talked to Acme?", "ts": question["ts"]}
    event["channel"] = "C0SALES"
    assert slack.event(event, event_id="Ev0ONCE", retry_num=1).status == 200  # Slack's retry
    assert slack.event(event, event_id="Ev0ONCE", retry_num=2).status == 200
    assert slack.event(event, event_id="Ev0OTHER").status == 200  # the same message delivered again
    assert slack.event({**event, "edited": {"user": REP, "ts": "1"}}, event_id="Ev0EDIT").status == 200
    wait_logged(logged, DUPLICATE, count=4)  # each duplicate was seen and skipped
    ask(slack, standin, "<@U0BOT> who's talked to Acme?")  # a new question does get its answer
    standin.wait_for("chat.postMessage", count=2)
    calls = standin.calls_to("chat.postMessage")
    assert len(calls) == 2 and calls[1].params["thread_ts"] != question["ts"]
    with app_server.services.session_factory() as s:
        keys = set(s.scalars(select(ProcessedEvent.event_key)))
    assert "event:Ev0ONCE" in keys and f"mention:C0SALES:{question['ts']}" in keys


def test_them_reads_the_thread_parent(slack, standin, app_server, ws, acme, make):
    make.customer("Globex")
    parent = standin.post_message("C0SALES", "Call notes: Acme wants pricing for 200 seats", user=REP2)
    ask(slack, standin, "<@U0BOT> who's talked to them?", thread_ts=parent["ts"])
    [reply] = standin.wait_for("chat.postMessage")
    assert reply.params["thread_ts"] == parent["ts"] and "Acme Corporation" in blocks_text(reply.params)
    [replies] = standin.calls_to("conversations.replies")
    assert replies.params["ts"] == parent["ts"] and str(replies.params["limit"]) == "1"


def test_several_customers_in_the_parent_ask_with_buttons(slack, standin, app_server, ws, acme, make):
    globex = make.customer("Globex")
    make.activity(globex.id, "Demo went well", type_key="demo", at=WHEN, by=REP2)
    parent = standin.post_message("C0SALES", "Acme and Globex both asked about SSO", user=REP2)
    ask(slack, standin, "<@U0BOT> who has talked to them?", thread_ts=parent["ts"])
    [pick] = standin.wait_for("chat.postMessage")
    assert pick.params["thread_ts"] == parent["ts"] and pick.params["text"].startswith("Which customer")
    buttons = [b["accessory"] for b in pick.params["blocks"] if "accessory" in b]
    assert [(e["action_id"], e["value"]) for e in buttons] == [
        (wt.PICK, f"{acme.id}:thread"),
        (wt.PICK, f"{globex.id}:thread"),
    ]
    stored = next(m for m in standin.messages("C0SALES") if m.get("text", "").startswith("Which customer"))
    slack.click(wt.PICK, f"{globex.id}:thread", message=stored)
    calls = standin.wait_for("chat.postMessage", count=2)
    assert calls[1].params["thread_ts"] == parent["ts"] and "Who's talked to Globex" in blocks_text(calls[1].params)
    replaced = standin.wait_for("response_url")[0].params
    assert replaced["replace_original"] is True and "picked *Globex*" in blocks_text(replaced)
    slack.click(wt.PICK, f"{acme.id}:thread", message=stored)  # a second click answers nobody twice
    notes = standin.wait_for("response_url", count=2)
    assert "already picked" in notes[1].params["text"]
    assert len(standin.calls_to("chat.postMessage")) == 2


def test_ext_shared_channel_answers_privately_and_says_why(slack, standin, app_server, acme):
    standin.add_channel("C0SHARED", name="acme-partners", is_ext_shared=True)
    ask(slack, standin, "<@U0BOT> who's talked to Acme?", channel="C0SHARED")
    [call] = standin.wait_for("chat.postEphemeral")
    assert call.params["channel"] == "C0SHARED" and call.params["user"] == REP
    # Asked in the channel: answered in the channel, where the asker is looking, not hidden in a thread.
    assert "thread_ts" not in call.params
    assert "Who's talked to Acme Corporation" in blocks_text(call.params)
    assert "shared with another organisation" in blocks_text(call.params)
    app_server.drain()  # handled completely: nothing more is on its way
    assert [m for m in standin.messages("C0SHARED") if m.get("user") == "U0BOT"] == []
    assert standin.calls_to("chat.postMessage") == []


def test_asked_inside_a_thread_of_a_shared_channel_the_private_answer_stays_in_the_thread(slack, standin, acme):
    standin.add_channel("C0SHARED", name="acme-partners", is_ext_shared=True)
    parent = standin.post_message("C0SHARED", "Renewal talks with Acme next week", user=REP2)
    ask(slack, standin, "<@U0BOT> who's talked to Acme?", channel="C0SHARED", thread_ts=parent["ts"])
    [call] = standin.wait_for("chat.postEphemeral")
    assert call.params["thread_ts"] == parent["ts"]  # the asker is in that thread
    assert "shared with another organisation" in blocks_text(call.params)


def test_unknown_sharing_is_treated_as_shared(slack, standin, app_server, acme):
    standin.fail_next("conversations.info", error="missing_scope")
    ask(slack, standin, "<@U0BOT> who's talked to Acme?")
    [call] = standin.wait_for("chat.postEphemeral")
    assert "couldn't check who else is in this channel" in blocks_text(call.params)
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("chat.postMessage") == []


def test_no_activity_offers_to_log_the_first_call(slack, standin, app_server, ws, make):
    initech = make.customer("Initech")
    ask(slack, standin, "<@U0BOT> who's talked to Initech?")
    reply = standin.wait_for("chat.postMessage")[0].params
    assert reply["text"] == "Nobody has logged anything with Initech yet — log the first call?"
    buttons = {e["action_id"]: e["value"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert buttons[wt.LOG_OPEN] == str(initech.id)
    slack.click(wt.LOG_OPEN, str(initech.id))  # commands/activities.py opens its form
    assert standin.wait_for("views.open")[0].ok


def test_unknown_customer_and_nothing_in_the_thread(slack, standin, acme):
    ask(slack, standin, "<@U0BOT> who's talked to Zyxwvut Industries?")
    assert (
        "couldn't find a customer called “Zyxwvut Industries”" in standin.wait_for("chat.postMessage")[0].params["text"]
    )
    parent = standin.post_message("C0SALES", "lunch anyone? I could eat an apple", user=REP2)
    ask(slack, standin, "<@U0BOT> who's talked to them?", thread_ts=parent["ts"])
    assert "couldn't tell which customer" in standin.wait_for("chat.postMessage", count=2)[1].params["text"]
    ask(slack, standin, "<@U0BOT> who's talked to them?")  # top level: no thread to read
    assert "couldn't tell which customer" in standin.wait_for("chat.postMessage", count=3)[2].params["text"]


def test_bad_input_is_answered_or_ignored_on_purpose(slack, standin, acme, logged):
    ask(slack, standin, "<@U0BOT>")  # nothing asked: a private hint
    ask(slack, standin, "<@U0BOT> :tada: :rocket:")
    hints = standin.wait_for("chat.postEphemeral", count=2)
    assert all("who has talked to a customer" in c.params["text"] for c in hints)
    assert all(c.params["user"] == REP and c.params.get("thread_ts") for c in hints)
    # Not a who-talked question: a hint too, never silence (an untaken event would be retried).
    ask(slack, standin, "<@U0BOT> what's the weather?")
    assert "who has talked to a customer" in standin.wait_for("chat.postEphemeral", count=3)[2].params["text"]
    # Ignored: another bot, the bot itself, an edit.
    ask(slack, standin, "<@U0BOT> who's talked to Acme?", user="U0OTHERBOT", bot_id="B0OTHER")
    ask(slack, standin, "<@U0BOT> who's talked to Acme?", user="U0BOT")
    ask(slack, standin, "<@U0BOT> who's talked to Acme?", subtype="message_changed")
    for why in ("a mention by a bot", "an edited message"):
        wait_logged(logged, f"ignoring {why}")  # (Bolt drops the bot's own mention before answering 200)
    # In a DM: answered there, no sharing check, no new thread.
    assert (
        slack.event(
            {
                "type": "app_mention",
                "user": REP,
                "text": "who knows Acme?",
                "ts": "1700000999.000100",
                "channel": "D0REP",
            }
        ).status
        == 200
    )
    standin.wait_for("chat.postMessage")
    [dm] = standin.calls_to("chat.postMessage")  # the ignored mentions were answered by nothing
    assert dm.params["channel"] == "D0REP" and not dm.params.get("thread_ts")
    assert "Acme Corporation" in blocks_text(dm.params)
    assert all(c.params["channel"] != "D0REP" for c in standin.calls_to("conversations.info"))


def test_message_shortcut_answers_in_that_messages_thread(slack, standin, app_server, ws, acme, make):
    make.customer("Stark Industries", website="stark.com")
    note = standin.post_message("C0SALES", "Tony from stark.com called", user=REP2)
    shortcut = {"type": "message", "user": REP2, "text": note["text"], "ts": note["ts"]}
    slack.message_shortcut(wt.MESSAGE_SHORTCUT, shortcut)
    [reply] = standin.wait_for("chat.postMessage")
    assert reply.params["thread_ts"] == note["ts"]
    assert reply.params["text"] == "Nobody has logged anything with Stark Industries yet — log the first call?"
    # On a reply inside a thread: the answer joins that thread, and a reply naming nobody
    # falls back to the thread's first message.
    parent = standin.post_message("C0SALES", "Acme Corporation renewal", user=REP2)
    inner = standin.post_message("C0SALES", "any news?", user=REP, thread_ts=parent["ts"])
    slack.message_shortcut(
        wt.MESSAGE_SHORTCUT,
        {"type": "message", "user": REP, "text": inner["text"], "ts": inner["ts"], "thread_ts": parent["ts"]},
    )
    calls = standin.wait_for("chat.postMessage", count=2)
    assert calls[1].params["thread_ts"] == parent["ts"] and "Acme Corporation" in blocks_text(calls[1].params)


def test_crm_who_is_private(slack, standin, app_server, ws, acme):
    slack.command("/crm", "who acme corp")
    reply = standin.wait_for("response_url")[0].params
    assert reply["response_type"] == "ephemeral" and "Who's talked to Acme Corporation" in blocks_text(reply)
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("chat.postMessage") == []
    slack.command("/crm", "who")
    assert "Which customer?" in standin.wait_for("response_url", count=2)[1].params["text"]
    slack.command("/crm", "help")
    assert "/crm who acme" in blocks_text(standin.wait_for("response_url", count=3)[2].params)


def test_crm_who_with_several_matches_then_a_private_pick(slack, standin, app_server, ws, make):
    make.customer("Acme Analytics")
    robotics = make.customer("Acme Robotics")
    make.activity(robotics.id, "Robots!", type_key="call", at=WHEN, by=REP2)
    slack.command("/crm", "who acme")
    pick = standin.wait_for("response_url")[0].params
    values = [b["accessory"]["value"] for b in pick["blocks"] if "accessory" in b]
    assert f"{robotics.id}:private" in values and len(values) == 2
    slack.click(wt.PICK, f"{robotics.id}:private")
    answer = standin.wait_for("response_url", count=2)[1].params
    assert answer["replace_original"] is True and "Who's talked to Acme Robotics" in blocks_text(answer)
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("chat.postMessage") == []


def test_open_card_button_shows_the_card_without_replacing_the_answer(slack, standin, acme):
    slack.click(wt.OPEN_CARD, str(acme.id))
    card = standin.wait_for("response_url")[0].params
    assert card["response_type"] == "ephemeral" and card["replace_original"] is False
    assert "Acme Corporation" in blocks_text(card) and "Jane Doe" in blocks_text(card)


def test_sixty_reps_fit_in_one_message(slack, standin, app_server, ws, acme, make):
    for i in range(60):
        standin.add_user(f"U1{i:04d}", name=f"rep{i}", tz="UTC")
        make.activity(acme.id, f"call {i}", type_key="call", at=WHEN - timedelta(hours=i), by=f"U1{i:04d}")
    ask(slack, standin, "<@U0BOT> who's talked to Acme?")
    reply = standin.wait_for("chat.postMessage", timeout=15)[0].params
    assert validate_message(reply) == []
    assert "and 47 more people" in blocks_text(reply)
    with app_server.services.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == 63


# -- hostile input (issue 12) -----------------------------------------------------------------------
def test_every_answer_escapes_what_users_typed_and_pings_nobody_in_public(slack, standin, app_server, ws, make):
    s = app_server.services
    standin.add_user("U0HANK", name=f"Hank {PLANTED}", tz="UTC")
    one = make.customer(f"Planted {PLANTED} One", contact=svc.ContactInput(name=f"Jane {PLANTED}"))
    make.customer(f"Planted {PLANTED} Two", force=True)
    jane = svc.list_contacts(s.session_factory, ws, one.id)[0].id
    make.activity(one.id, f"Summary {PLANTED}", type_key="call", at=WHEN, by="U0HANK", contact=jane)
    make.activity(one.id, f"Forged rep {PLANTED}", type_key="email", at=WHEN - timedelta(days=1), by="<!here>")
    with s.session_factory.begin() as session:  # a row written by hand (an import, an old version)
        session.get(Customer, one.id).owner_user_id = "<!channel>"
    # In a channel: "which customer?", picked by Hank, then the answer in the thread.
    ask(slack, standin, "<@U0BOT> who's talked to planted?")
    [pick] = standin.wait_for("chat.postMessage")
    assert pick.params["text"].startswith("Which customer")
    stored = next(m for m in standin.messages("C0SALES") if m.get("text", "").startswith("Which customer"))
    slack.click(wt.PICK, f"{one.id}:thread", message=stored, user="U0HANK")
    answer = standin.wait_for("chat.postMessage", count=2)[1].params
    assert "Summary &lt;!channel&gt;" in blocks_text(answer) and "Jane &lt;!channel&gt;" in blocks_text(answer)
    picked = standin.wait_for("response_url")[0].params
    assert "Hank &lt;!channel&gt;" in blocks_text(picked)
    # Privately: `/crm who`, its pick, and the card.
    slack.command("/crm", "who planted", user=REP2)
    slack.click(wt.PICK, f"{one.id}:private", user=REP2)
    slack.click(wt.OPEN_CARD, str(one.id), user=REP2)
    standin.wait_for("response_url", count=4)
    assert_nothing_raw(standin)
    for call in standin.calls_to("chat.postMessage"):  # public: people named, nobody pinged
        shown = [call.params["text"], *mrkdwn_in(call.params["blocks"])]
        assert not any("<@" in t or "<!" in t for t in shown), shown


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("action_id", "value"),
    [(wt.PICK, f"{HUGE}:thread"), (wt.PICK, f"{HUGE}:private"), (wt.PICK, "1e9:thread"), (wt.OPEN_CARD, HUGE)],
)
def test_buttons_with_forged_ids_say_it_is_gone(slack, standin, app_server, ws, acme, action_id, value):
    message = standin.post_message("C0SALES", "Which customer do you mean?", user="U0BOT")
    slack.click(action_id, value, message=message)
    [reply] = standin.wait_for("response_url")
    assert "no longer exists" in reply.params["text"] and reply.params["response_type"] == "ephemeral"
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("chat.postMessage") == []
    with app_server.services.session_factory() as s:  # a forged click claims no pick
        assert not any(k.startswith("pick:") for k in s.scalars(select(ProcessedEvent.event_key)))
