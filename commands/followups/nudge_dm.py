"""The follow-up nudge: the DM a rep gets when a follow-up is due, with Done, Snooze, Reschedule,
Reassign and Open card, and what that DM becomes once one of them was used (no buttons left
that could act twice). Pure builders; the scheduled job (``reminders/nudges.py``) posts the DM
and ``commands.followups.handlers`` answers its buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import actions, button, context, esc, fallback_text, person, plain, section, slack_time
from crm.dates import format_local
from crm.nudges import Claimed

DONE = "followup_done"
SNOOZE = "followup_snooze"
RESCHEDULE_OPEN = "followup_reschedule_open"
REASSIGN = "followup_reassign"
SHOW_CARD = "customer_show"  # handled by commands/customers.py
LOG_OPEN = "activity_log_open"  # handled by commands/activities

SNOOZE_CHOICES = (("1h", "1 hour"), ("tomorrow", "Tomorrow 9:00"), ("next_week", "Next week"))
SNOOZE_PHRASES = {"1h": "in 1 hour", "tomorrow": "tomorrow", "next_week": "next week"}


def follow_up_actions(follow_up_id: int, customer_id: int, *, block_id: str | None = None) -> dict[str, Any]:
    """The buttons of one follow-up (in the DM and on the Home tab); the block id carries its id."""
    fid = str(follow_up_id)
    snooze = {
        "type": "static_select",
        "action_id": SNOOZE,
        "placeholder": plain("Snooze"),
        "options": [{"text": plain(label), "value": f"{fid}:{key}"} for key, label in SNOOZE_CHOICES],
    }
    return actions(
        button("Done", DONE, fid, "primary"),
        snooze,
        button("Reschedule", RESCHEDULE_OPEN, fid),
        {"type": "users_select", "action_id": REASSIGN, "placeholder": plain("Reassign")},
        button("Open card", SHOW_CARD, str(customer_id)),
        block_id=block_id or f"fu:{fid}",
    )


def nudge_text(claimed: Claimed) -> str:
    """The DM's notification text (what the lock screen shows): escaped, never a ping."""
    return fallback_text(f"Follow-up due: {claimed.customer_name}", 300)


def nudge_blocks(
    claimed: Claimed, *, tz: str, now: datetime, type_label: Callable[[str], str] = lambda k: k.capitalize()
) -> list[dict[str, Any]]:
    lines = [
        f":alarm_clock: *Follow up with {esc(claimed.customer_name, 200)}*",
        f"Due {slack_time(claimed.due_at, format_local(claimed.due_at, tz, now=now))}",
    ]
    if claimed.note:
        lines.append(f"> {esc(claimed.note, 500)}")
    blocks: list[dict[str, Any]] = [section("\n".join(lines))]
    last = claimed.last_activity
    if last is not None:
        blocks.append(
            context(
                f"Last: *{esc(type_label(last.type_key), 40)}* by {person(last.created_by)} "
                f"{format_local(last.occurred_at, tz, now=now)}: {esc(last.summary, 200)}"
            )
        )
    else:
        blocks.append(context("Nothing logged with this customer yet."))
    blocks.append(follow_up_actions(claimed.follow_up_id, claimed.customer_id))
    return blocks


# -- what the DM becomes -----------------------------------------------------------------------
def settled_blocks(text: str, *, customer_id: int, offer_log: bool) -> list[dict[str, Any]]:
    """The DM after an action: ``text`` (mrkdwn, user text escaped) and no buttons that could act twice."""
    elements = [button("Open card", SHOW_CARD, str(customer_id))]
    if offer_log:
        elements.insert(0, button("Log what happened", LOG_OPEN, str(customer_id), "primary"))
    return [section(text), actions(*elements)]


def done_text(customer_name: str) -> str:
    return f":white_check_mark: Done: follow up with *{esc(customer_name, 200)}*. Log what happened?"


def snoozed_text(customer_name: str, due: datetime, *, tz: str, now: datetime) -> str:
    return (
        f":zzz: Snoozed: follow up with *{esc(customer_name, 200)}* {slack_time(due, format_local(due, tz, now=now))}."
    )


def rescheduled_text(customer_name: str, due: datetime, *, tz: str, now: datetime) -> str:
    when = slack_time(due, format_local(due, tz, now=now))
    return f":calendar: Rescheduled: follow up with *{esc(customer_name, 200)}* {when}."


def reassigned_text(customer_name: str, new_owner: str) -> str:
    return f":arrow_right: Reassigned: follow up with *{esc(customer_name, 200)}* now belongs to {person(new_owner)}."
