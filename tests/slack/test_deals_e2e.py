"""Deals, `/crm pipeline` and `/crm digest` end to end: signed Slack requests to the running app,
answers read from the Slack stand-in, rows read from the database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from commands.customers import views as customer_views
from commands.deals import views as ui
from crm import customers as csvc
from crm.models import AuditEntry, Deal, DealStageChange, DigestRun, DigestSubscription
from reminders.digests import make_digest_sender, send_due_digests
from reminders.scheduler import nudge_client
from tests.conftest import REP, REP2
from tests.support.hostile import PLANTED, assert_nothing_raw, together

# Wednesday 4 March 2026, 15:00 UTC (10:00 for the rep in New York).
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def ws(services, ws) -> int:
    """The shared workspace, with the app's clock at NOW."""
    services.clock = lambda: NOW
    return ws


@pytest.fixture
def acme(make, ws):
    return make.customer("Acme Corporation")


def replies(standin, count=1) -> list[dict]:
    return [c.params for c in standin.wait_for("response_url", count=count)]


def ask(slack, standin, text: str, channel: str = "C0SALES") -> dict:
    """Run `/crm <text>` and wait for its answer (answers to several commands may come in any order)."""
    before = len(standin.calls_to("response_url"))
    slack.command("/crm", text, channel=channel)
    return standin.wait_for("response_url", count=before + 1)[before].params


def deals(app_server) -> list[Deal]:
    with app_server.services.session_factory() as s:
        return list(s.scalars(select(Deal).order_by(Deal.id)))


def deal_values(*, title="Annual licence", amount="12,500.50", currency="EUR", stage="qualified", close=None,
                owner=REP, customer=None) -> dict:  # fmt: skip
    values = {
        ui.B_TITLE: {ui.A_VALUE: {"type": "plain_text_input", "value": title}},
        ui.B_AMOUNT: {ui.A_VALUE: {"type": "plain_text_input", "value": amount}},
        ui.B_CURRENCY: {ui.A_VALUE: {"type": "plain_text_input", "value": currency}},
        ui.B_STAGE: {ui.A_VALUE: {"type": "static_select", "selected_option": stage and {"value": stage}}},
        ui.B_CLOSE: {ui.A_VALUE: {"type": "datepicker", "selected_date": close}},
        ui.B_OWNER: {ui.A_VALUE: {"type": "users_select", "selected_user": owner}},
    }
    if customer is not None:
        values[ui.B_CUSTOMER] = {ui.PICKER: {"type": "external_select", "selected_option": {"value": str(customer)}}}
    return values


def submit(slack, values, meta, user=REP, view_id=None):
    """Submit the deal modal; each call is a different modal (Slack gives each its own view id)."""
    view_id = view_id or f"V{uuid.uuid4().hex[:10].upper()}"
    return slack.view_submission(ui.SAVE_VIEW, values, private_metadata=json.dumps(meta), user=user, view_id=view_id)


def buttons(blocks) -> list[dict]:
    found = []
    for b in blocks:
        if b["type"] == "actions":
            found += b["elements"]
        if b.get("accessory", {}).get("type") == "button":
            found.append(b["accessory"])
    return found


def test_card_offers_new_deal_and_the_modal_saves_it(slack, standin, app_server, ws, acme):
    slack.command("/customer", "acme")
    card = replies(standin)[0]
    new = next(b for b in buttons(card["blocks"]) if b["action_id"] == customer_views.DEAL_NEW_OPEN)
    assert new["value"] == str(acme.id)
    slack.click(ui.NEW_OPEN, new["value"])
    view = standin.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ui.SAVE_VIEW and "Acme Corporation" in json.dumps(view["blocks"])
    meta = json.loads(view["private_metadata"])
    view_id = standin.wait_for("views.open")[0].response["view"]["id"]
    resp = submit(slack, deal_values(close="2026-04-30"), meta, view_id=view_id)
    assert resp.status == 200 and not resp.text
    [deal] = deals(app_server)
    assert (deal.title, deal.amount_minor, deal.currency, deal.stage, deal.owner_user_id) == (
        "Annual licence",
        1_250_050,
        "EUR",
        "qualified",
        REP,
    )
    assert deal.expected_close.isoformat() == "2026-04-30" and deal.created_at == NOW
    [shown] = standin.wait_for("chat.postEphemeral")
    text = json.dumps(shown.params["blocks"], ensure_ascii=False)
    assert "Created" in text and "€12,500.50" in text and "Qualified" in text
    with app_server.services.session_factory() as s:
        [change] = s.scalars(select(DealStageChange)).all()
        assert (change.from_stage, change.to_stage, change.created_by) == (None, "qualified", REP)
    # A double-click or a replayed submission of the same modal saves nothing more.
    again = submit(slack, deal_values(close="2026-04-30"), meta, view_id=view_id)
    assert again.status == 200 and not again.text
    assert len(deals(app_server)) == 1


@pytest.mark.parametrize(
    ("kw", "block", "message"),
    [
        ({"amount": "12,5k"}, ui.B_AMOUNT, "isn't an amount"),
        ({"amount": "-5"}, ui.B_AMOUNT, "negative"),
        ({"amount": "1e9"}, ui.B_AMOUNT, "isn't an amount"),
        ({"amount": "abc"}, ui.B_AMOUNT, "isn't an amount"),
        ({"currency": "XYZ"}, ui.B_CURRENCY, "currency code"),
        ({"stage": "banana"}, ui.B_STAGE, "isn't a pipeline stage"),
        ({"title": "   "}, ui.B_TITLE, "title"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(slack, app_server, ws, acme, kw, block, message):
    body = submit(slack, deal_values(**kw), {"customer": acme.id, "channel": "C0SALES"}).json()
    assert body["response_action"] == "errors" and message in body["errors"][block]
    assert deals(app_server) == []


def test_deal_command_lists_deals_and_edit_keeps_the_stage_history(slack, standin, app_server, ws, acme):
    submit(slack, deal_values(stage="lead"), {"customer": acme.id, "channel": "C0SALES"})
    [deal] = deals(app_server)
    listing = ask(slack, standin, "deal acme corp")
    assert listing["response_type"] == "ephemeral"
    edit = next(b for b in buttons(listing["blocks"]) if b["action_id"] == ui.EDIT_OPEN)
    assert edit["value"] == str(deal.id)
    slack.click(ui.EDIT_OPEN, edit["value"])
    view = standin.wait_for("views.open")[0].params["view"]
    assert "Stage history" in json.dumps(view["blocks"])
    submit(slack, deal_values(stage="proposal", amount="13000"), json.loads(view["private_metadata"]), user=REP2)
    [deal] = deals(app_server)
    assert (deal.stage, deal.amount_minor, deal.updated_by) == ("proposal", 1_300_000, REP2)
    with app_server.services.session_factory() as s:
        changes = s.scalars(select(DealStageChange).order_by(DealStageChange.id)).all()
        assert [(c.from_stage, c.to_stage, c.created_by) for c in changes] == [
            (None, "lead", REP),
            ("lead", "proposal", REP2),
        ]
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "deal").order_by(AuditEntry.id))
        assert list(actions) == ["create", "stage"]


def test_deal_command_alone_opens_the_form_with_a_customer_picker(slack, standin, app_server, ws, acme):
    slack.command("/crm", "deal")
    view = standin.wait_for("views.open")[0].params["view"]
    meta = json.loads(view["private_metadata"])
    assert view["blocks"][0]["block_id"] == ui.B_CUSTOMER
    body = submit(slack, deal_values(), meta).json()
    assert "Pick a customer" in body["errors"][ui.B_CUSTOMER]
    body = submit(slack, {**deal_values(), ui.B_CUSTOMER: {ui.PICKER: {"type": "external_select",
                  "selected_option": {"value": "new:Initech"}}}}, meta).json()  # fmt: skip
    assert "Create the customer first" in body["errors"][ui.B_CUSTOMER]
    assert submit(slack, deal_values(customer=acme.id), meta).status == 200
    assert [d.customer_id for d in deals(app_server)] == [acme.id]


def test_deal_command_for_an_unknown_customer(slack, standin, ws):
    assert "No customer matches" in ask(slack, standin, "deal nobody at all")["text"]


def test_pipeline_mine_and_team(slack, standin, app_server, ws, acme):
    submit(slack, deal_values(stage="lead", amount="1000", currency="USD"), {"customer": acme.id})
    submit(slack, deal_values(stage="lead", amount="2000", currency="USD", owner=REP2), {"customer": acme.id})
    mine, team, bad = (ask(slack, standin, t) for t in ("pipeline", "pipeline team", "pipeline everybody please"))
    assert mine["text"] == "Your pipeline: 1 open deal · $1,000.00"
    assert team["text"] == "Team pipeline: 2 open deals · $3,000.00"
    assert "`/crm pipeline team`" in bad["text"]
    assert all(r["response_type"] == "ephemeral" for r in (mine, team, bad))


def test_digest_subscribe_list_preview_unsubscribe(slack, standin, app_server, ws, acme):
    bad_time, bad_word, ambiguous = (ask(slack, standin, f"digest subscribe {t}") for t in ("25:00", "nine", "9"))
    assert "isn't a time of day" in bad_time["text"] and "“nine”" in bad_word["text"]
    assert "9:00 (24-hour clock) or 9am" in ambiguous["text"]
    first, second = (ask(slack, standin, t) for t in ("digest subscribe", "digest subscribe 8:30 daily"))
    assert "at 09:00 on weekdays (America/New_York)" in first["text"]
    assert "Thu 5 Mar at 09:00" in first["text"]  # 10:00 now in New York: tomorrow
    assert "now gets" in second["text"] and "08:30 every day" in second["text"]
    with app_server.services.session_factory() as s:
        [sub] = s.scalars(select(DigestSubscription)).all()
        assert (sub.channel_id, sub.local_time, sub.days, sub.timezone) == (
            "C0SALES",
            "08:30",
            "daily",
            "America/New_York",
        )
    listing, preview = (ask(slack, standin, t) for t in ("digest list", "digest preview"))
    assert "<#C0SALES> at 08:30 every day" in json.dumps(listing["blocks"])
    assert preview["response_type"] == "ephemeral" and "Preview, only you can see this" in json.dumps(preview["blocks"])
    # No digest came before in this channel: the preview is the first of the week, with the forecast.
    assert "This week's forecast" in json.dumps(preview["blocks"], ensure_ascii=False)
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("chat.postMessage") == []  # a preview posts nothing in the channel
    stopped, again, unknown = (
        ask(slack, standin, t) for t in ("digest unsubscribe", "digest unsubscribe", "digest weekly")
    )
    assert "won't get the pipeline digest" in stopped["text"]
    assert "isn't subscribed" in again["text"]
    assert "I don't know `/crm digest weekly`" in unknown["text"]


@pytest.mark.parametrize(
    ("channel", "setup", "message"),
    [
        ("C0EXT", {"is_ext_shared": True}, "Slack Connect"),
        ("C0ARCH", {"is_archived": True}, "archived"),
        ("G0PRIV", {"is_private": True, "is_member": False}, "/invite @crm"),
        ("D0DM", None, "not a direct message"),
    ],
)
def test_digest_refuses_channels_it_cannot_post_to(slack, standin, app_server, ws, channel, setup, message):
    if setup is not None:
        standin.add_channel(channel, name=channel.lower(), **setup)
    assert message in ask(slack, standin, "digest subscribe", channel=channel)["text"]
    with app_server.services.session_factory() as s:
        assert s.scalars(select(DigestSubscription)).all() == []


def test_digest_subscribe_joins_a_public_channel_and_the_job_posts_there(slack, standin, app_server, ws, acme):
    standin.chat_write_public = False
    standin.add_channel("C0PUB", name="pub", is_member=False)
    assert "will get the pipeline digest" in ask(slack, standin, "digest subscribe 9:00 daily", "C0PUB")["text"]
    assert [c.params["channel"] for c in standin.calls_to("conversations.join")] == ["C0PUB"]
    services = app_server.services
    sender = make_digest_sender(services, nudge_client(services), rate=0)
    due = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)  # 09:00 in New York
    with services.session_factory.begin() as s:
        s.add(
            Deal(workspace_id=ws, customer_id=acme.id, title="Big one", amount_minor=500_000, currency="USD",
                 stage="proposal", owner_user_id=REP2, created_at=datetime(2026, 3, 4, 20, tzinfo=UTC))
        )  # fmt: skip
    report = send_due_digests(services.session_factory, sender, due, replica="r1")
    assert report.posted == 1
    message, detail, *charts = standin.messages("C0PUB")  # the summary, then its thread
    assert "Pipeline digest" in message["text"] and detail["thread_ts"] == message["ts"]
    assert all(c["thread_ts"] == message["ts"] and c["files"] for c in charts)
    # Reps are named (full name), not mentioned: a daily post must not ping everyone it lists.
    posted = json.dumps(detail["blocks"], ensure_ascii=False)
    assert "Big one" in posted and "Sam Seller" in posted and "<@" not in posted
    with services.session_factory() as s:
        skipped, run = s.scalars(select(DigestRun).order_by(DigestRun.run_date)).all()
        # Subscribed at 10:00, after that day's 09:00: that day is marked done, not posted late.
        assert skipped.run_date.isoformat() == "2026-03-04" and skipped.message_ts is None
        assert run.message_ts == message["ts"] and run.run_date.isoformat() == "2026-03-05"


# -- exactly once (issue 12) -------------------------------------------------------------------------
def audit_actions(app_server) -> list[str]:
    with app_server.services.session_factory() as s:
        rows = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "deal").order_by(AuditEntry.id))
        return list(rows)


def stage_moves(app_server) -> list[tuple]:
    with app_server.services.session_factory() as s:
        rows = s.scalars(select(DealStageChange).order_by(DealStageChange.id))
        return [(c.from_stage, c.to_stage, c.created_by) for c in rows]


def test_concurrent_submissions_of_one_modal_create_one_deal(slack, standin, app_server, ws, acme):
    meta = {"customer": acme.id, "channel": "C0SALES"}
    responses = together(6, lambda: submit(slack, deal_values(), meta, view_id="V0TWINS"))
    assert [(r.status, r.text) for r in responses] == [(200, "")] * 6  # the losers are answered calmly
    [deal] = deals(app_server)
    assert deal.title == "Annual licence"
    assert audit_actions(app_server) == ["create"]
    assert stage_moves(app_server) == [(None, "qualified", REP)]
    # A replay after the race saves nothing either; the one confirmation came from the winner.
    assert submit(slack, deal_values(), meta, view_id="V0TWINS").status == 200
    assert len(deals(app_server)) == 1
    [confirmation] = standin.wait_for("chat.postEphemeral")
    assert "Created" in confirmation.params["text"]


def test_an_edit_replayed_or_raced_changes_once(slack, standin, app_server, ws, acme):
    submit(slack, deal_values(stage="lead"), {"customer": acme.id})
    [deal] = deals(app_server)
    meta = {"customer": acme.id, "deal": deal.id, "channel": "C0SALES"}
    edit = deal_values(stage="proposal", amount="13000")
    responses = together(4, lambda: submit(slack, edit, meta, user=REP2, view_id="V0EDIT"))
    assert [(r.status, r.text) for r in responses] == [(200, "")] * 4
    assert stage_moves(app_server) == [(None, "lead", REP), ("lead", "proposal", REP2)]
    assert audit_actions(app_server) == ["create", "stage"]
    # Someone else moves the deal on; a late replay of the first edit must not move it back.
    submit(slack, deal_values(stage="negotiation", amount="13000"), meta, view_id="V0LATER")
    assert submit(slack, edit, meta, user=REP2, view_id="V0EDIT").status == 200
    [deal] = deals(app_server)
    assert (deal.stage, deal.updated_by) == ("negotiation", REP)
    assert stage_moves(app_server)[-1] == ("proposal", "negotiation", REP)
    assert audit_actions(app_server) == ["create", "stage", "stage"]


# -- values checked before they reach SQL (issue 12) ------------------------------------------------------
HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("kw", "meta", "block", "message"),
    [
        ({}, {"customer": HUGE}, ui.B_TITLE, "no longer exists"),
        ({}, {"customer": int(HUGE)}, ui.B_TITLE, "no longer exists"),
        ({}, {"customer": "acme", "deal": HUGE}, ui.B_TITLE, "no longer exists"),
        ({"customer": HUGE}, {}, ui.B_CUSTOMER, "Pick a customer"),
        ({"owner": "U" + "X" * 40}, None, ui.B_OWNER, "owner"),
        ({"owner": "<!channel>"}, None, ui.B_OWNER, "owner"),
        ({"title": "x" * 256}, None, ui.B_TITLE, "at most 255 characters"),
        ({"amount": "1" * 41}, None, ui.B_AMOUNT, "isn't an amount"),
        ({"amount": "9" * 20}, None, ui.B_AMOUNT, "too large"),
        ({"currency": "EURO"}, None, ui.B_CURRENCY, "currency code"),
        ({"currency": "x" * 5000}, None, ui.B_CURRENCY, "currency code"),
        ({"close": "2026-99-99"}, None, ui.B_CLOSE, "Pick a date"),
    ],
    ids=[
        "customer id", "customer id as number", "deal id", "picked id", "long owner", "owner markup",
        "long title", "long amount", "huge amount", "currency", "long currency", "close date",
    ],
)  # fmt: skip
def test_forged_ids_and_oversized_values_are_refused_calmly(slack, app_server, ws, acme, kw, meta, block, message):
    if meta is None:
        meta = {"customer": acme.id}
    meta = {k: (acme.id if v == "acme" else v) for k, v in meta.items()}
    resp = submit(slack, deal_values(**kw), meta)
    assert resp.status == 200
    body = resp.json()
    assert body["response_action"] == "errors" and message in body["errors"][block]
    assert deals(app_server) == []


@pytest.mark.parametrize("user", ["U" + "A" * 40, "<!channel>", ""], ids=["long", "markup", "blank"])
def test_a_forged_user_id_saves_nothing(slack, app_server, ws, acme, user):
    # Not shaped like a Slack user id, or none at all: the guard refuses it before any handler runs.
    resp = submit(slack, deal_values(), {"customer": acme.id}, user=user)
    assert resp.status == 400, resp.text
    assert deals(app_server) == []


@pytest.mark.parametrize("action_id", [ui.NEW_OPEN, ui.EDIT_OPEN, ui.LIST_SHOW])
def test_buttons_with_forged_ids_say_it_is_gone(slack, standin, app_server, ws, acme, action_id):
    slack.click(action_id, HUGE)
    [reply] = replies(standin)
    assert "no longer exists" in reply["text"] and reply["replace_original"] is False
    app_server.drain()  # handled completely: nothing more is on its way
    assert standin.calls_to("views.open") == []


# -- escaping (issue 12) -----------------------------------------------------------------------------------
def test_every_text_escapes_what_users_typed(slack, standin, app_server, ws):
    assert "No customer matches" in ask(slack, standin, f"deal Nobody {PLANTED}")["text"]
    s = app_server.services
    first = csvc.create_customer(s.session_factory, s.search, ws, actor=REP2, name=f"Planted {PLANTED} One")
    csvc.create_customer(s.session_factory, s.search, ws, actor=REP2, name=f"Planted {PLANTED} Two", force=True)
    meta = {"customer": first.id, "channel": "C0SALES"}
    assert submit(slack, deal_values(title=f"Deal {PLANTED}", stage="lead", owner=REP2), meta, user=REP2).status == 200
    [deal] = deals(app_server)
    with s.session_factory.begin() as session:  # rows written by hand (an import, an old version)
        row = session.get(Deal, deal.id)
        row.owner_user_id, row.stage = "<!channel>", "<!here>"
        session.add(DealStageChange(workspace_id=ws, deal_id=deal.id, from_stage="lead", to_stage="<!here>",
                                    created_by="<@U0REP>", created_at=NOW))  # fmt: skip
    standin.wait_for("chat.postEphemeral")  # the confirmation
    assert "Several customers match" in ask(slack, standin, "deal planted")["text"]
    slack.click(ui.LIST_SHOW, str(first.id), user=REP2)
    slack.click(ui.EDIT_OPEN, str(deal.id), user=REP2)
    view = standin.wait_for("views.open")[0]
    edit_meta = json.loads(view.params["view"]["private_metadata"])
    submit(slack, deal_values(title=f"Deal {PLANTED} 2", stage="lead", owner=REP2), edit_meta, user=REP2)
    standin.wait_for("chat.postEphemeral", count=2)
    replies(standin, count=3)
    assert_nothing_raw(standin)
