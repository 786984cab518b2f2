"""Block Kit for follow-ups: the lists (`/crm followups`), the reschedule modal, the card's
"Add follow-up" modal and the confirmations. Pure builders; ids are the constants below.
(The nudge DM is in ``nudge_dm``, the App Home in ``home``.)"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commands.activities.views import quote
from commands.blockkit import (
    PLAIN_TEXT_INPUT_MAX,
    context,
    esc,
    fallback_text,
    header,
    input_block,
    person,
    plain,
    section,
    text_input,
)
from crm import dates
from crm.dates import format_local
from crm.models import Customer, FollowUp
from crm.nudges import FollowUpRow

RESCHEDULE_VIEW = "followup_reschedule"
B_WHEN, B_DATE = "when", "date"
FOLLOW_UP_CALLBACK = "followup_add"
FOLLOW_UP_OPEN_ACTION = "followup_add_open"  # a card's "Add follow-up" button; value = customer id
FOLLOW_UP_TEXT_BLOCK, FOLLOW_UP_TEXT_ACTION = "follow_up", "follow_up_text"
FOLLOW_UP_DATE_BLOCK, FOLLOW_UP_DATE_ACTION = "follow_up_date", "follow_up_date"
NOTE_BLOCK, NOTE_ACTION = "note", "note"
OWNER_BLOCK, OWNER_ACTION = "owner", "owner"

WHEN_PLACEHOLDER = "next friday, in 2 weeks, tomorrow 3pm"
WHEN_HINT = f"e.g. {dates.EXAMPLES}"
LIST_BUDGET = 2900  # characters per list section, under Slack's 3,000


# -- lists -------------------------------------------------------------------------------------
def follow_up_line(row: FollowUpRow, *, tz: str, now: datetime, show_owner: bool) -> str:
    f = row.follow_up
    overdue = f.due_at < now
    parts = [
        f"{':warning: ' if overdue else ''}*{esc(row.customer_name, 100)}*",
        f"{'overdue since' if overdue else 'due'} {format_local(f.due_at, tz, now=now)}",
    ]
    if show_owner:
        parts.append(person(f.owner_user_id))
    text = " · ".join(parts)
    if f.note:
        text += f"\n{esc(f.note, 150)}"
    if f.nudge_error and f.nudge_at is None:
        text += f"\n:no_entry: Slack refused the reminder DM (`{esc(f.nudge_error, 60)}`)"
    return text


def list_blocks(
    rows: Sequence[FollowUpRow], total: int, *, title: str, tz: str, now: datetime, show_owner: bool
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [header(title)]
    if not rows:
        blocks.append(section("No open follow-ups. :tada:"))
        return blocks
    chunk: list[str] = []
    for line in (follow_up_line(r, tz=tz, now=now, show_owner=show_owner) for r in rows):
        if sum(len(x) + 1 for x in chunk) + len(line) > LIST_BUDGET:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if total > len(rows):
        blocks.append(context(f"…and {total - len(rows)} more"))
    return blocks[:50]


def list_text(title: str, total: int) -> str:
    return fallback_text(f"{title}: {total}")


# -- the reschedule modal ---------------------------------------------------------------------------
def reschedule_view(follow_up: FollowUp, customer_name: str, *, meta: str, tz: str, now: datetime) -> dict[str, Any]:
    due = format_local(follow_up.due_at, tz, now=now)
    return {
        "type": "modal",
        "callback_id": RESCHEDULE_VIEW,
        "title": plain("Reschedule"),
        "submit": plain("Reschedule"),
        "close": plain("Cancel"),
        "private_metadata": meta,
        "blocks": [
            section(f"Follow up with *{esc(customer_name, 200)}*, now due {due}."),
            input_block(B_WHEN, "When", text_input(max_length=dates.MAX_INPUT_CHARS), optional=True, hint=WHEN_HINT),
            input_block(B_DATE, "Or pick a day", {"type": "datepicker", "action_id": "value"}, optional=True),
        ],
    }


# -- the card's "Add follow-up" ---------------------------------------------------------------------
def follow_up_modal(customer: Customer, *, owner: str, channel: str | None) -> dict[str, Any]:
    meta = {"customer_id": customer.id, **({"channel": channel} if channel else {})}
    when = text_input(FOLLOW_UP_TEXT_ACTION, max_length=dates.MAX_INPUT_CHARS, placeholder=WHEN_PLACEHOLDER)
    note = text_input(NOTE_ACTION, max_length=PLAIN_TEXT_INPUT_MAX, placeholder="Send the revised proposal")
    note["multiline"] = True
    day = {"type": "datepicker", "action_id": FOLLOW_UP_DATE_ACTION, "placeholder": plain("Pick a date")}
    return {
        "type": "modal",
        "callback_id": FOLLOW_UP_CALLBACK,
        "title": plain("Add follow-up"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps(meta),
        "blocks": [
            section(f"Follow up with *{esc(customer.name)}*"),
            input_block(FOLLOW_UP_TEXT_BLOCK, "When", when, optional=True, hint=WHEN_HINT),
            input_block(FOLLOW_UP_DATE_BLOCK, "…or a date", day, optional=True),
            input_block(NOTE_BLOCK, "Note", note, optional=True),
            input_block(
                OWNER_BLOCK, "Owner", {"type": "users_select", "action_id": OWNER_ACTION, "initial_user": owner}
            ),
        ],
    }


def follow_up_confirmation(
    follow_up: FollowUp, customer: Customer, *, tz: str, now: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) after the card's modal saved a follow-up."""
    when = format_local(follow_up.due_at, tz, now=now)
    line = f"⏰ Follow-up with *{esc(customer.name)}* {when}, owner {person(follow_up.owner_user_id)}"
    if follow_up.note:
        line += "\n" + quote(follow_up.note)
    return fallback_text(f"Follow-up with {customer.name} {when}"), [section(line)]


def reminder_set_text(customer: Customer, follow_up: FollowUp, *, tz: str, now: datetime) -> str:
    """`/crm followup`'s answer: when the reminder comes (user text escaped)."""
    note = f": {esc(follow_up.note, 300)}" if follow_up.note else "."
    return f":calendar: I'll remind you about {esc(customer.name)} {format_local(follow_up.due_at, tz, now=now)}{note}"
