"""Block Kit builders for follow-ups: the nudge DM, its settled form, lists, and the App Home."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commands.blockkit import escape_mrkdwn, mrkdwn, plain, truncate
from crm.dates import format_local
from crm.models import Activity, Deal, FollowUp
from crm.money import format_money
from crm.nudges import Claimed, FollowUpRow

DONE = "followup_done"
SNOOZE = "followup_snooze"
RESCHEDULE_OPEN = "followup_reschedule_open"
REASSIGN = "followup_reassign"
RESCHEDULE_VIEW = "followup_reschedule"
B_WHEN, B_DATE = "when", "date"
SHOW_CARD = "customer_show"  # handled by commands/customers.py
LOG_OPEN = "activity_log_open"  # handled by commands/activities.py
HOME_FIND = "home_find_customer"
HOME_NEW = "home_new_customer"
FIND_VIEW = "home_find"

SNOOZE_CHOICES = (("1h", "1 hour"), ("tomorrow", "Tomorrow 9:00"), ("next_week", "Next week"))
HOME_LIST = 10


def _esc(text: str | None, limit: int = 200) -> str:
    return escape_mrkdwn(truncate(" ".join((text or "").split()), limit))


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(truncate(text, 3000))}
    if accessory:
        block["accessory"] = accessory
    return block


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def follow_up_actions(follow_up_id: int, customer_id: int, *, block_id: str | None = None) -> dict[str, Any]:
    fid = str(follow_up_id)
    block: dict[str, Any] = {
        "type": "actions",
        "elements": [
            _button("Done", DONE, fid, "primary"),
            {
                "type": "static_select",
                "action_id": SNOOZE,
                "placeholder": plain("Snooze"),
                "options": [{"text": plain(label), "value": f"{fid}:{key}"} for key, label in SNOOZE_CHOICES],
            },
            _button("Reschedule", RESCHEDULE_OPEN, fid),
            {"type": "users_select", "action_id": REASSIGN, "placeholder": plain("Reassign")},
            _button("Open card", SHOW_CARD, str(customer_id)),
        ],
    }
    block["block_id"] = block_id or f"fu:{fid}"
    return block


def nudge_text(claimed: Claimed) -> str:
    return f"Follow-up due: {claimed.customer_name}"[:300]


def nudge_blocks(claimed: Claimed, *, tz: str, now: datetime, type_label=lambda k: k.capitalize()) -> list[dict]:
    lines = [
        f":alarm_clock: *Follow up with {_esc(claimed.customer_name)}*",
        f"Due {format_local(claimed.due_at, tz, now=now)}",
    ]
    if claimed.note:
        lines.append(f"> {_esc(claimed.note, 500)}")
    blocks: list[dict[str, Any]] = [_section("\n".join(lines))]
    last = claimed.last_activity
    if last is not None:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        truncate(
                            f"Last: *{_esc(type_label(last.type_key), 40)}* by <@{last.created_by}> "
                            f"{format_local(last.occurred_at, tz, now=now)}: {_esc(last.summary, 200)}",
                            3000,
                        )
                    )
                ],
            }
        )
    else:
        blocks.append({"type": "context", "elements": [mrkdwn("Nothing logged with this customer yet.")]})
    blocks.append(follow_up_actions(claimed.follow_up_id, claimed.customer_id))
    return blocks


def settled_blocks(text: str, *, customer_id: int, offer_log: bool) -> list[dict[str, Any]]:
    """The DM after an action: no buttons left that could act twice."""
    blocks: list[dict[str, Any]] = [_section(text)]
    elements = [_button("Open card", SHOW_CARD, str(customer_id))]
    if offer_log:
        elements.insert(0, _button("Log what happened", LOG_OPEN, str(customer_id), "primary"))
    blocks.append({"type": "actions", "elements": elements})
    return blocks


def follow_up_line(row: FollowUpRow, *, tz: str, now: datetime, show_owner: bool) -> str:
    f = row.follow_up
    overdue = f.due_at < now
    parts = [
        f"{':warning: ' if overdue else ''}*{_esc(row.customer_name, 100)}*",
        f"{'overdue since' if overdue else 'due'} {format_local(f.due_at, tz, now=now)}",
    ]
    if show_owner:
        parts.append(f"<@{f.owner_user_id}>")
    text = " · ".join(parts)
    if f.note:
        text += f"\n{_esc(f.note, 150)}"
    if f.nudge_error and f.nudge_at is None:
        text += f"\n:no_entry: Slack refused the reminder DM (`{_esc(f.nudge_error, 60)}`)"
    return text


def list_blocks(
    rows: Sequence[FollowUpRow], total: int, *, title: str, tz: str, now: datetime, show_owner: bool
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(truncate(title, 150))}]
    if not rows:
        blocks.append(_section("No open follow-ups. :tada:"))
        return blocks
    lines = [follow_up_line(r, tz=tz, now=now, show_owner=show_owner) for r in rows]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    if total > len(rows):
        blocks.append({"type": "context", "elements": [mrkdwn(f"…and {total - len(rows)} more")]})
    return blocks[:50]


def reschedule_view(follow_up: FollowUp, customer_name: str, *, meta: str, tz: str, now: datetime) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": RESCHEDULE_VIEW,
        "title": plain("Reschedule"),
        "submit": plain("Reschedule"),
        "close": plain("Cancel"),
        "private_metadata": meta,
        "blocks": [
            _section(f"Follow up with *{_esc(customer_name)}*, now due {format_local(follow_up.due_at, tz, now=now)}."),
            {
                "type": "input",
                "block_id": B_WHEN,
                "optional": True,
                "label": plain("When"),
                "hint": plain("e.g. next friday, in 2 weeks, tomorrow 3pm"),
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": 200},
            },
            {
                "type": "input",
                "block_id": B_DATE,
                "optional": True,
                "label": plain("Or pick a day"),
                "element": {"type": "datepicker", "action_id": "value"},
            },
        ],
    }


def home_view(
    *,
    overdue: Sequence[FollowUpRow],
    upcoming: Sequence[FollowUpRow],
    overdue_total: int,
    upcoming_total: int,
    activities: Sequence[tuple[Activity, str]],
    deals: Sequence[tuple[Deal, str]],
    failed: Sequence[FollowUpRow],
    tz: str,
    now: datetime,
    type_label=lambda k: k.capitalize(),
    stage_label=lambda k: k.capitalize(),
) -> dict[str, Any]:
    """The App Home "my day": at most ~80 blocks whatever the data (Slack allows 100)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("Your day in the CRM")},
        {
            "type": "actions",
            "block_id": "home_quick",
            "elements": [
                _button("Log activity", LOG_OPEN, "", "primary"),
                _button("Find customer", HOME_FIND, "find"),
                _button("New customer", HOME_NEW, "new"),
            ],
        },
        {"type": "divider"},
    ]

    def follow_ups(title: str, rows: Sequence[FollowUpRow], total: int) -> None:
        blocks.append(_section(f"*{title}* ({total})"))
        if not rows:
            blocks.append({"type": "context", "elements": [mrkdwn("Nothing here.")]})
        for row in rows[:HOME_LIST]:
            blocks.append(_section(follow_up_line(row, tz=tz, now=now, show_owner=False)))
            blocks.append(
                follow_up_actions(row.follow_up.id, row.follow_up.customer_id, block_id=f"home:{row.follow_up.id}")
            )
        if total > min(len(rows), HOME_LIST):
            more = total - min(len(rows), HOME_LIST)
            blocks.append({"type": "context", "elements": [mrkdwn(f"…and {more} more · `/crm followups`")]})

    follow_ups(":warning: Overdue follow-ups", overdue, overdue_total)
    follow_ups(":calendar: Upcoming follow-ups", upcoming, upcoming_total)
    blocks.append({"type": "divider"})
    if activities:
        lines = [
            f"• *{_esc(type_label(a.type_key), 30)}* · {_esc(name, 80)} · {format_local(a.occurred_at, tz, now=now)}: "
            f"{_esc(a.summary, 120)}"
            for a, name in activities[:10]
        ]
        blocks.append(_section("*My recent activity*\n" + "\n".join(lines)))
    else:
        blocks.append(_section("*My recent activity*\nNothing logged yet. `/log call Acme discussed pricing`"))
    if deals:
        lines = [
            f"• {_esc(d.title, 80)} · {_esc(name, 60)} · {_esc(stage_label(d.stage), 30)} · "
            f"{format_money(d.amount_minor, d.currency)}"
            for d, name in deals[:10]
        ]
        blocks.append(_section("*My open deals*\n" + "\n".join(lines)))
    if failed:
        lines = [follow_up_line(r, tz=tz, now=now, show_owner=True) for r in failed[:10]]
        blocks.append(_section("*Admins: reminder DMs Slack refused*\n" + "\n".join(lines)))
    return {"type": "home", "blocks": blocks[:100]}


def find_customer_view() -> dict[str, Any]:
    from commands.pickers import customer_select

    return {
        "type": "modal",
        "callback_id": FIND_VIEW,
        "title": plain("Find customer"),
        "submit": plain("Show card"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "customer",
                "label": plain("Customer"),
                "element": customer_select(action_id="customer_picker:home"),
            }
        ],
    }
