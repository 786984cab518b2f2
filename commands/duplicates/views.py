"""Block Kit for `/crm duplicates`: one section per probable duplicate customer pair, each with
the customers feature's Merge button, then the contact pairs as text (review only).

Everything users typed (names, and the reasons quoting them) is escaped; the Merge button's
confirmation dialog is plain text, which can't ping anyone.
"""

from __future__ import annotations

from typing import Any

from commands.blockkit import context, divider, esc, header, plural, section
from commands.customers.views import merge_button
from crm.dedupe import ContactDuplicate, CustomerDuplicate, DuplicateReport

SHOW_CUSTOMERS = 20  # one section with a button each; well under Slack's 50 blocks
SHOW_CONTACTS = 10
CONTACT_LINES_BUDGET = 2700  # characters: room for the heading and "and N more"


def duplicates_text(report: DuplicateReport) -> str:
    return (
        f"Probable duplicates: {plural(len(report.customers), 'customer pair')} and "
        f"{plural(len(report.contacts), 'contact pair')} among {plural(report.customers_checked, 'customer')} "
        f"and {plural(report.contacts_checked, 'contact')}."
    )


def pair_button(pair: CustomerDuplicate) -> dict[str, Any]:
    """Merge (``"{duplicate_id}:{keeper_id}"``), handled by the customers feature."""
    detail = f" Its contacts, deals, activities and follow-ups move to {pair.keeper_name}; its name stays searchable."
    return merge_button(f"{pair.duplicate_id}:{pair.keeper_id}", pair.duplicate_name, pair.keeper_name, detail=detail)


def _pair_section(pair: CustomerDuplicate) -> dict[str, Any]:
    verdict = " · review" if pair.verdict == "review" else ""
    text = (
        f"*{esc(pair.duplicate_name, 120)}* → *{esc(pair.keeper_name, 120)}* "
        f"· {pair.score:.0f}%{verdict}\n_{esc('; '.join(pair.reasons), 600)}_"
    )
    return section(text, accessory=pair_button(pair))


def _contacts_section(contacts: list[ContactDuplicate]) -> dict[str, Any]:
    lines: list[str] = []
    used = 0
    for c in contacts[:SHOW_CONTACTS]:
        why = esc("; ".join(c.reasons), 200)
        line = f"• {esc(c.first, 160)} ~ {esc(c.second, 160)} · {c.score:.0f}% _({why})_"
        if used + len(line) > CONTACT_LINES_BUDGET:
            break
        lines.append(line)
        used += len(line) + 1
    more = len(contacts) - len(lines)
    if more > 0:
        lines.append(f"_…and {plural(more, 'more contact pair')}._")
    return section(f"*Contacts* ({plural(len(contacts), 'pair')}, review only)\n" + "\n".join(lines))


def duplicates_blocks(report: DuplicateReport, *, team_id: str = "T…") -> list[dict[str, Any]]:
    """The report: one section per customer pair with a Merge button, then contacts as text."""
    blocks: list[dict[str, Any]] = [
        header("Probable duplicates"),
        context(
            f"Checked {report.customers_checked:,} customers and {report.contacts_checked:,} contacts. "
            "Merge keeps the second name and moves everything to it."
        ),
    ]
    if not report.customers and not report.contacts:
        blocks.append(section(":sparkles: No probable duplicates found."))
        if report.groups:
            blocks.append(_groups_context(report))
        return blocks
    if report.customers:
        blocks.append(section(f"*Customers* ({plural(len(report.customers), 'pair')})"))
    blocks += [_pair_section(pair) for pair in report.customers[:SHOW_CUSTOMERS]]
    more = len(report.customers) - SHOW_CUSTOMERS
    if more > 0:
        blocks.append(
            context(f"…and {plural(more, 'more customer pair')}. The full list: `crm-bot dedupe --team {team_id}`.")
        )
    if report.contacts:
        blocks += [divider(), _contacts_section(report.contacts)]
    if report.groups:
        blocks.append(_groups_context(report))
    return blocks


def _groups_context(report: DuplicateReport) -> dict[str, Any]:
    """Crowds sharing one phone, website or name: one line each, not thousands of pairs."""
    lines = [
        f"{g.size:,} customers {esc(g.what, 120)}, e.g. {esc(', '.join(g.sample), 200)}" for g in report.groups[:5]
    ]
    more = len(report.groups) - len(lines)
    if more > 0:
        lines.append(f"…and {more:,} more such groups")
    return context("Grouped, not paired (too many share one key): " + "; ".join(lines) + ".")
