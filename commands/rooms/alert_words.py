"""Reading `/crm alerts …` filters (pure): the events, and the filters every one must pass.

won lost                      won or lost deals (the default when no event is named)
stage                         any stage change; ``stage:proposal`` (or just ``proposal``): reaching it
new over 10000 [EUR]          new deals of at least that amount (``over`` alone implies ``new``)
mine | by @ann @bo            only deals these people own ("my team": the people named)
tier:A  tier:AB               only customers in that value tier (A: the few holding 80% of won value)
"""

from __future__ import annotations

import re

from crm.alerts import AlertFilters
from crm.deals import clean_currency, parse_amount
from crm.errors import InvalidInput
from crm.states import ChannelEventKind

_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^<>]*)?>")
_EVENT_WORDS = {
    "won": ChannelEventKind.WON,
    "win": ChannelEventKind.WON,
    "wins": ChannelEventKind.WON,
    "lost": ChannelEventKind.LOST,
    "loss": ChannelEventKind.LOST,
    "losses": ChannelEventKind.LOST,
    "new": ChannelEventKind.NEW_DEAL,
    "created": ChannelEventKind.NEW_DEAL,
    "stage": ChannelEventKind.STAGE,
    "stages": ChannelEventKind.STAGE,
    "moved": ChannelEventKind.STAGE,
}
_FILLER = {"deals", "deal", "and", "or", "only", "of", "with", "in", "when", "reached", "reaches", ",", "alerts"}


def parse_filters(text: str, *, user_id: str, stage_keys: set[str], default_currency: str = "USD") -> AlertFilters:
    """The filters ``text`` asks for; :class:`InvalidInput` says what it couldn't read."""
    reps = list(dict.fromkeys(_MENTION.findall(text)))
    words = _MENTION.sub(" ", text).replace(",", " ").split()
    events: list[ChannelEventKind] = []
    stage = tier = currency = None
    amount_text = None
    i = 0
    while i < len(words):
        word = words[i].lower()
        if word in _EVENT_WORDS:
            events.append(_EVENT_WORDS[word])
        elif word.startswith("stage:") or word in stage_keys - {"won", "lost"}:
            stage = word.partition(":")[2] if word.startswith("stage:") else word
            events.append(ChannelEventKind.STAGE)
        elif word.startswith("tier:"):
            tier = word.partition(":")[2] or None
        elif word in ("over", "above", ">", ">=", "min", "at-least") and i + 1 < len(words):
            amount_text = words[i + 1]
            i += 1
            if (
                i + 1 < len(words)
                and re.fullmatch(r"[A-Za-z]{3}", words[i + 1])
                and words[i + 1].lower() not in _EVENT_WORDS
            ):
                currency = clean_currency(words[i + 1])
                i += 1
        elif word in ("mine", "my", "me"):
            reps.append(user_id)
        elif word in ("by", "team", "for") or word in _FILLER:
            pass
        else:
            raise InvalidInput(f"I don't know “{words[i][:40]}” in alerts. Try `/crm alerts won lost over 10000`.")
        i += 1
    minor = parse_amount(amount_text, currency or default_currency) if amount_text else None
    if minor is not None and not events:
        events.append(ChannelEventKind.NEW_DEAL)
    if not events:
        events = [ChannelEventKind.WON, ChannelEventKind.LOST]
    return AlertFilters(
        events=tuple(dict.fromkeys(events)),
        stage=stage,
        min_amount_minor=minor,
        currency=currency,
        reps=tuple(dict.fromkeys(reps)),
        tier=tier,
    )
