"""The playground's payload builders: what a click or a keystroke becomes, as Slack would send it."""

from __future__ import annotations

import pytest

from bot.dev.playground import payloads

SENDER = payloads.Sender("T0PLAY", "playground", "A0APP", "U0REP", "rep")
MESSAGE = {"type": "message", "ts": "1.000001", "text": "hi"}


def where(*, ephemeral: bool) -> payloads.InMessage:
    return payloads.InMessage("C0SALES", "sales", "1.000001", MESSAGE, ephemeral, "https://slack.test/response/R1")


def test_every_interaction_names_the_team_the_user_and_the_app():
    base = SENDER.base()
    assert base["team"] == {"id": "T0PLAY", "domain": "playground"}
    assert base["user"] == {"id": "U0REP", "username": "rep", "name": "rep", "team_id": "T0PLAY"}
    assert base["api_app_id"] == "A0APP" and base["token"] == payloads.TOKEN


def test_a_slash_command_is_the_form_slack_posts():
    channel = {"id": "D0REP", "name": "U0REP", "is_im": True}
    form = payloads.slash_command(SENDER, "/crm", "help", channel=channel, response_url="R", trigger_id="X")
    assert form["command"] == "/crm" and form["text"] == "help"
    assert form["channel_id"] == "D0REP" and form["channel_name"] == "directmessage"
    assert form["user_id"] == "U0REP" and form["trigger_id"] == "X" and form["response_url"] == "R"
    assert all(isinstance(v, str) for v in form.values())


@pytest.mark.parametrize("ephemeral", [False, True])
def test_a_click_in_a_message_carries_the_message_unless_only_the_user_sees_it(ephemeral):
    action = {"type": "button", "action_id": "customer_show", "value": "7"}
    payload = payloads.block_actions(SENDER, action, trigger_id="X", values=None, where=where(ephemeral=ephemeral))
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "customer_show" and payload["actions"][0]["block_id"] == "b"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.000001",
        "channel_id": "C0SALES",
        "is_ephemeral": ephemeral,
    }
    assert ("message" in payload) is not ephemeral
    assert payload["response_url"] == "https://slack.test/response/R1"


def test_a_click_in_a_view_names_the_view_and_nothing_else():
    view = {"id": "V1", "type": "modal", "state": {"values": {}}}
    payload = payloads.block_actions(SENDER, {"type": "button", "action_id": "a"}, trigger_id="X", values={}, view=view)
    assert payload["view"] is view and payload["container"] == {"type": "view", "view_id": "V1"}
    assert "channel" not in payload and "response_url" not in payload
    with pytest.raises(ValueError):
        payloads.block_actions(SENDER, {"type": "button", "action_id": "a"}, trigger_id="X", values={})


def test_a_shortcut_is_global_or_on_a_message():
    assert payloads.shortcut(SENDER, "log_activity", trigger_id="X")["type"] == "shortcut"
    on = payloads.shortcut(SENDER, "log_activity_message", trigger_id="X", on=where(ephemeral=False))
    assert on["type"] == "message_action" and on["message"] == MESSAGE and on["channel"]["id"] == "C0SALES"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("hi @rep", "hi <@U0REP>"),
        ("see #sales", "see <#C0SALES|sales>"),
        ("@nobody & <b>", "@nobody &amp; &lt;b&gt;"),
        ("mail rep@example.com", "mail rep@example.com"),
    ],
)
def test_typed_text_is_stored_the_way_slack_stores_it(typed, stored):
    assert payloads.encode_text(typed, users={"rep": "U0REP"}, channels={"sales": "C0SALES"}) == stored


def test_the_apps_answer_is_read_only_when_it_is_json():
    assert payloads.body_of({"body": {"response_action": "clear"}}) == {"response_action": "clear"}
    assert payloads.body_of({"body": "ok"}) == {} and payloads.body_of({}) == {}
