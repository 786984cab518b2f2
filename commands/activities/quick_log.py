"""The one-line `/log`: ``call Acme Corp discussed renewal pricing, follow up next friday``.

Pure parsing (:func:`parse_quick_log`, :func:`split_follow_up`, :func:`leading_customer`) driven by
two callables, a customer look-up and a date reader, so it is tested without a database; and the
look-ups the handlers pass in (:func:`search_lookup`, :func:`guess_customer`), which read the
in-memory search index and load only the winner from the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from crm import dates
from crm.activity_types import ActivityType, ActivityTypes
from crm.customers import get_customer
from crm.errors import DateParseError, NotFound
from crm.models import Customer
from crm.search import classify

if TYPE_CHECKING:
    from bot.services import Services

MAX_CUSTOMER_WORDS = 6
MAX_FOLLOW_UP_WORDS = 15
GUESS_WORDS = 120  # message shortcut: words of the message searched for a customer name

# "…, follow up next friday", "next step: send proposal by tuesday", "f/u in 2 weeks"
_FOLLOW_UP_KEYWORD = re.compile(
    r"(?P<sep>^|[,;.!?()\-–—]|\band\b|\bthen\b)?\s*\b(?:follow[\s-]?up|f/u|next\s+steps?)\b\s*[:\-–—]?\s*",
    re.IGNORECASE,
)
_EDGE_PUNCT = " \t\n,;:.-–—"


def unescape_slack(text: str) -> str:
    """Slack escapes ``&``, ``<`` and ``>`` in slash text and messages; store what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class Found:
    """What a customer look-up made of some words."""

    kind: str  # "winner" | "ambiguous" | "none"
    customer: Customer | None = None
    score: float = 0.0


Lookup = Callable[[str], Found]
ReadDate = Callable[[str], datetime]


@dataclass
class QuickLog:
    type: ActivityType | None
    customer: Customer | None
    summary: str
    follow_up_due: datetime | None = None
    follow_up_note: str | None = None
    follow_up_text: str | None = None  # the date phrase, or what could not be read as one
    doubts: list[str] = field(default_factory=list)

    @property
    def certain(self) -> bool:
        return self.type is not None and self.customer is not None and bool(self.summary) and not self.doubts


def _tokens(text: str) -> list[re.Match[str]]:
    return list(re.finditer(r"\S+", text))


def _strip_word(word: str) -> str:
    return word.strip(",;:.!?()\"'“”‘’")


def split_follow_up(text: str, read_date: ReadDate) -> tuple[str, datetime | None, str | None, str | None, str | None]:
    """(text before the phrase, due, note, date phrase, doubt) for a trailing follow-up phrase."""
    for m in reversed(list(_FOLLOW_UP_KEYWORD.finditer(text))):
        tail = text[m.end() :].strip().rstrip(".")
        head = text[: m.start()].rstrip(_EDGE_PUNCT)
        marked = m.group("sep") is not None or m.start() == 0
        words = tail.split()
        if not words or len(words) > MAX_FOLLOW_UP_WORDS:
            continue
        # The whole tail, then without leading words ("send proposal by friday"), then
        # without trailing words ("next friday to agree terms"). A keyword in mid-sentence
        # ("talked about follow up process with may") only counts with the date right after it.
        tries = [(" ".join(words[i:]), " ".join(words[:i])) for i in range(len(words) if marked else 1)]
        tries += [(" ".join(words[:j]), " ".join(words[j:])) for j in range(len(words) - 1, 0, -1)]
        for phrase, note in tries:
            try:
                due = read_date(phrase)
            except DateParseError:
                continue
            return head, due, (note.strip(_EDGE_PUNCT) or None), phrase, None
        if marked:
            return head, None, None, tail, f"I couldn't read “{tail}” as a follow-up date. Try {dates.EXAMPLES}."
    return text, None, None, None, None


def parse_quick_log(text: str, types: ActivityTypes, lookup: Lookup, read_date: ReadDate) -> QuickLog:
    """Read ``call Acme Corp discussed renewal pricing, follow up next friday``.

    A type word, then the customer (the longest run of up to six words that names one customer
    for certain; an exact name beats a close one), then the summary; a trailing "follow up …" /
    "next step …" phrase becomes a follow-up. Whatever is uncertain is left out and noted in
    ``doubts``, so the caller can ask rather than guess.
    """
    text = text.strip()
    doubts: list[str] = []
    tokens = _tokens(text)
    kind = types.resolve(_strip_word(tokens[0].group())) if tokens else None
    body = text[tokens[0].end() :].lstrip(_EDGE_PUNCT) if kind else text
    body, due, note, phrase, doubt = split_follow_up(body, read_date)
    if doubt:
        doubts.append(doubt)
    customer, summary, kind = _customer_and_type(body, kind, types, lookup, doubts)
    if kind is None:
        first_word = _strip_word(tokens[0].group()) if tokens else ""
        doubts.insert(0, f"“{first_word}” isn't an activity type ({types.names()}); pick one.")
    summary = summary.strip()
    if not summary:
        doubts.append("What happened? Write a short summary.")
    return QuickLog(kind, customer, summary, due, note, phrase, doubts)


def _customer_and_type(
    body: str, kind: ActivityType | None, types: ActivityTypes, lookup: Lookup, doubts: list[str]
) -> tuple[Customer | None, str, ActivityType | None]:
    """(customer, summary, type) from the words after the type word (or from all of them)."""
    customer, summary, ambiguous = leading_customer(body, lookup)
    if customer is None and kind is None and len(_tokens(body)) > 1:
        # "bananas Acme Corp ...": an unknown type word, then the customer.
        first = _tokens(body)[0]
        customer, rest, ambiguous_after = leading_customer(body[first.end() :].lstrip(_EDGE_PUNCT), lookup)
        if customer is not None:
            summary = rest
        ambiguous = ambiguous or ambiguous_after
    elif customer is not None and kind is None:
        # "Acme Corp call ...": the type may follow the customer.
        after = _tokens(summary)
        if after:
            kind = types.resolve(_strip_word(after[0].group()))
            if kind is not None:
                summary = summary[after[0].end() :].lstrip(_EDGE_PUNCT)
    if customer is None:
        words = _tokens(body)
        first_words = " ".join(w.group() for w in words[:3]) + ("…" if len(words) > 3 else "")  # … only if cut
        if ambiguous:
            doubts.append(f"Several customers match “{first_words}”; pick the right one.")
        elif words:
            doubts.append(f"I couldn't find a customer in “{first_words}”. Pick one, or create it from the picker.")
        else:
            doubts.append("Which customer was it with?")
    return customer, summary, kind


def leading_customer(text: str, lookup: Lookup) -> tuple[Customer | None, str, bool]:
    """(customer, the text after its name, whether some words matched several) for ``text``'s start."""
    words = _tokens(text)
    best: tuple[float, int, Customer] | None = None
    ambiguous = False
    for k in range(1, min(MAX_CUSTOMER_WORDS, len(words)) + 1):
        query = _strip_word(text[: words[k - 1].end()])
        if not query:
            continue
        found = lookup(query)
        if found.kind == "winner" and found.customer is not None:
            if best is None or (found.score, k) >= (best[0], best[1]):
                best = (found.score, k, found.customer)
        elif found.kind == "ambiguous":
            ambiguous = True
    if best is None:
        return None, text, ambiguous
    return best[2], text[words[best[1] - 1].end() :].lstrip(_EDGE_PUNCT), ambiguous


# -- the look-ups the handlers pass in --------------------------------------------------------------
def search_lookup(services: Services, workspace_id: int) -> Lookup:
    """A :class:`Found` for words, from the in-memory index (the database only for a winner)."""

    def lookup(query: str) -> Found:
        matches = services.search.search(workspace_id, query, limit=5)
        kind = classify(matches)
        if kind != "winner":
            return Found(kind)
        try:
            customer = get_customer(services.session_factory, workspace_id, matches[0].customer_id)
        except NotFound:
            return Found("none")
        return Found("winner", customer, matches[0].score)

    return lookup


def guess_customer(services: Services, workspace_id: int, text: str) -> Customer | None:
    """The one customer a message names exactly (a name or a domain), or None if not one."""
    words = [_strip_word(w) for w in text.split()][:GUESS_WORDS]
    found: set[int] = set()
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            phrase = " ".join(words[i : i + n])
            if len(phrase) < 3:
                continue
            matches = services.search.search(workspace_id, phrase, limit=2)
            if matches and matches[0].score >= 100.0 and classify(matches) == "winner":
                found.add(matches[0].customer_id)
                if len(found) > 1:
                    return None
    if len(found) != 1:
        return None
    try:
        return get_customer(services.session_factory, workspace_id, found.pop())
    except NotFound:
        return None
