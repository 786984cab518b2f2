"""What the app says to a new user's slips: near-miss commands, and nothing cut that wasn't."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("pipline acme", "`/crm pipeline acme`"),
        ("hlep", "`/crm help`"),
        ("folowups", "`/crm followups`"),
        ("PIPELNE", "`/crm pipeline`"),
    ],
)
def test_a_near_miss_asks_did_you_mean_instead_of_dumping_the_help(slack, standin, typed, meant):
    assert slack.command("/crm", typed).status == 200
    [call] = standin.wait_for("response_url")
    shown = json.dumps(call.params["blocks"], ensure_ascii=False)
    assert f"Did you mean {meant}?" in shown
    assert "CRM commands" not in shown  # not the whole help
    assert "`/crm help` lists every command" in shown


def test_a_word_like_no_command_still_gets_the_help(slack, standin):
    slack.command("/crm", "frobnicate")
    [call] = standin.wait_for("response_url")
    shown = json.dumps(call.params["blocks"])
    assert "Did you mean" not in shown and "CRM commands" in shown


def test_near_misses_quote_what_was_typed_escaped(slack, standin):
    slack.command("/crm", "pipline <!channel>")
    [call] = standin.wait_for("response_url")
    shown = json.dumps(call.params["blocks"]) + call.params["text"]
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("🎉🎉🎉", "“🎉🎉🎉”"),  # nothing was cut: no ellipsis
        ("zork quux blarg", "“zork quux blarg”"),
        ("zork quux blarg fnord wibble", "“zork quux blarg…”"),  # cut after three words
    ],
)
def test_the_log_form_quotes_unknown_customers_with_an_ellipsis_only_when_cut(slack, standin, text, quoted):
    slack.command("/log", text)
    [opened] = standin.wait_for("views.open")
    notice = json.dumps(opened.params["view"]["blocks"][0], ensure_ascii=False)
    assert f"I couldn't find a customer in {quoted}." in notice


def test_the_duplicates_view_names_records_and_counts_in_plurals():
    from commands.duplicates.views import duplicates_blocks, duplicates_text
    from crm.dedupe import CustomerDuplicate, DuplicateReport

    pair = CustomerDuplicate(126, "Globex Corp", 7, "Globex Corporation", 96.0, ("same name",))
    report = DuplicateReport([pair], [], customers_checked=1, contacts_checked=0)
    shown = json.dumps(duplicates_blocks(report), ensure_ascii=False)
    assert "(#126)" not in shown and "(#7)" not in shown  # names, not database ids
    assert "*Globex Corp* → *Globex Corporation*" in shown and "(1 pair)" in shown
    assert duplicates_text(report) == (
        "Probable duplicates: 1 customer pair and 0 contact pairs among 1 customer and 0 contacts."
    )


def test_the_merge_confirmation_counts_in_plurals():
    from commands.customers.views import merge_confirm_blocks
    from crm.customers.merge import MergePreview
    from crm.models import Customer

    preview = MergePreview(Customer(id=1, name="Globex Corp"), Customer(id=2, name="Globex"), 1, 0, 1, 2)
    shown = json.dumps(merge_confirm_blocks(preview), ensure_ascii=False)
    assert "This moves 1 contact, 0 deals, 1 activity and 2 follow-ups to Globex." in shown
