"""Block Kit for a handover: the counts with Confirm, what moved with Undo, and the new owner's brief.

Pure builders. The brief is a DM of at most about 30 blocks whatever the book's size (3,000
follow-ups are counted, and the next few listed). People are named, never mentioned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import actions, button, context, esc, header, plural, section
from commands.followups.views import follow_up_line
from commands.team.views import totals_text
from crm.dates import format_local
from crm.handover import Brief, Moved, Selection

Label = Callable[[str], str]
NameOf = Callable[[str], str]

CONFIRM = "handover_confirm"
CANCEL = "handover_cancel"
UNDO = "handover_undo"
USAGE = (
    "Say whose work goes to whom: `/crm handover @leaving to @taking-over`. "
    "Only part of it: add `customer Acme` or `tier A`."
)


def scope_words(scope: str, customer_name: str | None = None) -> str:
    kind, _, value = scope.partition(":")
    if kind == "customer":
        return f"only {esc(customer_name, 80)}" if customer_name else "only one customer"
    if kind == "tier":
        return f"only tier {esc(value, 8)} customers"
    return "everything"


def counts_text(customers: int, deals: int, follow_ups: int) -> str:
    return f"{plural(customers, 'customer')}, {plural(deals, 'open deal')} and {plural(follow_ups, 'open follow-up')}"


def question_text(seen: Selection, *, leaving: str, taking: str) -> str:
    counts = counts_text(len(seen.customers), len(seen.deals), len(seen.follow_ups))
    return f"Hand over {counts} from {leaving} to {taking}?"


def question_blocks(seen: Selection, *, leaving: str, taking: str, scope: str, value: str) -> list[dict[str, Any]]:
    lines = [
        f"*Hand over from {esc(leaving, 80)} to {esc(taking, 80)}* ({scope})",
        f"• {plural(len(seen.customers), 'customer')} they own",
        f"• {plural(len(seen.deals), 'open deal')}",
        f"• {plural(len(seen.follow_ups), 'open follow-up')}"
        + (f", {seen.overdue:,} of them overdue" if seen.overdue else ""),
    ]
    return [
        section("\n".join(lines)),
        context("Won and lost deals, and done follow-ups, stay as they are. You can undo this afterwards."),
        actions(button("Confirm", CONFIRM, value, "primary"), button("Cancel", CANCEL, "cancel")),
    ]


def moved_text(moved: Moved, *, leaving: str, taking: str) -> str:
    counts = counts_text(moved.customers, moved.deals, moved.follow_ups)
    if moved.again:
        since = " It was undone since." if moved.undone else ""
        return f"That handover was done already: {counts} went from {leaving} to {taking}. Nothing more moved.{since}"
    return f":white_check_mark: Handed over {counts} from {leaving} to {taking}. {taking} gets a brief by DM."


def moved_blocks(moved: Moved, *, leaving: str, taking: str, undone: bool = False) -> list[dict[str, Any]]:
    blocks = [section(esc(moved_text(moved, leaving=leaving, taking=taking), 2000))]
    if not undone:
        blocks.append(actions(button("Undo", UNDO, str(moved.handover_id))))
    return blocks


def undone_text(moved: Moved, *, leaving: str, taking: str) -> str:
    counts = counts_text(moved.customers, moved.deals, moved.follow_ups)
    text = f":leftwards_arrow_with_hook: Undone: {counts} went back from {taking} to {leaving}."
    if moved.skipped:
        left = ", ".join(
            plural(n, k.replace("_", "-")[:-1] if k.endswith("s") else k) for k, n in moved.skipped.items()
        )
        text += f" {left} changed owner since and stayed where they are."
    return text


def _account(name: str, open_deals: int) -> str:
    return f"{esc(name, 60)}" + (f" ({plural(open_deals, 'open deal')})" if open_deals else "")


def brief_text(brief: Brief, *, leaving: str) -> str:
    return (
        f"You're taking over from {leaving}: "
        f"{counts_text(brief.customers_total, brief.deals_total, brief.follow_ups_total)}."
    )


def brief_blocks(
    brief: Brief, *, leaving: str, by: str, stage_label: Label, type_label: Label, tz: str, now: datetime
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        header(f"You're taking over from {leaving}"),
        context(f"Handed over by {esc(by, 80)} ({scope_words(brief.scope)}). This is what is yours now."),
    ]
    if brief.groups:
        lines = []
        for group in brief.groups[:5]:
            title = f"Tier {esc(group.tier, 8)}" if group.tier else ("No tier" if brief.tiers else "Accounts")
            names = ", ".join(_account(a.name, a.open_deals) for a in group.accounts)
            more = f" …and {group.total - len(group.accounts):,} more" if group.total > len(group.accounts) else ""
            lines.append(f"*{title}* ({group.total:,}): {names}{more}")
        blocks.append(section(f"*Accounts* ({brief.customers_total:,})\n" + "\n".join(lines)))
    if brief.stages:
        stage_lines = [
            f"• {esc(stage_label(s.stage), 40)}: {plural(s.count, 'deal')}, {totals_text(s.totals, exact=True)}"
            for s in sorted(brief.stages.values(), key=lambda s: -s.count)[:12]
        ]
        blocks.append(section(f"*Open deals by stage* ({brief.deals_total:,})\n" + "\n".join(stage_lines)))
    if brief.next_follow_ups:
        head = f"*Next follow-ups* ({brief.follow_ups_total:,}" + (
            f", {brief.overdue_total:,} overdue)" if brief.overdue_total else ")"
        )
        rows = "\n".join(follow_up_line(r, tz=tz, now=now, show_owner=False) for r in brief.next_follow_ups)
        left = brief.follow_ups_total - len(brief.next_follow_ups)
        blocks.append(section(head + "\n" + rows + (f"\n…and {left:,} more: `/crm followups`" if left > 0 else "")))
    if brief.key_accounts:
        blocks.append(section(f"*Key accounts: the last three activities* ({brief.key_accounts_total:,})"))
        for key in brief.key_accounts:
            acts = [
                f"• {format_local(a.occurred_at, tz, now=now)} · {esc(type_label(a.type_key), 30)}: "
                f"{esc(a.summary, 150)}"
                for a in key.activities
            ] or ["• Nothing logged yet."]
            blocks.append(section(f"*{esc(key.account.name, 80)}*\n" + "\n".join(acts)))
        if brief.key_accounts_total > len(brief.key_accounts):
            blocks.append(context(f"…and {brief.key_accounts_total - len(brief.key_accounts):,} more key accounts."))
    return blocks[:50]
