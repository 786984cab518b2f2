"""Logging activities: `/log` (one line or a form), `/crm log`, the shortcuts and the card's buttons.

Entry points, all ending in the same modal or the same service call:

* ``/log`` or ``/crm log`` with no text, the global shortcut and the card's "Log activity" button
  open the log modal; ``/log call Acme Corp discussed pricing, follow up next friday`` saves
  straight away when the type and the customer are certain, and otherwise opens the modal
  prefilled with what was understood;
* the message shortcut opens the modal with the message as the summary and its permalink kept;
* the confirmation's Undo / Edit buttons (and Restore after an undo);
* the card's "Add follow-up" button opens a small follow-up modal.

Builders are pure functions; block and action ids are the constants below. Saving goes through
``crm.activities`` / ``crm.followups`` (exactly once per view or slash trigger).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from commands.blockkit import (
    OPTION_TEXT_MAX,
    PLAIN_TEXT_INPUT_MAX,
    PRIVATE_METADATA_MAX,
    escape_mrkdwn,
    input_block,
    mrkdwn,
    plain,
    truncate,
)
from commands.common import channel_of, input_value, metadata, tell, user_of, workspace_of
from commands.pickers import customer_select, picked
from crm import dates
from crm.activities import (
    FollowUpRequest,
    LogChoices,
    Logged,
    delete_activity,
    get_logged,
    log_activity,
    log_choices,
    restore_activity,
    update_activity,
)
from crm.activity_types import ActivityType, ActivityTypes, types_for
from crm.customers import get_customer
from crm.errors import CRMError, DateParseError, NotFound, PermissionDenied
from crm.followups import add_follow_up
from crm.models import Customer, FollowUp
from crm.search import classify

if TYPE_CHECKING:
    from bot.services import Services
    from commands.router import CommandRouter, SlashContext
    from crm.people import Person

log = logging.getLogger(__name__)

# -- ids ------------------------------------------------------------------------------------
LOG_CALLBACK = "activity_log"
FOLLOW_UP_CALLBACK = "followup_add"
GLOBAL_SHORTCUT = "log_activity_global"
MESSAGE_SHORTCUT = "log_activity_message"
OPEN_ACTION = "activity_log_open"  # a card's "Log activity" button; value = customer id
FOLLOW_UP_OPEN_ACTION = "followup_add_open"  # a card's "Add follow-up" button; value = customer id
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
NOTE_BLOCK, NOTE_ACTION = "note", "note"
OWNER_BLOCK, OWNER_ACTION = "owner", "owner"

SUMMARY_PREVIEW = 600
MAX_CUSTOMER_WORDS = 6
MAX_FOLLOW_UP_WORDS = 15
GUESS_WORDS = 120  # message shortcut: words of the message searched for a customer name
FOLLOW_UP_HINT = f"e.g. {dates.EXAMPLES}"

# "…, follow up next friday", "next step: send proposal by tuesday", "f/u in 2 weeks"
_FOLLOW_UP_KEYWORD = re.compile(
    r"(?P<sep>^|[,;.!?()\-–—]|\band\b|\bthen\b)?\s*\b(?:follow[\s-]?up|f/u|next\s+steps?)\b\s*[:\-–—]?\s*",
    re.IGNORECASE,
)
_EDGE_PUNCT = " \t\n,;:.-–—"


# -- the types, the rep -----------------------------------------------------------------------
def types_of(services: Services) -> ActivityTypes:
    return types_for(services.settings.activity_types)


def zone_name(tz: str | None, default: str) -> str:
    try:
        ZoneInfo(tz or "")
        return tz or default
    except (ZoneInfoNotFoundError, ValueError):
        return default


def unescape_slack(text: str) -> str:
    """Slack escapes ``&``, ``<`` and ``>`` in slash text and messages; store what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- reading follow-up dates ---------------------------------------------------------------------
@dataclass(frozen=True)
class Rep:
    """The rep's zone and date habits, for reading their dates."""

    user_id: str
    tz: str
    locale: str | None
    workday_start: time
    can_admin: bool = False

    @property
    def date_order(self) -> dates.DateOrder | None:
        return dates.date_order_for_locale(self.locale)

    def read_follow_up(self, text: str, now: datetime) -> datetime:
        return dates.parse_follow_up(
            text, now=now, tz=self.tz, workday_start=self.workday_start, date_order=self.date_order
        )

    def follow_up_on(self, day: date, now: datetime) -> datetime:
        """A date picked without a time: the start of the working day in the rep's zone."""
        local = datetime.combine(day, self.workday_start, tzinfo=ZoneInfo(self.tz))
        due = local.astimezone(UTC)
        if due <= now:
            raise DateParseError(
                f"That's in the past — {dates.format_local(due, self.tz, now=now)}. "
                f"Pick a later date, or type a time such as {dates.EXAMPLES}.",
                field="follow_up_date",
            )
        return due


def rep_of(services: Services, client: WebClient, workspace_id: int, user_id: str) -> Rep:
    person: Person = services.people.get(client, workspace_id, user_id)
    return Rep(
        user_id,
        zone_name(person.tz, services.settings.default_timezone),
        person.locale,
        services.settings.workday_start,
        person.can_admin,
    )


def read_follow_up_fields(
    rep: Rep, now: datetime, text: str | None, day: str | None, *, text_block: str, date_block: str
) -> tuple[datetime | None, dict[str, str]]:
    """(due time or None, field errors) from a follow-up's free text and/or date picker."""
    text = (text or "").strip()
    if text and day:
        return None, {text_block: "Type a time or pick a date, not both."}
    if text:
        try:
            return rep.read_follow_up(text, now), {}
        except DateParseError as err:
            return None, {text_block: err.message}
    if day:
        try:
            return rep.follow_up_on(date.fromisoformat(day), now), {}
        except ValueError:
            return None, {date_block: "Pick a date from the calendar."}
        except DateParseError as err:
            return None, {date_block: err.message}
    return None, {}


# -- the one-line parser ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """What a customer look-up made of some words."""

    kind: str  # "winner" | "ambiguous" | "none"
    customer: Customer | None = None
    score: float = 0.0


@dataclass
class QuickLog:
    type: ActivityType | None
    customer: Customer | None
    summary: str
    follow_up_due: datetime | None = None
    follow_up_note: str | None = None
    follow_up_text: str | None = None  # the date phrase, or what could not be read as one
    doubts: list[str] = field(default_factory=list)

    @property
    def certain(self) -> bool:
        return self.type is not None and self.customer is not None and bool(self.summary) and not self.doubts


def _tokens(text: str) -> list[re.Match[str]]:
    return list(re.finditer(r"\S+", text))


def _strip_word(word: str) -> str:
    return word.strip(",;:.!?()\"'“”‘’")


def split_follow_up(
    text: str, read_date: Callable[[str], datetime]
) -> tuple[str, datetime | None, str | None, str | None, str | None]:
    """(text before the phrase, due, note, date phrase, doubt) for a trailing follow-up phrase."""
    for m in reversed(list(_FOLLOW_UP_KEYWORD.finditer(text))):
        tail = text[m.end() :].strip().rstrip(".")
        head = text[: m.start()].rstrip(_EDGE_PUNCT)
        marked = m.group("sep") is not None or m.start() == 0
        words = tail.split()
        if not words or len(words) > MAX_FOLLOW_UP_WORDS:
            continue
        # The whole tail, then without leading words ("send proposal by friday"), then
        # without trailing words ("next friday to agree terms"). A keyword in mid-sentence
        # ("talked about follow up process with may") only counts with the date right after it.
        tries = [(" ".join(words[i:]), " ".join(words[:i])) for i in range(len(words) if marked else 1)]
        tries += [(" ".join(words[:j]), " ".join(words[j:])) for j in range(len(words) - 1, 0, -1)]
        for phrase, note in tries:
            try:
                due = read_date(phrase)
            except DateParseError:
                continue
            return head, due, (note.strip(_EDGE_PUNCT) or None), phrase, None
        if marked:
            return head, None, None, tail, f"I couldn't read “{tail}” as a follow-up date. Try {dates.EXAMPLES}."
    return text, None, None, None, None


def parse_quick_log(
    text: str,
    types: ActivityTypes,
    lookup: Callable[[str], Found],
    read_date: Callable[[str], datetime],
) -> QuickLog:
    """Read ``call Acme Corp discussed renewal pricing, follow up next friday``.

    A type word, then the customer (the longest run of up to six words that names one customer
    for certain; an exact name beats a close one), then the summary; a trailing "follow up …" /
    "next step …" phrase becomes a follow-up. Whatever is uncertain is left out and noted in
    ``doubts``, so the caller can ask rather than guess.
    """
    text = text.strip()
    doubts: list[str] = []
    tokens = _tokens(text)
    kind = types.resolve(_strip_word(tokens[0].group())) if tokens else None
    body = text[tokens[0].end() :].lstrip(_EDGE_PUNCT) if kind else text
    body, due, note, phrase, doubt = split_follow_up(body, read_date)
    if doubt:
        doubts.append(doubt)
    customer, summary, ambiguous = leading_customer(body, lookup)
    if customer is None and kind is None and len(_tokens(body)) > 1:
        # "bananas Acme Corp ...": an unknown type word, then the customer.
        first = _tokens(body)[0]
        customer, rest, ambiguous_after = leading_customer(body[first.end() :].lstrip(_EDGE_PUNCT), lookup)
        if customer is not None:
            summary = rest
        ambiguous = ambiguous or ambiguous_after
    elif customer is not None and kind is None:
        # "Acme Corp call ...": the type may follow the customer.
        rest = _tokens(summary)
        if rest:
            kind = types.resolve(_strip_word(rest[0].group()))
            if kind is not None:
                summary = summary[rest[0].end() :].lstrip(_EDGE_PUNCT)
    if customer is None:
        words = _tokens(body)
        first = " ".join(w.group() for w in words[:3])
        if ambiguous:
            doubts.append(f"Several customers match “{first}”; pick the right one.")
        elif words:
            doubts.append(f"I couldn't find a customer in “{first}…”. Pick one, or create it from the picker.")
        else:
            doubts.append("Which customer was it with?")
    if kind is None:
        first_word = _strip_word(tokens[0].group()) if tokens else ""
        doubts.insert(0, f"“{first_word}” isn't an activity type ({types.names()}); pick one.")
    summary = summary.strip()
    if not summary:
        doubts.append("What happened? Write a short summary.")
    return QuickLog(kind, customer, summary, due, note, phrase, doubts)


def leading_customer(text: str, lookup: Callable[[str], Found]) -> tuple[Customer | None, str, bool]:
    """(customer, the text after its name, whether some words matched several) for ``text``'s start."""
    words = _tokens(text)
    best: tuple[float, int, Customer] | None = None
    ambiguous = False
    for k in range(1, min(MAX_CUSTOMER_WORDS, len(words)) + 1):
        query = _strip_word(text[: words[k - 1].end()])
        if not query:
            continue
        found = lookup(query)
        if found.kind == "winner" and found.customer is not None:
            if best is None or (found.score, k) >= (best[0], best[1]):
                best = (found.score, k, found.customer)
        elif found.kind == "ambiguous":
            ambiguous = True
    if best is None:
        return None, text, ambiguous
    return best[2], text[words[best[1] - 1].end() :].lstrip(_EDGE_PUNCT), ambiguous


def search_lookup(services: Services, workspace_id: int) -> Callable[[str], Found]:
    """A :class:`Found` for words, from the in-memory index (the database only for a winner)."""

    def lookup(query: str) -> Found:
        matches = services.search.search(workspace_id, query, limit=5)
        kind = classify(matches)
        if kind != "winner":
            return Found(kind)
        try:
            customer = get_customer(services.session_factory, workspace_id, matches[0].customer_id)
        except NotFound:
            return Found("none")
        return Found("winner", customer, matches[0].score)

    return lookup


def guess_customer(services: Services, workspace_id: int, text: str) -> Customer | None:
    """The one customer a message names exactly (a name or a domain), or None if not one."""
    words = [_strip_word(w) for w in text.split()][:GUESS_WORDS]
    found: set[int] = set()
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            phrase = " ".join(words[i : i + n])
            if len(phrase) < 3:
                continue
            matches = services.search.search(workspace_id, phrase, limit=2)
            if matches and matches[0].score >= 100.0 and classify(matches) == "winner":
                found.add(matches[0].customer_id)
                if len(found) > 1:
                    return None
    if len(found) != 1:
        return None
    try:
        return get_customer(services.session_factory, workspace_id, found.pop())
    except NotFound:
        return None


# -- the log modal ----------------------------------------------------------------------------------
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


@dataclass
class LogMeta:
    """The modal's private_metadata: how it was opened and what it edits."""

    mode: str = "log"  # "log" | "edit"
    source: str = "modal"  # "modal" | "shortcut" | "slash" (a one-liner that needed the form)
    channel: str | None = None
    activity_id: int | None = None
    customer_id: int | None = None
    permalink: str | None = None
    summary_locked: bool = False  # editing a summary too long for Slack's input: keep it as is

    def dump(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if v not in (None, False)}
        raw = json.dumps(data, separators=(",", ":"))
        if len(raw) > PRIVATE_METADATA_MAX:  # only a monstrous permalink could do this
            data.pop("permalink", None)
            raw = json.dumps(data, separators=(",", ":"))
        return raw

    @classmethod
    def load(cls, data: dict[str, Any]) -> LogMeta:
        """Read it back without trusting it: wrong kinds of values are dropped."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        def number(key: str) -> int | None:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return cls(
            mode="edit" if data.get("mode") == "edit" else "log",
            source=data["source"] if data.get("source") in ("modal", "shortcut", "slash") else "modal",
            channel=text("channel"),
            activity_id=number("activity_id"),
            customer_id=number("customer_id"),
            permalink=text("permalink"),
            summary_locked=data.get("summary_locked") is True,
        )


def type_option(t: ActivityType) -> dict[str, Any]:
    label = t.display + (" (retired)" if t.retired else "")
    return {"text": plain(truncate(label, OPTION_TEXT_MAX)), "value": t.key}


def _select(action_id: str, placeholder: str, options: list[dict], initial: str | None) -> dict[str, Any]:
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


def build_log_modal(
    types: ActivityTypes,
    form: LogForm,
    meta: LogMeta,
    *,
    now: datetime,
    choices: LogChoices | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The log (or edit) modal. ``choices`` fills the contact and deal pickers for the customer."""
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append({"type": "section", "block_id": NOTICE_BLOCK, "text": mrkdwn(escape_mrkdwn(notice), 3000)})
    customer_block = input_block(CUSTOMER_BLOCK, "Customer", customer_select(form.customer, action_id=CUSTOMER_ACTION))
    customer_block["dispatch_action"] = True
    blocks.append(customer_block)
    options = [type_option(t) for t in types]
    if form.type_key and not types.is_active(form.type_key) and meta.mode == "edit":
        options.append(type_option(types.describe(form.type_key)))
    blocks.append(
        input_block(TYPE_BLOCK, "Activity type", _select(TYPE_ACTION, "Call, meeting, email…", options, form.type_key))
    )
    if choices is not None:
        suffix = f":{choices.customer.id}"
        if choices.contacts:
            contact_options = [
                {
                    "text": plain(truncate(c.name + (f" · {c.title}" if c.title else ""), OPTION_TEXT_MAX)),
                    "value": str(c.id),
                }
                for c in choices.contacts
            ]
            initial = str(form.contact_id) if form.contact_id else None
            blocks.append(
                input_block(
                    CONTACT_BLOCK + suffix,
                    "Contact",
                    _select(CONTACT_ACTION, "Who did you talk to?", contact_options, initial),
                    optional=True,
                )
            )
        if choices.deals:
            deal_options = [
                {"text": plain(truncate(d.title, OPTION_TEXT_MAX)), "value": str(d.id)} for d in choices.deals
            ]
            initial = str(form.deal_id) if form.deal_id else None
            blocks.append(
                input_block(
                    DEAL_BLOCK + suffix,
                    "Deal",
                    _select(DEAL_ACTION, "Which deal?", deal_options, initial),
                    optional=True,
                )
            )
    if meta.summary_locked:
        blocks.append(
            {
                "type": "section",
                "block_id": SUMMARY_BLOCK,
                "text": mrkdwn(
                    f"*Summary* ({len(form.summary):,} characters, longer than Slack's form allows; it is kept as is)\n"
                    + escape_mrkdwn(truncate(form.summary, SUMMARY_PREVIEW)),
                    3000,
                ),
            }
        )
    else:
        summary_input: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": SUMMARY_ACTION,
            "multiline": True,
            "max_length": PLAIN_TEXT_INPUT_MAX,
            "placeholder": plain("What happened, what was agreed?"),
        }
        if form.summary:
            summary_input["initial_value"] = form.summary[:PLAIN_TEXT_INPUT_MAX]
        blocks.append(input_block(SUMMARY_BLOCK, "Summary", summary_input))
    when = form.occurred_at or now
    blocks.append(
        input_block(
            WHEN_BLOCK,
            "When it happened",
            {"type": "datetimepicker", "action_id": WHEN_ACTION, "initial_date_time": int(when.timestamp())},
        )
    )
    if meta.mode == "log":
        follow_text: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": FOLLOW_UP_TEXT_ACTION,
            "max_length": dates.MAX_INPUT_CHARS,
            "placeholder": plain("next friday, in 2 weeks, tomorrow 3pm"),
        }
        if form.follow_up_text:
            follow_text["initial_value"] = form.follow_up_text[: dates.MAX_INPUT_CHARS]
        blocks.append(
            input_block(FOLLOW_UP_TEXT_BLOCK, "Next follow-up", follow_text, optional=True, hint=FOLLOW_UP_HINT)
        )
        follow_date: dict[str, Any] = {
            "type": "datepicker",
            "action_id": FOLLOW_UP_DATE_ACTION,
            "placeholder": plain("…or pick a date"),
        }
        if form.follow_up_date:
            follow_date["initial_date"] = form.follow_up_date
        blocks.append(input_block(FOLLOW_UP_DATE_BLOCK, "…or a follow-up date", follow_date, optional=True))
    return {
        "type": "modal",
        "callback_id": LOG_CALLBACK,
        "title": plain("Edit activity" if meta.mode == "edit" else "Log activity"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": meta.dump(),
        "blocks": blocks,
    }


def _state_block(values: dict[str, Any], prefix: str) -> str | None:
    return next((b for b in values if b == prefix or b.startswith(prefix + ":")), None)


@dataclass
class LogSubmission:
    customer: tuple[str, int | str] | None
    type_key: str | None
    contact_id: int | None
    deal_id: int | None
    contact_block: str | None
    deal_block: str | None
    summary: str | None
    occurred_ts: int | None
    follow_up_text: str | None
    follow_up_date: str | None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def read_log_state(values: dict[str, Any]) -> LogSubmission:
    """The log modal's state values, read without trusting any of them."""
    customer_el = (values.get(CUSTOMER_BLOCK) or {}).get(CUSTOMER_ACTION) or {}
    contact_block = _state_block(values, CONTACT_BLOCK)
    deal_block = _state_block(values, DEAL_BLOCK)
    when = (values.get(WHEN_BLOCK) or {}).get(WHEN_ACTION) or {}
    ts = when.get("selected_date_time")
    summary = input_value(values, SUMMARY_BLOCK, SUMMARY_ACTION) if SUMMARY_BLOCK in values else None
    return LogSubmission(
        customer=picked(customer_el),
        type_key=input_value(values, TYPE_BLOCK, TYPE_ACTION),
        contact_id=_int(input_value(values, contact_block, CONTACT_ACTION)) if contact_block else None,
        deal_id=_int(input_value(values, deal_block, DEAL_ACTION)) if deal_block else None,
        contact_block=contact_block,
        deal_block=deal_block,
        summary=summary if isinstance(summary, str) else None,
        occurred_ts=ts if isinstance(ts, int) and not isinstance(ts, bool) else None,
        follow_up_text=input_value(values, FOLLOW_UP_TEXT_BLOCK, FOLLOW_UP_TEXT_ACTION),
        follow_up_date=input_value(values, FOLLOW_UP_DATE_BLOCK, FOLLOW_UP_DATE_ACTION),
    )


def _occurred(ts: int | None, now: datetime) -> datetime:
    if ts is None:
        return now
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime(1970, 1, 1, tzinfo=UTC)  # refused by the service as too long ago


# -- the confirmation ---------------------------------------------------------------------------------
def _quote(text: str) -> str:
    shown = escape_mrkdwn(truncate(text, SUMMARY_PREVIEW))
    return "\n".join("> " + line for line in shown.split("\n"))


def build_confirmation(
    logged: Logged, types: ActivityTypes, *, tz: str, now: datetime, verb: str = "Logged"
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): what was saved, with Undo and Edit."""
    activity, customer = logged.activity, logged.customer
    kind = types.describe(activity.type_key)
    name = escape_mrkdwn(customer.name)
    when = dates.format_local(activity.occurred_at, tz, now=now)
    text = f"{verb}: {kind.label} with {name}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": mrkdwn(
                f"✅ {verb} {kind.emoji} *{kind.label}* with *{name}* ({when})\n{_quote(activity.summary)}", 3000
            ),
        }
    ]
    notes = []
    if logged.follow_up is not None and logged.follow_up.deleted_at is None:
        notes.append(f"⏰ Follow-up {dates.format_local(logged.follow_up.due_at, tz, now=now)}")
        if logged.follow_up.note:
            notes[-1] += ": " + escape_mrkdwn(truncate(logged.follow_up.note, 200))
    if activity.permalink:
        notes.append(f"<{activity.permalink}|Original message>")
    if notes:
        blocks.append({"type": "context", "elements": [mrkdwn(truncate(" · ".join(notes), 3000))]})
    value = str(activity.id)
    blocks.append(
        {
            "type": "actions",
            "block_id": f"activity:{activity.id}",
            "elements": [
                {"type": "button", "action_id": UNDO_ACTION, "text": plain("Undo"), "value": value},
                {"type": "button", "action_id": EDIT_ACTION, "text": plain("Edit"), "value": value},
            ],
        }
    )
    return text, blocks


def build_deleted(logged: Logged, types: ActivityTypes) -> tuple[str, list[dict[str, Any]]]:
    kind = types.describe(logged.activity.type_key)
    name = escape_mrkdwn(logged.customer.name)
    text = f"Deleted the {kind.label} with {name}."
    blocks = [
        {"type": "section", "text": mrkdwn(f"🗑️ Deleted the {kind.emoji} {kind.label} with *{name}*.")},
        {
            "type": "actions",
            "block_id": f"activity:{logged.activity.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": RESTORE_ACTION,
                    "text": plain("Undo"),
                    "value": str(logged.activity.id),
                }
            ],
        },
    ]
    return text, blocks


# -- the follow-up modal ---------------------------------------------------------------------------------
def build_follow_up_modal(customer: Customer, *, owner: str, channel: str | None) -> dict[str, Any]:
    meta = {"customer_id": customer.id, **({"channel": channel} if channel else {})}
    return {
        "type": "modal",
        "callback_id": FOLLOW_UP_CALLBACK,
        "title": plain("Add follow-up"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps(meta),
        "blocks": [
            {"type": "section", "text": mrkdwn(f"Follow up with *{escape_mrkdwn(customer.name)}*", 3000)},
            input_block(
                FOLLOW_UP_TEXT_BLOCK,
                "When",
                {
                    "type": "plain_text_input",
                    "action_id": FOLLOW_UP_TEXT_ACTION,
                    "max_length": dates.MAX_INPUT_CHARS,
                    "placeholder": plain("next friday, in 2 weeks, tomorrow 3pm"),
                },
                optional=True,
                hint=FOLLOW_UP_HINT,
            ),
            input_block(
                FOLLOW_UP_DATE_BLOCK,
                "…or a date",
                {"type": "datepicker", "action_id": FOLLOW_UP_DATE_ACTION, "placeholder": plain("Pick a date")},
                optional=True,
            ),
            input_block(
                NOTE_BLOCK,
                "Note",
                {
                    "type": "plain_text_input",
                    "action_id": NOTE_ACTION,
                    "multiline": True,
                    "max_length": PLAIN_TEXT_INPUT_MAX,
                    "placeholder": plain("Send the revised proposal"),
                },
                optional=True,
            ),
            input_block(
                OWNER_BLOCK, "Owner", {"type": "users_select", "action_id": OWNER_ACTION, "initial_user": owner}
            ),
        ],
    }


def follow_up_confirmation(follow_up: FollowUp, customer: Customer, *, tz: str, now: datetime) -> tuple[str, list]:
    when = dates.format_local(follow_up.due_at, tz, now=now)
    name = escape_mrkdwn(customer.name)
    line = f"⏰ Follow-up with *{name}* {when}, owner <@{follow_up.owner_user_id}>"
    if follow_up.note:
        line += "\n" + _quote(follow_up.note)
    return f"Follow-up with {name} {when}", [{"type": "section", "text": mrkdwn(line, 3000)}]


# -- errors → fields ---------------------------------------------------------------------------------
def field_errors(err: CRMError, sub: LogSubmission | None = None) -> dict[str, str]:
    """A service error as a modal field error (on the block that caused it)."""
    blocks = {
        "customer": CUSTOMER_BLOCK,
        "type": TYPE_BLOCK,
        "summary": SUMMARY_BLOCK,
        "occurred_at": WHEN_BLOCK,
        "follow_up": FOLLOW_UP_TEXT_BLOCK,
        "follow_up_date": FOLLOW_UP_DATE_BLOCK,
        "note": NOTE_BLOCK,
        "owner": OWNER_BLOCK,
        "contact": (sub.contact_block if sub else None) or CUSTOMER_BLOCK,
        "deal": (sub.deal_block if sub else None) or CUSTOMER_BLOCK,
    }
    return {blocks.get(err.field or "", CUSTOMER_BLOCK): truncate(err.message, 1900)}


# -- registration ---------------------------------------------------------------------------------------
def register(app: App, services: Services, router: CommandRouter) -> None:
    types = types_of(services)
    dates.warm_up()

    def answer(body: dict, client: WebClient, respond: Respond | None, text: str, blocks=None, replace=False) -> None:
        if body.get("response_url") and respond is not None:
            respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace)
        else:
            tell(client, channel_of(body), user_of(body), text, blocks)

    def open_log_modal(
        client: WebClient,
        trigger_id: str,
        workspace_id: int,
        form: LogForm,
        meta: LogMeta,
        notice: str | None = None,
    ) -> None:
        choices = None
        if form.customer is not None:
            choices = log_choices(services.session_factory, workspace_id, form.customer.id)
            form = replace(form, customer=choices.customer)
            meta.customer_id = choices.customer.id
        view = build_log_modal(types, form, meta, now=services.now(), choices=choices, notice=notice)
        client.views_open(trigger_id=trigger_id, view=view)

    # -- /log and /crm log ------------------------------------------------------------------------
    def handle_log(ctx: SlashContext) -> None:
        text = unescape_slack(ctx.args).strip()
        ws = ctx.workspace_id
        if not text:
            open_log_modal(ctx.client, ctx.trigger_id, ws, LogForm(), LogMeta(channel=ctx.channel_id or None))
            return
        now = services.now()
        rep = rep_of(services, ctx.client, ws, ctx.user_id)
        quick = parse_quick_log(text, types, search_lookup(services, ws), lambda p: rep.read_follow_up(p, now))
        follow_up = FollowUpRequest(quick.follow_up_due, quick.follow_up_note) if quick.follow_up_due else None
        if quick.certain:
            assert quick.type is not None and quick.customer is not None
            logged = log_activity(
                services.session_factory,
                ws,
                types=types,
                actor=ctx.user_id,
                customer_id=quick.customer.id,
                type_key=quick.type.key,
                summary=quick.summary,
                occurred_at=now,
                source="slash",
                now=now,
                idempotency_key=f"slash:{ctx.trigger_id}" if ctx.trigger_id else None,
                follow_up=follow_up,
            )
            ctx.reply(*build_confirmation(logged, types, tz=rep.tz, now=now))
            return
        summary = quick.summary
        if quick.follow_up_note:
            summary += f"\nNext step: {quick.follow_up_note}"
        if len(summary) > PLAIN_TEXT_INPUT_MAX:
            ctx.reply(
                f"Nothing was saved. {' '.join(quick.doubts)} Your note is {len(summary):,} characters, too long "
                f"for the form ({PLAIN_TEXT_INPUT_MAX:,}); start the line with the type and the customer, e.g. "
                "`/log call Acme Corp …`, and I'll save it whole."
            )
            return
        form = LogForm(
            customer=quick.customer,
            type_key=quick.type.key if quick.type else None,
            summary=summary,
            follow_up_text=quick.follow_up_text or "",
        )
        meta = LogMeta(channel=ctx.channel_id or None, source="slash")
        open_log_modal(ctx.client, ctx.trigger_id, ws, form, meta, notice=" ".join(quick.doubts))

    router.add(
        "log",
        handle_log,
        summary="Log a call, meeting or email in one line, or open the form with no text.",
        example="/log call Acme Corp discussed renewal pricing, follow up next friday",
        slash="/log",
    )

    # -- shortcuts and the card's button ------------------------------------------------------------
    @app.shortcut(GLOBAL_SHORTCUT)
    def on_global_shortcut(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        open_log_modal(client, body["trigger_id"], workspace_of(services, body), LogForm(), LogMeta(source="shortcut"))

    @app.shortcut(MESSAGE_SHORTCUT)
    def on_message_shortcut(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        ws = workspace_of(services, body)
        message = body.get("message") or {}
        text = unescape_slack(message.get("text") or "").strip()
        channel = channel_of(body)
        customer = guess_customer(services, ws, text) if text else None
        permalink = None
        if channel and message.get("ts"):
            try:
                permalink = client.chat_getPermalink(channel=channel, message_ts=message["ts"]).get("permalink")
            except SlackApiError as exc:
                log.info("no permalink for %s/%s: %s", channel, message.get("ts"), exc.response.get("error"))
        notice = None
        if len(text) > PLAIN_TEXT_INPUT_MAX:
            notice = f"The message is {len(text):,} characters; the form holds the first {PLAIN_TEXT_INPUT_MAX:,}." + (
                " The link to the whole message is saved with the activity." if permalink else ""
            )
        form = LogForm(customer=customer, summary=text)
        meta = LogMeta(source="shortcut", channel=channel, permalink=permalink)
        open_log_modal(client, body["trigger_id"], ws, form, meta, notice=notice)

    @app.action(OPEN_ACTION)
    def on_open(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        ws = workspace_of(services, body)
        customer = None
        customer_id = _int(action.get("value"))
        if customer_id is not None:
            try:
                customer = get_customer(services.session_factory, ws, customer_id)
            except NotFound:
                customer = None
        open_log_modal(client, body["trigger_id"], ws, LogForm(customer=customer), LogMeta(channel=channel_of(body)))

    # -- inside the modal: the customer picker -------------------------------------------------------
    @app.action(CUSTOMER_ACTION)
    def on_customer_picked(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        choice = picked(action)
        if choice is not None and choice[0] == "new":
            from commands.customers import push_create_customer

            push_create_customer(services, client, body, str(choice[1]))
            return
        ws = workspace_of(services, body)
        meta = LogMeta.load(metadata(body))
        sub = read_log_state((view.get("state") or {}).get("values") or {})
        choices = None
        if choice is not None:
            try:
                choices = log_choices(services.session_factory, ws, int(choice[1]))
            except NotFound:
                choices = None
        meta.customer_id = choices.customer.id if choices else None
        form = LogForm(
            customer=choices.customer if choices else None,
            type_key=sub.type_key,
            summary=sub.summary or "",
            occurred_at=_occurred(sub.occurred_ts, services.now()) if sub.occurred_ts else None,
            follow_up_text=sub.follow_up_text or "",
            follow_up_date=sub.follow_up_date,
        )
        if meta.summary_locked and meta.activity_id:
            form.summary = get_logged(services.session_factory, ws, meta.activity_id).activity.summary
        new_view = build_log_modal(types, form, meta, now=services.now(), choices=choices)
        try:
            client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new_view)
        except SlackApiError as exc:
            # hash_conflict: the form changed meanwhile; the rep's latest pick will update it.
            log.info("log modal not updated: %s", exc.response.get("error"))

    # -- saving the modal ---------------------------------------------------------------------------
    @app.view(LOG_CALLBACK)
    def on_log_submitted(ack: Ack, body: dict, client: WebClient, view: dict) -> None:
        ws = workspace_of(services, body)
        user = user_of(body)
        meta = LogMeta.load(metadata(body))
        sub = read_log_state((view.get("state") or {}).get("values") or {})
        now = services.now()
        rep = rep_of(services, client, ws, user)
        errors: dict[str, str] = {}
        if sub.customer is None:
            errors[CUSTOMER_BLOCK] = "Pick a customer."
        elif sub.customer[0] == "new":
            errors[CUSTOMER_BLOCK] = (
                f"Create “{sub.customer[1]}” first (pick it again to open the form), then pick it here."
            )
        if not sub.type_key:
            errors[TYPE_BLOCK] = f"Pick an activity type: {types.names()}."
        follow_up = None
        if meta.mode == "log":
            due, follow_errors = read_follow_up_fields(
                rep,
                now,
                sub.follow_up_text,
                sub.follow_up_date,
                text_block=FOLLOW_UP_TEXT_BLOCK,
                date_block=FOLLOW_UP_DATE_BLOCK,
            )
            errors.update(follow_errors)
            follow_up = FollowUpRequest(due) if due else None
        if errors:
            ack(response_action="errors", errors=errors)
            return
        assert sub.customer is not None and sub.type_key is not None
        customer_id = int(sub.customer[1])
        occurred_at = _occurred(sub.occurred_ts, now)
        try:
            if meta.mode == "edit" and meta.activity_id:
                logged = update_activity(
                    services.session_factory,
                    ws,
                    meta.activity_id,
                    types=types,
                    actor=user,
                    actor_is_admin=rep.can_admin,
                    now=now,
                    customer_id=customer_id,
                    type_key=sub.type_key,
                    summary=None if meta.summary_locked else (sub.summary or ""),
                    occurred_at=occurred_at,
                    contact_id=sub.contact_id,
                    deal_id=sub.deal_id,
                )
                verb = "Updated"
            else:
                logged = log_activity(
                    services.session_factory,
                    ws,
                    types=types,
                    actor=user,
                    customer_id=customer_id,
                    type_key=sub.type_key,
                    summary=sub.summary or "",
                    occurred_at=occurred_at,
                    source="shortcut" if meta.source == "shortcut" else "modal",
                    now=now,
                    contact_id=sub.contact_id,
                    deal_id=sub.deal_id,
                    permalink=meta.permalink,
                    idempotency_key=f"view:{view.get('id')}",
                    follow_up=follow_up,
                )
                verb = "Logged"
        except CRMError as err:
            ack(response_action="errors", errors=field_errors(err, sub))
            return
        ack()
        if meta.mode == "log" and not logged.created:
            return  # a repeated submission: the first one already confirmed
        text, blocks = build_confirmation(logged, types, tz=rep.tz, now=now, verb=verb)
        tell(client, meta.channel, user, text, blocks)

    # -- the confirmation's buttons -------------------------------------------------------------------
    def _activity_id(action: dict) -> int | None:
        return _int(action.get("value"))

    def on_undo(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        ack()
        activity_id = _activity_id(action)
        if activity_id is None:
            return
        ws, user = workspace_of(services, body), user_of(body)
        rep = rep_of(services, client, ws, user)
        try:
            logged = delete_activity(
                services.session_factory, ws, activity_id, actor=user, actor_is_admin=rep.can_admin, now=services.now()
            )
        except CRMError as err:
            answer(body, client, respond, err.message)
            return
        answer(body, client, respond, *build_deleted(logged, types), replace=True)

    app.action(UNDO_ACTION)(on_undo)
    app.action(DELETE_ACTION)(on_undo)

    @app.action(RESTORE_ACTION)
    def on_restore(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        ack()
        activity_id = _activity_id(action)
        if activity_id is None:
            return
        ws, user = workspace_of(services, body), user_of(body)
        rep = rep_of(services, client, ws, user)
        now = services.now()
        try:
            logged = restore_activity(
                services.session_factory, ws, activity_id, actor=user, actor_is_admin=rep.can_admin, now=now
            )
        except CRMError as err:
            answer(body, client, respond, err.message)
            return
        text, blocks = build_confirmation(logged, types, tz=rep.tz, now=now, verb="Restored")
        answer(body, client, respond, text, blocks, replace=True)

    @app.action(EDIT_ACTION)
    def on_edit(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        ack()
        activity_id = _activity_id(action)
        if activity_id is None:
            return
        ws, user = workspace_of(services, body), user_of(body)
        try:
            logged = get_logged(services.session_factory, ws, activity_id)
            if logged.activity.deleted_at is not None:
                raise NotFound("That activity was deleted; press Undo to bring it back first.")
            rep = rep_of(services, client, ws, user)
            if logged.activity.created_by != user and not rep.can_admin:
                raise PermissionDenied("You can edit only the activities you logged; an admin can edit any.")
            customer = get_customer(services.session_factory, ws, logged.activity.customer_id)
        except CRMError as err:
            answer(body, client, respond, err.message)
            return
        activity = logged.activity
        locked = len(activity.summary) > PLAIN_TEXT_INPUT_MAX
        form = LogForm(
            customer=customer,
            type_key=activity.type_key,
            contact_id=activity.contact_id,
            deal_id=activity.deal_id,
            summary=activity.summary,
            occurred_at=activity.occurred_at,
        )
        meta = LogMeta(mode="edit", channel=channel_of(body), activity_id=activity.id, summary_locked=locked)
        open_log_modal(client, body["trigger_id"], ws, form, meta)

    # -- the card's "Add follow-up" ----------------------------------------------------------------------
    @app.action(FOLLOW_UP_OPEN_ACTION)
    def on_follow_up_open(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        ack()
        ws, user = workspace_of(services, body), user_of(body)
        try:
            customer = get_customer(services.session_factory, ws, _int(action.get("value")) or 0)
        except CRMError as err:
            answer(body, client, respond, err.message)
            return
        view = build_follow_up_modal(customer, owner=user, channel=channel_of(body))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(FOLLOW_UP_CALLBACK)
    def on_follow_up_submitted(ack: Ack, body: dict, client: WebClient, view: dict) -> None:
        ws, user = workspace_of(services, body), user_of(body)
        meta = metadata(body)
        values = (view.get("state") or {}).get("values") or {}
        now = services.now()
        rep = rep_of(services, client, ws, user)
        due, errors = read_follow_up_fields(
            rep,
            now,
            input_value(values, FOLLOW_UP_TEXT_BLOCK, FOLLOW_UP_TEXT_ACTION),
            input_value(values, FOLLOW_UP_DATE_BLOCK, FOLLOW_UP_DATE_ACTION),
            text_block=FOLLOW_UP_TEXT_BLOCK,
            date_block=FOLLOW_UP_DATE_BLOCK,
        )
        if due is None and not errors:
            errors[FOLLOW_UP_TEXT_BLOCK] = f"When is it due? Type e.g. {dates.EXAMPLES}, or pick a date."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        assert due is not None
        owner = input_value(values, OWNER_BLOCK, OWNER_ACTION) or user
        customer_id = meta.get("customer_id")
        try:
            follow_up, created = add_follow_up(
                services.session_factory,
                ws,
                customer_id=customer_id if isinstance(customer_id, int) else 0,
                owner_user_id=owner,
                due_at=due,
                actor=user,
                now=now,
                note=input_value(values, NOTE_BLOCK, NOTE_ACTION),
                idempotency_key=f"view:{view.get('id')}",
            )
            customer = get_customer(services.session_factory, ws, follow_up.customer_id)
        except CRMError as err:
            ack(response_action="errors", errors=field_errors(err))
            return
        ack()
        if created:
            channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
            tell(client, channel, user, *follow_up_confirmation(follow_up, customer, tz=rep.tz, now=now))
