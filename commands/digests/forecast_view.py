"""Block Kit for the forecast under `/crm pipeline team`: weighted pipeline by close month and by
stage, win rate and days to close, lead → customer conversions. A pure function of
``crm.forecast.Forecast``; at most 5 blocks. The digest's plain lines are ``crm.forecast.digest_lines``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import context, divider, esc, plural, section
from commands.digests.views import bounded_section
from crm.deals import format_totals
from crm.forecast import Forecast, bucket_line, conversion_line, digest_lines, win_line
from crm.value import KeyAccounts, key_account_lines

Label = Callable[[str], str]


def forecast_blocks(f: Forecast, *, stage_label: Label) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [divider()]
    if f.open_count == 0:
        blocks.append(section("*Forecast:* no open deals to forecast yet. `/crm deal Acme` adds one."))
    else:
        head = (
            f"*Forecast:* {format_totals(f.weighted, empty='nothing')} weighted of "
            f"{format_totals(f.totals, empty='no amount')} open ({plural(f.open_count, 'deal')})"
        )
        blocks.append(bounded_section(head, ["• " + bucket_line(b) for b in f.buckets], len(f.buckets), "months"))
        lines = [
            f"• {esc(stage_label(stage), 40)} at {f.probabilities.get(stage, 0)}%: "
            f"{format_totals(weighted, empty='nothing')} ({plural(count, 'deal')})"
            for stage, count, weighted in f.by_stage
        ]
        blocks.append(bounded_section("*Weighted by stage*", lines, len(lines), "stages"))
    blocks.append(section(f"*{win_line(f)}*\n{conversion_names(f)}"))
    blocks.append(
        context(
            "Weighted = amount × the stage's probability (admins set `CRM_STAGE_PROBABILITIES`); "
            "currencies are never added together."
        )
    )
    return blocks


def conversion_names(f: Forecast) -> str:
    line = conversion_line(f)
    names = f.conversions.names
    if names:
        more = f.conversions.count - len(names)
        line += ": " + ", ".join(esc(n, 60) for n in names) + (f" and {more:,} more" if more > 0 else "")
    return line


def digest_section_blocks(
    f: Forecast, key_accounts: KeyAccounts | None, *, now: datetime, name_of: Label
) -> list[dict[str, Any]]:
    """The weekly digest's value section, ready to append: the forecast lines
    (``crm.forecast.digest_lines``) and the untouched key accounts (``crm.value.key_account_lines``,
    escaped here; reps by display name so nobody is pinged). At most 2 blocks."""
    blocks = [section("\n".join(digest_lines(f)))]
    if key_accounts is not None:
        head, *rest = key_account_lines(key_accounts, now=now, name_of=name_of)
        blocks.append(bounded_section(f"*{esc(head, 200)}*", [esc(line, 300) for line in rest], len(rest), "lines"))
    return blocks
