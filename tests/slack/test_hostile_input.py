"""Every slash command, fed hostile text, answers sensibly: never a crash, never a ping, nothing half-written."""

from __future__ import annotations

import json
import time

import pytest

from crm import customers as csvc
from tests.conftest import ADMIN, REP

SUBCOMMANDS = [
    "help", "find", "new", "merge", "log", "followup", "followups", "deal", "pipeline", "digest", "duplicates", "who",
]  # fmt: skip
HOSTILE = {
    "long": "x" * 2000,
    "emoji": "🚀🔥💯 " * 20,
    "rtl": "شركة الأمل \u202eevil\u202c",
    "sql": "'; DROP TABLE customers; -- %_%",
    "control": "acme\x00\x07\x1b[31m\r\n",
    "mrkdwn": "<!channel> <@U0ADMIN> *bold* <http://evil.example|click>",
    "dates": "25:00 tomorrowish 32/13 into into",
}


def replies_or_views(standin, before: int) -> list:
    deadline = time.time() + 5
    while time.time() < deadline:
        calls = [c for c in standin.calls if c.method in ("response_url", "views.open", "chat.postEphemeral")]
        if len(calls) > before:
            return calls[before:]
        time.sleep(0.02)
    return []


def mrkdwn_of(node) -> str:
    if isinstance(node, dict):
        own = node.get("text", "") if node.get("type") == "mrkdwn" else ""
        return own + "".join(mrkdwn_of(v) for v in node.values())
    if isinstance(node, list):
        return "".join(mrkdwn_of(v) for v in node)
    return ""


COMMANDS = [("/crm", f"{sub} ") for sub in SUBCOMMANDS] + [("/customer", ""), ("/log", "")]


@pytest.mark.parametrize(("command", "prefix"), COMMANDS, ids=[f"{c} {p}".strip() for c, p in COMMANDS])
def test_every_command_survives_hostile_text(slack, standin, app_server, command, prefix):
    services = app_server.services
    ws = services.workspace_id("T0TEST")
    csvc.create_customer(services.session_factory, services.search, ws, actor=REP, name="Acme Corporation")
    for name, text in HOSTILE.items():
        for user in (REP, ADMIN):
            before = len([c for c in standin.calls if c.method in ("response_url", "views.open", "chat.postEphemeral")])
            resp = slack.command(command, prefix + text, user=user)
            assert resp.status == 200, (command, prefix, name)
            answers = replies_or_views(standin, before)
            assert answers, f"{command} {prefix}with {name} text got no answer"
            for call in answers:
                body = json.dumps(call.params, ensure_ascii=False)
                assert "Something went wrong" not in body, (command, prefix, name, body[:300])
                assert "<!channel>" not in mrkdwn_of(call.params), (command, prefix, name)
    app_server.drain()  # answers that came after the first one are checked too
    for call in standin.calls:
        body = json.dumps(call.params, ensure_ascii=False)
        assert "Something went wrong" not in body, (command, prefix, body[:300])
        assert "<!channel>" not in mrkdwn_of(call.params), (command, prefix, body[:300])


BUTTONS = [
    "customer_show", "customer_share", "customer_edit_open", "contact_add_open", "customer_history",
    "customer_history_older", "customer_create_open", "customer_merge_confirm", "customer_merge_cancel",
    "customer_use_existing", "activity_log_open", "followup_add_open", "activity_undo", "activity_delete",
    "activity_restore", "activity_edit", "followup_done", "followup_reschedule_open", "home_find_customer",
    "home_new_customer", "deal_new_open", "deal_edit_open", "deal_list_show", "whos_talked_pick", "whos_talked_card",
]  # fmt: skip
FORGED_VALUES = ["", "abc", "999999", "1:2:3", "-1", "0", "x" * 2000, "1; DROP TABLE deals"]


@pytest.mark.parametrize("action_id", BUTTONS)
def test_forged_or_stale_button_values_never_crash(slack, standin, app_server, action_id):
    services = app_server.services
    services.workspace_id("T0TEST")
    for value in FORGED_VALUES:
        resp = slack.click(action_id, value, user=REP)
        assert resp.status == 200, (action_id, value)
    app_server.drain()  # listeners run after the ack: wait until every click was handled
    for call in standin.calls:
        body = json.dumps(call.params, ensure_ascii=False)
        assert "Something went wrong" not in body, (action_id, body[:300])


VIEWS = ["activity_log", "followup_add", "customer_create", "customer_edit", "contact_save", "deal_save",
         "followup_reschedule", "home_find"]  # fmt: skip
FORGED_METADATA = [
    "",
    "not json",
    "[1, 2]",
    '{"customer": "abc", "deal": "x", "id": "y", "contact": "z", "channel": 5}',
    '{"customer": 999999, "deal": 999999, "contact": -4}',
]


@pytest.mark.parametrize("callback_id", VIEWS)
def test_forged_or_empty_submissions_never_crash(slack, standin, app_server, callback_id):
    app_server.services.workspace_id("T0TEST")
    for meta in FORGED_METADATA:
        resp = slack.view_submission(callback_id, {}, private_metadata=meta, user=REP)
        assert resp.status == 200, (callback_id, meta, resp.text[:200])
        if resp.text:  # an answer is field errors (or an updated view), never a server error
            assert resp.json().get("response_action") in ("errors", "update", "push", "clear"), resp.text[:200]
    app_server.drain()
    for call in standin.calls:
        assert "Something went wrong" not in json.dumps(call.params, ensure_ascii=False), callback_id


@pytest.mark.parametrize(
    "event",
    [
        {"type": "app_home_opened", "tab": "home"},  # no user
        {"type": "app_home_opened", "user": REP, "tab": "messages"},  # the Messages tab: nothing to publish
        {"type": "app_mention", "channel": "C0SALES", "ts": "1.1"},  # no user, no text
        {"type": "app_mention", "user": REP, "channel": "C0SALES", "ts": "1.2", "text": "\u202e\x00" * 500},
    ],
)
def test_odd_events_are_acknowledged_and_never_crash(slack, standin, app_server, event):
    assert slack.event(event).status == 200
    app_server.drain()  # the event was handled completely: whatever it was going to send, it has sent
    for call in standin.calls:
        assert "Something went wrong" not in json.dumps(call.params, ensure_ascii=False)
    if event.get("tab") == "messages":
        assert standin.calls_to("views.publish") == []
