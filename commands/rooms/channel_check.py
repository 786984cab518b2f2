"""The channel a command ran in, checked before linking it or subscribing it to alerts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from commands.request import Request
from crm.errors import CRMError, InvalidInput

log = logging.getLogger(__name__)


def slack_error(exc: SlackApiError) -> str:
    """Slack's error name (``name_taken``), or ``http 502`` for an answer that isn't one (an HTML
    error page must never be shown: it could read as Slack markup)."""
    status = exc.response.status_code
    error = exc.response.get("error") if status < 500 else None
    return error if isinstance(error, str) and error.isidentifier() else f"http {status}"


@dataclass(frozen=True)
class ChannelFacts:
    name: str | None
    shared: bool


def channel_facts(req: Request) -> ChannelFacts:
    """The channel the command ran in, checked: a channel (not a DM), not archived, the bot in it
    (joining a public one itself). Raises a CRMError saying what to do otherwise."""
    channel = req.channel_id
    if not channel or channel[0] not in "CG":
        raise InvalidInput("Run this in a channel, not in a direct message.")
    try:
        info = req.client.conversations_info(channel=channel)["channel"]
    except SlackApiError as exc:
        if exc.response.get("error") == "channel_not_found":
            raise InvalidInput(
                "I can't see this channel (it is private and I'm not in it). Invite me with `/invite @crm` first."
            ) from None
        raise CRMError(
            "Slack didn't tell me about this channel just now. Nothing was changed; please try again."
        ) from None
    if info.get("is_im") or info.get("is_mpim"):
        raise InvalidInput("Run this in a channel, not in a direct message.")
    if info.get("is_archived"):
        raise InvalidInput("This channel is archived; link a live channel.")
    if not info.get("is_member"):
        if info.get("is_private"):
            raise InvalidInput("I'm not in this private channel. Invite me with `/invite @crm`, then try again.")
        try:
            req.client.conversations_join(channel=channel)
        except SlackApiError as exc:
            log.info("could not join %s: %s", channel, exc.response.get("error"))
            raise InvalidInput("I couldn't join this channel. Invite me with `/invite @crm`, then try again.") from None
    shared = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared") or info.get("is_shared"))
    return ChannelFacts(info.get("name"), shared)
