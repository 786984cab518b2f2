"""“Who's talked to this customer?”, answered where it was asked.

Entry points:

* ``@crm who's talked to Acme?`` (and "who has spoken with", "who knows", "history with",
  "anyone talked to", ...) in a channel, a thread or a DM: the answer goes in that thread
  (a top-level mention starts one; in a DM it answers in place). With no customer in the
  question ("who's talked to them?") the customer is read from the thread's first message.
* the message shortcut ``who_talked_message`` on any message: the same answer in that
  message's thread, for the customer the message names;
* ``/crm who <customer>``: the same answer, visible only to the asker.

Rules:

* **Privacy.** In a channel shared with another organisation (Slack Connect), or one whose
  sharing cannot be checked, nothing from the CRM is posted publicly: the asker gets the
  answer ephemerally in the thread, with the reason.
* **Once.** Every mention is claimed in ``processed_events`` (its ``event_id`` and its
  channel + ts) before it is answered, so an Events API retry, a duplicate delivery or an
  edit of the question never produces a second answer, on any replica. Shortcut deliveries
  and clicks on a public "which customer?" list are claimed the same way.
* **Names, not pings.** Reps and owners are shown by display name (``users.info``, cached),
  never as ``<@U…>``: a mention in a bot message notifies the person, and a list of everyone
  who talked to a customer must not ping them all.
* Ignored on purpose: other bots' messages (``bot_id``; no bot-to-bot loops), the bot's own
  messages, and ``message_changed`` events (an edit is not a new question). Any other mention
  (blank, only emoji, "@crm hi") gets a private hint: this listener takes every mention, since
  an event no listener takes is answered 404 and Slack would deliver it again.
* In a DM there is nothing to keep private and no thread to start: the answer comes in place.

Block Kit lives in the pure ``build_*`` functions below; action ids are module constants.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from commands import customer_views as views
from commands.blockkit import HEADER_TEXT_MAX, SECTION_TEXT_MAX, escape_mrkdwn, mrkdwn, plain, truncate
from commands.common import channel_of, user_of, workspace_of
from commands.router import CommandRouter, SlashContext
from crm import customers as customer_svc
from crm import insights
from crm.dates import format_local
from crm.errors import NotFound
from crm.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

MESSAGE_SHORTCUT = "who_talked_message"
PICK = "whos_talked_pick"  # value "<customer id>:thread" or "<customer id>:private"
OPEN_CARD = "whos_talked_card"  # value = customer id; the full card, ephemeral
LOG_OPEN = views.LOG_OPEN  # "Log activity"; handled by commands/activities.py

REPS_SHOWN = 15  # one section each; the rest are counted
CONTACTS_PER_REP = 5
PICK_MAX = 10
SUMMARY_CHARS = 200
QUESTION_EXAMPLE = "@crm who's talked to Acme?"

SHARED_NOTE = (
    ":lock: Only you can see this: this channel is shared with another organisation, so I don't post CRM data in it."
)
UNCHECKED_NOTE = ":lock: Only you can see this: I couldn't check who else is in this channel."

TypeLabel = Callable[[str], str]


# ---------------------------------------------------------------------------------------------
# Reading the question (pure)
# ---------------------------------------------------------------------------------------------
_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_EMOJI = re.compile(r":[a-z0-9_+'-]+:", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]")

_VERBS = (
    r"(?:talked|talking|talk|spoken|spoke|speak|speaking|met|meet|called|call|emailed|email|contacted|"
    r"dealt|worked|chatted|been\s+(?:talking|in\s+touch|in\s+contact|dealing|working|speaking))"
)
_INTENT = re.compile(
    rf"""(?ix)
    (?:
        \bwho(?:'s|’s|s|\s+has|\s+have|\s+had|\s+is|\s+did|\s+else)?(?:\s+(?:ever|already|recently|actually|here))*
            \s+{_VERBS}(?:\s+(?:to|with|at))?
      | \bwho\s+(?:knows|know|owns|is\s+in\s+touch\s+with|has\s+(?:a\s+)?(?:contacts?|relationships?)\s+(?:at|with))
      | \b(?:any|some)\s*(?:one|body)(?:\s+(?:here|has|have|ever|already))*\s+(?:{_VERBS}|knows?)
            (?:\s+(?:to|with|at))?
      | \bhistory\s+(?:with|of|for|on)
    )\b
    """
)
_LEADING = re.compile(
    r"(?i)^(?:(?:anyone|someone|people|folks|anybody|somebody|the\s+team|the\s+folks)\s+(?:at|from)\s+|"
    r"(?:to|with|at|from|about)\s+)+"
)
_TRAILING = re.compile(
    r"(?i)(?:\s+(?:lately|recently|before|yet|so\s+far|already|ever|at\s+all|here|"
    r"(?:this|last)\s+(?:week|month|quarter|year)|well))+$"
)
# Words that point back at the customer being discussed: read it from the thread instead.
_PRONOUNS = frozenset(
    [
        *"them they him her it this that these those here there".split(),
        *(
            f"{det} {noun}"
            for det in ("this", "that", "the", "these", "those", "their")
            for noun in (
                "customer",
                "company",
                "account",
                "client",
                "one",
                "lead",
                "prospect",
                "deal",
                "guys",
                "folks",
                "team",
                "people",
                "thread",
            )
        ),
    ]
)


@dataclass(frozen=True)
class Question:
    """What a mention asks. ``intent`` False: not a who-talked question (or nothing at all)."""

    intent: bool
    query: str | None = None  # the customer as typed; None: read it from the thread
    empty: bool = False  # no words at all (blank, only emoji or only mentions)
    before: str = ""  # the words before the question ("Acme: who's talked to them?")


def plain_text(text: str) -> str:
    """Slack message text as typed: links to their labels (or targets), mentions dropped."""

    def link(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith(("@", "!")):
            return " "
        if target.startswith("#"):
            return f" #{label} " if label else " "
        if target.startswith("mailto:"):
            return f" {label or target[7:]} "
        if label and label != target and target.startswith(("http://", "https://")):
            return f" {label} ( {target} ) "  # the address too: its domain can name the customer
        return f" {label or target} "

    text = _LINK.sub(link, text or "")
    return " ".join(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split())


def parse_question(text: str) -> Question:
    """Read a mention's text (already through :func:`plain_text`)."""
    text = " ".join(_EMOJI.sub(" ", text or "").split())
    if not _WORD.search(text):
        return Question(False, empty=True)
    m = _INTENT.search(text)
    if m is None:
        return Question(False)
    rest = text[m.end() :]
    rest = rest.strip(" \t?!.,;:…\"'“”")
    rest = _LEADING.sub("", rest)
    rest = _TRAILING.sub("", rest).strip(" \t?!.,;:…\"'“”")
    before = text[: m.start()]
    if not _WORD.search(rest) or rest.casefold() in _PRONOUNS:
        return Question(True, None, before=before)
    return Question(True, rest[:MAX_QUERY_CHARS], before=before)


# ---------------------------------------------------------------------------------------------
# Block Kit builders (pure)
# ---------------------------------------------------------------------------------------------
def fallback(text: str) -> str:
    """A message's top-level ``text`` (notifications, screen readers): Slack parses it for
    mentions too, so user-supplied names in it are escaped like mrkdwn."""
    return truncate(escape_mrkdwn(" ".join(text.split())), 3000)


def _esc(text: str | None, limit: int) -> str:
    return escape_mrkdwn(truncate(" ".join((text or "").split()), limit))


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(truncate(text, SECTION_TEXT_MAX))}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(truncate(text, SECTION_TEXT_MAX))]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": plain(text, 75), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


_NOT_PEOPLE = {"import": "(imported)", "system": "(system)"}


def person_label(user_id: str | None, names: dict[str, str]) -> str:
    """A rep or owner for display, never a ``<@U…>`` ping; escaped for mrkdwn."""
    if not user_id:
        return "nobody"
    return escape_mrkdwn(names.get(user_id) or _NOT_PEOPLE.get(user_id) or user_id)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def rep_block(rep: insights.RepSummary, *, names: dict[str, str], type_label: TypeLabel, tz: str, now: datetime):
    types = ", ".join(f"{_esc(type_label(key), 40)} ×{n}" for key, n in rep.by_type)
    lines = [f"*{person_label(rep.rep, names)}* · {_count(rep.total, 'activity', 'activities')}: {types}"]
    last = f"Last touch: {format_local(rep.last_at, tz, now=now)}"
    if rep.last_type:
        last += f" · {_esc(type_label(rep.last_type), 40)}"
    if rep.last_summary.strip():
        last += f" — “{_esc(rep.last_summary, SUMMARY_CHARS)}”"
    lines.append(last)
    if rep.contacts:
        shown = ", ".join(_esc(c, 60) for c in rep.contacts)
        more = rep.contact_count - len(rep.contacts)
        lines.append(f"Contacts: {shown}" + (f" and {more} more" if more > 0 else ""))
    return _section("\n".join(lines))


def _notes(note: str | None, tz: str | None = None) -> list[dict[str, Any]]:
    parts = [p for p in (note, f"Times are in {escape_mrkdwn(tz)}." if tz else None) if p]
    return [_context(" ".join(parts))] if parts else []


def build_answer(
    summary: insights.WhoTalked,
    *,
    names: dict[str, str],
    type_label: TypeLabel,
    tz: str,
    now: datetime,
    note: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The answer: one section per rep (most recent first), the owner, and the card's button."""
    cid = str(summary.customer_id)
    owner = person_label(summary.owner_user_id, names)
    if not summary.reps:
        return build_no_activity(summary, names=names, note=note)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"Who's talked to {summary.customer_name}", HEADER_TEXT_MAX)},
        _section(
            f"*Owner:* {owner}\n"
            f"{_count(summary.activity_count, 'activity', 'activities')} "
            f"by {_count(summary.rep_count, 'person', 'people')}, most recent first."
        ),
    ]
    blocks += [rep_block(r, names=names, type_label=type_label, tz=tz, now=now) for r in summary.reps]
    if summary.more_reps > 0:
        blocks.append(
            _context(
                f"…and {_count(summary.more_reps, 'more person', 'more people')} "
                "who logged earlier activities. The card's history has them all."
            )
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [_button("Open the card", OPEN_CARD, cid, "primary"), _button("Log activity", LOG_OPEN, cid)],
        }
    )
    blocks += _notes(note, tz)
    head = ", ".join(f"{names.get(r.rep) or r.rep} ({r.total})" for r in summary.reps[:5])
    more = summary.rep_count - min(5, len(summary.reps))
    text = f"Who's talked to {summary.customer_name}: {head}" + (f" and {more} more" if more > 0 else "")
    return fallback(text), blocks


def build_no_activity(
    summary: insights.WhoTalked, *, names: dict[str, str], note: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    cid = str(summary.customer_id)
    name = summary.customer_name
    text = fallback(f"Nobody has logged anything with {name} yet — log the first call?")
    blocks = [
        _section(
            f"Nobody has logged anything with *{_esc(name, 200)}* yet — log the first call?\n"
            f"*Owner:* {person_label(summary.owner_user_id, names)}"
        ),
        {
            "type": "actions",
            "elements": [
                _button("Log the first call", LOG_OPEN, cid, "primary"),
                _button("Open the card", OPEN_CARD, cid),
            ],
        },
        *_notes(note),
    ]
    return text, blocks


def build_pick(
    candidates: list[insights.CustomerRef], *, private: bool, note: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Several customers match: one section each, with its button (action ids are unique per block)."""
    shown = candidates[:PICK_MAX]
    mode = "private" if private else "thread"
    text = "Which customer do you mean? " + ", ".join(c.name for c in shown)
    blocks: list[dict[str, Any]] = [_section("Which customer do you mean?")]
    for c in shown:
        how = f" · {_esc(c.matched, 80)}" if c.how != "name" else ""
        block = _section(f"*{_esc(c.name, 200)}*{how}")
        block["accessory"] = _button("This one", PICK, f"{c.id}:{mode}")
        blocks.append(block)
    if len(candidates) > len(shown):
        blocks.append(_context(f"…and {len(candidates) - len(shown)} more. Ask with the full name to narrow it down."))
    blocks += _notes(note)
    return fallback(text), blocks


def build_not_found(query: str | None, *, note: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    if query:
        text = fallback(f"I couldn't find a customer called “{truncate(query, 100)}”.")
        body = (
            f"I couldn't find a customer called “{_esc(query, 100)}”. Check the spelling, or search with "
            f"`/customer {_esc(query, 60)}`."
        )
    else:
        text = "I couldn't tell which customer this is about."
        body = (
            "I couldn't tell which customer this is about: the message doesn't name one I know. "
            f"Ask with the name, e.g. `{QUESTION_EXAMPLE}`, or try `/crm who acme`."
        )
    return text, [_section(body), *_notes(note)]


def build_help(*, note: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    text = f"Ask me who has talked to a customer: {QUESTION_EXAMPLE}"
    body = (
        "I can tell you who has talked to a customer. Ask like this:\n"
        f"• `{QUESTION_EXAMPLE}` (or “who knows Globex”, “history with Initech”)\n"
        "• in a thread about a customer: `@crm who's talked to them?`\n"
        "• privately: `/crm who acme`"
    )
    return text, [_section(body), *_notes(note)]


def build_picked(name: str, picker: str) -> tuple[str, list[dict[str, Any]]]:
    text = fallback(f"{picker} picked {name}.")
    return text, [_context(f"{escape_mrkdwn(picker)} picked *{_esc(name, 200)}*.")]


# ---------------------------------------------------------------------------------------------
# Where the answer goes
# ---------------------------------------------------------------------------------------------
@dataclass
class Where:
    """The asker, the conversation and thread, and whether the answer must stay private."""

    channel: str | None
    user: str
    thread_ts: str | None
    private: bool
    note: str | None = None  # why it is private, shown with the answer
    respond: Respond | None = None  # the request's response_url (slash commands, shortcuts, buttons)
    replace: bool = False  # replace the message that held the clicked button


def _type_label(services: Services) -> TypeLabel:
    try:
        from crm.activity_types import label_for
    except ImportError:  # activity types not configured in this build
        return views.default_type_label
    return lambda key: label_for(services.settings, key)


class WhoTalkedUI:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.sf = services.session_factory
        self.mentions = services.mentions

    # -- privacy and sending -----------------------------------------------------------------
    def where(
        self,
        client: WebClient,
        channel: str | None,
        user: str,
        thread_ts: str | None,
        *,
        respond: Respond | None = None,
        is_dm: bool = False,
    ) -> Where:
        if not channel:
            return Where(None, user, None, True, respond=respond)
        if is_dm or channel.startswith("D"):
            return Where(channel, user, thread_ts, False, respond=respond)
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.info("conversations.info %s failed (%s): answering privately", channel, exc)
            return Where(channel, user, thread_ts, True, UNCHECKED_NOTE, respond)
        if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
            return Where(channel, user, thread_ts, True, SHARED_NOTE, respond)
        return Where(channel, user, thread_ts, False, respond=respond)

    def send(self, client: WebClient, where: Where, text: str, blocks: list[dict[str, Any]]) -> None:
        if not where.private and where.channel:
            try:
                client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts, text=text, blocks=blocks)
                return
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.info("could not answer in %s (%s); answering privately", where.channel, error)
                if error in ("not_in_channel", "channel_not_found"):
                    blocks = [*blocks, _context("I'm not in this channel, so only you can see this. `/invite @crm`")]
        if where.respond is not None:
            where.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=where.replace)
            return
        if where.channel:
            try:
                client.chat_postEphemeral(
                    channel=where.channel, user=where.user, thread_ts=where.thread_ts, text=text, blocks=blocks
                )
                return
            except SlackApiError as exc:
                log.info("ephemeral to %s in %s failed (%s); sending a DM", where.user, where.channel, exc)
        try:
            client.chat_postMessage(channel=where.user, text=text, blocks=blocks)
        except SlackApiError as exc:
            log.warning("could not reach %s: %s", where.user, exc.response.get("error"))

    # -- finding the customer -----------------------------------------------------------------
    def from_query(self, ws: int, query: str) -> tuple[str, Any]:
        """("one", id) | ("several", [CustomerRef]) | ("none", None) for a typed name."""
        result = customer_svc.find_customers(self.sf, self.services.search, ws, query[:MAX_QUERY_CHARS])
        if result.kind == "winner" and result.winner is not None:
            return "one", result.winner.id
        refs = insights.customers_in_text(self.sf, self.mentions, self.services.search, ws, query, relaxed=True)
        if len(refs) == 1:
            return "one", refs[0].id
        if refs:
            return "several", refs
        if result.kind == "ambiguous":
            found = [
                insights.CustomerRef(m.customer_id, result.customers[m.customer_id].name, m.matched, m.kind)
                for m in result.matches
                if m.customer_id in result.customers
            ]
            if found:
                return "several", found
        return "none", None

    def from_text(self, ws: int, texts: list[str]) -> tuple[str, Any]:
        """The customer named in free text, trying each text in turn."""
        for text in texts:
            refs = insights.customers_in_text(self.sf, self.mentions, self.services.search, ws, text)
            if len(refs) == 1:
                return "one", refs[0].id
            if refs:
                return "several", refs
        return "none", None

    # -- answering ----------------------------------------------------------------------------
    def deliver(self, client: WebClient, ws: int, where: Where, found: tuple[str, Any], query: str | None) -> None:
        kind, value = found
        if kind == "one":
            self.answer(client, ws, where, value)
        elif kind == "several":
            self.send(client, where, *build_pick(value, private=where.private, note=where.note))
        else:
            self.send(client, where, *build_not_found(query, note=where.note))

    def answer(self, client: WebClient, ws: int, where: Where, customer_id: int) -> None:
        try:
            summary = insights.who_talked(self.sf, ws, customer_id, limit=REPS_SHOWN, contacts_per_rep=CONTACTS_PER_REP)
        except NotFound as err:
            self.send(client, where, err.message, [_section(escape_mrkdwn(err.message)), *_notes(where.note)])
            return
        people = self.services.people
        names = {
            uid: people.get(client, ws, uid).name
            for uid in {r.rep for r in summary.reps} | {summary.owner_user_id or ""}
            if uid.startswith(("U", "W"))
        }
        tz = people.tz(client, ws, where.user)
        text, blocks = build_answer(
            summary,
            names=names,
            type_label=_type_label(self.services),
            tz=tz,
            now=self.services.now(),
            note=where.note,
        )
        self.send(client, where, text, blocks)

    # -- entry points ---------------------------------------------------------------------------
    def on_mention(self, body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        user = event.get("user") or ""
        channel = event.get("channel") or ""
        if event.get("subtype") == "message_changed":
            log.debug("ignoring an edited message: an edit is not a new question")
            return
        if event.get("bot_id") or event.get("subtype") == "bot_message":
            log.debug("ignoring a mention by a bot (%s)", event.get("bot_id"))
            return
        if not user or not channel or not event.get("ts") or user == context.bot_user_id:
            return
        ws = workspace_of(self.services, body)
        keys = [f"mention:{channel}:{event['ts']}"]
        if body.get("event_id"):
            keys.insert(0, f"event:{body['event_id']}")
        if not insights.claim_delivery(self.sf, ws, *keys):
            log.info("mention %s in %s already answered; skipping the duplicate", event["ts"], channel)
            return
        is_dm = event.get("channel_type") == "im" or channel.startswith("D")
        thread_ts = event.get("thread_ts") if is_dm else (event.get("thread_ts") or event["ts"])
        question = parse_question(plain_text(event.get("text") or ""))
        if not question.intent:
            help_where = Where(channel, user, thread_ts, not is_dm)
            self.send(client, help_where, *build_help())
            return
        where = self.where(client, channel, user, thread_ts, is_dm=is_dm)
        if question.query:
            found = self.from_query(ws, question.query)
        else:
            parent = self.thread_parent(client, channel, event.get("thread_ts"), event["ts"])
            found = self.from_text(ws, [question.before] + ([parent] if parent else []))
        self.deliver(client, ws, where, found, question.query)

    def thread_parent(self, client: WebClient, channel: str, thread_ts: str | None, own_ts: str) -> str | None:
        """The text of the thread's first message (None at top level, or if it can't be read)."""
        if not thread_ts or thread_ts == own_ts:
            return None
        try:
            messages = client.conversations_replies(channel=channel, ts=thread_ts, limit=1).get("messages") or []
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.info("could not read thread %s in %s: %s", thread_ts, channel, exc)
            return None
        parent = next((m for m in messages if m.get("ts") == thread_ts), None)
        return message_text(parent) if parent else None

    def on_shortcut(self, ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        message = body.get("message") or {}
        channel = channel_of(body)
        user = user_of(body)
        ws = workspace_of(self.services, body)
        ts = message.get("ts") or body.get("message_ts") or ""
        stamp = body.get("action_ts") or body.get("trigger_id") or ""
        if not insights.claim_delivery(self.sf, ws, f"shortcut:{channel}:{ts}:{user}:{stamp}"):
            log.info("shortcut on %s already answered; skipping the duplicate", ts)
            return
        thread_ts = message.get("thread_ts") or ts or None
        where = self.where(client, channel, user, thread_ts, respond=respond)
        texts = [message_text(message)]
        if channel and message.get("thread_ts") and message["thread_ts"] != ts:
            parent = self.thread_parent(client, channel, message["thread_ts"], ts)
            if parent:
                texts.append(parent)
        self.deliver(client, ws, where, self.from_text(ws, texts), None)

    def on_command(self, ctx: SlashContext) -> None:
        query = " ".join(plain_text(ctx.args).split())
        if not query:
            ctx.reply("Which customer? Try `/crm who acme`.", blocks=build_help()[1])
            return
        where = Where(ctx.channel_id or None, ctx.user_id, None, True, respond=ctx.respond)
        self.deliver(ctx.client, ctx.workspace_id, where, self.from_query(ctx.workspace_id, query), query)

    def on_pick(self, ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        ack()
        raw_id, _, mode = (action.get("value") or "").partition(":")
        if not raw_id.isdigit():
            return
        ws = workspace_of(self.services, body)
        user = user_of(body)
        channel = channel_of(body)
        container = body.get("container") or {}
        message = body.get("message") or {}
        if mode == "private" or container.get("is_ephemeral") or not message.get("ts"):
            self.answer(client, ws, Where(channel, user, None, True, respond=respond, replace=True), int(raw_id))
            return
        if not insights.claim_delivery(self.sf, ws, f"pick:{channel}:{message['ts']}"):
            respond(text="Someone already picked a customer here.", response_type="ephemeral", replace_original=False)
            return
        thread_ts = container.get("thread_ts") or message.get("thread_ts") or message["ts"]
        where = self.where(client, channel, user, thread_ts, respond=respond)
        try:
            name = customer_svc.get_customer(self.sf, ws, int(raw_id)).name
        except NotFound as err:
            self.send(client, where, err.message, [_section(escape_mrkdwn(err.message))])
            return
        picker = self.services.people.get(client, ws, user).name
        text, blocks = build_picked(name, picker)
        respond(text=text, blocks=blocks, replace_original=True)
        self.answer(client, ws, where, int(raw_id))

    def on_open_card(self, ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        """The full card, to the clicker only, without touching the answer (which may be public)."""
        ack()
        value = action.get("value") or ""
        if not value.isdigit():
            return
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            card = customer_svc.customer_card(
                self.sf,
                ws,
                int(value),
                contacts=views.CARD_CONTACTS,
                deals=views.CARD_DEALS,
                activities=views.CARD_ACTIVITIES,
            )
        except NotFound as err:
            respond(text=err.message, response_type="ephemeral", replace_original=False)
            return
        tz = self.services.people.tz(client, ws, user)
        blocks = views.card_blocks(card, tz=tz, now=self.services.now(), type_label=_type_label(self.services))
        respond(text=views.card_text(card), blocks=blocks, response_type="ephemeral", replace_original=False)


def message_text(message: dict[str, Any]) -> str:
    """A message's text for finding customers: its text and its attachments' text."""
    parts = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        parts += [attachment.get(k) or "" for k in ("pretext", "title", "text", "fallback")]
    return plain_text("\n".join(p for p in parts if p))


def register(app: App, services: Services, router: CommandRouter) -> None:
    ui = WhoTalkedUI(services)
    router.add(
        "who",
        ui.on_command,
        summary="Who has talked to a customer: each rep's calls, meetings and emails, last touch and contacts.",
        example="/crm who acme",
        aliases=("whos", "who's"),
    )
    # Every mention comes here: questions get answers, anything else a short hint. An event no
    # listener takes would be answered 404, and Slack would retry it.
    app.event("app_mention")(ui.on_mention)
    app.shortcut(MESSAGE_SHORTCUT)(ui.on_shortcut)
    app.action(PICK)(ui.on_pick)
    app.action(OPEN_CARD)(ui.on_open_card)
