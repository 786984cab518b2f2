"""Block Kit for the pipeline: the daily digest, `/crm pipeline`, and the digest subscriptions.

Pure functions of ``crm.digest.Digest`` / ``crm.deals.PipelineSummary``. Written for a phone:
short lines, one fact per line, no side-by-side fields. Every list is bounded ("…and 12 more")
and every section is cut to fit Slack's 3,000 characters, so a big workspace still gets one
valid message of at most :data:`MAX_DIGEST_BLOCKS` blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from commands.blockkit import (
    HEADER_TEXT_MAX,
    actions,
    button,
    context,
    esc,
    person,
    plain,
    plural,
    section,
    truncate,
)
from crm.dates import format_day
from crm.deals import PipelineSummary, StageTotal, add_totals, format_totals
from crm.digest import DealLine, Digest, Movement, Pareto
from crm.digest_schedule import Schedule, SubscriptionRow, schedule_of
from crm.forecast import conversion_line, win_line
from crm.money import currency_key, format_money, format_money_short, in_currency_order
from crm.pipeline_stages import PipelineStages
from crm.stale import StaleRule
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
def _delta_money(now: dict[str, int], before: dict[str, int], *, short: bool = False) -> str:
    fmt = format_money_short if short else format_money
    parts = []
    for currency, _ in in_currency_order({c: 0 for c in set(now) | set(before)}):
        diff = now.get(currency, 0) - before.get(currency, 0)
        if diff:
            sign = "+" if diff > 0 else "−"
            parts.append(sign + fmt(abs(diff), currency))
    return ", ".join(parts)


def stage_change(current: StageTotal, previous: StageTotal | None, *, short: bool = False) -> str:
    """ "▲2 · +$10,000.00", "▼1", "=" (nothing changed), or "" (no previous digest)."""
    if previous is None:
        return ""
    diff = current.count - previous.count
    money = _delta_money(current.totals, previous.totals, short=short)
    if not diff and not money:
        return "="
    arrow = f"▲{diff}" if diff > 0 else (f"▼{-diff}" if diff < 0 else "")
    return " · ".join(p for p in (arrow, money) if p)


def stage_line(stages: PipelineStages, row: StageTotal, change: str = "") -> str:
    stage = stages.describe(row.stage)
    label = esc(stage.label, 40) + (" (retired)" if stage.retired else "")
    line = f"{stage.emoji} *{label}* · {row.count:,} · {format_totals(row.totals, empty='—')}"
    return line + (f"  _({change})_" if change else "")


def _amount(line: DealLine, *, short: bool = False) -> str:
    return (format_money_short if short else format_money)(line.amount_minor, line.currency)


def days_phrase(days: int) -> str:
    return plural(days, "day")


def overdue_phrase(now: datetime, oldest_due: datetime) -> str:
    """ "oldest 5 days overdue", "oldest 1 day overdue", "oldest due 3 hours ago" (never "0d")."""
    late = now - oldest_due
    if late.days >= 1:
        return f"oldest {days_phrase(late.days)} overdue"
    hours = int(late.total_seconds() // 3600)
    return f"oldest due {plural(hours, 'hour')} ago" if hours else "oldest due within the hour"


def deal_line(
    line: DealLine,
    stages: PipelineStages,
    *,
    move: bool = False,
    now: datetime | None = None,
    name_of: TypeLabel | None = None,
    stale: StaleRule | None = None,
) -> str:
    owner = person(line.owner_user_id, name_of)
    text = f"• *{esc(line.customer_name, 60)}*: {esc(line.title, 60)} · {_amount(line)} · {owner}"
    if move:
        before = stages.describe(line.from_stage).label if line.from_stage else "new"
        after = stages.describe(line.to_stage or "").label
        text += f" · {esc(before, 30)} → {esc(after, 30)}"
    if now is not None and line.stage and line.in_stage_since is not None:
        days = max(0, (now - line.in_stage_since).days)
        limit = f" (limit {stale.days(line.stage)})" if stale else ""
        text += f" · {esc(stages.describe(line.stage).label, 30)} for {days_phrase(days)}{limit}"
    if now is not None and line.last_touch is not None:
        text += f" · quiet {days_phrase(max(0, (now - line.last_touch).days))}"
    elif now is not None:
        text += " · no activity yet"
    return text


def _movement_section(title: str, movement: Movement, stages: PipelineStages, **kw: Any) -> dict[str, Any]:
    head = f"{title} ({movement.count:,}"
    head += f" · {format_totals(movement.totals)})" if movement.totals else ")"
    lines = [deal_line(item, stages, **kw) for item in movement.items]
    return bounded_section(head, lines, movement.count, "deals")


# -- the digest: a short summary, the detail in its thread --------------------------------------
@dataclass(frozen=True)
class Render:
    """What every part of the digest is drawn from."""

    digest: Digest
    stages: PipelineStages
    type_label: TypeLabel
    name_of: TypeLabel | None = None

    def who(self, user_id: str | None) -> str:
        return person(user_id, self.name_of)


@dataclass
class Part:
    """One part of the digest: a line or two at the top (rounded amounts), blocks in the thread (exact)."""

    summary: list[str] = field(default_factory=list)
    detail: list[dict[str, Any]] = field(default_factory=list)


def _window(d: Digest) -> str:
    return "In the last 24 hours" if d.first else "Since the last digest"


def pipeline_part(r: Render) -> Part:
    d = r.digest
    change = ""
    if not d.first:
        before = [d.previous_stage(row.stage) for row in d.pipeline]
        if all(b is not None for b in before):
            total_before = StageTotal(
                "all", sum(b.count for b in before if b), add_totals([b.totals for b in before if b])
            )
            change = stage_change(StageTotal("all", d.open_count, d.open_totals), total_before, short=True)
    summary = f"*Open pipeline:* {plural(d.open_count, 'deal')} · {format_totals(d.open_totals, empty='—', short=True)}"
    if change and change != "=":
        summary += f" _({change})_"
    lines = [stage_line(r.stages, row, stage_change(row, d.previous_stage(row.stage))) for row in d.pipeline]
    head = f"*Open pipeline:* {plural(d.open_count, 'deal')} · {format_totals(d.open_totals, empty='—')}"
    detail = [bounded_section(head, lines, len(lines), "stages")]
    if d.first:
        detail.append(context("First digest: changes by stage show from the next one."))
    return Part([summary], detail)


def deals_part(r: Render) -> Part:
    d = r.digest

    def counted(emoji: str, m: Movement, verb: str) -> str:
        money = f" ({format_totals(m.totals, short=True)})" if m.totals and verb in ("won", "lost") else ""
        return f"{emoji} {m.count:,} {verb}{money}"

    counts = [
        counted(emoji, m, verb)
        for emoji, m, verb in (
            ("🆕", d.created, "created"),
            ("🔀", d.moved, "moved"),
            ("🏆", d.won, "won"),
            ("🪦", d.lost, "lost"),
        )
        if m.count
    ]
    quiet = "no deal created, moved, won or lost"
    summary = [f"*{_window(d)}:* " + (" · ".join(counts) if counts else quiet)]
    if d.won.items:
        top = d.won.items[0]
        summary.append(
            f"🏆 Biggest win: *{esc(top.customer_name, 40)}* {_amount(top, short=True)} ({r.who(top.owner_user_id)})"
        )
    detail = []
    for title, movement, kw in (
        ("🏆 *Won*", d.won, {}),
        ("🪦 *Lost*", d.lost, {}),
        ("🆕 *Created*", d.created, {}),
        ("🔀 *Moved*", d.moved, {"move": True}),
    ):
        if movement.count:
            detail.append(_movement_section(title, movement, r.stages, name_of=r.name_of, **kw))
    if not detail:
        detail.append(section(f"*{_window(d)}:* {quiet}."))
    return Part(summary, detail)


def activity_part(r: Render) -> Part:
    d = r.digest
    if not d.yesterday:
        return Part(["*Yesterday:* no activity logged."], [section("*Yesterday's activity:* nothing logged.")])
    top = d.yesterday[0]
    summary = (
        f"*Yesterday:* {plural(d.yesterday_total, 'activity', 'activities')} by {plural(len(d.yesterday), 'rep')}"
        f" · most: {r.who(top.user_id)} ({top.total:,})"
    )
    lines = [
        f"• {r.who(rep.user_id)} ({rep.total:,}): "
        + " · ".join(f"{esc(r.type_label(k), 30)} {n:,}" for k, n in rep.by_type.items())
        for rep in d.yesterday
    ]
    head = f"*Yesterday's activity* ({d.yesterday_total:,})"
    return Part([summary], [bounded_section(head, lines, len(d.yesterday), "reps")])


def overdue_part(r: Render) -> Part:
    d = r.digest
    if not d.overdue:
        return Part(["*Overdue follow-ups:* none 🎉"], [section("*Overdue follow-ups:* none 🎉")])
    top = d.overdue[0]
    summary = (
        f"*Overdue follow-ups:* {d.overdue_total:,} across {plural(len(d.overdue), 'rep')}"
        f" · most: {r.who(top.user_id)} ({top.count:,})"
    )
    lines = [f"• {r.who(o.user_id)} ({o.count:,}) · {overdue_phrase(d.built_at, o.oldest_due)}" for o in d.overdue]
    head = f"*Overdue follow-ups* ({d.overdue_total:,})"
    return Part([summary], [bounded_section(head, lines, len(d.overdue), "reps")])


def stale_part(r: Render) -> Part:
    """Only when there are stale deals: the word is for the exception."""
    d = r.digest
    if not d.stale.count:
        return Part()
    limits = d.stale_rule.describe(r.stages.open_keys, lambda k: r.stages.describe(k).label)
    summary = f"💤 *{plural(d.stale.count, 'stale deal')}:* longer in their stage than its limit, and quiet"
    title = f"💤 *Stale deals*: in their stage past its limit ({esc(limits, 200)}) with no activity since"
    return Part(
        [summary], [_movement_section(title, d.stale, r.stages, now=d.built_at, name_of=r.name_of, stale=d.stale_rule)]
    )


def _others(paretos: list[Pareto], shown: str) -> list[str]:
    return sorted((p.currency for p in paretos if p.currency != shown), key=currency_key)


def pareto_part(r: Render) -> Part:
    d = r.digest
    out = Part()
    for pareto in sorted(d.pareto, key=lambda p: currency_key(p.currency)):
        share = round(100 * pareto.top_total / pareto.grand_total) if pareto.grand_total else 0
        if not out.summary:
            out.summary.append(
                f"🎯 *Top customers:* {pareto.top_count:,} of {pareto.customers:,} hold {share}% of the "
                f"{format_money_short(pareto.grand_total, pareto.currency)} open"
                + (f" in {pareto.currency} ({', '.join(_others(d.pareto, pareto.currency))} in the thread)"
                   if len(d.pareto) > 1 else "")
            )  # fmt: skip
        head = (
            f"🎯 *Top customers ({pareto.currency}):* {pareto.top_count:,} of {pareto.customers:,} make up "
            f"{share}% of {format_money(pareto.grand_total, pareto.currency)} open"
        )
        lines = [
            f"• *{esc(c.name, 60)}* {format_money(c.total, pareto.currency)}"
            f" ({round(100 * c.total / pareto.grand_total) if pareto.grand_total else 0}%)"
            for c in pareto.top
        ]
        out.detail.append(bounded_section(head, lines, pareto.top_count, "customers"))
    return out


SHORT_CURRENCIES = 3  # currencies named on one summary line; the rest are counted


def short_totals(totals: dict[str, int], *, empty: str = "—") -> str:
    """Rounded totals for a summary line: the first :data:`SHORT_CURRENCIES` in the fixed order,
    then "+ 9 more currencies" (the detail has every one, exact)."""
    shown = dict(in_currency_order(totals)[:SHORT_CURRENCIES])
    text = format_totals(shown, empty=empty, short=True)
    rest = len(totals) - len(shown)
    return text + (f" + {plural(rest, 'more currency', 'more currencies')}" if rest > 0 else "")


def key_accounts_part(r: Render) -> Part:
    """A-tier customers nobody touched for ``CRM_KEY_ACCOUNT_DAYS``: only when there are some."""
    found = r.digest.key_accounts
    if found is None or not found.total:
        return Part()
    now = r.digest.built_at

    def quiet(days: int | None) -> str:
        return "nothing ever logged" if days is None else f"quiet {days_phrase(days)}"

    def owner(user_id: str | None) -> str:
        return r.who(user_id) if user_id else "no owner"

    top = found.rows[0]
    summary = (
        f"💎 *Key accounts gone quiet:* {found.total:,} A-tier with no activity for {days_phrase(found.days)}"
        f" · {esc(top.name, 40)} ({owner(top.owner_user_id)}, {quiet(top.quiet_days(now))})"
    )
    lines = [
        f"• *{esc(a.name, 60)}* · {owner(a.owner_user_id)} · {quiet(a.quiet_days(now))}"
        f" · won {format_totals(a.won, empty='—')}"
        for a in found.rows
    ]
    head = (
        f"💎 *Key accounts gone quiet* ({found.total:,}): A tier (the few customers holding 80% of won value), "
        f"no activity for {days_phrase(found.days)}"
    )
    return Part([summary], [bounded_section(head, lines, found.total, "key accounts"), context(
        "`/crm accounts tier:A` lists them all · log a call or note on one to take it off this list")])  # fmt: skip


def forecast_part(r: Render) -> Part:
    """The weekly part: weighted pipeline by close month, win rate, days to close, conversions."""
    f = r.digest.forecast
    if f is None:
        return Part()
    if f.open_count:
        head = f"📈 *This week's forecast:* {short_totals(f.weighted, empty='nothing')} weighted"
    else:
        head = "📈 *This week's forecast:* no open deals to forecast"
    rate = f.win.rate
    head += f" · win rate {rate}%" if rate is not None else f" · nothing closed in {f.window_days} days"
    if f.conversions.available and f.conversions.count:
        head += f" · {f.conversions.count:,} lead → customer"
    if f.open_count:
        title = (
            f"📈 *Forecast:* {format_totals(f.weighted, empty='nothing')} weighted of "
            f"{format_totals(f.totals, empty='no amount')} open, by expected close month"
        )
        months = [
            f"• *{esc(b.label, 30)}* ({plural(b.count, 'deal')}): {format_totals(b.weighted, empty='nothing')}"
            for b in f.buckets
        ]
    else:
        title, months = "📈 *Forecast:* no open deals to forecast", []
    detail = [bounded_section(title, months, len(months), "months"), section(f"{win_line(f)}\n{conversion_line(f)}")]
    detail.append(context("Weighted = amount × the stage's probability (`CRM_STAGE_PROBABILITIES`) · "
                          "in the first digest of each week · `/crm pipeline team` has it any day"))  # fmt: skip
    return Part([head], detail)


# The digest's parts, in order. A new part is one function of a Render returning a Part,
# added here; its data goes on crm.digest.Digest (``extras`` or a field).
SECTIONS: list[Callable[[Render], Part]] = [
    pipeline_part,
    deals_part,
    activity_part,
    overdue_part,
    stale_part,
    key_accounts_part,
    pareto_part,
    forecast_part,
]
SUMMARY_LINES_MAX = 15


def digest_text(digest: Digest) -> str:
    """The notification / screen-reader text."""
    day = format_day(digest.local_date)
    return truncate(
        f"Pipeline digest for {day}: {plural(digest.open_count, 'open deal')} worth "
        f"{format_totals(digest.open_totals, empty='nothing yet', short=True)}; {digest.won.count} won, "
        f"{digest.lost.count} lost, {plural(digest.overdue_total, 'overdue follow-up')}.",
        3000,
    )


def digest_parts(render: Render, sections: list[Callable[[Render], Part]] | None = None) -> list[Part]:
    return [part(render) for part in (SECTIONS if sections is None else sections)]


def digest_blocks(
    digest: Digest,
    *,
    stages: PipelineStages,
    type_label: TypeLabel,
    late_for: datetime | None = None,
    preview: bool = False,
    notice: str | None = None,
    name_of: TypeLabel | None = None,
    threaded: bool = True,
) -> list[dict[str, Any]]:
    """The digest's top message: a header, when it covers, and at most :data:`SUMMARY_LINES_MAX`
    short lines. ``late_for``: when it was due (it says it comes late, because the app was down).
    ``name_of`` (user id → display name) names reps instead of mentioning them. ``threaded``:
    the detail follows in the thread (else, for a preview, it is appended below)."""
    zone = ZoneInfo(digest.tz)
    local_now = digest.built_at.astimezone(zone)
    render = Render(digest, stages, type_label, name_of)
    parts = digest_parts(render)
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(section(notice))
    blocks.append(
        {"type": "header", "text": plain(truncate(f"📊 Pipeline digest · {format_day(local_now)}", HEADER_TEXT_MAX))}
    )
    if digest.first:
        meta = ["First digest · the last 24 hours"]
    else:
        since = digest.since.astimezone(zone)
        meta = [f"Since the last digest, {format_day(since)} {since:%H:%M} ({esc(digest.tz, 40)})"]
    if late_for is not None:
        meta.insert(0, f"⏰ *Late:* due at {late_for.astimezone(zone):%H:%M}, posted at {local_now:%H:%M}")
    if preview:
        meta.insert(0, "👀 Preview, only you can see this")
    blocks.append(context(" · ".join(meta)))
    lines = [line for part in parts for line in part.summary][:SUMMARY_LINES_MAX]
    blocks.append(section("\n".join(lines)))
    if threaded:
        blocks.append(context("🧵 Exact amounts, every list and the charts are in the thread."))
        return blocks
    blocks.append({"type": "divider"})
    return (
        blocks
        + detail_blocks(digest, stages=stages, type_label=type_label, name_of=name_of)[
            : MAX_DIGEST_BLOCKS - len(blocks)
        ]
    )


def detail_blocks(
    digest: Digest,
    *,
    stages: PipelineStages,
    type_label: TypeLabel,
    name_of: TypeLabel | None = None,
    notes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The thread reply: every part in full, exact amounts. ``notes``: sentences for charts with no data."""
    render = Render(digest, stages, type_label, name_of)
    blocks: list[dict[str, Any]] = []
    for part in digest_parts(render):
        if part.detail:
            if blocks:
                blocks.append({"type": "divider"})
            blocks.extend(part.detail)
    blocks = blocks[: MAX_DIGEST_BLOCKS - 2]
    if notes:
        blocks.append(context(*(esc(n, 300) for n in notes)))
    blocks.append(context("`/crm pipeline` shows yours · `/crm digest unsubscribe` stops this digest"))
    return blocks


def detail_text(digest: Digest) -> str:
    return f"The digest in detail for {format_day(digest.local_date)}."


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
CHARTS_ACTION = "pipeline_charts"  # the "Charts" button; its value is the view ("mine" or "team")


def pipeline_blocks(
    summary: PipelineSummary,
    *,
    stages: PipelineStages,
    title: str,
    charts_note: str | None = None,
    charts_view: str | None = None,
) -> list[dict[str, Any]]:
    """``charts_view`` ("mine", "team"): offer the "Charts" button that sends that view's charts
    to the asker's DM (left out once they were sent, with ``charts_note`` saying so)."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(truncate(title, HEADER_TEXT_MAX))}]
    head = f"*Open:* {plural(summary.open_count, 'deal')} · {format_totals(summary.open_totals, empty='—')}"
    lines = [stage_line(stages, row) for row in summary.open]
    blocks.append(bounded_section(head, lines, len(lines), "stages"))
    closed = [stage_line(stages, row) for row in summary.closed]
    blocks.append(bounded_section("*Closed in the last 30 days*", closed, len(closed), "stages"))
    if charts_note:
        blocks.append(section(charts_note))
    elif charts_view:
        blocks.append(actions(button("📊 Charts", CHARTS_ACTION, charts_view), block_id=CHARTS_ACTION))
    blocks.append(
        context(
            "Only you can see this · `/crm pipeline` yours · `/crm pipeline team` everyone's · "
            "📊 Charts (or `charts`) sends pictures to your DM"
        )
    )
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
