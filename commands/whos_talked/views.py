"""Block Kit for "who's talked to this customer?": the answer, "which customer?", and the hints.

Pure functions returning ``(fallback text, blocks)``. The answer may be posted in a channel, so
people are named (``names``: user id → display name), never mentioned: a list of everyone who
talked to a customer must not ping them all. Everything users typed (customer, contact and
display names, summaries) is escaped, in the blocks and in the fallback ``text``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import (
    actions,
    button,
    context,
    esc,
    fallback_text,
    header,
    person,
    plural,
    section,
    truncate,
)
from commands.customers.views import LOG_OPEN as CUSTOMER_LOG_OPEN
from crm import insights
from crm.dates import format_local

MESSAGE_SHORTCUT = "who_talked_message"
PICK = "whos_talked_pick"  # value "<customer id>:thread" or "<customer id>:private"
OPEN_CARD = "whos_talked_card"  # value = customer id; the full card, ephemeral
LOG_OPEN = CUSTOMER_LOG_OPEN  # "Log activity"; handled by the activities feature

REPS_SHOWN = 15  # one section each; the rest are counted
CONTACTS_PER_REP = 5
PICK_MAX = 10
SUMMARY_CHARS = 200
QUESTION_EXAMPLE = "@crm who's talked to Acme?"

SHARED_NOTE = (
    ":lock: Only you can see this: this channel is shared with another organisation, so I don't post CRM data in it."
)
UNCHECKED_NOTE = ":lock: Only you can see this: I couldn't check who else is in this channel."
NOT_IN_CHANNEL_NOTE = "I'm not in this channel, so only you can see this. `/invite @crm`"

TypeLabel = Callable[[str], str]
Message = tuple[str, list[dict[str, Any]]]

_NOT_PEOPLE = {"import": "(imported)", "system": "(system)"}


def display_name(user_id: str, names: dict[str, str]) -> str:
    """A rep or owner as plain words (not escaped): their Slack name, or what the id stands for."""
    return names.get(user_id) or _NOT_PEOPLE.get(user_id) or user_id


def person_label(user_id: str | None, names: dict[str, str]) -> str:
    """A rep or owner for mrkdwn, by name: never a ``<@U…>`` ping; escaped."""
    return person(user_id, lambda uid: display_name(uid, names))


def _count(n: int, one: str, many: str) -> str:
    return plural(n, one, many)


def rep_block(
    rep: insights.RepSummary, *, names: dict[str, str], type_label: TypeLabel, tz: str, now: datetime
) -> dict[str, Any]:
    types = ", ".join(f"{esc(type_label(key), 40)} ×{n}" for key, n in rep.by_type)
    lines = [f"*{person_label(rep.rep, names)}* · {_count(rep.total, 'activity', 'activities')}: {types}"]
    last = f"Last touch: {format_local(rep.last_at, tz, now=now)}"
    if rep.last_type:
        last += f" · {esc(type_label(rep.last_type), 40)}"
    if rep.last_summary.strip():
        last += f" — “{esc(rep.last_summary, SUMMARY_CHARS)}”"
    lines.append(last)
    if rep.contacts:
        shown = ", ".join(esc(c, 60) for c in rep.contacts)
        more = rep.contact_count - len(rep.contacts)
        lines.append(f"Contacts: {shown}" + (f" and {more} more" if more > 0 else ""))
    return section("\n".join(lines))


def notes(note: str | None, tz: str | None = None) -> list[dict[str, Any]]:
    """The context line under an answer: why it is private, and the time zone of its times."""
    parts = [p for p in (note, f"Times are in {esc(tz, 60)}." if tz else None) if p]
    return [context(" ".join(parts))] if parts else []


def _card_buttons(customer_id: int, *, first_call: bool = False) -> dict[str, Any]:
    cid = str(customer_id)
    if first_call:
        return actions(button("Log the first call", LOG_OPEN, cid, "primary"), button("Open the card", OPEN_CARD, cid))
    return actions(button("Open the card", OPEN_CARD, cid, "primary"), button("Log activity", LOG_OPEN, cid))


def build_answer(
    summary: insights.WhoTalked,
    *,
    names: dict[str, str],
    type_label: TypeLabel,
    tz: str,
    now: datetime,
    note: str | None = None,
) -> Message:
    """The answer: one section per rep (most recent first), the owner, and the card's button."""
    if not summary.reps:
        return build_no_activity(summary, names=names, note=note)
    blocks: list[dict[str, Any]] = [
        header(f"Who's talked to {summary.customer_name}"),
        section(
            f"*Owner:* {person_label(summary.owner_user_id, names)}\n"
            f"{_count(summary.activity_count, 'activity', 'activities')} "
            f"by {_count(summary.rep_count, 'person', 'people')}, most recent first."
        ),
    ]
    blocks += [rep_block(r, names=names, type_label=type_label, tz=tz, now=now) for r in summary.reps]
    if summary.more_reps > 0:
        blocks.append(
            context(
                f"…and {_count(summary.more_reps, 'more person', 'more people')} "
                "who logged earlier activities. The card's history has them all."
            )
        )
    blocks.append(_card_buttons(summary.customer_id))
    blocks += notes(note, tz)
    head = ", ".join(f"{display_name(r.rep, names)} ({r.total})" for r in summary.reps[:5])
    more = summary.rep_count - min(5, len(summary.reps))
    text = f"Who's talked to {summary.customer_name}: {head}" + (f" and {more} more" if more > 0 else "")
    return fallback_text(text), blocks


def build_no_activity(summary: insights.WhoTalked, *, names: dict[str, str], note: str | None = None) -> Message:
    name = summary.customer_name
    blocks = [
        section(
            f"Nobody has logged anything with *{esc(name, 200)}* yet — log the first call?\n"
            f"*Owner:* {person_label(summary.owner_user_id, names)}"
        ),
        _card_buttons(summary.customer_id, first_call=True),
        *notes(note),
    ]
    return fallback_text(f"Nobody has logged anything with {name} yet — log the first call?"), blocks


def build_pick(candidates: list[insights.CustomerRef], *, private: bool, note: str | None = None) -> Message:
    """Several customers match: one section each, with its button (action ids are unique per block)."""
    shown = candidates[:PICK_MAX]
    mode = "private" if private else "thread"
    blocks: list[dict[str, Any]] = [section("Which customer do you mean?")]
    for c in shown:
        how = f" · {esc(c.matched, 80)}" if c.how != "name" else ""
        blocks.append(section(f"*{esc(c.name, 200)}*{how}", accessory=button("This one", PICK, f"{c.id}:{mode}")))
    if len(candidates) > len(shown):
        blocks.append(context(f"…and {len(candidates) - len(shown)} more. Ask with the full name to narrow it down."))
    blocks += notes(note)
    return fallback_text("Which customer do you mean? " + ", ".join(c.name for c in shown)), blocks


def build_not_found(query: str | None, *, note: str | None = None) -> Message:
    if query:
        text = fallback_text(f"I couldn't find a customer called “{truncate(query, 100)}”.")
        body = (
            f"I couldn't find a customer called “{esc(query, 100)}”. Check the spelling, or search with "
            f"`/customer {esc(query, 60)}`."
        )
    else:
        text = "I couldn't tell which customer this is about."
        body = (
            "I couldn't tell which customer this is about: the message doesn't name one I know. "
            f"Ask with the name, e.g. `{QUESTION_EXAMPLE}`, or try `/crm who acme`."
        )
    return text, [section(body), *notes(note)]


def build_help(*, note: str | None = None) -> Message:
    text = f"Ask me who has talked to a customer: {QUESTION_EXAMPLE}"
    body = (
        "I can tell you who has talked to a customer. Ask like this:\n"
        f"• `{QUESTION_EXAMPLE}` (or “who knows Globex”, “history with Initech”)\n"
        "• in a thread about a customer: `@crm who's talked to them?`\n"
        "• privately: `/crm who acme`\n"
        "• in a thread of a channel linked with `/crm link`: `@crm log call` logs the thread"
    )
    return text, [section(body), *notes(note)]


def build_picked(name: str, picker: str) -> Message:
    """What replaces a public "which customer?" list once someone picked."""
    return fallback_text(f"{picker} picked {name}."), [context(f"{esc(picker, 80)} picked *{esc(name, 200)}*.")]


def card_text(customer_name: str) -> str:
    """The fallback text of the customer card shown by "Open the card" (escaped)."""
    return fallback_text(f"Customer card: {customer_name}")
