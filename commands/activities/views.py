"""Block Kit for logging activities: the log (or edit) modal, the confirmation with Undo and Edit,
and the deleted notice with its Undo. Pure functions; the block and action ids below are shared
with the handlers and the form reader (``forms``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commands.blockkit import (
    PLAIN_TEXT_INPUT_MAX,
    actions,
    button,
    context,
    esc,
    escape_mrkdwn,
    fallback_text,
    input_block,
    option,
    plain,
    section,
    text_input,
    truncate,
)
from commands.pickers import customer_select
from crm import dates
from crm.activities import LogChoices, Logged
from crm.activity_types import ActivityType, ActivityTypes
from crm.models import Customer

if TYPE_CHECKING:
    from commands.activities.forms import LogMeta

# -- ids ------------------------------------------------------------------------------------
LOG_CALLBACK = "activity_log"
GLOBAL_SHORTCUT = "log_activity_global"
MESSAGE_SHORTCUT = "log_activity_message"
OPEN_ACTION = "activity_log_open"  # a card's (or the Home tab's) "Log activity" button; value = customer id
UNDO_ACTION = "activity_undo"  # value = activity id; soft-deletes
DELETE_ACTION = "activity_delete"  # the same, for lists elsewhere
RESTORE_ACTION = "activity_restore"
EDIT_ACTION = "activity_edit"

NOTICE_BLOCK = "notice"
CUSTOMER_BLOCK = "customer"
CUSTOMER_ACTION = "customer_picker:log"
TYPE_BLOCK, TYPE_ACTION = "type", "type"
CONTACT_BLOCK, CONTACT_ACTION = "contact", "contact"  # block id gets ":<customer id>"
DEAL_BLOCK, DEAL_ACTION = "deal", "deal"  # block id gets ":<customer id>"
SUMMARY_BLOCK, SUMMARY_ACTION = "summary", "summary"
WHEN_BLOCK, WHEN_ACTION = "occurred_at", "occurred_at"
FOLLOW_UP_TEXT_BLOCK, FOLLOW_UP_TEXT_ACTION = "follow_up", "follow_up_text"
FOLLOW_UP_DATE_BLOCK, FOLLOW_UP_DATE_ACTION = "follow_up_date", "follow_up_date"

SUMMARY_PREVIEW = 600
FOLLOW_UP_HINT = f"e.g. {dates.EXAMPLES}"
FOLLOW_UP_PLACEHOLDER = "next friday, in 2 weeks, tomorrow 3pm"


@dataclass
class LogForm:
    """What the log modal shows (its prefill)."""

    customer: Customer | None = None
    type_key: str | None = None
    contact_id: int | None = None
    deal_id: int | None = None
    summary: str = ""
    occurred_at: datetime | None = None
    follow_up_text: str = ""
    follow_up_date: str | None = None


# -- the modal --------------------------------------------------------------------------------
def type_option(t: ActivityType) -> dict[str, Any]:
    return option(t.display + (" (retired)" if t.retired else ""), t.key)


def _static_select(action_id: str, placeholder: str, options: list[dict], initial: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder),
        "options": options[:100],
    }
    chosen = next((o for o in options[:100] if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _type_block(types: ActivityTypes, form: LogForm, *, editing: bool) -> dict[str, Any]:
    options = [type_option(t) for t in types]
    if editing and form.type_key and not types.is_active(form.type_key):
        options.append(type_option(types.describe(form.type_key)))  # a retired type stays selectable
    return input_block(
        TYPE_BLOCK, "Activity type", _static_select(TYPE_ACTION, "Call, meeting, email…", options, form.type_key)
    )


def _choice_blocks(choices: LogChoices, form: LogForm) -> list[dict[str, Any]]:
    """The contact and deal pickers of the chosen customer (their block ids change with it)."""
    suffix = f":{choices.customer.id}"
    blocks = []
    if choices.contacts:
        contacts = [option(c.name + (f" · {c.title}" if c.title else ""), str(c.id)) for c in choices.contacts]
        initial = str(form.contact_id) if form.contact_id else None
        select = _static_select(CONTACT_ACTION, "Who did you talk to?", contacts, initial)
        blocks.append(input_block(CONTACT_BLOCK + suffix, "Contact", select, optional=True))
    if choices.deals:
        deals = [option(d.title, str(d.id)) for d in choices.deals]
        initial = str(form.deal_id) if form.deal_id else None
        select = _static_select(DEAL_ACTION, "Which deal?", deals, initial)
        blocks.append(input_block(DEAL_BLOCK + suffix, "Deal", select, optional=True))
    return blocks


def _summary_block(form: LogForm, *, locked: bool) -> dict[str, Any]:
    if locked:
        return section(
            f"*Summary* ({len(form.summary):,} characters, longer than Slack's form allows; it is kept as is)\n"
            + escape_mrkdwn(truncate(form.summary, SUMMARY_PREVIEW)),
            block_id=SUMMARY_BLOCK,
        )
    element = text_input(
        SUMMARY_ACTION,
        initial=form.summary,
        max_length=PLAIN_TEXT_INPUT_MAX,
        placeholder="What happened, what was agreed?",
    )
    element["multiline"] = True
    return input_block(SUMMARY_BLOCK, "Summary", element)


def follow_up_blocks(form: LogForm) -> list[dict[str, Any]]:
    """ "Next follow-up": a phrase, or a date picker."""
    phrase = text_input(
        FOLLOW_UP_TEXT_ACTION,
        initial=form.follow_up_text,
        max_length=dates.MAX_INPUT_CHARS,
        placeholder=FOLLOW_UP_PLACEHOLDER,
    )
    day: dict[str, Any] = {
        "type": "datepicker",
        "action_id": FOLLOW_UP_DATE_ACTION,
        "placeholder": plain("…or pick a date"),
    }
    if form.follow_up_date:
        day["initial_date"] = form.follow_up_date
    return [
        input_block(FOLLOW_UP_TEXT_BLOCK, "Next follow-up", phrase, optional=True, hint=FOLLOW_UP_HINT),
        input_block(FOLLOW_UP_DATE_BLOCK, "…or a follow-up date", day, optional=True),
    ]


def log_modal(
    types: ActivityTypes,
    form: LogForm,
    meta: LogMeta,
    *,
    now: datetime,
    choices: LogChoices | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The log (or edit) modal. ``choices`` fills the contact and deal pickers for the customer;
    ``meta`` says how it was opened and becomes its private_metadata."""
    editing = meta.mode == "edit"
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(section(escape_mrkdwn(notice), block_id=NOTICE_BLOCK))
    customer_block = input_block(CUSTOMER_BLOCK, "Customer", customer_select(form.customer, action_id=CUSTOMER_ACTION))
    customer_block["dispatch_action"] = True
    blocks.append(customer_block)
    blocks.append(_type_block(types, form, editing=editing))
    if choices is not None:
        blocks.extend(_choice_blocks(choices, form))
    blocks.append(_summary_block(form, locked=meta.summary_locked))
    when = {
        "type": "datetimepicker",
        "action_id": WHEN_ACTION,
        "initial_date_time": int((form.occurred_at or now).timestamp()),
    }
    blocks.append(input_block(WHEN_BLOCK, "When it happened", when))
    if not editing:
        blocks.extend(follow_up_blocks(form))
    return {
        "type": "modal",
        "callback_id": LOG_CALLBACK,
        "title": plain("Edit activity" if editing else "Log activity"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": meta.dump(),
        "blocks": blocks,
    }


# -- what was saved -------------------------------------------------------------------------------
def quote(text: str) -> str:
    """User text as a mrkdwn quote, escaped, its line breaks kept."""
    shown = escape_mrkdwn(truncate(text, SUMMARY_PREVIEW))
    return "\n".join("> " + line for line in shown.split("\n"))


def confirmation(
    logged: Logged, types: ActivityTypes, *, tz: str, now: datetime, verb: str = "Logged"
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): what was saved, with Undo and Edit."""
    activity, customer = logged.activity, logged.customer
    kind = types.describe(activity.type_key)
    name = esc(customer.name)
    when = dates.format_local(activity.occurred_at, tz, now=now)
    who = f"*{esc(logged.contact.name, 100)}* at *{name}*" if logged.contact is not None else f"*{name}*"
    blocks: list[dict[str, Any]] = [
        section(f"✅ {verb} {kind.emoji} *{esc(kind.label, 60)}* with {who} ({when})\n{quote(activity.summary)}")
    ]
    notes = []
    follow_up = logged.follow_up
    if follow_up is not None and follow_up.deleted_at is None:
        line = f"⏰ Follow-up {dates.format_local(follow_up.due_at, tz, now=now)}"
        notes.append(line + (": " + esc(follow_up.note, 200) if follow_up.note else ""))
    if activity.permalink:
        notes.append(f"<{activity.permalink}|Original message>")
    if notes:
        blocks.append(context(" · ".join(notes)))
    value = str(activity.id)
    blocks.append(
        actions(button("Undo", UNDO_ACTION, value), button("Edit", EDIT_ACTION, value), block_id=f"activity:{value}")
    )
    at = f"{logged.contact.name} at {customer.name}" if logged.contact is not None else customer.name
    return fallback_text(f"{verb}: {kind.label} with {at}"), blocks


def deleted(logged: Logged, types: ActivityTypes) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the activity is gone, with an Undo that restores it."""
    kind = types.describe(logged.activity.type_key)
    value = str(logged.activity.id)
    blocks = [
        section(f"🗑️ Deleted the {kind.emoji} {esc(kind.label, 60)} with *{esc(logged.customer.name)}*."),
        actions(button("Undo", RESTORE_ACTION, value), block_id=f"activity:{value}"),
    ]
    return fallback_text(f"Deleted the {kind.label} with {logged.customer.name}."), blocks
