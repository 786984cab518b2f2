"""`/crm duplicates`: admins review probable duplicate customers and contacts.

Each customer pair comes with a **Merge** button (``customer_merge_confirm``, value
``"{duplicate_id}:{keeper_id}"``, behind a confirm dialog) that the customers feature
already handles: it checks the clicker is an admin again, merges and audits. Contacts are
listed for review only. The full list is ``crm-bot dedupe --team T…``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App

from commands.blockkit import escape_mrkdwn, mrkdwn, plain, truncate
from commands.customer_views import MERGE_CONFIRM
from commands.router import UMBRELLA, CommandRouter, SlashContext
from crm.dedupe import CustomerDuplicate, DuplicateReport, find_duplicates

if TYPE_CHECKING:
    from bot.services import Services

SHOW_CUSTOMERS = 20  # one section with a button each; well under Slack's 50 blocks
SHOW_CONTACTS = 10


def _esc(text: str, limit: int = 120) -> str:
    return escape_mrkdwn(truncate(" ".join(text.split()), limit))


def merge_button(pair: CustomerDuplicate) -> dict[str, Any]:
    return {
        "type": "button",
        "text": plain("Merge"),
        "action_id": MERGE_CONFIRM,
        "value": f"{pair.duplicate_id}:{pair.keeper_id}",
        "style": "danger",
        "confirm": {
            "title": plain("Merge customers?"),
            "text": plain(
                truncate(
                    f"Merge {pair.duplicate_name} into {pair.keeper_name}? Its contacts, deals, activities and "
                    f"follow-ups move to {pair.keeper_name}; its name stays searchable.",
                    300,
                )
            ),
            "confirm": plain("Merge"),
            "deny": plain("Cancel"),
            "style": "danger",
        },
    }


def duplicates_text(report: DuplicateReport) -> str:
    return (
        f"Probable duplicates: {len(report.customers)} customer pairs and {len(report.contacts)} contact pairs "
        f"among {report.customers_checked} customers and {report.contacts_checked} contacts."
    )


def duplicates_blocks(report: DuplicateReport, *, team_id: str = "T…") -> list[dict[str, Any]]:
    """The report: one section per customer pair with a Merge button, then contacts as text."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("Probable duplicates")},
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"Checked {report.customers_checked:,} customers and {report.contacts_checked:,} contacts. "
                    "Merge keeps the second name and moves everything to it."
                )
            ],
        },
    ]
    if not report.customers and not report.contacts:
        blocks.append({"type": "section", "text": mrkdwn(":sparkles: No probable duplicates found.")})
        return blocks
    if report.customers:
        blocks.append({"type": "section", "text": mrkdwn(f"*Customers* ({len(report.customers):,} pairs)")})
    for pair in report.customers[:SHOW_CUSTOMERS]:
        text = (
            f"*{_esc(pair.duplicate_name)}* (#{pair.duplicate_id}) → *{_esc(pair.keeper_name)}* "
            f"(#{pair.keeper_id}) · {pair.score:.0f}%\n_{_esc('; '.join(pair.reasons), 600)}_"
        )
        blocks.append({"type": "section", "text": mrkdwn(truncate(text, 3000)), "accessory": merge_button(pair)})
    more = len(report.customers) - SHOW_CUSTOMERS
    if more > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(f"…and {more:,} more customer pairs. The full list: `crm-bot dedupe --team {team_id}`.")
                ],
            }
        )
    if report.contacts:
        blocks.append({"type": "divider"})
        lines: list[str] = []
        used = 0
        for c in report.contacts[:SHOW_CONTACTS]:
            why = _esc("; ".join(c.reasons), 200)
            line = f"• {_esc(c.first, 160)} ~ {_esc(c.second, 160)} · {c.score:.0f}% _({why})_"
            if used + len(line) > 2700:  # leave room for the header and "and N more"
                break
            lines.append(line)
            used += len(line) + 1
        more = len(report.contacts) - len(lines)
        if more > 0:
            lines.append(f"_…and {more:,} more contact pairs._")
        head = f"*Contacts* ({len(report.contacts):,} pairs, review only)\n"
        blocks.append({"type": "section", "text": mrkdwn(truncate(head + "\n".join(lines), 3000))})
    return blocks


def register(app: App, services: Services, router: CommandRouter) -> None:
    def duplicates(ctx: SlashContext) -> None:
        if not services.people.get(ctx.client, ctx.workspace_id, ctx.user_id).can_admin:
            ctx.reply("Only workspace admins can review and merge duplicates. Ask an admin to run this.")
            return
        report = find_duplicates(services.session_factory, ctx.workspace_id)
        ctx.reply(duplicates_text(report), blocks=duplicates_blocks(report, team_id=ctx.team_id or "T…"))

    router.add(
        "duplicates",
        duplicates,
        summary="Admins: probable duplicate customers and contacts, with a Merge button for each customer pair.",
        example=f"{UMBRELLA} duplicates",
        aliases=("dupes", "dedupe"),
    )
