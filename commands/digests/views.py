"""Block Kit for the pipeline: the daily digest, `/crm pipeline`, and the digest subscriptions.

Pure functions of ``crm.digest.Digest`` / ``crm.deals.PipelineSummary``. Written for a phone:
short lines, one fact per line, no side-by-side fields. Every list is bounded ("…and 12 more")
and every section is cut to fit Slack's 3,000 characters, so a big workspace still gets one
valid message of at most :data:`MAX_DIGEST_BLOCKS` blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from commands.blockkit import (
    HEADER_TEXT_MAX,
    context,
    esc,
    person,
    plain,
    plural,
    section,
    truncate,
)
from crm.dates import format_day
from crm.deals import PipelineSummary, StageTotal, format_totals
from crm.digest import DealLine, Digest, Movement
from crm.digest_schedule import Schedule, SubscriptionRow, schedule_of
from crm.money import format_money
from crm.pipeline_stages import PipelineStages
from crm.states import DmReason

MAX_DIGEST_BLOCKS = 30  # well under Slack's 50
SECTION_BUDGET = 2900  # characters per section, leaving room for the "…and N more" line
TypeLabel = Callable[[str], str]


def bounded_section(title: str, lines: list[str], total: int, what: str) -> dict[str, Any]:
    """``title`` then as many ``lines`` as fit, then "…and N more ``what``" for the rest of ``total``."""
    text = title
    shown = 0
    for line in lines:
        if len(text) + 1 + len(line) > SECTION_BUDGET:
            break
        text += "\n" + line
        shown += 1
    if total > shown:
        text += f"\n_…and {total - shown:,} more {what}_"
    return section(text)


# -- money and changes ------------------------------------------------------------------------
def _delta_money(now: dict[str, int], before: dict[str, int]) -> str:
    parts = []
    for currency in sorted(set(now) | set(before)):
        diff = now.get(currency, 0) - before.get(currency, 0)
        if diff:
            sign = "+" if diff > 0 else "−"
            parts.append(sign + format_money(abs(diff), currency))
    return ", ".join(parts)


def stage_change(current: StageTotal, previous: StageTotal | None) -> str:
    """ "▲2 · +$10,000.00", "▼1", "=" (nothing changed), or "" (no previous digest)."""
    if previous is None:
        return ""
    diff = current.count - previous.count
    money = _delta_money(current.totals, previous.totals)
    if not diff and not money:
        return "="
    arrow = f"▲{diff}" if diff > 0 else (f"▼{-diff}" if diff < 0 else "")
    return " · ".join(p for p in (arrow, money) if p)


def stage_line(stages: PipelineStages, row: StageTotal, change: str = "") -> str:
    stage = stages.describe(row.stage)
    label = esc(stage.label, 40) + (" (retired)" if stage.retired else "")
    line = f"{stage.emoji} *{label}* · {row.count:,} · {format_totals(row.totals, empty='—')}"
    return line + (f"  _({change})_" if change else "")


def _amount(line: DealLine) -> str:
    return format_money(line.amount_minor, line.currency)


def deal_line(
    line: DealLine,
    stages: PipelineStages,
    *,
    move: bool = False,
    now: datetime | None = None,
    name_of: TypeLabel | None = None,
) -> str:
    owner = person(line.owner_user_id, name_of)
    text = f"• *{esc(line.customer_name, 60)}*: {esc(line.title, 60)} · {_amount(line)} · {owner}"
    if move:
        before = stages.describe(line.from_stage).label if line.from_stage else "new"
        after = stages.describe(line.to_stage or "").label
        text += f" · {esc(before, 30)} → {esc(after, 30)}"
    if now is not None and line.last_touch is not None:
        text += f" · quiet {max(0, (now - line.last_touch).days)}d"
    elif now is not None:
        text += " · no activity yet"
    return text


def _movement_section(title: str, movement: Movement, stages: PipelineStages, **kw: Any) -> dict[str, Any]:
    head = f"{title} ({movement.count:,}"
    head += f" · {format_totals(movement.totals)})" if movement.totals else ")"
    lines = [deal_line(item, stages, **kw) for item in movement.items]
    return bounded_section(head, lines, movement.count, "deals")


# -- the digest ---------------------------------------------------------------------------------
def digest_text(digest: Digest) -> str:
    """The notification / screen-reader text."""
    day = format_day(digest.local_date)
    return truncate(
        f"Pipeline digest for {day}: {plural(digest.open_count, 'open deal')} worth "
        f"{format_totals(digest.open_totals, empty='nothing yet')}; {digest.won.count} won, "
        f"{digest.lost.count} lost, {digest.overdue_total} overdue follow-ups.",
        3000,
    )


def digest_blocks(
    digest: Digest,
    *,
    stages: PipelineStages,
    type_label: TypeLabel,
    late_for: datetime | None = None,
    preview: bool = False,
    notice: str | None = None,
    name_of: TypeLabel | None = None,
) -> list[dict[str, Any]]:
    """The digest message. ``late_for``: the time it was due (it says it comes late).
    ``name_of`` (user id → display name) names reps instead of mentioning them."""
    zone = ZoneInfo(digest.tz)
    local_now = digest.built_at.astimezone(zone)
    since = digest.since.astimezone(zone)
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(section(notice))
    blocks.append(
        {"type": "header", "text": plain(truncate(f"📊 Pipeline digest · {format_day(local_now)}", HEADER_TEXT_MAX))}
    )
    meta = [f"Changes since {format_day(since)} {since:%H:%M} ({esc(digest.tz, 40)})"]
    if late_for is not None:
        meta.insert(0, f"⏰ *Late:* due at {late_for.astimezone(zone):%H:%M}, posted at {local_now:%H:%M}")
    if preview:
        meta.insert(0, "👀 Preview, only you can see this")
    blocks.append(context(" · ".join(meta)))

    # Pipeline by stage, with the change since the last digest.
    lines = [stage_line(stages, row, stage_change(row, digest.previous_stage(row.stage))) for row in digest.pipeline]
    head = f"*Open pipeline:* {plural(digest.open_count, 'deal')} · {format_totals(digest.open_totals, empty='—')}"
    blocks.append(bounded_section(head, lines, len(lines), "stages"))
    if digest.previous is None:
        blocks.append(context("First digest: changes by stage show from the next one."))
    blocks.append({"type": "divider"})

    # What happened to deals.
    parts = [
        f"🆕 {digest.created.count:,} created",
        f"🔀 {digest.moved.count:,} moved",
        f"🏆 {digest.won.count:,} won",
        f"🪦 {digest.lost.count:,} lost",
    ]
    blocks.append(section("*Since the last digest:* " + " · ".join(parts)))
    for title, movement, kw in (
        ("🏆 *Won*", digest.won, {"name_of": name_of}),
        ("🪦 *Lost*", digest.lost, {"name_of": name_of}),
        ("🆕 *Created*", digest.created, {"name_of": name_of}),
        ("🔀 *Moved*", digest.moved, {"move": True, "name_of": name_of}),
    ):
        if movement.count:
            blocks.append(_movement_section(title, movement, stages, **kw))
    blocks.append({"type": "divider"})

    # Reps: yesterday's activities and overdue follow-ups.
    if digest.yesterday:
        lines = [
            f"• {person(r.user_id, name_of)} {r.total:,}: "
            + " · ".join(f"{esc(type_label(k), 30)} {n:,}" for k, n in r.by_type.items())
            for r in digest.yesterday
        ]
        blocks.append(
            bounded_section(
                f"*Yesterday's activity* ({digest.yesterday_total:,})", lines, len(digest.yesterday), "reps"
            )
        )
    else:
        blocks.append(section("*Yesterday's activity:* nothing logged."))
    if digest.overdue:
        lines = [
            f"• {person(r.user_id, name_of)} {r.count:,} · "
            f"oldest {max(0, (digest.built_at - r.oldest_due).days)}d overdue"
            for r in digest.overdue
        ]
        blocks.append(
            bounded_section(f"*Overdue follow-ups* ({digest.overdue_total:,})", lines, len(digest.overdue), "reps")
        )
    else:
        blocks.append(section("*Overdue follow-ups:* none 🎉"))

    # Deals that need attention, and where the value is.
    if digest.stale.count:
        blocks.append(
            _movement_section(
                f"💤 *Stale deals* (no activity in {digest.stale_days} days)",
                digest.stale,
                stages,
                now=digest.built_at,
                name_of=name_of,
            )
        )
    for pareto in digest.pareto:
        share = round(100 * pareto.top_total / pareto.grand_total) if pareto.grand_total else 0
        head = (
            f"🎯 *Top customers ({pareto.currency}):* {pareto.top_count:,} of {pareto.customers:,} make up "
            f"{share}% of {format_money(pareto.grand_total, pareto.currency)} open"
        )
        lines = [
            f"• *{esc(c.name, 60)}* {format_money(c.total, pareto.currency)}"
            f" ({round(100 * c.total / pareto.grand_total) if pareto.grand_total else 0}%)"
            for c in pareto.top
        ]
        blocks.append(bounded_section(head, lines, pareto.top_count, "customers"))
    blocks.append(context("`/crm pipeline` shows yours · `/crm digest unsubscribe` stops this digest"))
    return blocks[:MAX_DIGEST_BLOCKS]


def delivery_notice(reason: DmReason, channel_id: str) -> str:
    """Why a digest came to the subscriber by DM instead of the channel."""
    channel = f"<#{channel_id}>"
    reasons = {
        DmReason.SLACK_CONNECT: f"{channel} is shared with another organisation (Slack Connect), so I don't post CRM "
        "data there. Here is today's digest, just for you.",
        DmReason.NOT_IN_CHANNEL: f"I couldn't post today's digest in {channel}: I'm not a member and can't join it "
        f"(it is private). Invite me with `/invite @crm` in {channel}; until then, here it is.",
        DmReason.ARCHIVED: f"{channel} is archived, so today's digest comes to you. Subscribe another channel with "
        "`/crm digest subscribe` there, or stop this one with `/crm digest unsubscribe` in it.",
        DmReason.CHANNEL_NOT_FOUND: f"I can't see {channel} any more (deleted, or private without me). Invite me with "
        "`/invite @crm`, or subscribe another channel. Here is today's digest.",
    }
    return ":warning: " + reasons.get(reason, f"I couldn't post today's digest in {channel} ({esc(reason, 80)}).")


# -- /crm pipeline ---------------------------------------------------------------------------
def pipeline_blocks(summary: PipelineSummary, *, stages: PipelineStages, title: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(truncate(title, HEADER_TEXT_MAX))}]
    head = f"*Open:* {plural(summary.open_count, 'deal')} · {format_totals(summary.open_totals, empty='—')}"
    lines = [stage_line(stages, row) for row in summary.open]
    blocks.append(bounded_section(head, lines, len(lines), "stages"))
    closed = [stage_line(stages, row) for row in summary.closed]
    blocks.append(bounded_section("*Closed in the last 30 days*", closed, len(closed), "stages"))
    blocks.append(context("Only you can see this · `/crm pipeline` yours · `/crm pipeline team` everyone's"))
    return blocks


def pipeline_text(summary: PipelineSummary, title: str) -> str:
    return truncate(
        f"{title}: {plural(summary.open_count, 'open deal')} · {format_totals(summary.open_totals, empty='—')}", 3000
    )


# -- subscriptions ----------------------------------------------------------------------------
def schedule_phrase(schedule: Schedule, tz: str) -> str:
    return f"{schedule.describe()} ({tz})"


def subscribed_text(channel_id: str, schedule: Schedule, tz: str, first_at: datetime, *, created: bool) -> str:
    verb = "will get" if created else "now gets"
    first = first_at.astimezone(ZoneInfo(tz))
    return (
        f":white_check_mark: <#{channel_id}> {verb} the pipeline digest at {schedule_phrase(schedule, tz)}. "
        f"The first one comes {format_day(first)} at {first:%H:%M}. `/crm digest preview` shows it now, just to you."
    )


def subscriptions_blocks(rows: list[SubscriptionRow], *, tz: str) -> list[dict[str, Any]]:
    if not rows:
        return [section("No channel gets the digest yet. Run `/crm digest subscribe` in the team channel.")]
    lines = []
    for row in rows:
        sub = row.subscription
        last = ""
        if row.last_run is not None and row.last_run.sent_at is not None:
            last = f" · last {_day_and_time(row.last_run.sent_at.astimezone(ZoneInfo(tz)))}"
            if row.last_run.late:
                last += " (late)"
        lines.append(
            f"• <#{sub.channel_id}> at {schedule_phrase(schedule_of(sub), esc(sub.timezone, 40))}"
            f" · by {person(sub.subscriber_user_id)}{last}"
        )
    return [bounded_section(f"*Digest subscriptions* ({len(rows)})", lines, len(rows), "channels")]


def _day_and_time(moment: datetime) -> str:
    return f"{format_day(moment)} {moment:%H:%M}"
