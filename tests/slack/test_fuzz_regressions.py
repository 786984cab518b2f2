"""Focused regressions for what tests/test_fuzz_entry_points.py found, one test per bug."""

from __future__ import annotations

import logging

import pytest

from commands.common import input_value
from commands.pickers import picked
from commands.request import FORM_EXPIRED
from tests.conftest import REP, TEAM_ID

TEAM = {"id": TEAM_ID}
USER = {"id": REP, "team_id": TEAM_ID}

# Signed payloads whose listener-picking fields are not what Slack sends: Bolt's matchers index
# them unchecked (``body["actions"][0]["action_id"]``) and raised inside dispatch.
MISSHAPEN = {
    "actions of strings": {"type": "block_actions", "team": TEAM, "user": USER, "actions": ["customer_show"]},
    "no actions": {"type": "block_actions", "team": TEAM, "user": USER, "actions": []},
    "actions not a list": {"type": "block_actions", "team": TEAM, "user": USER, "actions": {"action_id": "x"}},
    "action id a number": {"type": "block_actions", "team": TEAM, "user": USER, "actions": [{"action_id": 5}]},
    "view a string": {"type": "view_submission", "team": TEAM, "user": USER, "view": "customer_create"},
    "view without callback": {"type": "view_submission", "team": TEAM, "user": USER, "view": {"state": {}}},
    "view callback a list": {"type": "view_closed", "team": TEAM, "user": USER, "view": {"callback_id": ["x"]}},
    "suggestion without action": {"type": "block_suggestion", "team": TEAM, "user": USER, "value": "ac"},
    "shortcut callback a dict": {"type": "shortcut", "team": TEAM, "user": USER, "callback_id": {"a": 1}},
    "message shortcut callback 5": {"type": "message_action", "team": TEAM, "user": USER, "callback_id": 5},
    # the fuzz: a view whose state is text raised in every view handler (req.values) ...
    "view state a string": {
        "type": "view_submission",
        "team": TEAM,
        "user": USER,
        "view": {"type": "modal", "callback_id": "customer_edit", "state": "x", "private_metadata": ""},
    },
    # ... and, with no view type, Bolt's error path itself raised (is_workflow_step_save): a 500
    "view without type": {
        "type": "view_submission",
        "team": TEAM,
        "user": USER,
        "view": {"callback_id": "customer_edit", "state": {"values": {}}},
    },
    "state values of text": {
        "type": "view_submission",
        "team": TEAM,
        "user": USER,
        "view": {"type": "modal", "callback_id": "customer_edit", "state": {"values": {"b": "x"}}},
    },
    "metadata a number": {
        "type": "view_submission",
        "team": TEAM,
        "user": USER,
        "view": {"type": "modal", "callback_id": "customer_edit", "private_metadata": 5},
    },
    "channel a number": {
        "type": "block_actions",
        "team": TEAM,
        "user": USER,
        "channel": 5,
        "actions": [{"action_id": "customer_show", "value": "1"}],
    },
    "container a string": {
        "type": "block_actions",
        "team": TEAM,
        "user": USER,
        "container": "view",
        "actions": [{"action_id": "customer_show", "value": "1"}],
    },
    "selected option a string": {
        "type": "block_actions",
        "team": TEAM,
        "user": USER,
        "actions": [{"action_id": "contact_menu", "selected_option": "edit:1"}],
    },
    "authorizations a string": {
        "type": "shortcut",
        "team": TEAM,
        "user": USER,
        "callback_id": "x",
        "authorizations": "a",
    },
}


@pytest.mark.parametrize("payload", list(MISSHAPEN.values()), ids=list(MISSHAPEN))
def test_misshapen_interactions_are_refused_before_bolt(slack, standin, app_server, caplog, payload):
    caplog.set_level(logging.INFO)
    resp = slack.post_payload(payload)
    app_server.drain()
    assert resp.status == 400, resp.text
    assert standin.calls == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    "envelope",
    [
        {"type": "event_callback", "team_id": TEAM_ID, "event": "app_mention"},
        {"type": "event_callback", "team_id": TEAM_ID, "event": {"type": 5, "user": REP}},
        {"type": "event_callback", "team_id": TEAM_ID, "event": {"user": REP}},
        {"command": ["/crm"], "team_id": TEAM_ID, "user_id": REP, "text": "help"},
        {"type": "event_callback", "team_id": TEAM_ID, "event": {"type": "app_mention", "user": REP, "channel": [1]}},
        {"type": "event_callback", "team_id": TEAM_ID, "authorizations": [5], "event": {"type": "app_mention"}},
    ],
    ids=[
        "event a string",
        "event type a number",
        "event without type",
        "command a list",
        "event channel a list",
        "authorization a number",
    ],
)
def test_misshapen_events_and_commands_are_refused_before_bolt(slack, standin, app_server, caplog, envelope):
    caplog.set_level(logging.INFO)
    resp = slack.post_json(envelope)
    app_server.drain()
    assert resp.status == 400, resp.text
    assert standin.calls == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_well_shaped_click_still_gets_through(slack, standin, app_server):
    app_server.services.workspace_id(TEAM_ID)
    assert slack.click("customer_show", "999999", user=REP).status == 200
    app_server.drain()
    assert standin.calls  # answered ("no such customer"), not refused


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"b": "x"},
        {"b": {"a": "x"}},
        {"b": {"a": {"type": "static_select", "selected_option": "x"}}},
        {"b": {"a": {"type": "checkboxes", "selected_options": "x"}}},
        {"b": {"a": {"type": "checkboxes", "selected_options": ["x", {"value": "1"}]}}},
    ],
)
def test_a_misshapen_input_reads_as_empty(values):
    assert input_value(values, "b", "a") in (None, [], ["1"])
    element = (values.get("b") or {}).get("a") if isinstance(values.get("b"), dict) else None
    assert picked(element if isinstance(element, dict) else {}) is None


@pytest.mark.parametrize("url", ["0", "", "https://evil.example/hooks/1", "javascript:alert(1)", "http://[::1"])
def test_a_response_url_that_is_not_slacks_gets_an_ephemeral_answer_instead(slack, standin, app_server, caplog, url):
    """The fuzz: a signed ``/crm merge`` naming response_url "0" raised in urllib (unknown url type)."""
    caplog.set_level(logging.INFO)
    app_server.services.workspace_id(TEAM_ID)
    slack.response_url_factory = lambda: url
    assert slack.command("/crm", "merge", user=REP).status == 200
    app_server.drain()
    answers = ("chat.postEphemeral", "chat.postMessage", "response_url")
    assert [c.method for c in standin.calls if c.method in answers] == ["chat.postEphemeral"]
    assert "merge" in standin.calls_to("chat.postEphemeral")[0].params["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_used_or_missing_trigger_is_told_in_one_sentence(slack, standin, app_server, caplog):
    """The fuzz: a shortcut whose trigger Slack refused (used already, or none) logged a traceback
    and told the user "Something went wrong"."""
    caplog.set_level(logging.INFO)
    app_server.services.workspace_id(TEAM_ID)
    payload = {"type": "shortcut", "callback_id": "log_activity_global", "team": TEAM, "user": USER}
    for trigger in ("1.2.same", "1.2.same", None):  # fresh, then exchanged already, then missing
        body = dict(payload, trigger_id=trigger) if trigger else payload
        assert slack.post_payload(body).status == 200
        app_server.drain()
    assert len(standin.calls_to("views.open")) == 2  # the second attempt was refused by Slack
    told = [c.params["text"] for c in standin.calls if c.method in ("chat.postMessage", "chat.postEphemeral")]
    assert told == [FORM_EXPIRED, FORM_EXPIRED]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
