"""Customers under hostile traffic, end to end on SQLite and PostgreSQL.

- Exactly once: the same create, contact, edit or merge submission fired several times at
  once (real signed HTTP, threads) and replayed byte for byte writes one row and one audit
  entry, and every answer is calm.
- Values checked: forged and out-of-range ids in buttons, modal values and metadata, and
  user ids that can't be Slack's, are refused with one sentence or a field error.
- Escaping: mentions and links planted in every stored field the feature shows never reach
  Slack raw, in blocks or in a message's top-level text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from commands.customers import views
from commands.pickers import picked
from crm import customers as svc
from crm.actors import Actor
from crm.models import Activity, AuditEntry, Contact, Customer, Deal, FollowUp
from tests.conftest import ADMIN, REP, REP2
from tests.support.hostile import mrkdwn_in

HUGE = "99999999999999999999"
PLANTED = ("<!channel>", "<!here>", "<@U0REP>", "<https://evil.example|x>")
HOSTILE = " ".join(PLANTED)
ANSWERS = ("response_url", "chat.postEphemeral", "chat.postMessage", "views.open", "views.push", "views.update")


def count(app_server, model, *where) -> int:
    with app_server.services.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def audits(app_server, entity_type: str, action: str) -> int:
    return count(app_server, AuditEntry, AuditEntry.entity_type == entity_type, AuditEntry.action == action)


def recorded_payload(slack, send: Callable[[], object]) -> dict:
    """The payload ``send`` posted (to replay it byte for byte)."""
    sent: list[dict] = []
    original = slack.post_payload

    def record(payload, **kw):
        sent.append(payload)
        return original(payload, **kw)

    slack.post_payload = record
    try:
        send()
    finally:
        del slack.post_payload
    return sent[0]


def at_once(n: int, fire: Callable[[], object]) -> list:
    """``fire`` from ``n`` threads released together; their responses."""
    barrier = threading.Barrier(n)
    results: list = []

    def run() -> None:
        barrier.wait()
        results.append(fire())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def text_input(value):
    return {"value": {"type": "plain_text_input", "value": value}}


def create_values(name, *, force=False, contact="", email="", owner=REP2):
    values = {
        views.B_NAME: text_input(name),
        views.B_WEBSITE: text_input(None),
        views.B_OWNER: {"value": {"type": "users_select", "selected_user": owner}},
        views.B_CONTACT_NAME: text_input(contact or None),
        views.B_CONTACT_EMAIL: text_input(email or None),
        views.B_CONTACT_PHONE: text_input(None),
        views.B_CONTACT_TITLE: text_input(None),
    }
    if force:
        values[views.B_FORCE] = {"value": {"type": "checkboxes", "selected_options": [{"value": views.FORCE_VALUE}]}}
    return values


def contact_values(name, email=None, title=None, *, force=False):
    values = {
        views.B_CONTACT_NAME: text_input(name),
        views.B_CONTACT_EMAIL: text_input(email),
        views.B_CONTACT_PHONE: text_input(None),
        views.B_CONTACT_TITLE: text_input(title),
    }
    if force:
        values[views.B_FORCE] = {"value": {"type": "checkboxes", "selected_options": [{"value": views.FORCE_VALUE}]}}
    return values


def assert_calm(responses) -> None:
    for r in responses:
        assert r.status == 200, r.text[:200]
        if r.text:
            assert r.json().get("response_action") in ("errors", "update", "clear"), r.text[:200]


def nothing_went_wrong(standin) -> None:
    for call in standin.calls:
        assert "Something went wrong" not in json.dumps(call.params, ensure_ascii=False), call.method


# -- exactly once ---------------------------------------------------------------------------------
def test_create_anyway_submitted_at_once_and_replayed_creates_one_customer(slack, standin, app_server, ws, make):
    existing = make.customer("Acme Corporation", actor=REP2)
    meta = json.dumps({"channel": "C0SALES"})
    values = create_values("ACME corp.", force=True)

    def submit():
        return slack.view_submission(views.CREATE_VIEW, values, private_metadata=meta, view_id="V0CREATE1")

    payload = recorded_payload(slack, submit)
    responses = at_once(4, submit) + at_once(4, lambda: slack.post_payload(payload))
    assert_calm(responses)
    app_server.drain()
    twins = count(app_server, Customer, Customer.id != existing.id)
    assert twins == 1
    assert audits(app_server, "customer", "create") == 2  # the existing one and its one twin
    created = [c for c in standin.calls_to("chat.postEphemeral") if c.params["text"].startswith("Created")]
    assert len(created) == 1
    nothing_went_wrong(standin)
    # Another form (another view id) is another customer: the key is the form, not the name.
    slack.view_submission(views.CREATE_VIEW, values, private_metadata=meta, view_id="V0CREATE2")
    assert count(app_server, Customer, Customer.id != existing.id) == 2


def test_a_pushed_create_form_replayed_still_answers_with_the_notice(slack, app_server, ws):
    meta = json.dumps({"channel": "C0SALES", "pushed": True})
    first, again = (
        slack.view_submission(views.CREATE_VIEW, create_values("Hooli"), private_metadata=meta, view_id="V0PUSH")
        for _ in range(2)
    )
    assert first.json()["response_action"] == again.json()["response_action"] == "update"
    assert "Created" in json.dumps(first.json()["view"]) and "created already" in json.dumps(again.json()["view"])
    assert count(app_server, Customer) == 1


def test_add_contact_submitted_at_once_and_replayed_adds_one(slack, standin, app_server, ws, make):
    acme = make.customer("Acme", actor=REP2)
    meta = json.dumps({"channel": "C0SALES", "customer": acme.id, "contact": None})
    values = contact_values("Bob Stone", force=True)

    def submit():
        return slack.view_submission(views.CONTACT_VIEW, values, private_metadata=meta, view_id="V0CONTACT")

    payload = recorded_payload(slack, submit)
    assert_calm(at_once(4, submit) + at_once(3, lambda: slack.post_payload(payload)))
    app_server.drain()
    assert count(app_server, Contact, Contact.customer_id == acme.id) == 1
    assert audits(app_server, "contact", "create") == 1
    nothing_went_wrong(standin)


def test_edit_submitted_at_once_saves_once(slack, standin, app_server, ws, make):
    acme = make.customer("Acme", actor=REP2)
    meta = json.dumps({"channel": "C0SALES", "customer": acme.id})
    values = {
        views.B_NAME: text_input("Acme Rockets"),
        views.B_WEBSITE: text_input("acme.rocks"),
        views.B_OWNER: {"value": {"type": "users_select", "selected_user": REP}},
    }

    def submit():
        return slack.view_submission(views.EDIT_VIEW, values, private_metadata=meta, view_id="V0EDIT")

    assert_calm([*at_once(4, submit), submit()])
    app_server.drain()
    assert audits(app_server, "customer", "update") == 1
    with app_server.services.session_factory() as s:
        row = s.get(Customer, acme.id)
        assert (row.name, row.domain, row.owner_user_id) == ("Acme Rockets", "acme.rocks", REP)
    nothing_went_wrong(standin)


def test_merge_confirmed_at_once_and_replayed_merges_once_and_answers_calmly(slack, standin, app_server, ws, make):
    keeper = make.customer("Initech", actor=REP2)
    dup = make.customer("Initek Software", actor=REP2, force=True)
    sf = app_server.services.session_factory
    with sf.begin() as s:
        s.add(Deal(workspace_id=ws, customer_id=dup.id, title="Renewal", stage="proposal", created_by=REP))
    value = f"{dup.id}:{keeper.id}"
    payload = recorded_payload(slack, lambda: slack.click(views.MERGE_CONFIRM, value, user=ADMIN))
    at_once(5, lambda: slack.post_payload(payload))
    replies = standin.wait_for("response_url", count=6)
    app_server.drain()
    texts = [c.params["text"] for c in replies]
    assert sum(t.startswith("Merged Initek Software into Initech") for t in texts) == 1
    assert all(t.startswith("Merged") or "already merged into Initech" in t for t in texts), texts
    assert all(c.params["replace_original"] is True for c in replies)
    assert audits(app_server, "customer", "merge") == 1
    assert count(app_server, Deal, Deal.customer_id == keeper.id) == 1
    nothing_went_wrong(standin)


def test_merging_a_pair_twice_in_the_service_says_already_merged(services):
    ws = services.workspace_id("T0TEST")
    sf, reg = services.session_factory, services.search
    keeper = svc.create_customer(sf, reg, ws, actor=REP, name="Globex")
    dup = svc.create_customer(sf, reg, ws, actor=REP, name="Globex Intl", force=True)
    admin = Actor(ADMIN, is_admin=True)
    svc.merge_customers(sf, reg, ws, dup.id, keeper.id, actor=admin)
    with pytest.raises(svc.AlreadyMerged, match="already merged into Globex"):
        svc.merge_customers(sf, reg, ws, dup.id, keeper.id, actor=admin)


# -- values checked ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "action_id",
    [views.SHOW, views.HISTORY, views.SHARE, views.EDIT_OPEN, views.CONTACT_ADD_OPEN, views.USE_EXISTING],
)
def test_out_of_range_ids_in_buttons_get_one_calm_sentence(slack, standin, app_server, ws, action_id, make):
    make.customer("Acme", actor=REP2)
    for value in (HUGE, f"{HUGE}:{HUGE}", "-5", "0x10", "１２"):
        assert slack.click(action_id, value, user=REP2).status == 200
    app_server.drain()
    replies = standin.calls_to("response_url")
    assert replies and all("no longer exists" in c.params["text"] for c in replies), [c.params["text"] for c in replies]
    nothing_went_wrong(standin)


def test_out_of_range_ids_in_the_contact_menu_and_merge_button(slack, standin, app_server, ws):
    for value in (f"edit:{HUGE}", f"remove:{HUGE}"):
        action = {"type": "overflow", "action_id": views.CONTACT_MENU, "selected_option": {"value": value}}
        slack.block_actions([action], user=REP2)
    slack.click(views.MERGE_CONFIRM, f"{HUGE}:1", user=ADMIN)
    app_server.drain()
    texts = sorted(c.params["text"] for c in standin.calls_to("response_url"))
    assert texts == ["That contact no longer exists."] * 2 + ["That merge request was malformed. Nothing was changed."]
    nothing_went_wrong(standin)


@pytest.mark.parametrize(
    ("callback_id", "values"),
    [
        (views.EDIT_VIEW, {views.B_NAME: text_input("Acme")}),
        (views.CONTACT_VIEW, contact_values("Bob")),
    ],
)
def test_out_of_range_ids_in_modal_metadata_are_field_errors(slack, app_server, ws, callback_id, values):
    for meta in ({"customer": int(HUGE), "contact": int(HUGE)}, {"customer": HUGE, "contact": HUGE}):
        resp = slack.view_submission(callback_id, values, private_metadata=json.dumps(meta), user=REP2)
        assert resp.status == 200
        [message] = resp.json()["errors"].values()
        assert "no longer exists" in message
    assert count(app_server, Contact) == 0 and count(app_server, AuditEntry) == 0


@pytest.mark.parametrize("owner", ["<!channel>", "U" + "X" * 40, "not-a-user", HUGE])
def test_an_owner_that_is_no_slack_user_is_a_field_error(slack, app_server, ws, owner):
    resp = slack.view_submission(views.CREATE_VIEW, create_values("Hooli", owner=owner), user=REP2)
    assert "Pick the owner" in resp.json()["errors"][views.B_OWNER]
    assert count(app_server, Customer) == 0


def test_a_user_id_too_long_to_record_writes_nothing(slack, app_server, ws):
    # Longer than any Slack user id: the guard refuses it before any handler runs.
    resp = slack.view_submission(views.CREATE_VIEW, create_values("Hooli", owner=None), user="U" + "A" * 40)
    assert resp.status == 400, resp.text
    assert count(app_server, Customer) == 0


@pytest.mark.parametrize("value", [HUGE, "-1", "0", "abc", "", "１２"])
def test_the_picker_refuses_ids_that_cant_be_customers(value):
    assert picked({"selected_option": {"value": value}}) is None
    assert picked({"selected_option": {"value": "42"}}) == ("customer", 42)
    assert picked({"selected_option": {"value": "new:Initech"}}) == ("new", "Initech")


# -- escaping --------------------------------------------------------------------------------------
def slack_parsed_texts(params: dict) -> list[str]:
    """What Slack would parse for mentions and links: a message's ``text`` and every mrkdwn object."""
    found = [params["text"]] if isinstance(params.get("text"), str) else []
    return found + mrkdwn_in({k: v for k, v in params.items() if k != "text"})


def assert_nothing_raw(where: str, params: dict) -> None:
    for text in slack_parsed_texts(params):
        for raw in PLANTED:
            assert raw not in text, f"{where} sent {raw!r} raw: {text[:300]!r}"
        assert "<@<" not in text, where


def plant(app_server, ws) -> tuple[Customer, Customer, Contact]:
    """Two customers whose every shown field carries mentions and links (owners forged too)."""
    s = app_server.services
    sf, reg = s.session_factory, s.search
    first = svc.create_customer(sf, reg, ws, actor=REP2, name=f"Corp {HOSTILE}", owner_user_id=REP2)
    svc.update_customer(sf, reg, ws, first.id, actor=REP2, name=f"Co {HOSTILE}", website=None, owner_user_id=None)
    person = svc.ContactInput(name=f"Jo {HOSTILE}", title=HOSTILE, phone="+1 415 555 0100")
    contact = svc.add_contact(sf, reg, ws, first.id, person, actor=REP2)
    second = svc.create_customer(sf, reg, ws, actor=REP2, name=f"Corp {HOSTILE} two", force=True)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with sf.begin() as session:
        for row in session.scalars(select(Customer)):
            row.owner_user_id = "<!channel>"
        for customer in (first, second):
            session.add(
                Deal(workspace_id=ws, customer_id=customer.id, title=HOSTILE, stage="proposal", created_by=REP2)
            )
            session.add(
                FollowUp(workspace_id=ws, customer_id=customer.id, owner_user_id="<!here>", due_at=now, note=HOSTILE)
            )
            for i in range(12):
                session.add(
                    Activity(
                        workspace_id=ws,
                        customer_id=customer.id,
                        contact_id=contact.id,
                        type_key="call",
                        summary=f"{HOSTILE} {i}",
                        occurred_at=now - timedelta(days=i),
                        created_by="<!here>",
                    )
                )
    return first, second, contact


def test_planted_mentions_and_links_never_reach_slack_raw(slack, standin, app_server, ws):
    user = REP2  # nobody the test mentions legitimately is U0REP
    slack.command("/customer", f"nobody {HOSTILE}", user=user)  # no match (nothing planted yet)
    first, second, contact = plant(app_server, ws)
    slack.command("/customer", f"Co {HOSTILE}", user=user)  # the card (a winner)
    slack.command("/customer", "evil example", user=user)  # the pick list
    slack.command("/crm", f"merge {HOSTILE} into corp", user=ADMIN)  # "can't tell which"
    slack.click(views.SHOW, str(second.id), user=user)
    slack.click(views.HISTORY, f"{first.id}:2", user=user)
    slack.click(views.SHARE, str(first.id), user=user, channel="C0SALES")
    slack.click(views.EDIT_OPEN, str(first.id), user=user)
    slack.click(views.CONTACT_ADD_OPEN, str(first.id), user=user)
    menu = {"type": "overflow", "action_id": views.CONTACT_MENU, "selected_option": {"value": f"edit:{contact.id}"}}
    slack.block_actions([menu], user=user)
    meta = json.dumps({"channel": "C0SALES", "customer": first.id})
    responses = [
        slack.view_submission(views.CREATE_VIEW, create_values(f"Co {HOSTILE}"), user=user),  # the duplicate warning
        slack.view_submission(
            views.CREATE_VIEW, create_values(f"New {HOSTILE}", force=True), private_metadata=meta, user=user
        ),
        slack.view_submission(
            views.EDIT_VIEW, {views.B_NAME: text_input(f"Co {HOSTILE}")}, private_metadata=meta, user=user
        ),
        slack.view_submission(views.CONTACT_VIEW, contact_values(f"Al {HOSTILE}"), private_metadata=meta, user=user),
        slack.view_submission(
            views.CREATE_VIEW, create_values(f"P {HOSTILE}"), private_metadata='{"pushed":true}', user=user
        ),
    ]
    remove = {**menu, "selected_option": {"value": f"remove:{contact.id}"}}
    slack.block_actions([remove], user=user)
    slack.command("/crm", f"merge Corp {HOSTILE} two into Co {HOSTILE}", user=ADMIN)
    slack.command("/crm", "duplicates", user=ADMIN)
    for _ in range(2):  # merged, then "already merged"
        slack.click(views.MERGE_CONFIRM, f"{second.id}:{first.id}", user=ADMIN)
    app_server.drain()

    sent = [c for c in standin.calls if c.method in ANSWERS]
    kinds = {c.method for c in sent}
    assert {"response_url", "chat.postEphemeral", "chat.postMessage", "views.open"} <= kinds
    assert len(sent) >= 15
    for call in sent:
        assert_nothing_raw(call.method, call.params)
    for resp in responses:
        assert resp.status == 200
        if resp.text:
            assert_nothing_raw("view submission answer", resp.json())
    texts = " ".join(t for c in sent for t in slack_parsed_texts(c.params))
    assert "&lt;!channel&gt;" in texts and "&lt;@U0REP&gt;" in texts  # shown, as the literal text
    assert "Merged Corp" in texts and "already merged" in texts
    nothing_went_wrong(standin)
