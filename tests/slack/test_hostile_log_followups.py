"""Hostile input against logging and follow-ups, end to end on both databases (issue 12):

* user text planted in every stored field these features show never reaches Slack as a ping or a
  link, in any message, notification text, confirmation, DM, modal or Home tab;
* ids beyond a SQL integer (``99999999999999999999``) in buttons, modal values and metadata, and
  user ids that aren't Slack's, are refused with a sentence: no 500, no "Something went wrong";
* a NUL typed into `/crm followup` never reaches the database (the request middleware strips it).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from commands.activities import views as log_views
from commands.followups import home, nudge_dm
from commands.followups import views as fu_views
from crm.models import Activity, AuditEntry, Deal, FollowUp
from reminders.nudges import send_due_nudges
from reminders.scheduler import make_sender, nudge_client
from tests.conftest import ADMIN, REP2
from tests.support.hostile import mrkdwn_in

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday; 16:00 in Berlin, where REP2 is
PINGS = ("<!channel>", "<!here>", "<@U0REP>", "<https://evil.example|x>")
EVIL = "<!channel> Ping <@U0REP> <!here> <https://evil.example|x>"
HUGE = "99999999999999999999"
MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url")


def parsed_texts(params: dict, method: str) -> list[str]:
    """Every text Slack parses for mentions and links: a message's top-level ``text`` and every
    mrkdwn text object (plain_text, such as a form's initial value, is shown as typed)."""
    found = [params["text"]] if method in MESSAGE_METHODS and isinstance(params.get("text"), str) else []
    return found + mrkdwn_in(params.get("blocks")) + mrkdwn_in(params.get("view"))


def no_server_errors(standin) -> None:
    for call in standin.calls:
        assert "Something went wrong" not in json.dumps(call.params, ensure_ascii=False), call.method


@pytest.fixture
def ws(services, ws) -> int:
    """The shared workspace, with the app's clock at NOW."""
    services.clock = lambda: NOW
    return ws


@pytest.fixture
def acme(make, ws):
    return make.customer("Acme Corp", actor=REP2)


@pytest.fixture
def evil(make, ws):
    return make.customer(f"{EVIL} Corp", actor=REP2, force=True)


def plant(app_server, ws, evil) -> dict[str, int]:
    """Rows full of hostile text, as an import or an older version could have left them."""
    with app_server.services.session_factory.begin() as s:
        s.add(Deal(workspace_id=ws, customer_id=evil.id, title=EVIL, stage="proposal", owner_user_id=REP2))
        s.add(
            Activity(
                workspace_id=ws,
                customer_id=evil.id,
                type_key="call",
                summary=EVIL,
                occurred_at=NOW - timedelta(days=1),
                source="import",
                created_by="<!here>",  # a forged logger
            )
        )
        due = FollowUp(
            workspace_id=ws, customer_id=evil.id, owner_user_id=REP2, due_at=NOW - timedelta(minutes=5), note=EVIL
        )
        due.nudge_at = due.due_at
        refused = FollowUp(
            workspace_id=ws,
            customer_id=evil.id,
            owner_user_id="<!channel>",  # a forged owner
            due_at=NOW - timedelta(hours=1),
            note=EVIL,
            nudge_error=EVIL,
        )
        s.add_all([due, refused])
        s.flush()
        return {"due": due.id, "refused": refused.id}


def log_values(customer_id, *, summary=EVIL, follow_up=None) -> dict:
    return {
        log_views.CUSTOMER_BLOCK: {
            log_views.CUSTOMER_ACTION: {"type": "external_select", "selected_option": {"value": str(customer_id)}}
        },
        log_views.TYPE_BLOCK: {log_views.TYPE_ACTION: {"type": "static_select", "selected_option": {"value": "call"}}},
        log_views.SUMMARY_BLOCK: {log_views.SUMMARY_ACTION: {"type": "plain_text_input", "value": summary}},
        log_views.FOLLOW_UP_TEXT_BLOCK: {
            log_views.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": follow_up}
        },
    }


def buttons(params) -> dict[str, dict]:
    return {e["action_id"]: e for b in params.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]}


def test_planted_text_never_pings_or_links_anywhere(slack, standin, app_server, ws, acme, evil):
    ids = plant(app_server, ws, evil)
    services = app_server.services
    # Logging: the one-liner, the modal, Undo, Restore and Edit.
    slack.command("/log", f"note Acme Corp {EVIL}, follow up next friday", user=REP2)
    standin.wait_for("response_url")
    meta = json.dumps({"channel": "C0SALES"})
    slack.view_submission(
        log_views.LOG_CALLBACK, log_values(evil.id, follow_up="next friday"), private_metadata=meta, user=REP2
    )
    confirmation = standin.wait_for("chat.postEphemeral")[0].params
    value = buttons(confirmation)[log_views.UNDO_ACTION]["value"]
    for action in (log_views.UNDO_ACTION, log_views.RESTORE_ACTION, log_views.EDIT_ACTION):
        slack.click(action, value, user=REP2)
        assert services.work.drain()
    standin.wait_for("views.open")
    # Follow-ups: the one-liner, the card's modal, the lists, the nudge DM and its buttons.
    slack.command("/crm", f"followup acme corp next friday {EVIL}", user=REP2)
    slack.click(fu_views.FOLLOW_UP_OPEN_ACTION, str(evil.id), user=REP2)
    card_modal = standin.wait_for("views.open", count=2)[1].params["view"]
    fu_values = {
        fu_views.FOLLOW_UP_TEXT_BLOCK: {
            fu_views.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": "tomorrow"}
        },
        fu_views.NOTE_BLOCK: {fu_views.NOTE_ACTION: {"type": "plain_text_input", "value": EVIL}},
        fu_views.OWNER_BLOCK: {fu_views.OWNER_ACTION: {"type": "users_select", "selected_user": REP2}},
    }
    resp = slack.view_submission(
        fu_views.FOLLOW_UP_CALLBACK, fu_values, private_metadata=card_modal["private_metadata"], user=REP2
    )
    assert resp.status == 200 and not resp.text
    slack.command("/crm", "followups", user=REP2)
    slack.command("/crm", "followups all", user=ADMIN)
    send_due_nudges(services.session_factory, make_sender(services, nudge_client(services), rate=0), NOW, replica="t")
    [dm] = [c for c in standin.calls_to("chat.postMessage") if c.params.get("metadata")]
    message = {"ts": dm.response["ts"], "text": "", "blocks": dm.params["blocks"]}
    due = str(ids["due"])
    reschedule = {"type": "button", "action_id": nudge_dm.RESCHEDULE_OPEN, "value": due, "block_id": f"fu:{due}"}
    slack.block_actions([reschedule], user=REP2, channel=dm.response["channel"], message=message)
    done = {"type": "button", "action_id": nudge_dm.DONE, "value": due, "block_id": f"fu:{due}"}
    slack.block_actions([done], user=REP2, channel=dm.response["channel"], message=message)
    standin.wait_for("chat.update")
    refused = str(ids["refused"])  # someone else's (a forged owner): refused by name, not as <@<!channel>>
    slack.click(nudge_dm.DONE, refused, user=REP2)
    # The App Home, the rep's and an admin's (who also sees the DMs Slack refused).
    for user in (REP2, ADMIN):
        slack.event({"type": "app_home_opened", "user": user, "channel": "D0X", "tab": "home"})
    assert services.work.drain()

    shown = 0
    for call in standin.calls:
        for text in parsed_texts(call.params, call.method):
            for ping in PINGS:
                assert ping not in text, (call.method, ping, text[:300])
            assert "<@<" not in text, (call.method, text[:300])
            shown += "&lt;!channel&gt;" in text
    methods = {c.method for c in standin.calls}
    assert {"response_url", "chat.postEphemeral", "chat.postMessage", "chat.update", "views.open"} <= methods
    assert len(standin.calls_to("views.publish")) >= 3
    assert shown >= 15  # the planted text really was shown (escaped), not left out
    no_server_errors(standin)
    refusals = [c.params["text"] for c in standin.calls_to("chat.postEphemeral") if "belongs to" in c.params["text"]]
    assert refusals == ["This follow-up belongs to someone else; only they (or an admin) can change it."]


def _no_new_rows(app_server, before: dict) -> None:
    assert _counts(app_server) == before


def _counts(app_server) -> dict:
    with app_server.services.session_factory() as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in (Activity, FollowUp, AuditEntry)}


BUTTONS = [
    log_views.UNDO_ACTION,
    log_views.DELETE_ACTION,
    log_views.RESTORE_ACTION,
    log_views.EDIT_ACTION,
    log_views.OPEN_ACTION,
    fu_views.FOLLOW_UP_OPEN_ACTION,
    nudge_dm.DONE,
    nudge_dm.RESCHEDULE_OPEN,
]


def test_ids_beyond_an_integer_are_refused_calmly(slack, standin, app_server, ws, acme, caplog):
    caplog.set_level(logging.ERROR)
    before = _counts(app_server)
    for action_id in BUTTONS:
        assert slack.click(action_id, HUGE, user=REP2).status == 200
    snooze = {"type": "static_select", "action_id": nudge_dm.SNOOZE, "selected_option": {"value": f"{HUGE}:tomorrow"}}
    reassign = {"type": "users_select", "action_id": nudge_dm.REASSIGN, "selected_user": REP2, "block_id": f"fu:{HUGE}"}
    picker = {"type": "external_select", "action_id": log_views.CUSTOMER_ACTION, "selected_option": {"value": HUGE}}
    for action in (snooze, reassign):
        assert slack.block_actions([action], user=REP2).status == 200
    view = {"id": "V0PICK", "hash": "h", "type": "modal", "callback_id": log_views.LOG_CALLBACK, "private_metadata": ""}
    assert slack.block_actions([picker], user=REP2, view=view).status == 200
    assert app_server.services.work.drain()
    replies = [c.params.get("text", "") for c in standin.calls if c.method in ("response_url", "chat.postEphemeral")]
    assert len(replies) >= len(BUTTONS)  # each refused in a sentence ("That activity doesn't exist.", ...)
    assert any("doesn't exist" in r for r in replies) and any("no longer exists" in r for r in replies)

    huge_meta = json.dumps({"mode": "edit", "activity_id": int(HUGE), "customer_id": int(HUGE), "id": int(HUGE)})
    answers = [
        slack.view_submission(log_views.LOG_CALLBACK, log_values(HUGE), private_metadata=huge_meta, user=REP2),
        slack.view_submission(
            fu_views.FOLLOW_UP_CALLBACK,
            {
                fu_views.FOLLOW_UP_TEXT_BLOCK: {
                    fu_views.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": "tomorrow"}
                }
            },
            private_metadata=huge_meta,
            user=REP2,
        ),
        slack.view_submission(
            fu_views.RESCHEDULE_VIEW,
            {fu_views.B_WHEN: {"value": {"type": "plain_text_input", "value": "tomorrow"}}},
            private_metadata=huge_meta,
            user=REP2,
        ),
        slack.view_submission(
            home.FIND_VIEW,
            {home.FIND_BLOCK: {home.FIND_ACTION: {"type": "external_select", "selected_option": {"value": HUGE}}}},
            user=REP2,
        ),
    ]
    for resp in answers:
        assert resp.status == 200 and resp.json()["response_action"] == "errors", resp.text[:300]
    assert answers[0].json()["errors"] == {log_views.CUSTOMER_BLOCK: "Pick a customer."}
    assert "no longer exists" in answers[2].json()["errors"][fu_views.B_WHEN]
    _no_new_rows(app_server, before)
    no_server_errors(standin)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("owner", ["<!channel>", "U" + "X" * 40, "C0SALES", ""])
def test_owners_that_are_not_slack_user_ids_are_refused(slack, standin, app_server, ws, acme, owner):
    before = _counts(app_server)
    slack.click(fu_views.FOLLOW_UP_OPEN_ACTION, str(acme.id), user=REP2)
    meta = standin.wait_for("views.open")[0].params["view"]["private_metadata"]
    values = {
        fu_views.FOLLOW_UP_TEXT_BLOCK: {
            fu_views.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": "tomorrow"}
        },
        fu_views.OWNER_BLOCK: {fu_views.OWNER_ACTION: {"type": "users_select", "selected_user": owner}},
    }
    resp = slack.view_submission(fu_views.FOLLOW_UP_CALLBACK, values, private_metadata=meta, user=REP2)
    if owner:
        assert resp.json()["errors"] == {fu_views.OWNER_BLOCK: "Pick a person from your workspace as the owner."}
        _no_new_rows(app_server, before)
    else:  # no owner picked: the one who set it owns it
        assert resp.status == 200 and not resp.text
        with app_server.services.session_factory() as s:
            assert s.scalars(select(FollowUp.owner_user_id)).all() == [REP2]
    with app_server.services.session_factory.begin() as s:
        s.add(FollowUp(workspace_id=ws, customer_id=acme.id, owner_user_id=REP2, due_at=NOW, note="x"))
    with app_server.services.session_factory() as s:
        fid = s.scalar(select(FollowUp.id).where(FollowUp.note == "x"))
    action = {"type": "users_select", "action_id": nudge_dm.REASSIGN, "selected_user": owner, "block_id": f"fu:{fid}"}
    slack.block_actions([action], user=REP2)
    assert app_server.services.work.drain()
    with app_server.services.session_factory() as s:
        assert s.get(FollowUp, fid).owner_user_id == REP2
    no_server_errors(standin)


def test_a_nul_in_crm_followup_never_reaches_the_database(slack, standin, app_server, ws, acme):
    slack.command("/crm", "followup acme corp next friday send\x00 the\x00 deck\x00", user=REP2)
    reply = standin.wait_for("response_url")[0].params["text"]
    assert "send the deck" in reply and "\x00" not in reply
    slack.command("/log", "call Acme Corp talked\x00 about\x00 pricing", user=REP2)
    standin.wait_for("response_url", count=2)
    with app_server.services.session_factory() as s:
        [follow_up] = s.scalars(select(FollowUp)).all()
        [activity] = s.scalars(select(Activity)).all()
    assert follow_up.note == "send the deck"
    assert follow_up.due_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Fri 09:00 in Berlin
    assert activity.summary == "talked about pricing"
    no_server_errors(standin)
