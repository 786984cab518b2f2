"""Follow-ups end to end: the nudge DM's buttons, /crm followups and the App Home."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.dev.blockkit_check import validate_message, validate_view
from commands.activities.quick_log import Found
from commands.blockkit import error_text
from commands.followups import home, nudge_dm, views
from commands.followups.one_line import parse_follow_up_line
from crm.errors import DateParseError, InvalidInput
from crm.models import Activity, AuditEntry, Customer, Deal, FollowUp
from crm.my_day import MyDay
from crm.nudges import Claimed, FollowUpRow
from reminders.nudges import send_due_nudges
from reminders.scheduler import make_sender, nudge_client
from tests.conftest import ADMIN, REP, REP2

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 in New York, where the rep is
CARD_NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # Wed 4 March 2026, 10:00 in New York
NEXT_FRIDAY_NY = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)  # Fri 6 Mar, 09:00 EST


# -- pure: the builders and the one-line parser --------------------------------------------------------
EVIL = "<!channel> Ping <@U0BOSS> <https://evil.example|x> " + "z" * 400


def parsed(payload) -> str:
    """The texts Slack parses for mentions: top-level text and every mrkdwn object."""
    found = [payload["text"]] if isinstance(payload.get("text"), str) else []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload.get("blocks"))
    return "\n".join(found)


def _row(i: int, *, due, owner=REP, note=EVIL, error=None) -> FollowUpRow:
    follow_up = FollowUp(id=i, customer_id=1, owner_user_id=owner, due_at=due, note=note, nudge_error=error)
    return FollowUpRow(follow_up, EVIL)


def test_nudge_dm_escapes_user_text_and_fits():
    last = Activity(type_key="call", created_by="<!here>", occurred_at=NOW - timedelta(days=1), summary=EVIL)
    claimed = Claimed(7, 1, "T1", None, REP, 3, EVIL, NOW, EVIL, 1, False, NOW, last)
    payload = {"text": nudge_dm.nudge_text(claimed), "blocks": nudge_dm.nudge_blocks(claimed, tz="UTC", now=NOW)}
    assert validate_message(payload) == []
    assert payload["text"].startswith("Follow-up due: &lt;!channel&gt; Ping &lt;@U0BOSS&gt;")
    shown = parsed(payload)
    for ping in ("<!channel>", "<!here>", "<@U0BOSS>", "<https://"):
        assert ping not in shown
    settled = {"text": "x", "blocks": nudge_dm.settled_blocks(nudge_dm.done_text(EVIL), customer_id=3, offer_log=True)}
    assert validate_message(settled) == [] and "<!channel>" not in parsed(settled)


def test_lists_and_home_fit_slacks_limits_whatever_the_data():
    rows = [_row(i, due=NOW + timedelta(hours=i - 30), owner="<!channel>", error=EVIL) for i in range(1, 61)]
    listed = {"text": "x", "blocks": views.list_blocks(rows, 500, title=EVIL, tz="UTC", now=NOW, show_owner=True)}
    assert validate_message(listed) == [] and "<!channel>" not in parsed(listed)
    day = MyDay(
        overdue=rows[:30],
        overdue_total=300,
        upcoming=rows[30:],
        upcoming_total=300,
        activities=[(Activity(type_key="call", occurred_at=NOW, summary=EVIL), EVIL)] * 20,
        deals=[(Deal(title=EVIL, stage="proposal", amount_minor=10**15, currency="USD"), EVIL)] * 20,
        failed=rows,
    )
    view = home.home_view(day, tz="UTC", now=NOW, type_label=str.title, stage_label=str.title)
    assert validate_view(view) == [] and len(view["blocks"]) <= 100
    assert "<!channel>" not in parsed(view)
    customer = Customer(id=3, name=EVIL[:255])
    for modal in (
        views.follow_up_modal(customer, owner=REP, channel="C1"),
        views.reschedule_view(rows[0].follow_up, EVIL, meta="{}", tz="UTC", now=NOW),
        home.find_customer_view(),
    ):
        assert validate_view(modal) == [] and "<!channel>" not in parsed(modal)


ACME_CO = Customer(id=1, name="Acme Corp")


def fake_lookup(query: str) -> Found:
    q = query.lower()
    if q in ("acme", "acme corp"):
        return Found("winner", ACME_CO, 100.0 if q == "acme corp" else 90.0)
    return Found("ambiguous") if q == "initech" else Found("none")


def fake_date(phrase: str) -> datetime:
    if phrase in ("next friday", "tomorrow 3pm"):
        return NOW + timedelta(days=4)
    if phrase == "in the past":
        raise DateParseError(f"“{phrase}” <is over>.")
    raise DateParseError(f"I couldn't read “{phrase}” <as a date>.")


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("Acme Corp next friday send the proposal", "send the proposal"),
        ("acme corp   tomorrow 3pm", None),
        ("Acme next friday", None),
    ],
)
def test_one_line_reads_customer_time_and_note(text, note):
    line = parse_follow_up_line(text, fake_lookup, fake_date)
    assert (line.customer, line.due, line.note) == (ACME_CO, NOW + timedelta(days=4), note)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Say who and when"),
        ("   ", "Say who and when"),
        ("Nobody Inc tomorrow", "I can't find a customer at the start of “Nobody Inc tomorrow”"),
        ("Initech tomorrow", "Several customers match"),
        ("<!here> tomorrow", "“&lt;!here&gt; tomorrow”"),
        ("Acme Corp", "When should I remind you?"),
        # Every word tried is quoted (not only the last guess), escaped once.
        ("Acme Corp whenever <b>", "at the start of “whenever &lt;b&gt;”"),
        ("Acme Corp next blursday send the proposal", "at the start of “next blursday send the proposal”"),
        ("Acme Corp in the past", "“in the past” &lt;is over&gt;"),  # a time refused: the reader's words
    ],
)
def test_one_line_refuses_in_one_escaped_sentence(text, message):
    with pytest.raises(InvalidInput) as err:
        parse_follow_up_line(text, fake_lookup, fake_date)
    assert message in error_text(err.value)  # what Slack shows: the typed words escaped once


# -- end to end ----------------------------------------------------------------------------------------
@pytest.fixture
def ws(services, ws) -> int:
    """The shared workspace, with the app's clock at NOW."""
    services.clock = lambda: NOW
    return ws


@pytest.fixture
def acme(make, ws):
    return make.customer("Acme Corporation")


def add(app_server, ws, customer_id, *, owner=REP, due=NOW - timedelta(minutes=5), note="send the quote"):
    with app_server.services.session_factory.begin() as s:
        row = FollowUp(
            workspace_id=ws, customer_id=customer_id, owner_user_id=owner, due_at=due, nudge_at=due, note=note
        )
        s.add(row)
        s.flush()
        return row.id


def nudge(app_server, standin):
    """Run one scheduler tick and return the DM it posted."""
    services = app_server.services
    sender = make_sender(services, nudge_client(services), rate=0)
    send_due_nudges(services.session_factory, sender, NOW, replica="test")
    post = standin.calls_to("chat.postMessage")[-1]
    return {"ts": post.response["ts"], "channel": post.response["channel"], "blocks": post.params["blocks"]}


def click_in_dm(slack, dm, action: dict, *, user=REP):
    return slack.block_actions(
        [action], user=user, channel=dm["channel"], message={"ts": dm["ts"], "text": "", "blocks": dm["blocks"]}
    )


def all_follow_ups(app_server) -> list[FollowUp]:
    with app_server.services.session_factory() as s:
        return list(s.scalars(select(FollowUp).order_by(FollowUp.id)))


def row(app_server, fid) -> FollowUp:
    with app_server.services.session_factory() as s:
        return s.get(FollowUp, fid)


def test_done_updates_the_dm_and_a_stale_click_is_refused(slack, standin, app_server, ws, acme):
    fid = add(app_server, ws, acme.id)
    dm = nudge(app_server, standin)
    click_in_dm(slack, dm, {"type": "button", "action_id": nudge_dm.DONE, "value": str(fid), "block_id": f"fu:{fid}"})
    update = standin.wait_for("chat.update")[0].params
    assert update["ts"] == dm["ts"] and "Done" in update["text"]
    buttons = [e["action_id"] for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert nudge_dm.DONE not in buttons and nudge_dm.LOG_OPEN in buttons  # offers to log what happened
    done = row(app_server, fid)
    assert (done.status, done.completed_by, done.nudge_at) == ("done", REP, None)
    # The same old button again: refused, nothing changes.
    click_in_dm(slack, dm, {"type": "button", "action_id": nudge_dm.DONE, "value": str(fid), "block_id": f"fu:{fid}"})
    refusal = standin.wait_for("chat.postEphemeral")[0].params
    assert "already done" in refusal["text"]
    with app_server.services.session_factory() as s:
        assert s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "follow_up", AuditEntry.entity_id == fid)
        ).all() == ["done"]


def test_snooze_until_tomorrow_nine_in_the_owners_zone(slack, standin, app_server, ws, acme):
    fid = add(app_server, ws, acme.id)
    dm = nudge(app_server, standin)
    click_in_dm(
        slack,
        dm,
        {
            "type": "static_select",
            "action_id": nudge_dm.SNOOZE,
            "block_id": f"fu:{fid}",
            "selected_option": {"value": f"{fid}:tomorrow"},
        },
    )
    standin.wait_for("chat.update")
    snoozed = row(app_server, fid)
    # Tomorrow 09:00 in America/New_York (EST, UTC-5) is 14:00 UTC.
    assert snoozed.due_at == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert snoozed.nudge_at == snoozed.due_at and snoozed.status == "snoozed"


def test_someone_elses_button_is_refused(slack, standin, app_server, ws, acme):
    fid = add(app_server, ws, acme.id, owner=REP)
    dm = nudge(app_server, standin)
    click_in_dm(
        slack, dm, {"type": "button", "action_id": nudge_dm.DONE, "value": str(fid), "block_id": f"fu:{fid}"}, user=REP2
    )
    assert "belongs to" in standin.wait_for("chat.postEphemeral")[0].params["text"]
    assert row(app_server, fid).status == "open"


def test_reassign_refuses_bots_and_hands_over_to_a_person(slack, standin, app_server, ws, acme):
    standin.add_user("U0BOT2", name="otherbot", is_bot=True)
    fid = add(app_server, ws, acme.id)
    dm = nudge(app_server, standin)
    action = {"type": "users_select", "action_id": nudge_dm.REASSIGN, "block_id": f"fu:{fid}"}
    click_in_dm(slack, dm, {**action, "selected_user": "U0BOT2"})
    assert "can't take follow-ups" in standin.wait_for("chat.postEphemeral")[0].params["text"]
    assert row(app_server, fid).owner_user_id == REP
    click_in_dm(slack, dm, {**action, "selected_user": REP2})
    standin.wait_for("chat.update")
    moved = row(app_server, fid)
    assert moved.owner_user_id == REP2 and moved.nudge_at is not None  # the new owner gets nudged too


def test_reschedule_through_the_modal(slack, standin, app_server, ws, acme):
    fid = add(app_server, ws, acme.id)
    dm = nudge(app_server, standin)
    click_in_dm(slack, dm, {"type": "button", "action_id": nudge_dm.RESCHEDULE_OPEN, "value": str(fid)})
    view = standin.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == views.RESCHEDULE_VIEW

    def values(when=None, date=None):
        return {
            views.B_WHEN: {"value": {"type": "plain_text_input", "value": when}},
            views.B_DATE: {"value": {"type": "datepicker", "selected_date": date}},
        }

    bad = slack.view_submission(views.RESCHEDULE_VIEW, values("yesterday"), private_metadata=view["private_metadata"])
    assert "past" in bad.json()["errors"][views.B_WHEN]
    empty = slack.view_submission(views.RESCHEDULE_VIEW, values(), private_metadata=view["private_metadata"])
    assert views.B_WHEN in empty.json()["errors"]
    ok = slack.view_submission(views.RESCHEDULE_VIEW, values("next friday"), private_metadata=view["private_metadata"])
    assert ok.text == ""
    # Friday 27 Nov 2026, 09:00 in New York = 14:00 UTC.
    assert row(app_server, fid).due_at == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert standin.wait_for("chat.update")[0].params["ts"] == dm["ts"]


def test_followups_list_mine_overdue_first_and_all_for_admins(slack, standin, app_server, ws, acme):
    add(app_server, ws, acme.id, due=NOW + timedelta(days=2), note="later one")
    add(app_server, ws, acme.id, due=NOW - timedelta(days=2), note="overdue one")
    add(app_server, ws, acme.id, owner=REP2, note="sam's")
    slack.command("/crm", "followups")
    mine = json.dumps(standin.wait_for("response_url")[0].params["blocks"])
    assert mine.index("overdue one") < mine.index("later one") and "sam's" not in mine
    slack.command("/crm", "followups all")
    assert "Only managers and admins" in standin.wait_for("response_url", count=2)[1].params["text"]
    slack.command("/crm", "followups all", user=ADMIN)
    everyone = json.dumps(standin.wait_for("response_url", count=3)[2].params["blocks"])
    assert "sam's" in everyone and "overdue one" in everyone
    slack.command("/crm", f"followups <@{REP2}|sam>", user=ADMIN)
    sams = json.dumps(standin.wait_for("response_url", count=4)[3].params["blocks"])
    assert "sam's" in sams and "overdue one" not in sams


def test_app_home_shows_my_day_within_slacks_limits(slack, standin, app_server, ws, acme):
    for i in range(60):
        add(app_server, ws, acme.id, due=NOW + timedelta(hours=i - 30), note=f"item {i}")
    resp = slack.event({"type": "app_home_opened", "user": REP, "channel": "D0REP", "tab": "home"})
    assert resp.status == 200
    published = standin.wait_for("views.publish")[0].params
    assert published["user_id"] == REP
    blocks = published["view"]["blocks"]
    assert len(blocks) <= 100
    text = json.dumps(blocks)
    assert "Overdue follow-ups" in text and "Upcoming follow-ups" in text and "more" in text
    # A Done pressed on the Home tab refreshes it.
    fid = next(int(b["block_id"].split(":")[1]) for b in blocks if b.get("block_id", "").startswith("home:"))
    view = {"id": standin.home_view(REP)["id"], "type": "home", "callback_id": "", "private_metadata": ""}
    slack.block_actions(
        [{"type": "button", "action_id": nudge_dm.DONE, "value": str(fid), "block_id": f"home:{fid}"}], view=view
    )
    assert len(standin.wait_for("views.publish", count=2)) == 2
    assert row(app_server, fid).status == "done"


def test_crm_followup_sets_a_reminder_in_one_line(slack, standin, app_server, ws, acme):
    slack.command("/crm", "followup acme corp next friday send the proposal")
    reply = standin.wait_for("response_url")[0].params["text"]
    assert "Acme Corporation" in reply and "send the proposal" in reply
    with app_server.services.session_factory() as s:
        f = s.scalars(select(FollowUp)).one()
    assert (f.owner_user_id, f.note, f.status) == (REP, "send the proposal", "open")
    assert f.due_at == datetime(2026, 11, 27, 14, 0, tzinfo=UTC) and f.nudge_at == f.due_at


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Say who and when"),
        ("nobody we know tomorrow", "can't find a customer"),
        ("acme corp", "When should I remind you"),
        ("acme corp yesterday", "past"),
    ],
)
def test_crm_followup_bad_input(slack, standin, app_server, ws, acme, text, expected):
    slack.command("/crm", f"followup {text}")
    assert expected in standin.wait_for("response_url")[0].params["text"]
    with app_server.services.session_factory() as s:
        assert s.scalars(select(FollowUp)).all() == []


def test_app_home_quick_buttons(slack, standin, app_server, ws, acme):
    slack.event({"type": "app_home_opened", "user": REP, "channel": "D0REP", "tab": "home"})
    published = standin.wait_for("views.publish")[0].params["view"]
    quick = next(b for b in published["blocks"] if b.get("block_id") == "home_quick")["elements"]
    assert [e["action_id"] for e in quick] == [nudge_dm.LOG_OPEN, home.HOME_FIND, home.HOME_NEW]
    view = {"id": standin.home_view(REP)["id"], "type": "home", "callback_id": "", "private_metadata": ""}
    for n, element in enumerate(quick, start=1):
        slack.block_actions([{**element, "block_id": "home_quick"}], view=view)
        opened = standin.wait_for("views.open", count=n)[n - 1].params["view"]
        assert opened["callback_id"] in ("activity_log", home.FIND_VIEW, "customer_create")
    # Find customer: pick one and its card arrives in the app's DM.
    resp = slack.view_submission(
        home.FIND_VIEW,
        {"customer": {"customer_picker:home": {"type": "external_select", "selected_option": {"value": str(acme.id)}}}},
    )
    assert resp.text == ""
    card = standin.wait_for("chat.postMessage")[0].params
    assert card["channel"] == REP and "Acme Corporation" in json.dumps(card["blocks"])


# -- the card's "Add follow-up" ------------------------------------------------------------------
def test_add_follow_up_from_the_card(slack, standin, app_server, ws, acme):
    app_server.services.clock = lambda: CARD_NOW
    slack.click(views.FOLLOW_UP_OPEN_ACTION, str(acme.id))
    view = standin.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == views.FOLLOW_UP_CALLBACK
    owner = next(b for b in view["blocks"] if b.get("block_id") == views.OWNER_BLOCK)
    assert owner["element"]["initial_user"] == REP
    meta = view["private_metadata"]

    def values(text=None, day=None, owner=REP2):
        return {
            views.FOLLOW_UP_TEXT_BLOCK: {views.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": text}},
            views.FOLLOW_UP_DATE_BLOCK: {views.FOLLOW_UP_DATE_ACTION: {"type": "datepicker", "selected_date": day}},
            views.NOTE_BLOCK: {views.NOTE_ACTION: {"type": "plain_text_input", "value": "Send <!here> the deck"}},
            views.OWNER_BLOCK: {views.OWNER_ACTION: {"type": "users_select", "selected_user": owner}},
        }

    body = slack.view_submission(views.FOLLOW_UP_CALLBACK, values(), private_metadata=meta, view_id="V0FU").json()
    assert "When is it due" in body["errors"][views.FOLLOW_UP_TEXT_BLOCK]
    body = slack.view_submission(
        views.FOLLOW_UP_CALLBACK, values("last week"), private_metadata=meta, view_id="V0FU"
    ).json()
    assert "past" in body["errors"][views.FOLLOW_UP_TEXT_BLOCK]
    for _ in range(2):  # a double-click saves once
        resp = slack.view_submission(
            views.FOLLOW_UP_CALLBACK, values("next friday"), private_metadata=meta, view_id="V0FU"
        )
        assert resp.status == 200 and not resp.text
    [follow_up] = all_follow_ups(app_server)
    assert (follow_up.owner_user_id, follow_up.due_at, follow_up.note) == (
        REP2,
        NEXT_FRIDAY_NY,
        "Send <!here> the deck",
    )
    assert follow_up.created_by == REP and follow_up.nudge_at == NEXT_FRIDAY_NY
    [shown] = standin.wait_for("chat.postEphemeral")
    assert shown.params["channel"] == "C0SALES" and "<!here>" not in json.dumps(shown.params)
    assert len(standin.calls_to("chat.postEphemeral")) == 1


def test_the_follow_up_modal_submitted_at_once_creates_one(slack, standin, app_server, ws, acme):
    slack.click(views.FOLLOW_UP_OPEN_ACTION, str(acme.id))
    meta = standin.wait_for("views.open")[0].params["view"]["private_metadata"]
    values = {
        views.FOLLOW_UP_TEXT_BLOCK: {views.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": "next friday"}},
        views.NOTE_BLOCK: {views.NOTE_ACTION: {"type": "plain_text_input", "value": "call back"}},
        views.OWNER_BLOCK: {views.OWNER_ACTION: {"type": "users_select", "selected_user": REP}},
    }
    barrier = threading.Barrier(6)
    results: list = []

    def fire():
        barrier.wait()
        results.append(
            slack.view_submission(views.FOLLOW_UP_CALLBACK, values, private_metadata=meta, view_id="V0FURACE")
        )

    threads = [threading.Thread(target=fire) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(r.status, r.text) for r in results] == [(200, "")] * 6
    [follow_up] = all_follow_ups(app_server)
    assert follow_up.note == "call back" and follow_up.idempotency_key == "view:V0FURACE"
    with app_server.services.session_factory() as s:
        entries = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "follow_up")).all()
    assert entries == ["create"]
    assert app_server.services.work.drain()
    assert len(standin.calls_to("chat.postEphemeral")) == 1  # one confirmation
