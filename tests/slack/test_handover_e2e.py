"""`/crm handover` end to end (issue 16 item 6): signed commands and clicks against the real app,
the counts, Confirm, Undo, the new owner's brief by DM (once), partial handovers and bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from commands.handover import handlers, views
from crm.models import Customer, Deal, FollowUp, Handover
from tests.conftest import ADMIN, MANAGER, REP, REP2

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
RITA, SAM = f"<@{REP}|rita>", f"<@{REP2}|sam>"


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture(autouse=True)
def setup(app_server, standin):
    services = app_server.services
    services.settings = replace(services.settings, managers=frozenset({MANAGER}))
    services.clock = lambda: NOW
    standin.add_user("U0BOT", name="helperbot", is_bot=True)
    standin.add_user("U0GONE", name="gone", deleted=True)


@pytest.fixture
def book(make):
    acme, globex = make.customer("Acme Corp", owner_user_id=REP), make.customer("Globex", owner_user_id=REP)
    make.deal(acme, "Licence", stage="proposal", amount="50000")
    make.deal(globex, "Pilot", stage="lead", amount="1200", currency="EUR")
    make.deal(acme, "Old win", stage="won")
    make.follow_up(acme, "send the quote")
    make.follow_up(globex, "call back", due=NOW + timedelta(days=1))
    for n in range(4):
        make.activity(acme, f"acme talk {n}", at=NOW - timedelta(days=n + 1))
    return acme, globex


def owners(app_server, model):
    with app_server.services.session_factory() as s:
        return sorted(s.scalars(select(model.owner_user_id)).all())


def ask(slack, standin, text, n, user=MANAGER):
    slack.command("/crm", f"handover {text}", user=user)
    return standin.wait_for("response_url", count=n)[n - 1].params


def press(slack, standin, element, n, user=MANAGER):
    slack.block_actions([{**element, "block_id": "b"}], user=user)
    return standin.wait_for("response_url", count=n)[n - 1].params


def buttons(params) -> dict:
    return {e["action_id"]: e for b in params.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]}


def test_counts_then_confirm_then_the_brief_once_then_undo(slack, standin, app_server, book):
    question = ask(slack, standin, f"{RITA} to {SAM}", 1)
    text = dump(question["blocks"])
    assert "2 customers" in text and "2 open deals" in text and "2 open follow-ups, 1 of them overdue" in text
    assert owners(app_server, Customer) == [REP, REP]  # nothing moved yet
    confirm = buttons(question)[views.CONFIRM]
    done = press(slack, standin, confirm, 2)
    assert done["replace_original"] and "Handed over 2 customers" in done["text"]
    assert owners(app_server, Customer) == [REP2, REP2]
    assert owners(app_server, Deal) == [REP, REP2, REP2]  # the won deal stays
    brief = standin.wait_for("chat.postMessage")[0].params
    assert brief["channel"] == REP2
    shown = dump(brief["blocks"])
    assert "taking over from rita" in shown and "Acme Corp" in shown and "Globex" in shown
    assert "$50,000.00" in shown and "€1,200.00" in shown and "send the quote" in shown
    assert "acme talk 0" in shown and "acme talk 2" in shown and "acme talk 3" not in shown  # the last three
    assert f"<@{REP}>" not in shown
    # The same Confirm again (a double click, a replay): nothing moves twice, no second brief.
    again = press(slack, standin, confirm, 3)
    assert "done already" in again["text"]
    app_server.drain()
    assert len(standin.calls_to("chat.postMessage")) == 1
    with app_server.services.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Handover)) == 1
        assert s.scalars(select(Handover)).one().brief_ts
    # Meanwhile Sam gets a customer of his own; Undo gives back exactly what moved.
    with app_server.services.session_factory.begin() as s:
        s.add(
            Customer(
                workspace_id=s.scalars(select(Customer.workspace_id)).first(),
                name="Sam's own",
                normalized_name="sams own",
                owner_user_id=REP2,
                created_by=REP2,
            )
        )
    undone = press(slack, standin, buttons(done)[views.UNDO], 4)
    assert "Undone" in undone["text"] and "back from sam to rita" in undone["text"]
    assert owners(app_server, Customer) == [REP, REP, REP2]
    assert owners(app_server, FollowUp) == [REP, REP]
    assert "undid the handover" in standin.wait_for("chat.postMessage", count=2)[1].params["text"]
    assert "undone already" in press(slack, standin, buttons(done)[views.UNDO], 5)["text"]


def test_partial_handover_of_one_customer(slack, standin, app_server, book):
    question = ask(slack, standin, f"{RITA} to {SAM} customer Globex", 1)
    assert "only Globex" in dump(question["blocks"]) and "1 customer" in question["text"]
    press(slack, standin, buttons(question)[views.CONFIRM], 2)
    with app_server.services.session_factory() as s:
        got = {name: owner for name, owner in s.execute(select(Customer.name, Customer.owner_user_id))}
    assert got == {"Acme Corp": REP, "Globex": REP2}


def test_tier_a_needs_tiers_and_uses_them_when_there(slack, standin, app_server, book, monkeypatch):
    monkeypatch.setattr(handlers, "TIER_OF", None)  # no value tiers installed
    assert "tiers aren't available" in ask(slack, standin, f"{RITA} to {SAM} tier A", 1)["text"]
    acme_id = book[0].id
    monkeypatch.setattr(handlers, "TIER_OF", lambda session, ws, ids: {i: ("A" if i == acme_id else "C") for i in ids})
    question = ask(slack, standin, f"{RITA} to {SAM} only tier A", 2)
    assert "1 customer" in question["text"] and "only tier A customers" in dump(question["blocks"])
    press(slack, standin, buttons(question)[views.CONFIRM], 3)
    brief = dump(standin.wait_for("chat.postMessage")[0].params["blocks"])
    assert "Tier A" in brief and "Key accounts" in brief


@pytest.mark.parametrize(
    ("user", "text", "expected"),
    [
        (REP, f"{RITA} to {SAM}", "Only managers and admins"),
        (MANAGER, f"{RITA} to {RITA}", "themselves"),
        (MANAGER, f"{RITA} to <@U0BOT|helperbot>", "is a bot"),
        (ADMIN, f"{RITA} to <@U0GONE|gone>", "deactivated"),
        (MANAGER, "rita to sam", "Say whose work goes to whom"),
        (MANAGER, f"{SAM} to {RITA}", "nothing to hand over"),
        (MANAGER, f"{RITA} to {SAM} customer Nobody Known", "can't tell exactly which customer"),
    ],
)
def test_bad_input_gets_a_clear_answer(slack, standin, app_server, book, user, text, expected):
    assert expected in ask(slack, standin, text, 1, user=user)["text"]
    assert owners(app_server, Customer) == [REP, REP]


def test_a_rep_with_three_thousand_overdue_follow_ups(slack, standin, app_server, ws, book):
    acme = book[0]
    with app_server.services.session_factory.begin() as s:
        s.execute(
            insert(FollowUp),
            [
                dict(
                    workspace_id=ws,
                    customer_id=acme.id,
                    owner_user_id=REP,
                    due_at=NOW - timedelta(days=2, minutes=i),
                    note=f"late {i} <!channel>",
                    status="open",
                    created_by=REP,
                    created_at=NOW,
                    nudge_attempts=0,
                )
                for i in range(3000)
            ],
        )
    question = ask(slack, standin, f"{RITA} to {SAM}", 1)
    assert "3,002 open follow-ups, 3,001 of them overdue" in dump(question["blocks"])
    press(slack, standin, buttons(question)[views.CONFIRM], 2)
    brief = standin.wait_for("chat.postMessage")[0].params
    shown = dump(brief["blocks"])
    assert len(brief["blocks"]) <= 50 and "…and 2,994 more" in shown and "<!channel>" not in shown
    assert owners(app_server, FollowUp).count(REP2) == 3002
    # the stand-in checked every payload against Block Kit's limits (the standin fixture fails otherwise)


def test_a_forged_confirm_is_refused(slack, standin, app_server, book):
    question = ask(slack, standin, f"{RITA} to {SAM}", 1)
    assert "Only managers and admins" in press(slack, standin, buttons(question)[views.CONFIRM], 2, user=REP)["text"]
    assert (
        "malformed" in press(slack, standin, {"type": "button", "action_id": views.CONFIRM, "value": "{x"}, 3)["text"]
    )
    assert owners(app_server, Customer) == [REP, REP]


def test_a_brief_slack_refuses_is_told_and_not_sent_twice(slack, standin, app_server, book):
    question = ask(slack, standin, f"{RITA} to {SAM}", 1)
    standin.fail_next("chat.postMessage", error="user_disabled")
    confirm = buttons(question)[views.CONFIRM]
    assert "Handed over" in press(slack, standin, confirm, 2)["text"]
    told = standin.wait_for("chat.postEphemeral")[0].params
    assert told["user"] == MANAGER and "refused the brief DM to sam (user_disabled)" in told["text"]
    with app_server.services.session_factory() as s:
        assert s.scalars(select(Handover)).one().brief_error == "user_disabled"
    press(slack, standin, confirm, 3)  # a replayed Confirm does not try again
    app_server.drain()
    assert len(standin.calls_to("chat.postMessage")) == 1
