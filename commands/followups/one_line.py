"""`/crm followup Acme Corp next friday send the proposal`: who, when, and an optional note.

The customer is the leading words that name one (as in `/log`); the time is the longest run of
the next words (up to six) that reads as a follow-up date; the rest is the note. Pure, given a
customer look-up and a date reader; refusals are one friendly sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from commands.activities.quick_log import Lookup, ReadDate, leading_customer
from commands.blockkit import truncate
from crm import dates
from crm.errors import CRMError, InvalidInput
from crm.models import Customer

UNREADABLE = "I couldn't read"  # how crm.dates begins a phrase it can't read at all
USAGE = "Say who and when: `/crm followup Acme Corp next friday send the proposal`."
MAX_WHEN_WORDS = 6


@dataclass(frozen=True)
class FollowUpLine:
    customer: Customer
    due: datetime
    note: str | None


def parse_follow_up_line(text: str, lookup: Lookup, read_date: ReadDate) -> FollowUpLine:
    text = " ".join(text.split())
    if not text:
        raise InvalidInput(USAGE)
    customer, rest, ambiguous = leading_customer(text, lookup)
    if customer is None:
        why = "Several customers match" if ambiguous else "I can't find a customer"
        raise InvalidInput(f"{why} at the start of “{truncate(' '.join(text.split()), 80)}”. {USAGE}")  # shown escaped
    words = rest.split()
    refused: CRMError | None = None  # a phrase read as a time but refused (in the past, say)
    for k in range(min(MAX_WHEN_WORDS, len(words)), 0, -1):  # the longest phrase that reads as a time
        try:
            due = read_date(" ".join(words[:k]))
        except CRMError as err:
            if refused is None and not err.message.startswith(UNREADABLE):
                refused = err
            continue
        return FollowUpLine(customer, due, " ".join(words[k:]) or None)
    if refused is not None:
        raise InvalidInput(refused.message)  # it quotes what was typed: shown escaped
    if words:
        # Quote what was really tried (every word after the customer), not just the last guess.
        tried = truncate(" ".join(words), 80)
        raise InvalidInput(f"I couldn't read a date or time at the start of “{tried}”. Try: {dates.EXAMPLES}.")
    raise InvalidInput(f"When should I remind you? {USAGE}")
