"""Block Kit for linked channels, deal rooms, thread logging and routed alerts (pure builders).

People are named by display name and never mentioned (a name notifies nobody); everything users
typed is escaped. Channel references (``<#C…>``) notify nobody either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from commands.blockkit import button, context, esc, fallback_text, section, slack_time, truncate
from crm.alerts import AlertFilters
from crm.channel_events import Event, tier_filter
from crm.models import AlertSubscription, LinkedChannel
from crm.money import format_money
from crm.states import CaptureKind, ChannelEventKind, LinkStatus

LOG_TYPE = "rooms_log_type"  # a type button under "@crm log" without a type; value: JSON
MAX_TYPE_BUTTONS = 10

NameOf = Callable[[str], str]
Label = Callable[[str], str]

SHARED_NOTE = (
    ":lock: This channel is shared with another organisation (Slack Connect): it is linked, but I won't post "
    "the card, deal events or anything internal here."
)


def _money(facts: dict[str, Any]) -> str:
    minor = facts.get("amount_minor")
    return format_money(minor, facts.get("currency") or "USD") if minor is not None else ""


def _who(name_of: NameOf, user_id: Any) -> str:
    return esc(name_of(user_id), 80) if isinstance(user_id, str) and user_id else "someone"


def event_line(payload: dict[str, Any], *, name_of: NameOf, stage_label: Label, type_label: Label) -> str:
    """One short mrkdwn line for an event (the whole message: one per event)."""
    kind = payload.get("kind")
    deal = esc(payload.get("deal"), 120)
    customer = esc(payload.get("customer"), 120) + (" 💎" if payload.get("tier") == "A" else "")  # a key account
    money = _money(payload)
    amount = f", {money}" if money else ""
    owner = _who(name_of, payload.get("owner"))
    actor = _who(name_of, payload.get("actor"))
    if kind == ChannelEventKind.NEW_DEAL:
        return (
            f":new: New deal *{deal}* with *{customer}*{amount} in {esc(stage_label(payload.get('stage') or ''), 60)}"
            f" (owner {owner})"
        )
    if kind == ChannelEventKind.WON:
        return f":trophy: *{deal}* with *{customer}* was won{amount} (owner {owner}, marked by {actor})"
    if kind == ChannelEventKind.LOST:
        return f":small_red_triangle_down: *{deal}* with *{customer}* was lost{amount} (owner {owner})"
    if kind == ChannelEventKind.STAGE:
        before = esc(stage_label(payload.get("from_stage") or ""), 60)
        after = esc(stage_label(payload.get("stage") or ""), 60)
        return f":arrow_right: *{deal}* ({customer}) moved from {before} to *{after}* by {actor}"
    if kind == ChannelEventKind.ACTIVITY:
        about = f"*{customer}*" + (f" ({deal})" if deal else "")
        link = payload.get("permalink")
        tail = f" <{link}|view>" if isinstance(link, str) and link.startswith("https://") else ""
        return (
            f"{esc(type_label(payload.get('type_key') or ''), 40)} logged with {about} by "
            f"{actor}: {esc(payload.get('summary'), 200)}{tail}"
        )
    if kind == ChannelEventKind.OVERDUE:
        due = payload.get("due")
        when = ""
        if isinstance(due, str):
            moment = datetime.fromisoformat(due)
            when = f", due {slack_time(moment, moment.strftime('%a %d %b %H:%M UTC'))}"
        note = esc(payload.get("note"), 200)
        return f":alarm_clock: A follow-up with *{customer}* is overdue (owner {owner}{when})" + (
            f": {note}" if note else ""
        )
    return f"Something changed on *{customer}*."


def event_message(
    payload: dict[str, Any], *, name_of: NameOf, stage_label: Label, type_label: Label, route: str
) -> tuple[str, list[dict[str, Any]]]:
    line = event_line(payload, name_of=name_of, stage_label=stage_label, type_label=type_label)
    why = "a deal alert for this channel" if route == "alert" else "this channel is linked to the record"
    blocks = [section(line), context(f"From the CRM: {why}.")]
    return fallback_text(_unmark(line)), blocks


def _unmark(line: str) -> str:
    """The line as plain words for the notification text (mrkdwn marks and links removed)."""
    plain = line.replace("*", "")
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    cut = plain.find(" <https://")
    return plain[:cut] if cut >= 0 else plain


# -- links -----------------------------------------------------------------------------------------
def linked_text(
    channel_id: str, record: str, *, created: bool, replaced: str | None, shared: bool, room: bool = False
) -> str:
    if not created:
        text = f":link: <#{channel_id}> was already linked to *{esc(record)}*; nothing changed."
    elif replaced:
        text = f":link: <#{channel_id}> is now linked to *{esc(record)}* (it was linked to {esc(replaced)})."
    else:
        what = "This deal room" if room else f"<#{channel_id}>"
        text = f":link: {what} is linked to *{esc(record)}*."
    if shared:
        return f"{text}\n{SHARED_NOTE}"
    return (
        f"{text} Its deal events and activities logged elsewhere will show up here; mention me with "
        "`@crm log` in a thread to log that thread."
    )


def card_links_block(links: Sequence[tuple[LinkedChannel, str | None]]) -> dict[str, Any] | None:
    """The card's line of linked channels, each with its deal's title (none: no block)."""
    if not links:
        return None
    parts = []
    for link, title in links[:10]:
        what = f" ({esc(title or 'a deal', 60)})" if link.deal_id else ""
        flag = " :lock:" if link.is_shared else ""
        state = f" _{link.status}_" if link.status != LinkStatus.ACTIVE else ""
        parts.append(f"<#{link.channel_id}>{what}{flag}{state}")
    more = f" and {len(links) - 10} more" if len(links) > 10 else ""
    return context(truncate(":link: Linked channels: " + ", ".join(parts) + more, 2900))


# -- logging a thread ----------------------------------------------------------------------------------
def ask_type(types: Sequence[tuple[str, str]], *, channel: str, thread_ts: str, summary: str) -> tuple[str, list[dict]]:
    """Buttons for the activity type, when "@crm log" named none. ``types``: (key, label)."""
    buttons = []
    for key, label in list(types)[:MAX_TYPE_BUTTONS]:
        value = json.dumps(
            {"c": channel, "t": thread_ts, "k": key, "s": summary[:800]}, separators=(",", ":"), ensure_ascii=False
        )
        buttons.append(button(truncate(label, 75), LOG_TYPE + f":{key}", value=value))
    text = "What kind of activity was this thread? Pick one and I'll log it."
    return text, [section(text), {"type": "actions", "elements": buttons[:MAX_TYPE_BUTTONS]}]


def thread_logged(
    record: str,
    type_display: str,
    *,
    messages: int,
    people: int,
    capped: int | None,
    permalink: str | None,
    created: bool,
) -> str:
    if not created:
        return f":ballot_box_with_check: This thread was already logged on *{esc(record)}*; nothing new was saved."
    link = f" (<{permalink}|thread>)" if permalink else ""
    cap = (
        f" The thread is longer than {capped:,} messages: I read the first {capped:,}; the link leads to the rest."
        if capped
        else ""
    )
    return (
        f":white_check_mark: Logged this thread{link} as {esc(type_display, 40)} on *{esc(record)}*: "
        f"{messages:,} messages, {people:,} people.{cap}"
    )


NOT_LINKED = (
    "This channel isn't linked to a customer or a deal, so I don't know where to log the thread. "
    "Link it with `/crm link <customer or deal>` first."
)
NOT_IN_THREAD = "Mention me with `@crm log` inside the thread you want logged (as a reply in it)."


# -- alerts ----------------------------------------------------------------------------------------------
_EVENT_PHRASES = {
    ChannelEventKind.NEW_DEAL: "new deals",
    ChannelEventKind.ACTIVITY: "activities",
    ChannelEventKind.OVERDUE: "overdue follow-ups",
}


def describe_filters(sub: AlertSubscription | AlertFilters, *, name_of: NameOf, stage_label: Label) -> str:
    """The filters as a phrase: "deals won or lost, of $10,000.00 or more, owned by rita"."""
    kinds = {ChannelEventKind(str(e)) for e in (sub.events or [])}
    closed = [w for w in ("won", "lost") if ChannelEventKind(w) in kinds]
    phrases = [f"deals {' or '.join(closed)}"] if closed else []
    if ChannelEventKind.STAGE in kinds:
        phrases.append(f"deals reaching {esc(stage_label(sub.stage), 40)}" if sub.stage else "stage changes")
    phrases += [phrase for kind, phrase in _EVENT_PHRASES.items() if kind in kinds]
    parts = [" and ".join(phrases) or "no events"]
    if sub.min_amount_minor is not None:
        parts.append(f"of {format_money(sub.min_amount_minor, sub.currency or 'USD')} or more")
    if sub.reps:
        parts.append("owned by " + ", ".join(esc(name_of(r), 40) for r in list(sub.reps)[:10]))
    if tier_filter(sub.tier):
        parts.append("customers in tier " + " or ".join(tier_filter(sub.tier)))
    elif sub.tier:
        parts.append(f"tier “{esc(sub.tier, 30)}” ignored: the tiers are A, B and C (`tier:A`)")
    return ", ".join(parts)


def subscribed_text(channel: str, filters: str) -> str:
    return (
        f":loudspeaker: <#{channel}> gets deal alerts for {filters}. People are named, never pinged. "
        "`/crm alerts off` stops them."
    )


def alerts_list_blocks(
    subs: Sequence[AlertSubscription], *, name_of: NameOf, stage_label: Label
) -> tuple[str, list[dict]]:
    if not subs:
        text = "No channel gets deal alerts yet. Run `/crm alerts won lost` in one."
        return text, [section(text)]
    lines = []
    for sub in subs[:40]:
        state = "" if sub.status == LinkStatus.ACTIVE else f" _{sub.status}: {esc(sub.status_note, 80)}_"
        lines.append(
            f"• <#{sub.channel_id}>: {describe_filters(sub, name_of=name_of, stage_label=stage_label)} "
            f"(by {_who(name_of, sub.subscriber_user_id)}){state}"
        )
    blocks = [section(truncate("\n".join(lines), 2900))]
    return f"Deal alerts: {len(subs)} channels", blocks


def preview_blocks(
    events: Sequence[Event], *, name_of: NameOf, stage_label: Label, type_label: Label
) -> tuple[str, list[dict]]:
    if not events:
        text = "Preview: nothing in the past 30 days would have matched these filters."
        return text, [section(text)]
    lines = [
        event_line({"kind": e.kind.value, **e.facts}, name_of=name_of, stage_label=stage_label, type_label=type_label)
        for e in events
    ]
    return (
        f"Preview: the latest {len(events)} alerts these filters would have sent",
        [
            section("*Preview* (only you see this): the latest alerts these filters would have sent"),
            *[section(x) for x in lines],
        ],
    )


ALERTS_USAGE = (
    "Use `/crm alerts won lost stage:proposal new over 10000 mine|by @ann @bo tier:A` in the channel, "
    "`/crm alerts list`, `/crm alerts off`, or `/crm alerts preview …` to see what the filters would send."
)


# -- capture settings -----------------------------------------------------------------------------------
def capture_text(settings: dict[CaptureKind, bool]) -> str:
    words = {CaptureKind.CHANNEL: "linked channels", CaptureKind.ALERT: "deal alerts", CaptureKind.EMAIL: "email"}
    lines = [f"• {words[k]} (`{k.value}`): {'on' if on else '*off*'}" for k, on in settings.items()]
    return (
        "Capturing in this workspace:\n" + "\n".join(lines) + "\nAdmins: `/crm capture <channel|alert|email> on|off`."
    )
