"""Logging activities end to end: signed Slack requests to the running app, answers read from the
stand-in, rows read from the database. The pure parts (the one-line parser, the builders) first."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.dev.blockkit_check import validate_message, validate_view
from commands.activities import quick_log
from commands.activities import views as ui
from commands.activities.forms import LogMeta
from crm import activities as svc
from crm.activity_types import DEFAULT, parse_activity_types
from crm.customers import ContactInput, add_contact, create_customer
from crm.errors import DateParseError
from crm.models import Activity, AuditEntry, Contact, Customer, Deal, FollowUp
from tests.conftest import ADMIN, REP, REP2

# Wednesday 4 March 2026, 15:00 UTC: 10:00 in New York (the rep), 16:00 in Berlin.
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
NEXT_FRIDAY_NY = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)  # Fri 6 Mar, 09:00 EST


# -- pure: the one-line parser ------------------------------------------------------------------------
def _customer(cid: int, name: str) -> Customer:
    return Customer(id=cid, workspace_id=1, name=name, normalized_name=name.lower())


ACME = _customer(1, "Acme Corp")
GLOBEX = _customer(2, "Globex")


def fake_lookup(query: str) -> quick_log.Found:
    """Exact names win with 100; "acme corp discussed" still finds Acme, less surely."""
    q = query.lower()
    if q in ("acme corp", "acme"):
        return quick_log.Found("winner", ACME, 100.0 if q == "acme corp" else 92.0)
    if q.startswith("acme corp "):
        return quick_log.Found("winner", ACME, 91.0)
    if q == "globex":
        return quick_log.Found("winner", GLOBEX, 100.0)
    if q in ("initech", "ini"):
        return quick_log.Found("ambiguous")
    return quick_log.Found("none")


def fake_date(phrase: str) -> datetime:
    known = {"next friday": NEXT_FRIDAY_NY, "by friday": NEXT_FRIDAY_NY, "in 2 weeks": NOW + timedelta(days=14)}
    if phrase.lower() in known:
        return known[phrase.lower()]
    raise DateParseError(f"can't read {phrase}")


@pytest.mark.parametrize(
    ("text", "kind", "customer", "summary", "due", "note"),
    [
        (
            "call Acme Corp discussed renewal pricing, follow up next friday",
            "call",
            ACME,
            "discussed renewal pricing",
            NEXT_FRIDAY_NY,
            None,
        ),
        ("mtg Acme Corp: kickoff went well", "meeting", ACME, "kickoff went well", None, None),
        ("Phone acme corp left a voicemail", "call", ACME, "left a voicemail", None, None),
        (
            "e-mail Globex sent the deck. Next step: send proposal by friday",
            "email",
            GLOBEX,
            "sent the deck",
            NEXT_FRIDAY_NY,
            "send proposal",
        ),
        ("demo Globex went great; f/u in 2 weeks", "demo", GLOBEX, "went great", NOW + timedelta(days=14), None),
        (
            "Globex call chat about the follow up process",
            "call",
            GLOBEX,
            "chat about the follow up process",
            None,
            None,
        ),
        (
            "note Globex 📞 مرحبا עברית *bold* <!channel>",
            "note",
            GLOBEX,
            "📞 مرحبا עברית *bold* <!channel>",
            None,
            None,
        ),
    ],
)
def test_quick_log_reads_type_customer_summary_and_follow_up(text, kind, customer, summary, due, note):
    quick = quick_log.parse_quick_log(text, DEFAULT, fake_lookup, fake_date)
    assert quick.doubts == []
    assert quick.certain
    assert quick.type is not None and quick.type.key == kind
    assert quick.customer is customer
    assert quick.summary == summary
    assert quick.follow_up_due == due
    assert quick.follow_up_note == note


@pytest.mark.parametrize(
    ("text", "kind", "customer", "doubt"),
    [
        ("banana Acme Corp talked", None, ACME, "isn't an activity type"),
        ("call Initech talked", "call", None, "Several customers match"),
        ("call Nobody Inc talked", "call", None, "couldn't find a customer"),
        ("call Acme Corp", "call", ACME, "What happened?"),
        ("call Acme Corp talked, follow up whenever you like", "call", ACME, "couldn't read “whenever you like”"),
    ],
)
def test_quick_log_notes_what_is_uncertain(text, kind, customer, doubt):
    quick = quick_log.parse_quick_log(text, DEFAULT, fake_lookup, fake_date)
    assert not quick.certain
    assert (quick.type.key if quick.type else None) == kind
    assert quick.customer is customer
    assert any(doubt in d for d in quick.doubts), quick.doubts


# -- pure: builders --------------------------------------------------------------------------------------
def test_log_modal_fits_slacks_limits_with_everything_in_it():
    customer = _customer(7, "Ünïcode & <Sons> " + "x" * 300)
    choices = svc.LogChoices(
        customer,
        [Contact(id=i, customer_id=7, name=f"Person {i} " + "y" * 100, title="CEO") for i in range(1, 150)],
        [Deal(id=i, customer_id=7, title=f"Deal {i} " + "z" * 100, stage="open") for i in range(1, 150)],
    )
    form = ui.LogForm(customer=customer, type_key="call", summary="s" * 5000, follow_up_text="f" * 500)
    meta = LogMeta(channel="C1", permalink="https://x.slack.com/archives/C1/p1" + "9" * 3000)
    view = ui.log_modal(DEFAULT, form, meta, now=NOW, choices=choices, notice="<!channel> " * 500)
    assert validate_view(view) == []
    assert "<!channel>" not in json.dumps(view)
    edit = ui.log_modal(
        parse_activity_types("call:Call:📞"),
        ui.LogForm(customer=customer, type_key="demo", summary="long " * 1000),
        LogMeta(mode="edit", activity_id=3, summary_locked=True),
        now=NOW,
    )
    assert validate_view(edit) == []
    type_block = next(b for b in edit["blocks"] if b.get("block_id") == ui.TYPE_BLOCK)
    assert type_block["element"]["initial_option"]["value"] == "demo"  # a retired type stays selectable


def test_confirmation_escapes_user_text_and_fits():
    customer = _customer(1, "<!here> Corp")
    activity = Activity(
        id=5,
        customer_id=1,
        type_key="retired_kind",
        summary="<!channel> <@U0BOSS> *bold* " * 300,
        occurred_at=NOW,
        permalink="https://x.slack.com/archives/C1/p1",
    )
    follow_up = FollowUp(id=1, due_at=NEXT_FRIDAY_NY, note="<!everyone>")
    text, blocks = ui.confirmation(svc.Logged(activity, customer, follow_up, True), DEFAULT, tz="UTC", now=NOW)
    payload = {"text": text, "blocks": blocks}
    assert validate_message(payload) == []
    dumped = json.dumps(payload)
    for ping in ("<!channel>", "<@U0BOSS>", "<!here>", "<!everyone>"):
        assert ping not in dumped
    assert "retired_kind" in dumped  # a retired type shows as its key


# -- end to end ------------------------------------------------------------------------------------------
@pytest.fixture
def ws(services, ws) -> int:
    """The shared workspace, with the app's clock at NOW."""
    services.clock = lambda: NOW
    return ws


@pytest.fixture
def acme(make, ws) -> Customer:
    return make.customer("Acme Corp")


def activities(app_server, **where) -> list[Activity]:
    with app_server.services.session_factory() as s:
        query = select(Activity).order_by(Activity.id)
        for key, value in where.items():
            query = query.where(getattr(Activity, key) == value)
        return list(s.scalars(query))


def follow_ups(app_server) -> list[FollowUp]:
    with app_server.services.session_factory() as s:
        return list(s.scalars(select(FollowUp).order_by(FollowUp.id)))


def log_values(
    customer_id: int | str | None,
    *,
    type_key: str | None = "call",
    summary: str = "Discussed renewal",
    when: int | None = None,
    follow_up: str | None = None,
    follow_date: str | None = None,
    contact: tuple[str, int] | None = None,
    deal: tuple[str, int] | None = None,
) -> dict:
    customer = None if customer_id is None else {"text": {"type": "plain_text", "text": "x"}, "value": str(customer_id)}
    values = {
        ui.CUSTOMER_BLOCK: {ui.CUSTOMER_ACTION: {"type": "external_select", "selected_option": customer}},
        ui.TYPE_BLOCK: {ui.TYPE_ACTION: {"type": "static_select", "selected_option": type_key and {"value": type_key}}},
        ui.SUMMARY_BLOCK: {ui.SUMMARY_ACTION: {"type": "plain_text_input", "value": summary}},
        ui.WHEN_BLOCK: {ui.WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": when}},
        ui.FOLLOW_UP_TEXT_BLOCK: {ui.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": follow_up}},
        ui.FOLLOW_UP_DATE_BLOCK: {ui.FOLLOW_UP_DATE_ACTION: {"type": "datepicker", "selected_date": follow_date}},
    }
    if contact:
        values[contact[0]] = {
            ui.CONTACT_ACTION: {"type": "static_select", "selected_option": {"value": str(contact[1])}}
        }
    if deal:
        values[deal[0]] = {ui.DEAL_ACTION: {"type": "static_select", "selected_option": {"value": str(deal[1])}}}
    return values


def submit(slack, values, *, meta=None, view_id="V0LOG1", user=REP):
    return slack.view_submission(
        ui.LOG_CALLBACK,
        values,
        private_metadata=json.dumps(meta if meta is not None else {"channel": "C0SALES"}),
        view_id=view_id,
        user=user,
    )


def buttons(payload) -> dict[str, dict]:
    return {e["action_id"]: e for b in payload.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]}


@pytest.mark.parametrize(("command", "text"), [("/log", ""), ("/crm", "log"), ("/log", "   ")])
def test_log_without_text_opens_the_modal(slack, standin, ws, command, text):
    assert slack.command(command, text).status == 200
    view = standin.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ui.LOG_CALLBACK
    assert json.loads(view["private_metadata"])["channel"] == "C0SALES"
    customer_block = next(b for b in view["blocks"] if b.get("block_id") == ui.CUSTOMER_BLOCK)
    assert customer_block["dispatch_action"] is True
    assert customer_block["element"]["action_id"] == "customer_picker:log"
    type_block = next(b for b in view["blocks"] if b.get("block_id") == ui.TYPE_BLOCK)
    assert [o["value"] for o in type_block["element"]["options"]] == list(DEFAULT.keys)


def test_global_shortcut_and_card_button_open_the_modal(slack, standin, ws, acme):
    slack.global_shortcut(ui.GLOBAL_SHORTCUT)
    first = standin.wait_for("views.open")[0].params["view"]
    assert json.loads(first["private_metadata"])["source"] == "shortcut"
    slack.click(ui.OPEN_ACTION, str(acme.id))
    second = standin.wait_for("views.open", count=2)[1].params["view"]
    customer_block = next(b for b in second["blocks"] if b.get("block_id") == ui.CUSTOMER_BLOCK)
    assert customer_block["element"]["initial_option"]["value"] == str(acme.id)


def test_submitting_the_modal_saves_once_with_follow_up_and_confirms(slack, standin, app_server, ws, acme):
    values = log_values(acme.id, summary="Renewal 📈 — مرحبا <!channel>", follow_up="next friday")
    resp = submit(slack, values)
    assert resp.status == 200 and not resp.text  # closed: no errors
    [call] = standin.wait_for("chat.postEphemeral")
    shown = call.params
    assert shown["channel"] == "C0SALES" and shown["user"] == REP
    assert set(buttons(shown)) == {ui.UNDO_ACTION, ui.EDIT_ACTION}
    assert "<!channel>" not in json.dumps(shown) and "&lt;!channel&gt;" in json.dumps(shown)
    [activity] = activities(app_server)
    assert activity.summary == "Renewal 📈 — مرحبا <!channel>"
    assert (activity.created_by, activity.source, activity.type_key) == (REP, "modal", "call")
    assert activity.occurred_at == NOW and activity.created_at == NOW
    [follow_up] = follow_ups(app_server)
    assert follow_up.due_at == NEXT_FRIDAY_NY and follow_up.nudge_at == NEXT_FRIDAY_NY
    assert follow_up.activity_id == activity.id and follow_up.owner_user_id == REP

    # A double-click, a retry or a replay of the same view: still one activity, one confirmation.
    assert submit(slack, values).status == 200
    assert len(activities(app_server)) == 1 and len(follow_ups(app_server)) == 1
    assert len(standin.calls_to("chat.postEphemeral")) == 1


def test_concurrent_duplicate_submissions_save_once(slack, app_server, ws, acme):
    values = log_values(acme.id)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(submit(slack, values, view_id="V0RACE"))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == [200] * 6
    assert len(activities(app_server)) == 1


def at_once(n: int, fire) -> list:
    """Call ``fire()`` from ``n`` threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(n)
    results: list = []

    def worker():
        barrier.wait()
        try:
            results.append(fire())
        except Exception as exc:  # reported, not hidden
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def audit_actions(app_server, entity_type: str, entity_id: int) -> list[str]:
    with app_server.services.session_factory() as s:
        query = select(AuditEntry.action).where(
            AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id
        )
        return list(s.scalars(query.order_by(AuditEntry.id)))


def test_a_modal_submitted_at_once_logs_one_row_one_audit_entry_one_confirmation(slack, standin, app_server, ws, acme):
    values = log_values(acme.id, follow_up="next friday")
    results = at_once(6, lambda: submit(slack, values, view_id="V0RACE2"))
    assert [getattr(r, "status", r) for r in results] == [200] * 6
    assert all(not r.text for r in results)  # every one closed the modal calmly
    [activity] = activities(app_server)
    [follow_up] = follow_ups(app_server)
    assert audit_actions(app_server, "activity", activity.id) == ["create"]
    assert audit_actions(app_server, "follow_up", follow_up.id) == ["create"]
    assert app_server.services.work.drain()
    assert len(standin.calls_to("chat.postEphemeral")) == 1
    # A replay later (Slack retried, or the user clicked again) changes nothing either.
    assert submit(slack, values, view_id="V0RACE2").status == 200
    assert app_server.services.work.drain()
    assert len(activities(app_server)) == 1 and len(standin.calls_to("chat.postEphemeral")) == 1


def test_concurrent_undo_clicks_delete_once_and_restore_clicks_restore_once(slack, standin, app_server, ws, acme):
    slack.command("/log", "call Acme Corp talked, follow up next friday")
    value = buttons(standin.wait_for("response_url")[0].params)[ui.UNDO_ACTION]["value"]
    [activity] = activities(app_server)
    [follow_up] = follow_ups(app_server)

    results = at_once(3, lambda: slack.click(ui.UNDO_ACTION, value))
    assert [getattr(r, "status", r) for r in results] == [200] * 3
    assert app_server.services.work.drain()
    assert audit_actions(app_server, "activity", activity.id) == ["create", "delete"]
    assert audit_actions(app_server, "follow_up", follow_up.id) == ["create", "delete"]
    replies = [c.params for c in standin.calls_to("response_url")[1:]]
    assert len(replies) == 3 and all(ui.RESTORE_ACTION in buttons(r) for r in replies)  # each told calmly
    assert activities(app_server)[0].deleted_at == NOW

    results = at_once(3, lambda: slack.click(ui.RESTORE_ACTION, value))
    assert [getattr(r, "status", r) for r in results] == [200] * 3
    assert app_server.services.work.drain()
    assert audit_actions(app_server, "activity", activity.id) == ["create", "delete", "restore"]
    assert audit_actions(app_server, "follow_up", follow_up.id) == ["create", "delete", "restore"]
    assert activities(app_server)[0].deleted_at is None
    assert follow_ups(app_server)[0].nudge_at == NEXT_FRIDAY_NY


@pytest.mark.parametrize(
    ("values_kw", "block", "message"),
    [
        ({"follow_up": "yesterday"}, ui.FOLLOW_UP_TEXT_BLOCK, "in the past"),
        ({"follow_up": "when pigs fly"}, ui.FOLLOW_UP_TEXT_BLOCK, "next friday"),
        ({"follow_date": "2026-03-04"}, ui.FOLLOW_UP_DATE_BLOCK, "in the past"),  # 09:00 NY has passed
        ({"follow_up": "friday", "follow_date": "2026-03-10"}, ui.FOLLOW_UP_TEXT_BLOCK, "not both"),
        ({"type_key": "banana"}, ui.TYPE_BLOCK, "Pick one of the activity types"),  # forged
        ({"type_key": None}, ui.TYPE_BLOCK, "Pick an activity type"),
        ({"summary": "  \n "}, ui.SUMMARY_BLOCK, "summary"),
        ({"when": int((NOW + timedelta(days=2)).timestamp())}, ui.WHEN_BLOCK, "future"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(slack, app_server, ws, acme, values_kw, block, message):
    resp = submit(slack, log_values(acme.id, **values_kw))
    body = resp.json()
    assert body["response_action"] == "errors"
    assert message in body["errors"][block]
    assert activities(app_server) == [] and follow_ups(app_server) == []


@pytest.mark.parametrize("customer", [None, "999999", "new:Initech"])
def test_missing_unknown_or_uncreated_customer_is_a_field_error(slack, app_server, ws, customer):
    body = submit(slack, log_values(customer)).json()
    assert ui.CUSTOMER_BLOCK in body["errors"]
    assert activities(app_server) == []


def test_follow_up_by_date_is_the_start_of_the_reps_workday(slack, app_server, ws, acme):
    submit(slack, log_values(acme.id, follow_date="2026-03-10"))  # after the DST change in New York
    [follow_up] = follow_ups(app_server)
    assert follow_up.due_at == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # 09:00 EDT


def test_picking_a_customer_loads_contacts_and_open_deals(slack, standin, app_server, ws, acme):
    s = app_server.services
    bob = add_contact(s.session_factory, s.search, ws, acme.id, ContactInput(name="Bob Buyer"), actor=REP)
    with s.session_factory.begin() as session:
        session.add(Deal(workspace_id=ws, customer_id=acme.id, title="Renewal 2026", stage="proposal", created_by=REP))
        session.add(Deal(workspace_id=ws, customer_id=acme.id, title="Old one", stage="lost", created_by=REP))
    slack.command("/log")
    opened = standin.wait_for("views.open")[0].response["view"]
    action = {
        "type": "external_select",
        "action_id": ui.CUSTOMER_ACTION,
        "block_id": ui.CUSTOMER_BLOCK,
        "selected_option": {"text": {"type": "plain_text", "text": "Acme Corp"}, "value": str(acme.id)},
    }
    opened["state"] = {"values": log_values(None, summary="typed before picking")}
    slack.block_actions([action], view=opened)
    [update] = standin.wait_for("views.update")
    assert update.ok and update.params["hash"] == opened["hash"] and update.params["view_id"] == opened["id"]
    view = update.params["view"]
    contact_block = next(b for b in view["blocks"] if b.get("block_id") == f"{ui.CONTACT_BLOCK}:{acme.id}")
    assert [o["value"] for o in contact_block["element"]["options"]] == [str(bob.id)]
    deal_block = next(b for b in view["blocks"] if b.get("block_id") == f"{ui.DEAL_BLOCK}:{acme.id}")
    assert [o["text"]["text"] for o in deal_block["element"]["options"]] == ["Renewal 2026"]
    summary = next(b for b in view["blocks"] if b.get("block_id") == ui.SUMMARY_BLOCK)
    assert summary["element"]["initial_value"] == "typed before picking"

    with s.session_factory() as session:
        deal_id = session.scalar(select(Deal.id).where(Deal.title == "Renewal 2026"))
    values = log_values(
        acme.id, contact=(f"{ui.CONTACT_BLOCK}:{acme.id}", bob.id), deal=(f"{ui.DEAL_BLOCK}:{acme.id}", deal_id)
    )
    submit(slack, values, view_id=opened["id"])
    [activity] = activities(app_server)
    assert (activity.contact_id, activity.deal_id) == (bob.id, deal_id)
    with s.session_factory() as session:
        assert session.get(Deal, deal_id).last_activity_at == NOW
    # The confirmation names the contact picked in the form, as the card does.
    [confirmation] = standin.wait_for("chat.postEphemeral")
    assert "with *Bob Buyer* at *Acme Corp*" in json.dumps(confirmation.params["blocks"])
    assert confirmation.params["text"] == "Logged: Call with Bob Buyer at Acme Corp"


def test_a_contact_of_another_customer_is_refused(slack, app_server, ws, acme):
    s = app_server.services
    other = create_customer(s.session_factory, s.search, ws, actor=REP, name="Globex")
    eve = add_contact(s.session_factory, s.search, ws, other.id, ContactInput(name="Eve"), actor=REP)
    block = f"{ui.CONTACT_BLOCK}:{acme.id}"
    body = submit(slack, log_values(acme.id, contact=(block, eve.id))).json()
    assert "isn't one of Acme Corp's" in body["errors"][block]
    assert activities(app_server) == []


def test_picking_new_customer_pushes_the_create_form(slack, standin, ws):
    slack.command("/log")
    opened = standin.wait_for("views.open")[0].response["view"]
    action = {
        "type": "external_select",
        "action_id": ui.CUSTOMER_ACTION,
        "block_id": ui.CUSTOMER_BLOCK,
        "selected_option": {"text": {"type": "plain_text", "text": "New"}, "value": "new:Initech"},
    }
    slack.block_actions([action], view=opened)
    [push] = standin.wait_for("views.push")
    assert "Initech" in json.dumps(push.params["view"])


def test_picker_options_come_from_the_shared_picker(slack, ws, acme):
    options = slack.block_suggestion(ui.CUSTOMER_ACTION, "acme").json()["options"]
    assert options[0]["value"] == str(acme.id)


def test_one_line_log_saves_and_confirms_with_undo_and_edit(slack, standin, app_server, ws, acme):
    slack.command("/log", "call Acme Corp discussed renewal pricing, follow up next friday")
    [reply] = standin.wait_for("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert set(buttons(reply.params)) == {ui.UNDO_ACTION, ui.EDIT_ACTION}
    assert "discussed renewal pricing" in json.dumps(reply.params["blocks"])
    [activity] = activities(app_server)
    assert (activity.customer_id, activity.type_key, activity.source) == (acme.id, "call", "slash")
    assert activity.summary == "discussed renewal pricing"
    assert activity.idempotency_key.startswith("slash:")
    [follow_up] = follow_ups(app_server)
    assert follow_up.due_at == NEXT_FRIDAY_NY
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("views.open") == []


def test_one_line_log_keeps_a_long_summary_whole(slack, standin, app_server, ws, acme):
    long = "word " * 1500  # 7,500 characters, more than the form holds
    slack.command("/log", f"mtg Acme Corp {long}")
    standin.wait_for("response_url")
    [activity] = activities(app_server)
    assert activity.summary == long.strip() and activity.type_key == "meeting"


def test_one_line_log_unescapes_slack_text_and_never_pings(slack, standin, app_server, ws, acme):
    slack.command("/log", "note Acme Corp &lt;!channel&gt; &amp; <@U0REP2> *bold*")
    [reply] = standin.wait_for("response_url")
    [activity] = activities(app_server)
    assert activity.summary == "<!channel> & <@U0REP2> *bold*"
    dumped = json.dumps(reply.params)
    assert "<!channel>" not in dumped and "<@U0REP2>" not in dumped


@pytest.mark.parametrize(
    ("text", "prefilled_type", "notice"),
    [
        ("call Initech talked about pricing", "call", "Several customers match"),
        ("banana Acme Corp talked", None, "isn't an activity type"),
        ("call Nobody Inc talked", "call", "couldn't find a customer"),
    ],
)
def test_uncertain_one_liner_opens_the_prefilled_modal(
    slack, standin, app_server, ws, acme, text, prefilled_type, notice
):
    s = app_server.services
    for name in ("Initech East", "Initech West"):  # "Initech" is ambiguous
        create_customer(s.session_factory, s.search, ws, actor=REP, name=name, force=True)
    slack.command("/log", text)
    view = standin.wait_for("views.open")[0].params["view"]
    type_block = next(b for b in view["blocks"] if b.get("block_id") == ui.TYPE_BLOCK)
    assert (type_block["element"].get("initial_option") or {}).get("value") == prefilled_type
    summary = next(b for b in view["blocks"] if b.get("block_id") == ui.SUMMARY_BLOCK)
    assert "talked" in summary["element"]["initial_value"]
    assert json.loads(view["private_metadata"])["source"] == "slash"
    shown = next(b for b in view["blocks"] if b.get("block_id") == ui.NOTICE_BLOCK)
    assert notice in shown["text"]["text"]
    assert activities(app_server) == []


def test_uncertain_one_liner_too_long_for_the_form_is_refused_before_saving(slack, standin, app_server, ws):
    slack.command("/log", "call Nobody " + "x" * 3100)
    [reply] = standin.wait_for("response_url")
    assert "Nothing was saved" in reply.params["text"]
    app_server.drain()  # handled completely: nothing more is on its way
    assert activities(app_server) == [] and standin.calls_to("views.open") == []


def test_message_shortcut_prefills_summary_customer_and_keeps_the_permalink(slack, standin, app_server, ws, acme):
    message = standin.post_message(
        "C0SALES", "Recap of the Acme Corp call: they want 3 seats &amp; a discount", user=REP2
    )
    slack.message_shortcut(ui.MESSAGE_SHORTCUT, message)
    standin.wait_for("chat.getPermalink")
    opened = standin.wait_for("views.open")[0]
    view = opened.params["view"]
    customer_block = next(b for b in view["blocks"] if b.get("block_id") == ui.CUSTOMER_BLOCK)
    assert customer_block["element"]["initial_option"]["value"] == str(acme.id)
    summary = next(b for b in view["blocks"] if b.get("block_id") == ui.SUMMARY_BLOCK)
    assert summary["element"]["initial_value"] == "Recap of the Acme Corp call: they want 3 seats & a discount"
    submit(slack, log_values(acme.id, summary="Recap"), meta=json.loads(view["private_metadata"]), view_id="V0MSG")
    [activity] = activities(app_server)
    assert activity.source == "shortcut"
    assert activity.permalink.startswith("https://") and "/archives/C0SALES/p" in activity.permalink
    [shown] = standin.wait_for("chat.postEphemeral")
    assert "Original message" in json.dumps(shown.params["blocks"])


def test_message_shortcut_does_not_guess_between_two_customers(slack, standin, app_server, ws, acme):
    s = app_server.services
    create_customer(s.session_factory, s.search, ws, actor=REP, name="Globex")
    message = standin.post_message("C0SALES", "Acme Corp and Globex both asked for a demo", user=REP2)
    slack.message_shortcut(ui.MESSAGE_SHORTCUT, message)
    view = standin.wait_for("views.open")[0].params["view"]
    customer_block = next(b for b in view["blocks"] if b.get("block_id") == ui.CUSTOMER_BLOCK)
    assert "initial_option" not in customer_block["element"]


def test_global_shortcut_confirms_by_dm(slack, standin, app_server, ws, acme):
    submit(slack, log_values(acme.id), meta={"source": "shortcut"})
    [dm] = standin.wait_for("chat.postMessage")
    assert dm.params["channel"] == REP and set(buttons(dm.params)) == {ui.UNDO_ACTION, ui.EDIT_ACTION}


def test_undo_then_restore(slack, standin, app_server, ws, acme):
    slack.command("/log", "call Acme Corp talked, follow up next friday")
    [reply] = standin.wait_for("response_url")
    undo = buttons(reply.params)[ui.UNDO_ACTION]
    slack.click(ui.UNDO_ACTION, undo["value"])
    deleted = standin.wait_for("response_url", count=2)[1].params
    assert deleted["replace_original"] is True and ui.RESTORE_ACTION in buttons(deleted)
    [activity] = activities(app_server)
    assert activity.deleted_at == NOW and activity.deleted_by == REP
    [follow_up] = follow_ups(app_server)
    assert follow_up.deleted_at == NOW and follow_up.nudge_at is None

    slack.click(ui.RESTORE_ACTION, undo["value"])
    restored = standin.wait_for("response_url", count=3)[2].params
    assert "Restored" in restored["text"] and ui.UNDO_ACTION in buttons(restored)
    [activity] = activities(app_server)
    assert activity.deleted_at is None
    [follow_up] = follow_ups(app_server)
    assert follow_up.deleted_at is None and follow_up.nudge_at == NEXT_FRIDAY_NY


def test_only_the_logger_or_an_admin_may_undo_or_edit(slack, standin, app_server, ws, acme):
    slack.command("/log", "call Acme Corp talked")
    value = buttons(standin.wait_for("response_url")[0].params)[ui.UNDO_ACTION]["value"]
    slack.click(ui.UNDO_ACTION, value, user=REP2)
    refused = standin.wait_for("response_url", count=2)[1].params
    assert "only the activities you logged" in refused["text"]
    slack.click(ui.EDIT_ACTION, value, user=REP2)
    assert "only the activities you logged" in standin.wait_for("response_url", count=3)[2].params["text"]
    assert activities(app_server)[0].deleted_at is None
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("views.open") == []

    # A forged edit submission by another rep is refused by the server too.
    meta = {"mode": "edit", "activity_id": int(value), "channel": "C0SALES"}
    body = submit(slack, log_values(acme.id, summary="hijacked"), meta=meta, user=REP2).json()
    assert "only the activities you logged" in json.dumps(body["errors"])
    assert activities(app_server)[0].summary == "talked"

    slack.click(ui.EDIT_ACTION, value, user=ADMIN)
    view = standin.wait_for("views.open")[0].params["view"]
    assert json.loads(view["private_metadata"])["mode"] == "edit"
    assert not any(b.get("block_id") == ui.FOLLOW_UP_TEXT_BLOCK for b in view["blocks"])
    summary = next(b for b in view["blocks"] if b.get("block_id") == ui.SUMMARY_BLOCK)
    assert summary["element"]["initial_value"] == "talked"
    submit(slack, log_values(acme.id, type_key="meeting", summary="talked at length"), meta=meta, user=ADMIN)
    [activity] = activities(app_server)
    assert (activity.type_key, activity.summary, activity.updated_by) == ("meeting", "talked at length", ADMIN)
    with app_server.services.session_factory() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
    assert entry.before["summary"] == "talked" and entry.after["summary"] == "talked at length"
    assert entry.created_by == ADMIN
    updated = standin.wait_for("chat.postEphemeral")[0].params
    assert "Updated" in updated["text"]


def test_help_lists_log(slack, standin, ws):
    slack.command("/crm", "help")
    assert "/log call Acme Corp" in json.dumps(standin.wait_for("response_url")[0].params["blocks"])


@pytest.mark.parametrize("meta", ["not json", json.dumps({"mode": "edit", "activity_id": "1; drop"}), json.dumps([1])])
def test_forged_or_broken_metadata_never_edits_and_still_logs_once(slack, standin, app_server, ws, acme, meta):
    resp = slack.view_submission(ui.LOG_CALLBACK, log_values(acme.id), private_metadata=meta, view_id="V0FORGED")
    assert resp.status == 200 and not resp.text
    [activity] = activities(app_server)
    assert activity.summary == "Discussed renewal" and activity.source == "modal"
    standin.wait_for("chat.postMessage")  # no channel known: confirmed by DM


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        # en-GB rep in Berlin: 3/12 is 3 December, at the start of the working day there.
        (REP2, datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
        # en-US rep in New York: 3/12 is 12 March, 09:00 EDT (after the 8 March DST change).
        (REP, datetime(2026, 3, 12, 13, 0, tzinfo=UTC)),
    ],
)
def test_numeric_dates_are_read_in_the_reps_locale(slack, standin, app_server, ws, acme, user, expected):
    slack.command("/log", "call Acme Corp discussed renewal pricing, follow up 3/12", user=user)
    standin.wait_for("response_url")
    [follow_up] = follow_ups(app_server)
    assert follow_up.due_at == expected
