"""The card's value part: tier, lifetime value, open pipeline, and the contact-cadence hints.
A pure builder of ``crm.value.CustomerValue`` and ``crm.value.CadenceHint``; one section."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands.blockkit import esc, plural, section
from crm.deals import format_totals
from crm.value import CADENCE_DAYS, CadenceHint, CustomerValue

MAX_HINTS = 5
TIER_WORDS = {
    "A": "🥇 *Tier A* (key account)",
    "B": "🥈 *Tier B*",
    "C": "🥉 *Tier C*",
}


def value_line(value: CustomerValue) -> str:
    tier = TIER_WORDS.get(value.tier or "", "Tier: worked out at the next daily run")
    if value.basis_currency and len(value.won) > 1:  # tiers are ranked per currency, never converted
        tier += f" by its {value.basis_currency} deals"
    won = (
        f"lifetime {format_totals(value.won, empty='no amount')} ({plural(value.won_count, 'won deal')})"
        if value.won_count
        else "nothing won yet"
    )
    pipeline = (
        f"open {format_totals(value.open, empty='no amount')} ({plural(value.open_count, 'deal')})"
        if value.open_count
        else "no open deals"
    )
    return f"{tier} · {won} · {pipeline}"


def hint_line(hint: CadenceHint, now: datetime) -> str:
    name = esc(hint.contact_name, 80)
    if hint.kind == "busy":
        return (
            f"⚠️ {name} was emailed or called {hint.count} times in the last {CADENCE_DAYS} days: "
            "give them some room, too much reads as spam."
        )
    days = max(0, (now - hint.last).days) if hint.last else 0
    return f"💤 Key contact {name} has gone quiet: nothing logged for {plural(days, 'day')}."


def value_blocks(value: CustomerValue, hints: list[CadenceHint], *, now: datetime) -> list[dict[str, Any]]:
    lines = [value_line(value)] + [hint_line(h, now) for h in hints[:MAX_HINTS]]
    if len(hints) > MAX_HINTS:
        lines.append(f"_…and {len(hints) - MAX_HINTS} more contacts to look at_")
    return [section("\n".join(lines))]
