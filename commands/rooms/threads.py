"""`@crm log [type] [summary]` in a thread of a linked channel: the thread becomes an activity.

The thread is read with ``conversations.replies`` page by page, at most :data:`MAX_MESSAGES`
messages (a longer thread is logged with a note and its permalink leads to the rest). Everyone
who wrote in it is credited (who's talked counts them). Without a type, buttons ask for one.
A thread is logged once (its key is the channel and the thread's ts).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from commands.request import Request
from commands.rooms import views
from commands.rooms.channel_check import slack_error
from commands.whos_talked.questions import plain_text
from crm import channels
from crm.errors import CRMError

log = logging.getLogger(__name__)

MAX_MESSAGES = 1000
PAGE = 200
SUMMARY_CHARS = 1500
_LOG = re.compile(r"(?i)^\s*log(?:\s+(?:this|the))?(?:\s+thread)?\b[\s:,-]*(.*)$", re.DOTALL)


def log_request(text: str) -> str | None:
    """The words after ``log`` when a mention asks to log the thread (mentions already dropped), else None."""
    match = _LOG.match(text or "")
    return match.group(1).strip() if match else None


@dataclass(frozen=True)
class Thread:
    messages: list[dict[str, Any]]
    capped: bool

    @property
    def participants(self) -> list[str]:
        return [m["user"] for m in self.messages if isinstance(m.get("user"), str) and not m.get("bot_id")]

    @property
    def last_at(self) -> datetime:
        stamps = [float(m["ts"]) for m in self.messages if _is_ts(m.get("ts"))]
        return datetime.fromtimestamp(max(stamps), UTC) if stamps else datetime.now(UTC)


def _is_ts(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"\d{1,12}\.\d{1,6}", value))


def read_thread(req: Request, channel: str, thread_ts: str) -> Thread:
    """The thread's messages, paged, at most :data:`MAX_MESSAGES`."""
    messages: list[dict[str, Any]] = []
    cursor = None
    while len(messages) < MAX_MESSAGES:
        try:
            page = req.client.conversations_replies(
                channel=channel, ts=thread_ts, limit=min(PAGE, MAX_MESSAGES - len(messages)), cursor=cursor
            )
        except SlackApiError as exc:
            error = slack_error(exc)
            log.info("could not read thread %s in %s: %s", thread_ts, channel, error)
            if error in ("not_in_channel", "channel_not_found"):
                raise CRMError(
                    "I can't read this channel's threads: invite me with `/invite @crm`.", formatted=True
                ) from None
            raise CRMError(
                f"Slack didn't let me read the thread (`{error}`). Nothing was logged; try again.", formatted=True
            ) from None
        except (SlackClientError, OSError) as exc:
            log.info("could not read thread %s in %s: %s", thread_ts, channel, exc)
            raise CRMError("Slack didn't answer when I read the thread. Nothing was logged; try again.") from None
        messages += [m for m in page.get("messages") or [] if isinstance(m, dict)]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return Thread(messages, False)
    return Thread(messages[:MAX_MESSAGES], True)


def _permalink(req: Request, channel: str, ts: str) -> str | None:
    try:
        return req.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("no permalink for %s/%s: %s", channel, ts, exc)
        return None


def _summary(words: str, thread: Thread, names: list[str]) -> str:
    first = next((plain_text(m.get("text") or "") for m in thread.messages if m.get("text")), "")
    head = words or first or "A Slack thread"
    people = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    tail = f"\n\nSlack thread: {len(thread.messages):,} messages" + (f" with {people}" if people else "")
    if thread.capped:
        tail += f" (the first {MAX_MESSAGES:,} read)"
    return head[:SUMMARY_CHARS] + tail


def answer(req: Request, channel: str, thread_ts: str, text: str, *, public: bool) -> None:
    """In the thread when public, else to the asker only."""
    try:
        if public:
            req.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        else:
            req.client.chat_postEphemeral(channel=channel, user=req.user_id, thread_ts=thread_ts, text=text)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("could not answer in %s: %s", channel, exc)


def log_thread(req: Request, channel: str, thread_ts: str, type_key: str, words: str) -> str:
    """Log the thread on the channel's linked record; the sentence to answer with."""
    link = channels.link_of(req.sf, req.workspace_id, channel)
    if link is None:
        return views.NOT_LINKED
    thread = read_thread(req, channel, thread_ts)
    participants = channels.clean_participants([*thread.participants, req.user_id])
    names = [req.name_of(u) for u in participants[:11]]
    logged = channels.log_thread(
        req.sf,
        req.workspace_id,
        link.link,
        types=req.config.types,
        actor=req.actor,
        type_key=type_key,
        summary=_summary(words, thread, names),
        occurred_at=thread.last_at,
        permalink=_permalink(req, channel, thread_ts),
        participants=participants,
        thread_ts=thread_ts,
        now=req.now,
    )
    return views.thread_logged(
        link.record_name,
        req.config.type_label(logged.activity.type_key),
        messages=len(thread.messages),
        people=len(participants),
        capped=MAX_MESSAGES if thread.capped else None,
        permalink=logged.activity.permalink,
        created=logged.created,
    )


def on_log_mention(req: Request, event: dict[str, Any], words: str) -> None:
    """The mention asked to log its thread (claimed already by the mention handler)."""
    channel = event["channel"]
    thread_ts = event.get("thread_ts") if isinstance(event.get("thread_ts"), str) else None
    link = channels.link_of(req.sf, req.workspace_id, channel)
    public = link is not None and not link.link.is_shared
    if not thread_ts or thread_ts == event.get("ts"):
        answer(req, channel, event["ts"], views.NOT_IN_THREAD, public=False)
        return
    if link is None:
        answer(req, channel, thread_ts, views.NOT_LINKED, public=False)
        return
    first, _, rest = words.partition(" ")
    picked = req.config.types.resolve(first) if first else None
    if picked is None:
        text, blocks = views.ask_type(
            [(t.key, t.display) for t in req.config.types.types], channel=channel, thread_ts=thread_ts, summary=words
        )
        try:
            req.client.chat_postEphemeral(
                channel=channel, user=req.user_id, thread_ts=thread_ts, text=text, blocks=blocks
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.info("could not ask for the type in %s: %s", channel, exc)
        return
    try:
        text = log_thread(req, channel, thread_ts, picked.key, rest.strip())
    except CRMError as err:
        answer(req, channel, thread_ts, err.message, public=False)
        return
    answer(req, channel, thread_ts, text, public=public)


def on_type_picked(req: Request) -> None:
    """A type button under "@crm log": log the thread with that type, and say so in place."""
    try:
        value = json.loads(req.value)
        channel, thread_ts, key, words = str(value["c"]), str(value["t"]), str(value["k"]), str(value.get("s", ""))
    except (ValueError, KeyError, TypeError):
        req.reply("That button is out of date; mention me with `@crm log` again.", replace=True)
        return
    if not _is_ts(thread_ts) or channel != req.channel_id:
        req.reply("That button is out of date; mention me with `@crm log` again.", replace=True)
        return
    text = log_thread(req, channel, thread_ts, key, words)
    req.reply(text, replace=True)
    link = channels.link_of(req.sf, req.workspace_id, channel)
    if link is not None and not link.link.is_shared and text.startswith(":white_check_mark:"):
        answer(req, channel, thread_ts, text, public=True)
