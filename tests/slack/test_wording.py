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
