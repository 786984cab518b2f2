"""The App Home "my day": quick buttons, my overdue and upcoming follow-ups (each with the nudge
buttons), my recent activity, my open deals, and for admins the reminder DMs Slack refused.
A pure builder of ``crm.my_day.MyDay``; at most ~80 blocks whatever the data (Slack allows 100)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from commands.admin.views import admin_blocks
from commands.blockkit import actions, button, context, divider, esc, header, input_block, option, plain, section
from commands.followups.nudge_dm import LOG_OPEN, follow_up_actions
from commands.followups.views import follow_up_line
from commands.pickers import customer_select
from crm.dates import format_local
from crm.money import format_money
from crm.my_day import MyDay
from crm.nudges import FollowUpRow

HOME_FIND = "home_find_customer"
HOME_NEW = "home_new_customer"
HOME_KEY_CARD = "home_key_account_card"  # a key account's card by DM
QUICK_BLOCK = "home_quick"
HOME_LIST = 10
HOME_LIST_WITH_TEAM = 5  # managers' own lists are shorter, so the Team section fits too
Label = Callable[[str], str]


def _follow_ups(
    title: str, rows: Sequence[FollowUpRow], total: int, *, tz: str, now: datetime, limit: int = HOME_LIST
) -> list[dict]:
    blocks = [section(f"*{title}* ({total})")]
    if not rows:
        blocks.append(context("Nothing here."))
    for row in rows[:limit]:
        blocks.append(section(follow_up_line(row, tz=tz, now=now, show_owner=False)))
        fid = row.follow_up.id
        blocks.append(follow_up_actions(fid, row.follow_up.customer_id, block_id=f"home:{fid}"))
    shown = min(len(rows), limit)
    if total > shown:
        blocks.append(context(f"…and {total - shown} more · `/crm followups`"))
    return blocks


def _activities(day: MyDay, *, tz: str, now: datetime, type_label: Label) -> dict[str, Any]:
    if not day.activities:
        return section("*My recent activity*\nNothing logged yet. `/log call Acme discussed pricing`")
    lines = [
        f"• *{esc(type_label(a.type_key), 30)}* · {esc(name, 80)} · {format_local(a.occurred_at, tz, now=now)}: "
        f"{esc(a.summary, 120)}"
        for a, name in day.activities[:10]
    ]
    return section("*My recent activity*\n" + "\n".join(lines))


def _deals(day: MyDay, *, stage_label: Label) -> dict[str, Any]:
    lines = [
        f"• {esc(d.title, 80)} · {esc(name, 60)} · {esc(stage_label(d.stage), 30)} · "
        f"{format_money(d.amount_minor, d.currency)}"
        for d, name in day.deals[:10]
    ]
    return section("*My open deals*\n" + "\n".join(lines))


def key_accounts_section(day: MyDay, *, now: datetime) -> dict[str, Any]:
    """My A-tier customers with no activity for CRM_KEY_ACCOUNT_DAYS (issue 16, item 4)."""
    found = day.key_accounts
    assert found is not None
    lines = [
        f"• {esc(k.name, 80)} · "
        + ("nothing logged yet" if k.last_touch is None else f"quiet {k.quiet_days(now)} days")
        for k in found.rows
    ]
    more = f"\n…and {found.total - len(found.rows)} more · `/crm accounts tier:A owner:me quiet:{found.days}`"
    text = f"*:gem: Key accounts to call* (no activity in {found.days} days)\n" + "\n".join(lines)
    picker = {
        "type": "overflow",
        "action_id": HOME_KEY_CARD,
        "options": [option(f"Card: {k.name}", str(k.customer_id)) for k in found.rows[:5]],
    }
    return section(text + (more if found.total > len(found.rows) else ""), accessory=picker if found.rows else None)


def home_view(
    day: MyDay,
    *,
    tz: str,
    now: datetime,
    type_label: Label,
    stage_label: Label,
    extra: Sequence[dict] = (),
    team: list[dict[str, Any]] | None = None,
    admin: bool = False,
) -> dict[str, Any]:
    """My day, then (managers and admins) the Team section of ``commands.team``, then (workspace
    admins) the settings of ``commands.admin``.

    ``extra``: blocks another feature puts first (email capture's unfiled mail), at most ~12."""
    limit = HOME_LIST_WITH_TEAM if team else HOME_LIST
    blocks: list[dict[str, Any]] = [
        header("Your day in the CRM"),
        actions(
            button("Log activity", LOG_OPEN, "", "primary"),
            button("Find customer", HOME_FIND, "find"),
            button("New customer", HOME_NEW, "new"),
            block_id=QUICK_BLOCK,
        ),
        divider(),
    ]
    if extra:
        blocks += [*extra, divider()]
    if day.key_accounts and day.key_accounts.total:  # first: the customers that matter most, gone quiet
        blocks += [key_accounts_section(day, now=now), divider()]
    blocks += _follow_ups(":warning: Overdue follow-ups", day.overdue, day.overdue_total, tz=tz, now=now, limit=limit)
    blocks += _follow_ups(
        ":calendar: Upcoming follow-ups", day.upcoming, day.upcoming_total, tz=tz, now=now, limit=limit
    )
    blocks.append(divider())
    blocks.append(_activities(day, tz=tz, now=now, type_label=type_label))
    if day.deals:
        blocks.append(_deals(day, stage_label=stage_label))
    if day.failed:
        lines = [follow_up_line(r, tz=tz, now=now, show_owner=True) for r in day.failed[:10]]
        blocks.append(section("*Admins: reminder DMs Slack refused*\n" + "\n".join(lines)))
    blocks += team or []
    if admin:  # workspace admins: the settings (commands/admin)
        blocks = blocks[: 100 - len(admin_blocks())] + admin_blocks()
    return {"type": "home", "blocks": blocks[:100]}


FIND_VIEW = "home_find"
FIND_BLOCK, FIND_ACTION = "customer", "customer_picker:home"


def find_customer_view() -> dict[str, Any]:
    """The Home tab's "Find customer": a picker; the card comes by DM."""
    return {
        "type": "modal",
        "callback_id": FIND_VIEW,
        "title": plain("Find customer"),
        "submit": plain("Show card"),
        "close": plain("Cancel"),
        "blocks": [input_block(FIND_BLOCK, "Customer", customer_select(action_id=FIND_ACTION))],
    }
