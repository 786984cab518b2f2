"""Reading a who-talked question, and finding the customer it (or the thread) names.

* :func:`plain_text` turns Slack message markup into the words as typed;
* :func:`parse_question` says whether a mention asks "who has talked to X?", and what X is
  ("them" means: read the customer from the thread);
* :func:`from_query` finds the customer for a typed name, :func:`from_text` the customer a
  free text names (a message, a thread's first message).

The reading is pure; the finding reads the search index and the name dictionary
(``crm.insights``), never Slack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crm import customers as customer_svc
from crm import insights
from crm.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from bot.services import Services

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_EMOJI = re.compile(r":[a-z0-9_+'-]+:", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]")

_VERBS = (
    r"(?:talked|talking|talk|spoken|spoke|speak|speaking|met|meet|called|call|emailed|email|contacted|"
    r"dealt|worked|chatted|been\s+(?:talking|in\s+touch|in\s+contact|dealing|working|speaking))"
)
_INTENT = re.compile(
    rf"""(?ix)
    (?:
        \bwho(?:'s|’s|s|\s+has|\s+have|\s+had|\s+is|\s+did|\s+else)?(?:\s+(?:ever|already|recently|actually|here))*
            \s+{_VERBS}(?:\s+(?:to|with|at))?
      | \bwho\s+(?:knows|know|owns|is\s+in\s+touch\s+with|has\s+(?:a\s+)?(?:contacts?|relationships?)\s+(?:at|with))
      | \b(?:any|some)\s*(?:one|body)(?:\s+(?:here|has|have|ever|already))*\s+(?:{_VERBS}|knows?)
            (?:\s+(?:to|with|at))?
      | \bhistory\s+(?:with|of|for|on)
    )\b
    """
)
_LEADING = re.compile(
    r"(?i)^(?:(?:anyone|someone|people|folks|anybody|somebody|the\s+team|the\s+folks)\s+(?:at|from)\s+|"
    r"(?:to|with|at|from|about)\s+)+"
)
_TRAILING = re.compile(
    r"(?i)(?:\s+(?:lately|recently|before|yet|so\s+far|already|ever|at\s+all|here|"
    r"(?:this|last)\s+(?:week|month|quarter|year)|well))+$"
)
_EDGES = " \t?!.,;:…\"'“”"
# Words that point back at the customer being discussed: read it from the thread instead.
_POINTING = ("this", "that", "the", "these", "those", "their")
_THINGS = (
    "customer company account client one lead prospect deal guys folks team people thread".split()
)  # fmt: skip
_PRONOUNS = frozenset(
    [
        *"them they him her it this that these those here there".split(),
        *(f"{det} {noun}" for det in _POINTING for noun in _THINGS),
    ]
)


@dataclass(frozen=True)
class Question:
    """What a mention asks. ``intent`` False: not a who-talked question (or nothing at all)."""

    intent: bool
    query: str | None = None  # the customer as typed; None: read it from the thread
    empty: bool = False  # no words at all (blank, only emoji or only mentions)
    before: str = ""  # the words before the question ("Acme: who's talked to them?")


def _link_text(m: re.Match[str]) -> str:
    target, label = m.group(1), m.group(2)
    if target.startswith(("@", "!")):
        return " "
    if target.startswith("#"):
        return f" #{label} " if label else " "
    if target.startswith("mailto:"):
        return f" {label or target[7:]} "
    if label and label != target and target.startswith(("http://", "https://")):
        return f" {label} ( {target} ) "  # the address too: its domain can name the customer
    return f" {label or target} "


def plain_text(text: str) -> str:
    """Slack message text as typed: links to their labels (or targets), mentions dropped."""
    text = _LINK.sub(_link_text, text or "")
    return " ".join(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split())


def parse_question(text: str) -> Question:
    """Read a mention's text (already through :func:`plain_text`)."""
    text = " ".join(_EMOJI.sub(" ", text or "").split())
    if not _WORD.search(text):
        return Question(False, empty=True)
    m = _INTENT.search(text)
    if m is None:
        return Question(False)
    rest = _LEADING.sub("", text[m.end() :].strip(_EDGES))
    rest = _TRAILING.sub("", rest).strip(_EDGES)
    before = text[: m.start()]
    if not _WORD.search(rest) or rest.casefold() in _PRONOUNS:
        return Question(True, None, before=before)
    return Question(True, rest[:MAX_QUERY_CHARS], before=before)


def message_text(message: dict[str, Any]) -> str:
    """A message's text for finding customers: its text and its attachments' text."""
    parts = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            parts += [attachment.get(k) or "" for k in ("pretext", "title", "text", "fallback")]
    return plain_text("\n".join(p for p in parts if isinstance(p, str) and p))


# -- finding the customer -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """Which customer a question is about: one (``customer_id``), several to pick from, or none."""

    customer_id: int | None = None
    candidates: list[insights.CustomerRef] = field(default_factory=list)


def _of(refs: list[insights.CustomerRef]) -> Found | None:
    if len(refs) == 1:
        return Found(refs[0].id)
    return Found(candidates=refs) if refs else None


def from_query(services: Services, workspace_id: int, query: str) -> Found:
    """The customer for a typed name: a clear fuzzy winner, else the names the text holds,
    else the fuzzy search's close matches to pick from."""
    result = customer_svc.find_customers(
        services.session_factory, services.search, workspace_id, query[:MAX_QUERY_CHARS]
    )
    if result.kind == "winner" and result.winner is not None:
        return Found(result.winner.id)
    refs = insights.customers_in_text(
        services.session_factory, services.mentions, services.search, workspace_id, query, relaxed=True
    )
    found = _of(refs)
    if found is not None:
        return found
    if result.kind == "ambiguous":
        candidates = [
            insights.CustomerRef(m.customer_id, result.customers[m.customer_id].name, m.matched, m.kind)
            for m in result.matches
            if m.customer_id in result.customers
        ]
        return Found(candidates=candidates)
    return Found()


def from_text(services: Services, workspace_id: int, texts: Iterable[str]) -> Found:
    """The customer named in free text, trying each text in turn."""
    for text in texts:
        refs = insights.customers_in_text(
            services.session_factory, services.mentions, services.search, workspace_id, text
        )
        found = _of(refs)
        if found is not None:
            return found
    return Found()
