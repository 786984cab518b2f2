"""Customers end to end: signed Slack requests to the running app, answers read from the stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.dev.blockkit_check import validate_message, validate_options
from commands.customers import views
from crm import customers as svc
from crm.models import Activity, Contact, Customer
from tests.conftest import ADMIN, REP


def last_reply(standin, count=1):
    return standin.wait_for("response_url", count=count)[-1].params


def mrkdwn_texts(node) -> str:
    """All mrkdwn text in a payload: the only place Slack turns <!channel> into a ping."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            found.append(node.get("text", ""))
        for value in node.values():
            found.append(mrkdwn_texts(value))
    elif isinstance(node, list):
        found.extend(mrkdwn_texts(v) for v in node)
    return "\n".join(found)


def blocks_text(payload) -> str:
    return json.dumps(payload.get("blocks") or payload.get("view", {}).get("blocks"), ensure_ascii=False)


def test_lookup_with_a_typo_shows_the_card(slack, standin, app_server, ws, make):
    acme = make.customer(
        "Acme Corporation",
        website="acme.com",
        contact=svc.ContactInput(name="Jane Doe", email="jane@acme.com", title="CTO"),
    )
    make.customer("Globex")
    assert slack.command("/customer", "acme corp.").status == 200
    reply = last_reply(standin)
    assert reply["response_type"] == "ephemeral"
    text = blocks_text(reply)
    assert "Acme Corporation" in text and "Jane Doe" in text and "acme.com" in text
    # Every card button is there and carries the customer id.
    actions = next(b for b in reply["blocks"] if b["type"] == "actions")["elements"]
    assert {e["action_id"] for e in actions} == {
        views.LOG_OPEN,
        views.FOLLOW_UP_OPEN,
        views.CONTACT_ADD_OPEN,
        views.EDIT_OPEN,
        views.HISTORY,
        views.SHARE,
        views.DEAL_NEW_OPEN,
    }
    assert all(e["value"].startswith(str(acme.id)) for e in actions)
    # /crm find is the same thing.
    slack.command("/crm", "find acmee corporation")
    assert "Acme Corporation" in blocks_text(last_reply(standin, 2))


def test_lookup_by_email_and_domain(slack, standin, app_server, ws, make):
    make.customer("Stark Industries", website="https://stark.com")
    slack.command("/customer", "tony@stark.com")
    assert "Stark Industries" in blocks_text(last_reply(standin))


def test_several_candidates_give_a_pick_list_then_a_card(slack, standin, app_server, ws, make):
    make.customer("Acme Analytics")
    robotics = make.customer("Acme Robotics")
    slack.command("/customer", "acme")
    reply = last_reply(standin)
    assert "Several customers match" in reply["text"]
    shows = [b["accessory"] for b in reply["blocks"] if b.get("accessory", {}).get("action_id") == views.SHOW]
    assert len(shows) == 2
    slack.click(views.SHOW, str(robotics.id))
    card = last_reply(standin, 2)
    assert card["replace_original"] is True and "Acme Robotics" in blocks_text(card)


def test_no_match_offers_to_create_and_opens_the_modal(slack, standin, app_server, ws):
    slack.command("/customer", "Initech")
    reply = last_reply(standin)
    assert "No customer matches" in reply["text"]
    [button] = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == views.CREATE_OPEN and button["value"] == "Initech"
    slack.click(views.CREATE_OPEN, button["value"])
    view = standin.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == views.CREATE_VIEW
    name_block = next(b for b in view["blocks"] if b.get("block_id") == views.B_NAME)
    assert name_block["element"]["initial_value"] == "Initech"
    # Every input is told apart by its label alone: the contact's phone and the company's are not both "Phone".
    addresses = ("billing_", "shipping_")  # street, city … twice, under their own headings
    inputs = [b for b in view["blocks"] if b["type"] == "input" and not b["block_id"].startswith(addresses)]
    labels = [b["label"]["text"] for b in inputs]
    assert len(labels) == len(set(labels)), labels


def test_empty_query_gets_usage(slack, standin):
    slack.command("/customer", "   ")
    assert "Tell me who to look for" in blocks_text(last_reply(standin))


@pytest.mark.parametrize(
    "query",
    ["x" * 2000, "🚀🔥💯", "شركة الأمل", "'; DROP TABLE customers; --", "acme\x00\x07\x1b[31m", "%_%", "<!channel>"],
)
def test_hostile_queries_get_a_sensible_answer(slack, standin, app_server, ws, query, make):
    make.customer("Acme Corporation")
    assert slack.command("/customer", query).status == 200
    reply = last_reply(standin)
    assert reply["text"]
    assert "<!channel>" not in mrkdwn_texts(reply["blocks"])
    with app_server.services.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def create_values(name="", website="", email="", contact="", phone="", force=False):
    def text(v):
        return {"value": {"type": "plain_text_input", "value": v or None}}

    values = {
        views.B_NAME: text(name),
        views.B_WEBSITE: text(website),
        views.B_OWNER: {"value": {"type": "users_select", "selected_user": REP}},
        views.B_CONTACT_NAME: text(contact),
        views.B_CONTACT_EMAIL: text(email),
        views.B_CONTACT_PHONE: text(phone),
        views.B_CONTACT_TITLE: text(""),
    }
    if force:
        values[views.B_FORCE] = {"value": {"type": "checkboxes", "selected_options": [{"value": views.FORCE_VALUE}]}}
    return values


def test_create_modal_saves_customer_and_contact_and_shows_the_card(slack, standin, app_server, ws):
    resp = slack.view_submission(
        views.CREATE_VIEW,
        create_values("Hooli Inc.", "hooli.xyz", "gavin@hooli.xyz", "Gavin Belson", "+1 650 555 0199"),
        private_metadata=json.dumps({"channel": "C0SALES"}),
    )
    assert resp.status == 200 and resp.text == ""
    card = standin.wait_for("chat.postEphemeral")[0].params
    assert card["channel"] == "C0SALES" and card["user"] == REP
    assert "Hooli Inc." in blocks_text(card) and "Gavin Belson" in blocks_text(card)
    with app_server.services.session_factory() as s:
        c = s.scalars(select(Customer)).one()
        assert (c.domain, c.owner_user_id, c.created_by) == ("hooli.xyz", REP, REP)
        assert s.scalars(select(Contact.phone)).one() == "+16505550199"


def test_create_modal_shows_field_errors(slack, app_server):
    resp = slack.view_submission(views.CREATE_VIEW, create_values("Hooli", "hooli", "", "", ""))
    assert resp.json()["errors"].keys() == {views.B_WEBSITE}
    resp = slack.view_submission(views.CREATE_VIEW, create_values("Hooli", "", "gavin@", "Gavin"))
    assert "isn't an email" in resp.json()["errors"][views.B_CONTACT_EMAIL]
    resp = slack.view_submission(views.CREATE_VIEW, create_values("Hooli", "", "g@hooli.xyz", ""))
    assert views.B_CONTACT_NAME in resp.json()["errors"]
    with app_server.services.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_create_modal_duplicate_guard_then_create_anyway(slack, standin, app_server, ws, make):
    existing = make.customer("Acme Corporation", website="acme.com")
    resp = slack.view_submission(views.CREATE_VIEW, create_values("ACME corp.", "www.acme.com"))
    answer = resp.json()
    assert answer["response_action"] == "update"
    view = answer["view"]
    assert "already have" in blocks_text({"blocks": view["blocks"]})
    use = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("action_id") == views.USE_EXISTING]
    assert use[0]["value"] == str(existing.id)
    # The typed values survive the round trip.
    assert (
        next(b for b in view["blocks"] if b.get("block_id") == views.B_NAME)["element"]["initial_value"] == "ACME corp."
    )
    from bot.dev.blockkit_check import validate_view

    assert validate_view(view) == []
    resp = slack.view_submission(views.CREATE_VIEW, create_values("ACME corp.", "www.acme.com", force=True))
    assert resp.text == ""
    with app_server.services.session_factory() as s:
        twin = s.scalars(select(Customer).where(Customer.id != existing.id)).one()
        assert twin.duplicate_override_by == REP


def test_use_existing_from_the_duplicate_warning(slack, standin, app_server, ws, make):
    existing = make.customer("Acme Corporation")
    slack.command("/crm", "new ACME corp")
    opened = standin.wait_for("views.open")[0]
    assert opened.params["view"]["callback_id"] == views.CREATE_VIEW
    view = opened.response["view"]
    slack.block_actions([{"type": "button", "action_id": views.USE_EXISTING, "value": str(existing.id)}], view=view)
    standin.wait_for("views.update")
    assert "Acme Corporation" in blocks_text(standin.wait_for("chat.postEphemeral")[0].params)


def test_customer_picker_options(slack, app_server, make):
    make.customers(f"Northwind Trading {i:03d} " + "X" * 90 for i in range(150))
    options = slack.block_suggestion("customer_picker:log", "northwind").json()["options"]
    assert 1 < len(options) <= 100
    assert validate_options(options, None) == []
    assert options[-1]["value"].startswith("new:")
    two_letters = slack.block_suggestion("customer_picker", "no").json()["options"]
    assert any(o["value"].isdigit() for o in two_letters)


def test_share_in_channel(slack, standin, app_server, ws, make):
    acme = make.customer("Acme Corporation")
    slack.click(views.SHARE, str(acme.id), channel="C0SALES")
    post = standin.wait_for("chat.postMessage")[0].params
    assert post["channel"] == "C0SALES" and "Acme Corporation" in blocks_text(post)
    assert not any(b["type"] == "actions" for b in post["blocks"])  # the shared card is read-only
    # People are named, not mentioned: a posted mention would notify them.
    assert "<@" not in mrkdwn_texts(post["blocks"]) and "rita" in mrkdwn_texts(post["blocks"])


def test_share_refused_in_slack_connect_channel(slack, standin, app_server, ws, make):
    standin.add_channel("C0EXT", name="acme-shared", is_ext_shared=True)
    acme = make.customer("Acme Corporation")
    slack.click(views.SHARE, str(acme.id), channel="C0EXT")
    reply = last_reply(standin)
    assert "shared with another organisation" in reply["text"]
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("chat.postMessage") == []


def test_share_when_not_in_channel(slack, standin, app_server, ws, make):
    acme = make.customer("Acme Corporation")
    standin.fail_next("chat.postMessage", error="not_in_channel")
    slack.click(views.SHARE, str(acme.id), channel="C0SALES")
    assert "/invite @crm" in last_reply(standin)["text"]


def test_history_pages_through_all_activities(slack, standin, app_server, ws, make):
    acme = make.customer("Acme Corporation")
    base = datetime(2026, 11, 1, tzinfo=UTC)
    with app_server.services.session_factory.begin() as s:
        for i in range(25):
            s.add(
                Activity(
                    workspace_id=ws,
                    customer_id=acme.id,
                    type_key="call",
                    summary=f"call number {i}",
                    occurred_at=base + timedelta(hours=i),
                    created_by=REP,
                )
            )
    slack.click(views.HISTORY, f"{acme.id}:1")
    page1 = last_reply(standin)
    assert "call number 24" in blocks_text(page1) and "Page 1 of 3" in blocks_text(page1)
    older = next(
        e for b in page1["blocks"] if b["type"] == "actions" for e in b["elements"] if "Older" in e["text"]["text"]
    )
    slack.click(older["action_id"], older["value"])
    assert "Page 2 of 3" in blocks_text(last_reply(standin, 2))
    slack.click(views.HISTORY, f"{acme.id}:3")
    page3 = last_reply(standin, 3)
    assert "call number 0" in blocks_text(page3) and "Page 3 of 3" in blocks_text(page3)


def test_merge_needs_an_admin_and_a_confirmation(slack, standin, app_server, ws, make):
    keeper = make.customer("Initech")
    dup = make.customer("Initek Software", force=True)
    slack.command("/crm", "merge Initek Software into Initech", user=REP)
    assert "Only workspace admins" in last_reply(standin)["text"]
    slack.command("/crm", "merge Initek Software into Initech", user=ADMIN)
    confirm = last_reply(standin, 2)
    assert "Merge" in confirm["text"]
    button = next(e for b in confirm["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["value"] == f"{dup.id}:{keeper.id}" and "confirm" in button
    # A rep pressing the (forwarded) button is still refused.
    slack.click(views.MERGE_CONFIRM, button["value"], user=REP)
    assert "Only workspace admins" in last_reply(standin, 3)["text"]
    slack.click(views.MERGE_CONFIRM, button["value"], user=ADMIN)
    assert "Merged Initek Software into Initech" in last_reply(standin, 4)["text"]
    with app_server.services.session_factory() as s:
        assert s.get(Customer, dup.id).merged_into_id == keeper.id


def test_add_contact_through_the_modal(slack, standin, app_server, ws, make):
    acme = make.customer("Acme", contact=svc.ContactInput(name="Jane Doe", email="jane@acme.com"))
    slack.click(views.CONTACT_ADD_OPEN, str(acme.id))
    view = standin.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == views.CONTACT_VIEW
    meta = view["private_metadata"]

    def values(name, email):
        return {
            views.B_CONTACT_NAME: {"value": {"type": "plain_text_input", "value": name}},
            views.B_CONTACT_EMAIL: {"value": {"type": "plain_text_input", "value": email}},
            views.B_CONTACT_PHONE: {"value": {"type": "plain_text_input", "value": None}},
            views.B_CONTACT_TITLE: {"value": {"type": "plain_text_input", "value": None}},
        }

    dup = slack.view_submission(views.CONTACT_VIEW, values("Janet", "JANE@acme.com"), private_metadata=meta)
    assert "already" in dup.json()["errors"][views.B_CONTACT_EMAIL]
    ok = slack.view_submission(views.CONTACT_VIEW, values("John Roe", "john@acme.com"), private_metadata=meta)
    assert ok.text == ""
    with app_server.services.session_factory() as s:
        assert sorted(s.scalars(select(Contact.name))) == ["Jane Doe", "John Roe"]


def test_card_fits_slacks_limits_whatever_the_data(app_server, ws, make):
    """80 contacts, 500 activities and very long names still give a valid message."""
    s = app_server.services
    long = "Ünïcödé Holdings " + "W" * 230
    c = make.customer(long)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with s.session_factory.begin() as session:
        for i in range(80):
            session.add(
                Contact(
                    workspace_id=ws,
                    customer_id=c.id,
                    name=f"Contact {i} " + "N" * 200,
                    normalized_name=f"contact {i}",
                    email=f"c{i}@example.com",
                    title="T" * 250,
                )
            )
        for i in range(500):
            session.add(
                Activity(
                    workspace_id=ws,
                    customer_id=c.id,
                    type_key="meeting",
                    summary="<!channel> " * 400,
                    occurred_at=base + timedelta(hours=i),
                    created_by=REP,
                )
            )
    card = svc.customer_card(s.session_factory, ws, c.id)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    blocks = views.card_blocks(card, tz="Asia/Tokyo", now=now)
    assert validate_message({"text": views.card_text(card), "blocks": blocks}) == []
    text = json.dumps(blocks)
    assert "70 more contacts" in text and "495 earlier activities" in text
    assert "<!channel>" not in mrkdwn_texts(blocks)
    shared = views.card_blocks(card, tz="UTC", now=now, shared=True)
    assert validate_message({"text": "x", "blocks": shared}) == []
    hist = svc.customer_history(s.session_factory, ws, c.id, page=7)
    assert validate_message({"text": "x", "blocks": views.history_blocks(hist, tz="UTC", now=now)}) == []
