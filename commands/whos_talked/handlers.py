"""“Who's talked to this customer?”: the mention, the message shortcut, `/crm who`, and the buttons.

Each entry point works out *where* the answer goes (:func:`where_to_answer`: the thread, or
privately when the channel is shared with another organisation or its sharing can't be
checked), *which customer* it is about (``questions``), and sends ``views``' answer there
(:func:`send`). Every mention, shortcut delivery and public pick is claimed in
``processed_events`` before it is answered, so it is answered once on any replica.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError, SlackClientError

from commands import request
from commands.blockkit import context
from commands.common import as_id
from commands.customers import card as customer_card
from commands.request import Request
from commands.rooms import threads
from commands.router import CUSTOMERS, CommandRouter
from commands.whos_talked import views
from commands.whos_talked.questions import Found, from_query, from_text, message_text, parse_question, plain_text
from crm import customers as customer_svc
from crm import insights
from crm.slack_ids import is_user_id

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DUPLICATE = "already answered; skipping the duplicate"  # logged for every delivery seen before
PICKED_ALREADY = "Someone already picked a customer here."


@dataclass(frozen=True)
class Where:
    """The conversation and thread of the answer, and whether it must stay private."""

    channel: str | None
    thread_ts: str | None
    private: bool
    note: str | None = None  # why it is private, shown with the answer
    replace: bool = False  # replace the message that held the clicked button


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# -- privacy and sending ------------------------------------------------------------------------------
def where_to_answer(req: Request, channel: str | None, thread_ts: str | None, *, is_dm: bool = False) -> Where:
    """Public in the thread, unless the channel is shared with another organisation (Slack
    Connect) or its sharing can't be checked: then privately, with the reason."""
    if not channel:
        return Where(None, None, True)
    if is_dm or channel.startswith("D"):
        return Where(channel, thread_ts, False)
    try:
        info = req.client.conversations_info(channel=channel)["channel"]
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("conversations.info %s failed (%s): answering privately", channel, exc)
        return Where(channel, thread_ts, True, views.UNCHECKED_NOTE)
    if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
        return Where(channel, thread_ts, True, views.SHARED_NOTE)
    return Where(channel, thread_ts, False)


def send(req: Request, where: Where, text: str, blocks: list[dict[str, Any]]) -> None:
    """Post in the thread when public; else privately: through the request's response URL,
    an ephemeral message in the thread, or a DM, whichever works first."""
    if not where.private and where.channel:
        try:
            req.client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts, text=text, blocks=blocks)
            return
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.info("could not answer in %s (%s); answering privately", where.channel, error)
            if error in ("not_in_channel", "channel_not_found"):
                blocks = [*blocks, context(views.NOT_IN_CHANNEL_NOTE)]
    if req.respond is not None and req.body.get("response_url"):
        req.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=where.replace)
        return
    if where.channel:
        try:
            req.client.chat_postEphemeral(
                channel=where.channel, user=req.user_id, thread_ts=where.thread_ts, text=text, blocks=blocks
            )
            return
        except SlackApiError as exc:
            log.info("ephemeral to %s in %s failed (%s); sending a DM", req.user_id, where.channel, exc)
    try:
        req.client.chat_postMessage(channel=req.user_id, text=text, blocks=blocks)
    except SlackApiError as exc:
        log.warning("could not reach %s: %s", req.user_id, exc.response.get("error"))


# -- answering ----------------------------------------------------------------------------------------
def deliver(req: Request, where: Where, found: Found, query: str | None) -> None:
    if found.customer_id is not None:
        answer(req, where, found.customer_id)
    elif found.candidates:
        send(req, where, *views.build_pick(found.candidates, private=where.private, note=where.note))
    else:
        send(req, where, *views.build_not_found(query, note=where.note))


def answer(req: Request, where: Where, customer_id: int) -> None:
    """Who has talked to the customer, with people named (never pinged) and times in the asker's zone."""
    summary = insights.who_talked(
        req.sf, req.workspace_id, customer_id, limit=views.REPS_SHOWN, contacts_per_rep=views.CONTACTS_PER_REP
    )
    people = {r.rep for r in summary.reps} | {summary.owner_user_id or ""}
    names = {uid: req.name_of(uid) for uid in people if is_user_id(uid)}
    text, blocks = views.build_answer(
        summary, names=names, type_label=req.config.type_label, tz=req.tz, now=req.now, note=where.note
    )
    send(req, where, text, blocks)


def thread_parent(req: Request, channel: str, thread_ts: str | None, own_ts: str) -> str | None:
    """The text of the thread's first message (None at top level, or if it can't be read)."""
    if not thread_ts or thread_ts == own_ts:
        return None
    try:
        messages = req.client.conversations_replies(channel=channel, ts=thread_ts, limit=1).get("messages") or []
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("could not read thread %s in %s: %s", thread_ts, channel, exc)
        return None
    parent = next((m for m in messages if m.get("ts") == thread_ts), None)
    return message_text(parent) if parent else None


# -- @crm who's talked to Acme? -----------------------------------------------------------------------
def _ignored(event: dict[str, Any]) -> str | None:
    """Why a mention gets no answer at all, or None when it gets one."""
    if event.get("subtype") == "message_changed":
        return "an edited message: an edit is not a new question"
    if event.get("bot_id") or event.get("subtype") == "bot_message":
        return f"a mention by a bot ({_text(event.get('bot_id'))[:20]})"
    if not _text(event.get("user")) or not _text(event.get("channel")) or not _text(event.get("ts")):
        return "a mention without a user, channel or time"
    return None  # the bot's own messages never get here: Bolt drops them before any listener


def on_mention(req: Request) -> None:
    event = req.event
    why = _ignored(event)
    if why:
        log.info("ignoring %s", why)
        return
    # An event names its asker and channel inside the event: answer them.
    req.user_id, req.channel_id = event["user"], event["channel"]
    channel, ts = event["channel"], event["ts"]
    keys = [f"mention:{channel}:{ts}"]
    if _text(req.body.get("event_id")):
        keys.insert(0, f"event:{req.body['event_id']}")
    if not insights.claim_delivery(req.sf, req.workspace_id, *keys):
        log.info("mention %s in %s %s", ts, channel, DUPLICATE)
        return
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    words = threads.log_request(plain_text(_text(event.get("text"))))
    if words is not None and not is_dm:  # "@crm log [type]": log this thread (commands/rooms/threads.py)
        threads.on_log_mention(req, event, words)
        return
    parent_ts = _text(event.get("thread_ts")) or None
    thread_ts = parent_ts if is_dm else (parent_ts or ts)
    question = parse_question(plain_text(_text(event.get("text"))))
    if not question.intent:
        send(req, Where(channel, thread_ts, not is_dm), *views.build_help())
        return
    where = where_to_answer(req, channel, thread_ts, is_dm=is_dm)
    if where.private and parent_ts is None:
        # Asked in the channel itself: a private answer in the question's thread would be seen
        # only by opening that thread, so it goes where the asker is looking.
        where = replace(where, thread_ts=None)
    if question.query:
        found = from_query(req.services, req.workspace_id, question.query)
    else:
        parent = thread_parent(req, channel, parent_ts, ts)
        found = from_text(req.services, req.workspace_id, [question.before] + ([parent] if parent else []))
    deliver(req, where, found, question.query)


# -- the message shortcut -----------------------------------------------------------------------------
def on_shortcut(req: Request) -> None:
    message = req.body.get("message")
    message = message if isinstance(message, dict) else {}
    channel = req.channel_id
    ts = _text(message.get("ts")) or _text(req.body.get("message_ts"))
    stamp = _text(req.body.get("action_ts")) or req.trigger_id
    if not insights.claim_delivery(req.sf, req.workspace_id, f"shortcut:{channel}:{ts}:{req.user_id}:{stamp}"):
        log.info("shortcut on %s %s", ts, DUPLICATE)
        return
    parent_ts = _text(message.get("thread_ts"))
    where = where_to_answer(req, channel, parent_ts or ts or None)
    texts = [message_text(message)]
    if channel and parent_ts and parent_ts != ts:
        parent = thread_parent(req, channel, parent_ts, ts)
        if parent:
            texts.append(parent)
    deliver(req, where, from_text(req.services, req.workspace_id, texts), None)


# -- /crm who <customer> ------------------------------------------------------------------------------
def on_command(req: Request) -> None:
    query = " ".join(plain_text(req.args).split())
    if not query:
        req.reply("Which customer? Try `/crm who acme`.", blocks=views.build_help()[1])
        return
    where = Where(req.channel_id, None, True)
    deliver(req, where, from_query(req.services, req.workspace_id, query), query)


# -- buttons ------------------------------------------------------------------------------------------
def on_pick(req: Request) -> None:
    """A "This one" button: privately in place, or (once) in the thread the list was posted in."""
    raw_id, _, mode = req.value.partition(":")
    customer_id = as_id(raw_id) or 0  # a forged id is no customer: NotFound, said privately
    message = req.body.get("message")
    message = message if isinstance(message, dict) else {}
    message_ts = _text(message.get("ts"))
    if mode == "private" or req.container.get("is_ephemeral") or not message_ts:
        answer(req, Where(req.channel_id, None, True, replace=True), customer_id)
        return
    name = customer_svc.get_customer(req.sf, req.workspace_id, customer_id).name
    if not insights.claim_delivery(req.sf, req.workspace_id, f"pick:{req.channel_id}:{message_ts}"):
        req.reply(PICKED_ALREADY)
        return
    thread_ts = _text(req.container.get("thread_ts")) or _text(message.get("thread_ts")) or message_ts
    where = where_to_answer(req, req.channel_id, thread_ts)
    if req.respond is not None:
        text, blocks = views.build_picked(name, req.name_of(req.user_id))
        req.respond(text=text, blocks=blocks, replace_original=True)
    answer(req, where, customer_id)


def on_open_card(req: Request) -> None:
    """The full card, to the clicker only, without touching the answer (which may be public)."""
    card, blocks = customer_card(req, req.value_id or 0)
    req.reply(views.card_text(card.customer.name), blocks)


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "who",
        on_command,
        summary="Who has talked to a customer: each rep's calls, meetings and emails, last touch and contacts.",
        example="/crm who acme",
        aliases=("whos", "who's"),
        topic=CUSTOMERS,
    )
    # Every mention comes here: questions get answers, anything else a short hint. An event no
    # listener takes would be answered 404, and Slack would retry it.
    request.event(app, "app_mention", on_mention)
    request.shortcut(app, views.MESSAGE_SHORTCUT, on_shortcut)
    request.action(app, views.PICK, on_pick)
    request.action(app, views.OPEN_CARD, on_open_card)
