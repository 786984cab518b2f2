"""`/crm accounts`, `/crm pipeline team` with the forecast, the card's value line and the Home
tab's key accounts, end to end: signed Slack requests to the running app, answers read from the
Slack stand-in (which checks every Block Kit payload against Slack's limits)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from commands.accounts import views as account_views
from commands.customers import views as customer_views
from commands.followups import home
from crm.value import recompute_tiers
from tests.conftest import REP, REP2
from tests.support.hostile import PLANTED, assert_nothing_raw

NOW = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)


@pytest.fixture
def ws(services, ws) -> int:
    services.clock = lambda: NOW
    return ws


def ask(slack, standin, text: str, user: str = REP) -> dict:
    before = len(standin.calls_to("response_url"))
    slack.command("/crm", text, user=user)
    return standin.wait_for("response_url", count=before + 1)[before].params


def all_text(blocks) -> str:
    out = []
    for b in blocks:
        if "text" in b and isinstance(b["text"], dict):
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            if isinstance(e.get("text"), str):
                out.append(e["text"])
    return "\n".join(out)


@pytest.fixture
def book(make, services, ws):
    """25 customers: won deals of 1,000 × (25 - i) dollars, owners alternating, tiers computed."""
    customers = []
    for i in range(25):
        c = make.customer(f"Account {i + 1:02d}", owner_user_id=REP if i % 2 == 0 else REP2, force=True)
        make.deal(c, "Won", stage="won", amount=str(1000 * (25 - i)), at=NOW - timedelta(days=60))
        customers.append(c)
    recompute_tiers(services.session_factory, ws, now=NOW)
    return customers


def test_accounts_lists_pages_and_filters(slack, standin, app_server, ws, book):
    # 325k won in all; A = the fewest reaching 80% (260k): 25 + 24 + ... + 11 = 270 -> 15 A (01..15);
    # B up to 95% (308.75k): 16..20.
    assert "`tier:A`" in ask(slack, standin, "accounts help")["text"]
    first = ask(slack, standin, "accounts")
    assert first["text"] == "Accounts: 25 customers, page 1 of 3"
    text = all_text(first["blocks"])
    assert "*Account 01* · 🥇 Tier A · <@U0REP>" in text and "Lifetime $25,000.00" in text
    nav = next(b for b in first["blocks"] if b["type"] == "actions")["elements"]
    assert [e["text"]["text"] for e in nav] == ["Next ›"]
    # The page button replaces the list with the next page.
    slack.click(nav[0]["action_id"], nav[0]["value"])
    second = standin.wait_for("response_url", count=3)[2].params
    assert second["replace_original"] is True and second["text"] == "Accounts: 25 customers, page 2 of 3"
    assert "*Account 11*" in all_text(second["blocks"])
    # A row's Card button sends the card as a new message; the list stays.
    card_button = next(b["accessory"] for b in second["blocks"] if b.get("accessory"))
    slack.click(card_button["action_id"], card_button["value"])
    card = standin.wait_for("response_url", count=4)[3].params
    assert card["replace_original"] is False and card["blocks"][0]["text"]["text"] == "Account 11"

    a_tier = ask(slack, standin, "accounts tier:A owner:me")
    assert a_tier["text"] == "Accounts: 8 customers, page 1 of 1"  # REP has the odd-numbered ones
    assert "owner <@U0REP>" in all_text(a_tier["blocks"])
    quiet = ask(slack, standin, "accounts tier:B quiet:30")
    assert quiet["text"] == "Accounts: 5 customers, page 1 of 1"
    none = ask(slack, standin, "accounts tier:C industry:Aerospace")
    assert none["text"] == "No accounts match."
    assert "No accounts match tier C · industry “Aerospace”" in all_text(none["blocks"])


def test_accounts_bad_and_hostile_input(slack, standin, app_server, ws, book):
    for text, words in (
        ("accounts tier:Z", "isn't a tier"),
        ("accounts stage:banana", "isn't a lifecycle stage"),
        ("accounts colour:red", "isn't a filter or a customer field"),
        ("accounts quiet:forever", "quiet days"),
        ("accounts owner:bob", "@-mention"),
    ):
        assert words in ask(slack, standin, text)["text"]
    hostile = ask(slack, standin, f'accounts industry:"{PLANTED}" {PLANTED}')
    assert hostile["text"] == "No accounts match."
    assert_nothing_raw(standin)
    long = ask(slack, standin, "accounts " + "x" * 3000)
    assert "too long" in long["text"]
    slack.click(account_views.PAGE + "_next", "{not json")
    assert "out of date" in standin.wait_for("response_url", count=8)[7].params["text"]


def test_accounts_in_an_empty_workspace(slack, standin, app_server, ws):
    answer = ask(slack, standin, "accounts")
    assert "No customers yet" in all_text(answer["blocks"])


def test_pipeline_team_shows_the_forecast(slack, standin, app_server, services, ws, make, acme):
    services.settings = replace(services.settings, stage_probabilities="proposal:40")
    make.deal(acme, stage="proposal", amount="10,000", expected_close=date(2026, 3, 31))
    make.deal(acme, stage="lead", amount="500", currency="EUR", owner=REP2)
    team = ask(slack, standin, "pipeline team")
    assert team["text"] == "Team pipeline: 2 open deals · $10,000.00 + €500.00"
    text = all_text(team["blocks"])
    assert "*Forecast:* $4,000.00 + €50.00 weighted of $10,000.00 + €500.00 open (2 deals)" in text
    assert "• Mar: $4,000.00 weighted · 1 deal, $10,000.00 in all" in text
    assert "📄 Proposal at 40%: $4,000.00 (1 deal)" in text
    assert "Win rate: no deals won or lost in the last 90 days" in text
    mine = ask(slack, standin, "pipeline")
    assert "Forecast" not in all_text(mine["blocks"])


def test_pipeline_team_with_no_deals(slack, standin, app_server, ws):
    team = ask(slack, standin, "pipeline team")
    assert "no open deals to forecast yet" in all_text(team["blocks"])


def test_card_shows_tier_value_and_cadence(slack, standin, app_server, services, ws, make, acme):
    jane = make.contact(acme, "Jane Doe")
    make.deal(acme, stage="won", amount="12,000", currency="EUR")
    make.deal(acme, stage="proposal", amount="3,000", currency="EUR")
    for days in (1, 2, 3):
        make.activity(acme, type_key="email", contact=jane, at=NOW - timedelta(days=days))
    recompute_tiers(services.session_factory, ws, now=NOW)
    slack.click(customer_views.SHOW, str(acme.id))
    card = standin.wait_for("response_url")[0].params
    text = all_text(card["blocks"])
    assert "🥇 *Tier A* (key account) · lifetime €12,000.00 (1 won deal) · open €3,000.00 (1 deal)" in text
    assert "⚠️ Jane Doe was emailed or called 3 times in the last 7 days" in text


def test_home_lists_my_untouched_key_accounts(slack, standin, app_server, ws, make, book):
    make.activity(book[0], at=NOW - timedelta(days=3))  # touched: not listed
    slack.event({"type": "app_home_opened", "user": REP, "channel": "D0REP", "tab": "home"})
    view = standin.wait_for("views.publish")[0].params["view"]
    [text] = [b["text"]["text"] for b in view["blocks"] if "Key accounts" in b.get("text", {}).get("text", "")]
    assert text.startswith("*:gem: Key accounts to call* (no activity in 30 days)\n• Account 03 · nothing logged yet")
    assert "Account 01" not in text and text.count("• Account") == 5
    assert text.endswith("…and 2 more · `/crm accounts tier:A owner:me quiet:30`")  # 7 untouched, 5 shown
    # Its overflow menu sends a key account's card by DM.
    [menu] = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("action_id") == home.HOME_KEY_CARD]
    assert [o["text"]["text"] for o in menu["options"]][:2] == ["Card: Account 03", "Card: Account 05"]
    action = {"type": "overflow", "action_id": home.HOME_KEY_CARD, "block_id": "b",
              "selected_option": menu["options"][0]}  # fmt: skip
    home_view = {"id": standin.home_view(REP)["id"], "type": "home", "callback_id": "", "private_metadata": ""}
    slack.block_actions([action], user=REP, view=home_view)
    sent = standin.wait_for("chat.postMessage")[0].params
    assert sent["text"] == "Customer card: Account 03"
