"""Duplicate report: blocking and scoring, the workspace report, `crm-bot dedupe` and `/crm duplicates`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.dev.blockkit_check import validate_message
from commands.customers import views
from commands.duplicates.views import SHOW_CUSTOMERS, duplicates_blocks, duplicates_text
from crm import customers as svc
from crm import dedupe
from crm.actors import Actor
from crm.dedupe import ContactRecord, CustomerRecord, contact_pairs, customer_pairs
from crm.models import Customer
from crm.normalize import normalize_name
from tests.conftest import ADMIN, REP
from tests.support.processes import run

CRM_BOT = str(Path(sys.executable).parent / "crm-bot")


def rec(key, name, domain=None, emails=(), phones=(), aliases=()):
    return CustomerRecord(
        key, name, normalize_name(name), domain, tuple(normalize_name(a) for a in aliases), set(emails), set(phones)
    )


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (rec(1, "Acme Corporation"), rec(2, "ACME Corp."), "same name"),
        (rec(1, "Acme Corporation"), rec(2, "Acmee Corporation"), "similar name"),
        (rec(1, "Blue Ocean Analytics"), rec(2, "Blu Ocean Analytics"), "similar name"),
        (rec(1, "Initech", aliases=["Initrode"]), rec(2, "Initrode GmbH"), "same as a former name"),
        (rec(1, "Acme", domain="acme.com"), rec(2, "Roadrunner", domain="acme.com"), "same domain (acme.com)"),
        (rec(1, "Foo", emails={"jo@x.io"}), rec(2, "Bar", emails={"jo@x.io"}), "shared contact email (jo@x.io)"),
        (rec(1, "Foo", phones={"+4930123456"}), rec(2, "Bar", phones={"+4930123456"}), "shared contact phone"),
    ],
)
def test_customer_pairs_reasons(a, b, reason):
    [pair] = customer_pairs([a, b])
    assert {pair.a, pair.b} == {1, 2}
    assert any(r.startswith(reason) for r in pair.reasons), pair.reasons
    assert 85 <= pair.score <= 100


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (rec(1, "Acme Analytics"), rec(2, "Acme Robotics")),
        (rec(1, "Globex"), rec(2, "Initech")),
        (rec(1, "Al", domain="gmail.com"), rec(2, "Bo", domain="gmail.com")),  # free mail says nothing
    ],
)
def test_different_customers_are_not_paired(a, b):
    assert customer_pairs([a, b]) == []


def test_several_reasons_score_higher_than_one():
    [one] = customer_pairs([rec(1, "Acme Corp"), rec(2, "Acme Inc")])
    [two] = customer_pairs([rec(1, "Acme Corp", domain="acme.com"), rec(2, "Acmee Inc", domain="acme.com")])
    assert one.score == 100 and two.score > 95 and len(two.reasons) == 2


def test_big_blocks_stay_linear():
    """20,000 names sharing their first word: sorted windows, not 200 million comparisons."""
    records = [rec(i, f"Global Trading {i:05d} {chr(97 + i % 26)}x") for i in range(20_000)]
    records.append(rec("dup", "Global Trading 00042 qx"))
    started = time.perf_counter()
    pairs = customer_pairs(records, min_score=97)
    assert time.perf_counter() - started < 10
    assert any("dup" in (p.a, p.b) for p in pairs)


def test_contact_pairs():
    contacts = [
        ContactRecord(1, "Jane Doe", "jane doe", 10, "jane@acme.com", None),
        ContactRecord(2, "Jane Doe", "jane doe", 11, "jane@acme.com", None),  # same email elsewhere
        ContactRecord(3, "Bob Smith", "bob smith", 10, None, "+14155550100"),
        ContactRecord(4, "Bob Smyth", "bob smyth", 10, None, None),  # close name, same customer
        ContactRecord(5, "Bob Smith", "bob smith", 12, None, None),  # same name, other customer
    ]
    found = {frozenset((p.a, p.b)): p for p in contact_pairs(contacts)}
    assert set(found) == {frozenset((1, 2)), frozenset((3, 4))}
    assert found[frozenset((1, 2))].reasons[0] == "same email (jane@acme.com)"
    assert found[frozenset((3, 4))].reasons[0].startswith("similar name")


# -- the workspace report on SQLite and PostgreSQL -------------------------------------------
def seed(make):
    """Seven customers, four contacts; forced in, as an import or "Create anyway" would."""
    acme = make.customer("Acme Corporation", force=True, website="acme.com")
    make.contact(acme, "Jane Doe")
    twin = make.customer("ACME Corp", force=True, contacts=[svc.ContactInput(name="Wile E", email="wile@acme.com")])
    make.customer("Globex", force=True)
    make.customer("Initech", force=True, website="initech.com")
    make.customer("Initek", force=True, website="https://www.initech.com")
    make.customer(
        "Roadrunner Supplies", force=True, contacts=[svc.ContactInput(name="Jane Doe", email="jdoe@example.com")]
    )
    make.customer("Roadrunner Supply", force=True, contacts=[svc.ContactInput(name="J. Doe", email="JDoe@example.com")])
    return acme, twin


def test_find_duplicates_proposes_the_record_with_more_data_as_keeper(services, make):
    ws = services.workspace_id("T0TEST")
    acme, twin = seed(make)
    report = dedupe.find_duplicates(services.session_factory, ws)
    assert report.customers_checked == 7 and report.contacts_checked == 4
    first = report.customers[0]
    assert (first.duplicate_id, first.keeper_id) == (twin.id, acme.id)  # as much data: keep the older
    assert first.score == 100 and "same name" in first.reasons
    names = {(d.duplicate_name, d.keeper_name) for d in report.customers}
    assert ("Roadrunner Supply", "Roadrunner Supplies") in names
    assert ("Initek", "Initech") in names
    assert not any("Globex" in pair for pair in names)
    [contact] = report.contacts
    assert "jdoe@example.com" in contact.first and contact.reasons[0].startswith("same email")
    # A merged customer is no longer reported.
    svc.merge_customers(
        services.session_factory, services.search, ws, twin.id, acme.id, actor=Actor(ADMIN, is_admin=True)
    )
    after = dedupe.find_duplicates(services.session_factory, ws)
    assert all(twin.id not in (d.duplicate_id, d.keeper_id) for d in after.customers)


def test_duplicates_blocks_fit_slack_limits():
    pairs = [
        dedupe.CustomerDuplicate(i, "<!channel> " + "D" * 300, i + 1000, "K" * 300, 91.0, ("similar name (91%)",) * 20)
        for i in range(60)
    ]
    contacts = [dedupe.ContactDuplicate(i, "x" * 400, i + 1, "y" * 400, 100.0, ("same email",)) for i in range(40)]
    report = dedupe.DuplicateReport(pairs, contacts, 100, 80)
    blocks = duplicates_blocks(report, team_id="T0TEST")
    assert validate_message({"text": duplicates_text(report), "blocks": blocks}) == []
    buttons = [b["accessory"] for b in blocks if b.get("accessory")]
    assert len(buttons) == SHOW_CUSTOMERS and buttons[0]["value"] == "0:1000"
    text = str(blocks)
    assert "and 40 more customer pairs" in text and "more contact pairs" in text
    shown = " ".join(b["text"]["text"] for b in blocks if b.get("text", {}).get("type") == "mrkdwn")
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown  # plain_text in the dialog can't ping
    empty = duplicates_blocks(dedupe.DuplicateReport([], [], 3, 0))
    assert "No probable duplicates" in str(empty)


# -- `/crm duplicates` end to end, and the CLI ---------------------------------------------------
def test_crm_duplicates_for_admins_with_a_working_merge_button(slack, standin, app_server, make):
    services = app_server.services
    acme, twin = seed(make)
    slack.command("/crm", "duplicates", user=REP)
    assert "Only workspace admins" in standin.wait_for("response_url")[-1].params["text"]
    slack.command("/crm", "duplicates", user=ADMIN)
    reply = standin.wait_for("response_url", count=2)[-1].params
    assert reply["response_type"] == "ephemeral" and "Probable duplicates" in reply["text"]
    button = reply["blocks"][3]["accessory"]
    assert button["action_id"] == views.MERGE_CONFIRM and button["value"] == f"{twin.id}:{acme.id}"
    assert button["confirm"]["confirm"]["text"] == "Merge"
    assert "Contacts" in str(reply["blocks"])
    slack.click(views.MERGE_CONFIRM, button["value"], user=ADMIN)
    done = standin.wait_for("response_url", count=3)[-1].params
    assert "Merged ACME Corp into Acme Corporation" in done["text"]
    with services.session_factory() as s:
        assert s.scalar(select(Customer.merged_into_id).where(Customer.id == twin.id)) == acme.id
    slack.command("/crm", "help", user=REP)
    assert "/crm duplicates" in str(standin.wait_for("response_url", count=4)[-1].params["blocks"])


def test_cli_dedupe(services, database_url, tmp_path, make):
    acme, twin = seed(make)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_"))}
    env["DATABASE_URL"] = database_url
    result = run([CRM_BOT, "dedupe", "--team", "T0TEST"], cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Checked 7 customers and 4 contacts." in result.stdout
    assert f"#{twin.id} ACME Corp  →  merge into #{acme.id} Acme Corporation" in result.stdout
    assert "Probable duplicate contacts (1):" in result.stdout
