"""Block Kit for the Team section (a pure builder of ``crm.team.TeamOverview``) and its details.

The section is compact whatever the team's size: each list is one section block with several
lines and a menu that opens any rep's detail, plus an "…and N more" line whose button opens the
whole list in a modal. At most :data:`TEAM_BLOCKS` blocks, so "my day" and the team fit in the
Home tab's 100 with 50 reps or 500. People are shown by display name, never mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from commands.blockkit import (
    SELECT_OPTIONS_MAX,
    button,
    context,
    divider,
    esc,
    header,
    option,
    plain,
    plural,
    section,
    truncate,
)
from commands.followups.views import follow_up_line
from crm.dates import format_local
from crm.deals import format_totals
from crm.models import Activity, Deal
from crm.money import format_money, format_money_short
from crm.nudges import FollowUpRow
from crm.team import RepOverdue, RepPipeline, RepWeek, TeamOverview, WeekDeals

Label = Callable[[str], str]
NameOf = Callable[[str], str]

PICK = "team_pick"  # a row's menu: action id "team_pick:<list>", value = a rep's id (or a deal list)
ALL = "team_all"  # "…and N more": action id "team_all:<list>"
OPEN = "team_open"  # a row inside the all-reps modal: action id "team_open:<list>"
ACTION = re.compile(rf"^({PICK}|{ALL}|{OPEN}):(pipeline|overdue|activity|deals)$")
LISTS = ("pipeline", "overdue", "activity", "deals")
TEAM_BLOCKS = 14  # the most blocks the Team section takes
ROWS = 8  # reps shown in each list on the Home tab
MODAL_ROWS = 90  # rows in a modal (Slack allows 100 blocks)
LINES_CHARS = 2900  # a section's text stays under Slack's 3,000


def totals_text(totals: dict[str, int], *, exact: bool = False, empty: str = "no amount") -> str:
    """Per currency in the one fixed order, never added together; rounded ($6.7M) unless ``exact``."""
    return format_totals(totals, empty=empty, short=not exact)


def _lines(title: str, lines: Sequence[str]) -> str:
    text = title
    for line in lines:
        if len(text) + len(line) + 1 > LINES_CHARS:
            break
        text += "\n" + line
    return text


def _menu(kind: str, reps: Sequence[str], name_of: NameOf, placeholder: str = "Open a rep…") -> dict[str, Any]:
    return {
        "type": "static_select",
        "action_id": f"{PICK}:{kind}",
        "placeholder": plain(placeholder),
        "options": [option(name_of(r) if r else "(nobody)", r or "-") for r in reps[:SELECT_OPTIONS_MAX]],
    }


def _list(kind: str, title: str, lines: list[str], reps: list[str], name_of: NameOf, empty: str) -> list[dict]:
    if not reps:
        return [section(f"{title}\n{empty}")]
    blocks = [section(_lines(title, lines[:ROWS]), _menu(kind, reps, name_of))]
    if len(reps) > ROWS:
        blocks.append(
            section(f"…and {plural(len(reps) - ROWS, 'more rep')}", button("Show all", f"{ALL}:{kind}", kind))
        )
    return blocks


def _who(name_of: NameOf, user_id: str | None) -> str:
    return esc(name_of(user_id), 60) if user_id else "_nobody_"


def pipeline_line(rep: RepPipeline, name_of: NameOf, stage_label: Label, *, exact: bool = False) -> str:
    stages = " · ".join(
        f"{esc(stage_label(s), 30)} {t.count}" for s, t in sorted(rep.stages.items(), key=lambda kv: -kv[1].count)
    )
    who = _who(name_of, rep.user_id)
    return f"• *{who}* — {plural(rep.count, 'deal')}, {totals_text(rep.totals, exact=exact)}: {stages}"


def overdue_line(rep: RepOverdue, name_of: NameOf, *, tz: str, now: datetime) -> str:
    return (
        f"• *{_who(name_of, rep.user_id)}* — {rep.count:,} overdue, the oldest since "
        f"{format_local(rep.oldest, tz, now=now)}"
    )


def _arrow(this: int, before: int) -> str:
    return ":arrow_up_small:" if this > before else (":arrow_down_small:" if this < before else "=")


def activity_line(rep: RepWeek, name_of: NameOf, type_label: Label) -> str:
    types = " · ".join(
        f"{esc(type_label(t), 30)} {n}" for t, n in sorted(rep.this_week.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return (
        f"• *{_who(name_of, rep.user_id)}* — {rep.this_total} this week {_arrow(rep.this_total, rep.so_far_total)} "
        f"{rep.so_far_total} by now last week ({rep.last_total} in all)" + (f": {types}" if types else "")
    )


def _deal_word(week: WeekDeals) -> str:
    return {"won": ":trophy: Won", "lost": ":x: Lost", "moved": ":arrow_right: Moved"}[week.kind]


def week_deal_lines(
    week: WeekDeals, name_of: NameOf, stage_label: Label, *, exact: bool = False, limit: int = 3
) -> str:
    head = f"*{_deal_word(week)}* {week.count}" + (f" · {totals_text(week.totals, exact=exact)}" if week.totals else "")
    items = []
    for d in week.items[:limit]:
        amount = (
            format_money(d.amount_minor, d.currency)
            if exact
            else (format_money_short(d.amount_minor, d.currency) if d.amount_minor is not None else "no amount")
        )
        move = (
            f" · {esc(stage_label(d.from_stage), 30)} → {esc(stage_label(d.to_stage), 30)}"
            if d.from_stage and week.kind == "moved"
            else ""
        )
        items.append(
            f"{esc(d.title, 60)} ({esc(d.customer_name, 40)}, {amount}, {_who(name_of, d.owner_user_id)}){move}"
        )
    return head + (": " + "; ".join(items) if items else "")


def team_blocks(
    team: TeamOverview,
    *,
    name_of: NameOf,
    stage_label: Label,
    type_label: Label,
    tz: str,
    now: datetime,
    key_accounts: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The Team section: at most :data:`TEAM_BLOCKS` blocks."""
    week = format_local(team.week_start, tz, now=now)
    blocks: list[dict[str, Any]] = [
        divider(),
        header("Your team"),
        context(f"This week began {week}. Pick a rep in a list to see their detail."),
    ]
    open_title = (
        f"*Open pipeline by rep and stage* ({plural(team.open_count, 'deal')}, {totals_text(team.open_totals)})"
    )
    blocks += _list(
        "pipeline",
        open_title,
        [pipeline_line(r, name_of, stage_label) for r in team.pipeline],
        [r.user_id for r in team.pipeline],
        name_of,
        "No open deals.",
    )
    blocks += _list(
        "overdue",
        f"*Overdue follow-ups* ({team.overdue_total:,})",
        [overdue_line(r, name_of, tz=tz, now=now) for r in team.overdue],
        [r.user_id for r in team.overdue],
        name_of,
        "Nobody has an overdue follow-up. :tada:",
    )
    blocks += _list(
        "activity",
        "*Activities this week against last week*",
        [activity_line(r, name_of, type_label) for r in team.activity],
        [r.user_id for r in team.activity],
        name_of,
        "Nothing logged this week or last.",
    )
    kinds = [team.week[k] for k in ("won", "lost", "moved") if k in team.week]
    deal_text = "\n".join(week_deal_lines(w, name_of, stage_label) for w in kinds)
    menu = {
        "type": "static_select",
        "action_id": f"{PICK}:deals",
        "placeholder": plain("Open a list…"),
        "options": [option(f"{_deal_word(w).split(' ', 1)[1]} ({w.count})", w.kind) for w in kinds],
    }
    blocks.append(section("*Deals this week*\n" + deal_text, menu if any(w.count for w in kinds) else None))
    # the key accounts nobody has touched lately (crm.value.untouched_key_accounts), at most 2 blocks
    blocks += (key_accounts or [])[:2]
    return blocks[:TEAM_BLOCKS]


def untouched_blocks(
    rows: Sequence[Any], total: int, days: int, *, name_of: NameOf, now: datetime, limit: int = ROWS
) -> list[dict[str, Any]]:
    """The slot's block: A-tier customers nobody has touched for ``days`` (rows with ``name``,
    ``owner_user_id`` and ``last_touch``, longest quiet first), or nothing when there are none."""
    if not total:
        return []
    lines = []
    for row in rows[:limit]:
        touch = row.last_touch
        quiet = "never touched" if touch is None else f"quiet for {plural(max(0, (now - touch).days), 'day')}"
        lines.append(f"• *{esc(row.name, 80)}* · {_who(name_of, row.owner_user_id)} · {quiet}")
    more = total - min(len(rows), limit)
    title = f"*Key accounts nobody has touched for {days} days* ({total:,})"
    tail = f"\n…and {more:,} more: `/crm accounts tier:A quiet:{days}`" if more > 0 else ""
    return [section(_lines(title, lines) + tail)]


# -- the details ---------------------------------------------------------------------------------
def _modal(title: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(title, 24),
        "close": plain("Close"),
        "blocks": blocks[:100] or [section("Nothing here.")],
    }


def _chunked(lines: Sequence[str], budget: int) -> list[dict[str, Any]]:
    """Lines packed into sections of under 3,000 characters, at most ``budget`` of them."""
    blocks: list[dict[str, Any]] = []
    chunk = ""
    for line in lines:
        if chunk and len(chunk) + len(line) + 1 > LINES_CHARS:
            blocks.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else truncate(line, LINES_CHARS)
    if chunk:
        blocks.append(section(chunk))
    return blocks[:budget]


def _more(shown: int, total: int, what: str) -> list[dict[str, Any]]:
    return [context(f"…and {plural(total - shown, what)} more.")] if total > shown else []


def pipeline_modal(name: str, deals: list[tuple[Deal, str]], total: int, *, stage_label: Label) -> dict[str, Any]:
    lines = [
        f"• *{esc(d.title, 80)}* · {esc(c, 60)} · {esc(stage_label(d.stage), 30)} · "
        f"{format_money(d.amount_minor, d.currency)}"
        + (f" · closes {d.expected_close.isoformat()}" if d.expected_close else "")
        for d, c in deals
    ]
    blocks = [
        section(f"*{esc(name, 80)}: open deals* ({total:,})"),
        *_chunked(lines, 90),
        *_more(len(deals), total, "deal"),
    ]
    return _modal("Open deals", blocks)


def overdue_modal(name: str, rows: list[FollowUpRow], total: int, *, tz: str, now: datetime) -> dict[str, Any]:
    lines = [follow_up_line(r, tz=tz, now=now, show_owner=False) for r in rows]
    blocks = [
        section(f"*{esc(name, 80)}: overdue follow-ups* ({total:,})"),
        *_chunked(lines, 90),
        *_more(len(rows), total, "follow-up"),
    ]
    return _modal("Overdue follow-ups", blocks)


def activity_modal(
    name: str,
    week: RepWeek | None,
    rows: list[tuple[Activity, str]],
    total: int,
    *,
    type_label: Label,
    tz: str,
    now: datetime,
) -> dict[str, Any]:
    blocks = [section(f"*{esc(name, 80)}: activities this week and last*")]
    if week is not None:
        types = sorted(set(week.this_week) | set(week.last_week))
        table = [
            f"• {esc(type_label(t), 30)}: {week.this_week.get(t, 0)} this week · "
            f"{week.last_week_so_far.get(t, 0)} by now last week · {week.last_week.get(t, 0)} all last week"
            for t in types
        ]
        blocks += _chunked(table, 5)
    lines = [
        f"• {format_local(a.occurred_at, tz, now=now)} · *{esc(type_label(a.type_key), 30)}* · "
        f"{esc(c, 60)}: {esc(a.summary, 120)}"
        for a, c in rows
    ]
    blocks += [*_chunked(lines, 80), *_more(len(rows), total, "activity")]
    return _modal("Activities", blocks)


def week_deals_modal(week: WeekDeals, *, name_of: NameOf, stage_label: Label) -> dict[str, Any]:
    title = {"won": "Won this week", "lost": "Lost this week", "moved": "Moved this week"}[week.kind]
    lines = [
        f"• *{esc(d.title, 80)}* · {esc(d.customer_name, 60)} · {format_money(d.amount_minor, d.currency)} · "
        f"{_who(name_of, d.owner_user_id)}"
        + (f" · {esc(stage_label(d.from_stage), 30)} → {esc(stage_label(d.to_stage), 30)}" if d.from_stage else "")
        for d in week.items
    ]
    head = f"*{title}*: {week.count:,}" + (f" · {totals_text(week.totals, exact=True)}" if week.totals else "")
    blocks = [section(head), *_chunked(lines, 90), *_more(len(week.items), week.count, "deal")]
    return _modal(title, blocks)


def all_reps_modal(kind: str, lines: list[tuple[str, str]]) -> dict[str, Any]:
    """Every rep of one list, one block each with a button that opens their detail."""
    title = {"pipeline": "Pipeline by rep", "overdue": "Overdue by rep", "activity": "Activity by rep"}.get(
        kind, "Team"
    )
    blocks = [section(text, button("Open", f"{OPEN}:{kind}", user_id or "-")) for user_id, text in lines[:MODAL_ROWS]]
    if len(lines) > MODAL_ROWS:
        blocks.append(context(f"…and {plural(len(lines) - MODAL_ROWS, 'more rep')}: ask `/crm followups @someone`."))
    return _modal(title, blocks)
