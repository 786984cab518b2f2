"""Block Kit for `/crm duplicates`: one section per probable duplicate customer pair, each with
the customers feature's Merge button, then one per contact pair with its own Merge button (and
the merged answer's Undo button).

Everything users typed (names, and the reasons quoting them) is escaped; the Merge button's
confirmation dialog is plain text, which can't ping anyone.
"""

from __future__ import annotations

from typing import Any

from commands.blockkit import (
    actions,
    button,
    context,
    divider,
    esc,
    fallback_text,
    header,
    plain,
    plural,
    section,
    truncate,
)
from commands.customers.views import merge_button
from crm.customers import ContactMergePreview
from crm.dedupe import ContactDuplicate, CustomerDuplicate, DuplicateReport

CONTACT_MERGE = "contact_merge_confirm"  # value = "{duplicate_id}:{keeper_id}"
CONTACT_UNDO = "contact_merge_undo"  # the same value

SHOW_CUSTOMERS = 20  # one section with a button each; well under Slack's 50 blocks
SHOW_CONTACTS = 10


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


def contact_merge_button(pair: ContactDuplicate) -> dict[str, Any]:
    """Merge the first contact into the second, behind a plain-text confirmation dialog."""
    confirm = {
        "title": plain("Merge contacts?"),
        "text": plain(
            truncate(
                f"Merge {pair.first} into {pair.second}? Its activities move, its details fill in the empty "
                "ones, and you can undo it.",
                300,
            )
        ),
        "confirm": plain("Merge"),
        "deny": plain("Cancel"),
        "style": "danger",
    }
    return button("Merge", CONTACT_MERGE, f"{pair.first_id}:{pair.second_id}", "danger", confirm=confirm)


def _contact_section(c: ContactDuplicate) -> dict[str, Any]:
    text = f"{esc(c.first, 160)} → *{esc(c.second, 160)}* · {c.score:.0f}%\n_{esc('; '.join(c.reasons), 400)}_"
    return section(text, accessory=contact_merge_button(c))


def _contacts_blocks(contacts: list[ContactDuplicate]) -> list[dict[str, Any]]:
    blocks = [section(f"*Contacts* ({plural(len(contacts), 'pair')})")]
    blocks += [_contact_section(c) for c in contacts[:SHOW_CONTACTS]]
    more = len(contacts) - SHOW_CONTACTS
    if more > 0:
        blocks.append(context(f"…and {plural(more, 'more contact pair')}."))
    return blocks


def _contact_detail(preview: ContactMergePreview) -> str:
    d, k = preview.duplicate, preview.keeper
    where = "" if d.customer_id == k.customer_id else f" (at {preview.duplicate_customer})"
    return f"{d.name}{where} into {k.name} at {preview.keeper_customer}"


def contact_merged_text(preview: ContactMergePreview) -> str:
    filled = f"; filled in {', '.join(f.replace('_', ' ') for f in preview.filled)}" if preview.filled else ""
    return fallback_text(
        f"Merged contact {_contact_detail(preview)}: moved "
        f"{plural(preview.activities, 'activity', 'activities')}{filled}."
    )


def contact_merged_blocks(preview: ContactMergePreview) -> list[dict[str, Any]]:
    value = f"{preview.duplicate.id}:{preview.keeper.id}"
    return [
        section(contact_merged_text(preview)),
        actions(button("Undo merge", CONTACT_UNDO, value)),
    ]


def contact_unmerged_text(preview: ContactMergePreview) -> str:
    changed = ", ".join(f.replace("_", " ") for f in preview.kept_as_is)
    kept = f" Left as they are, because they were changed since: {changed}." if changed else ""
    return fallback_text(
        f"Undid the merge of contact {_contact_detail(preview)}: "
        f"{plural(preview.activities, 'activity', 'activities')} moved back and {preview.duplicate.name} "
        f"is a contact again.{kept}"
    )


def duplicates_blocks(report: DuplicateReport, *, team_id: str = "T…") -> list[dict[str, Any]]:
    """The report: one section per customer pair with a Merge button, then contacts as text."""
    blocks: list[dict[str, Any]] = [
        header("Probable duplicates"),
        context(
            f"Checked {plural(report.customers_checked, 'customer')} and {plural(report.contacts_checked, 'contact')}. "
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
        blocks += [divider(), *_contacts_blocks(report.contacts)]
    if report.groups:
        blocks.append(_groups_context(report))
    return blocks


def _groups_context(report: DuplicateReport) -> dict[str, Any]:
    """Crowds sharing one phone, website or name: one line each, not thousands of pairs."""
    lines = [
        f"{g.size:,} customers {esc(g.what, 120)}, e.g. {esc(', '.join(g.sample), 200)}"
        + (" (each paired with the one to keep)" if g.paired else "")
        for g in report.groups[:5]
    ]
    more = len(report.groups) - len(lines)
    if more > 0:
        lines.append(f"…and {more:,} more such groups")
    return context("Grouped, not paired (too many share one key): " + "; ".join(lines) + ".")
