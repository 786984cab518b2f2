"""How `/crm alerts` puts a channel's filters into words (pure: the parser and the phrase)."""

from __future__ import annotations

import pytest

from commands.rooms.alert_words import parse_filters
from commands.rooms.views import describe_filters, subscribed_text

STAGES = {"lead", "qualified", "proposal", "negotiation", "won", "lost"}


def _said(text: str) -> str:
    filters = parse_filters(text, user_id="U0REP", stage_keys=STAGES)
    return describe_filters(
        filters, name_of=lambda u: {"U0REP": "rita", "U0ANN": "ann"}[u], stage_label=lambda k: k.title()
    )


@pytest.mark.parametrize(
    ("typed", "phrase"),
    [
        ("", "deals won or lost"),
        ("won", "deals won"),
        ("lost", "deals lost"),
        ("over 10000", "new deals, of $10,000.00 or more"),
        ("won over 12.5k EUR", "deals won, of €12,500.00 or more"),
        ("stage:negotiation", "deals reaching Negotiation"),
        ("stage", "stage changes"),
        ("won lost new mine", "deals won or lost and new deals, owned by rita"),
        ("won by <@U0ANN|ann> <@U0REP>", "deals won, owned by ann, rita"),
    ],
)
def test_the_filters_read_as_a_phrase(typed, phrase):
    assert _said(typed) == phrase


def test_the_confirmation_is_one_plain_sentence():
    said = subscribed_text("C0SALES", _said("won lost"))
    assert said.startswith(":loudspeaker: <#C0SALES> gets deal alerts for deals won or lost. ")
    assert "events:" not in said and ": " not in said.split("alerts for")[1].split(".")[0]
