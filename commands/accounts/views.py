"""Block Kit for `/crm accounts`: one section per customer (tier, owner, stage, industry, lifetime
value, open pipeline, last touch) with a button to its card, and page buttons. Pure functions of
``crm.accounts.AccountPage``; a page is at most about 16 blocks (Slack allows 50)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import BUTTON_VALUE_MAX, actions, button, context, esc, header, person, plural, section
from crm.accounts import AccountFilter, AccountPage, AccountRow
from crm.deals import format_totals

PAGE = "accounts_page"
CARD = "accounts_card"  # the card as a new message, keeping the list
Label = Callable[[str], str]


def tier_badge(tier: str | None) -> str:
    return {"A": "🥇 Tier A", "B": "🥈 Tier B", "C": "🥉 Tier C"}.get(tier or "", "Tier not yet worked out")


def touch_words(last: datetime | None, now: datetime) -> str:
    if last is None:
        return "never touched"
    days = max(0, (now - last).days)
    return "touched today" if days == 0 else f"last touch {plural(days, 'day')} ago"


def account_line(row: AccountRow, *, now: datetime, lifecycle_label: Label) -> str:
    v = row.value
    facts = [tier_badge(v.tier), person(row.owner_user_id)]
    if row.lifecycle_stage:
        facts.append(esc(lifecycle_label(row.lifecycle_stage), 40))
    if row.industry:
        facts.append(esc(row.industry, 60))
    money = f"Lifetime {format_totals(v.won)}" if v.won else "Nothing won yet"
    if v.open_count:
        money += f" · open {format_totals(v.open, empty='no amount')} ({plural(v.open_count, 'deal')})"
    else:
        money += " · no open deals"
    return f"*{esc(row.name, 120)}* · " + " · ".join(facts) + f"\n{money} · {touch_words(row.last_touch, now)}"


def describe(page: AccountPage, f: AccountFilter) -> str:
    parts = [esc(p, 120) for p in page.described]
    if f.owner:
        parts.insert(1 if f.tiers else 0, f"owner {person(f.owner)}")
    return " · ".join(parts)


def page_value(text: str, page: int) -> str | None:
    value = json.dumps({"q": text, "p": page}, ensure_ascii=False)
    return value if len(value) <= BUTTON_VALUE_MAX else None


def accounts_text(page: AccountPage) -> str:
    if not page.total:
        return "No accounts match."
    return f"Accounts: {plural(page.total, 'customer')}, page {page.page} of {page.pages}"


def accounts_blocks(
    page: AccountPage, f: AccountFilter, *, query_text: str, now: datetime, lifecycle_label: Label, usage: str
) -> list[dict[str, Any]]:
    where = describe(page, f)
    blocks: list[dict[str, Any]] = [header("Accounts by value")]
    if not page.total:
        if f.empty:
            blocks.append(section("No customers yet. Add one with `/crm new Acme Corporation`."))
        else:
            blocks.append(section(f"No accounts match {where or 'that'}. Try fewer filters."))
            blocks.append(context(usage))
        return blocks
    head = f"{plural(page.total, 'customer')}" + (f" · {where}" if where else "")
    head += f" · page {page.page} of {page.pages}" if page.pages > 1 else ""
    blocks.append(context(head))
    for row in page.rows:
        blocks.append(section(account_line(row, now=now, lifecycle_label=lifecycle_label),
                              accessory=button("Card", CARD, str(row.customer_id))))  # fmt: skip
    nav = []
    for label, number in (("‹ Previous", page.page - 1), ("Next ›", page.page + 1)):
        value = page_value(query_text, number) if 1 <= number <= page.pages else None
        if value:
            nav.append(button(label, f"{PAGE}_{'prev' if number < page.page else 'next'}", value))
    if nav:
        blocks.append(actions(*nav, block_id="accounts_pages"))
    elif page.pages > 1:
        blocks.append(context(f"Add `page:{page.page + 1}` for the next page."))
    blocks.append(
        context("Tiers: A holds 80% of won value per currency, B the next 15%, C the rest · recomputed daily")
    )
    return blocks
