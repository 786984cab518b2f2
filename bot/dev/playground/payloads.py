"""What the page's clicks and keystrokes become: the requests Slack would send the app.

Pure functions. Each takes what the playground looked up (who acts, the channel, the message or
view, a fresh trigger id) and returns the slash-command form, event or interaction payload Slack
would send for it; :class:`bot.dev.playground.core.Playground` signs and posts them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

TOKEN = "playground-verification-token"  # the legacy verification token Slack still sends


@dataclass(frozen=True)
class Sender:
    """Who acts, and in which workspace and app, as every payload names them."""

    team_id: str
    team_domain: str
    app_id: str
    user_id: str
    user_name: str

    def base(self) -> dict[str, Any]:
        """The fields every interaction payload carries."""
        return {
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {"id": self.user_id, "username": self.user_name, "name": self.user_name, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": TOKEN,
        }


@dataclass(frozen=True)
class InMessage:
    """A message something happens on (a button in it, a shortcut on it)."""

    channel_id: str
    channel_name: str  # "directmessage" for a DM, as Slack sends it
    ts: str
    message: dict[str, Any]
    ephemeral: bool  # only the acting user sees it
    response_url: str

    def channel(self) -> dict[str, str]:
        return {"id": self.channel_id, "name": self.channel_name}


def channel_name(info: dict[str, Any]) -> str:
    """A channel's name as payloads give it."""
    return "directmessage" if info.get("is_im") else info["name"]


def channel_type(info: dict[str, Any]) -> str:
    """An event's ``channel_type``."""
    return "im" if info.get("is_im") else ("group" if info.get("is_private") else "channel")


def now_ts() -> str:
    return f"{time.time():.6f}"


def slash_command(
    sender: Sender, command: str, text: str, *, channel: dict[str, Any], response_url: str, trigger_id: str
) -> dict[str, str]:
    """The form Slack posts for ``/command text``."""
    return {
        "token": TOKEN,
        "team_id": sender.team_id,
        "team_domain": sender.team_domain,
        "channel_id": channel["id"],
        "channel_name": channel_name(channel),
        "user_id": sender.user_id,
        "user_name": sender.user_name,
        "command": command,
        "text": text,
        "api_app_id": sender.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def app_mention(
    user: str, text: str, ts: str, *, channel: dict[str, Any], team_id: str, thread_ts: str | None
) -> dict[str, Any]:
    """The event for a message that mentions the bot."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel["id"],
        "event_ts": ts,
        "team": team_id,
        "channel_type": channel_type(channel),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def app_home_opened(user: str, dm_channel: str, home: dict[str, Any] | None) -> dict[str, Any]:
    """The event for opening the app's Home tab (with the view published there, if any)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": dm_channel,
        "tab": "home",
        "event_ts": now_ts(),
    }
    if home is not None:
        event["view"] = home
    return event


def block_actions(
    sender: Sender,
    action: dict[str, Any],
    *,
    trigger_id: str,
    values: dict[str, Any] | None,
    view: dict[str, Any] | None = None,
    where: InMessage | None = None,
) -> dict[str, Any]:
    """A click or a choice in a view (``view``, its state already filled in) or in a message (``where``)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        **sender.base(),
        "trigger_id": trigger_id,
        "is_enterprise_install": False,
        "actions": [{"block_id": "b", **action, "action_ts": now_ts()}],
    }
    if view is not None:
        payload["view"] = view
        payload["container"] = {"type": "view", "view_id": view["id"]}
    elif where is not None:
        payload["channel"] = where.channel()
        payload["container"] = {
            "type": "message",
            "message_ts": where.ts,
            "channel_id": where.channel_id,
            "is_ephemeral": where.ephemeral,
        }
        if not where.ephemeral:  # Slack sends no message with a click on an ephemeral one
            payload["message"] = where.message
        payload["state"] = {"values": values or {}}
        payload["response_url"] = where.response_url
    else:
        raise ValueError("an action happens in a view or a message")
    return payload


def block_suggestion(sender: Sender, view: dict[str, Any], block_id: str, action_id: str, value: str) -> dict[str, Any]:
    """Typeahead in an external_select of ``view``."""
    return {
        "type": "block_suggestion",
        **sender.base(),
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "view": view,
        "container": {"type": "view", "view_id": view["id"]},
    }


def view_submission(sender: Sender, view: dict[str, Any], *, trigger_id: str) -> dict[str, Any]:
    return {
        "type": "view_submission",
        **sender.base(),
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
    }


def view_closed(sender: Sender, view: dict[str, Any], *, cleared: bool) -> dict[str, Any]:
    """A modal closed by the user (sent only when the view asked for ``notify_on_close``)."""
    return {"type": "view_closed", **sender.base(), "view": view, "is_cleared": cleared}


def shortcut(sender: Sender, callback_id: str, *, trigger_id: str, on: InMessage | None = None) -> dict[str, Any]:
    """A global shortcut (the ⚡ menu), or a message shortcut (a message's ⋮ menu) ``on`` a message."""
    base = {
        "callback_id": callback_id,
        **sender.base(),
        "trigger_id": trigger_id,
        "action_ts": now_ts(),
        "is_enterprise_install": False,
    }
    if on is None:
        return {**base, "type": "shortcut"}
    return {
        **base,
        "type": "message_action",
        "channel": on.channel(),
        "message": on.message,
        "message_ts": on.ts,
        "response_url": on.response_url,
    }


def encode_text(text: str, *, users: dict[str, str], channels: dict[str, str]) -> str:
    """Typed text as Slack stores it: ``&<>`` escaped, ``@name`` as ``<@U…>``, ``#name`` as
    ``<#C…|name>`` (``users`` and ``channels``: name → id)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def user_ref(match: re.Match[str]) -> str:
        user_id = users.get(match.group(1).lower())
        return f"<@{user_id}>" if user_id else match.group(0)

    def channel_ref(match: re.Match[str]) -> str:
        channel_id = channels.get(match.group(1).lower())
        return f"<#{channel_id}|{match.group(1).lower()}>" if channel_id else match.group(0)

    text = re.sub(r"(?<![\w<])@([A-Za-z][\w.-]*)", user_ref, text)
    return re.sub(r"(?<![\w&])#([a-z0-9][\w-]*)", channel_ref, text)


def escape_command_text(text: str, *, users: dict[str, str], channels: dict[str, str]) -> str:
    """Slash command text as Slack sends it for a command with ``should_escape: true`` (see
    manifest.yml): ``@name`` as ``<@U…|name>`` and ``#name`` as ``<#C…|name>``; the rest as typed."""

    def user_ref(match: re.Match[str]) -> str:
        user_id = users.get(match.group(1).lower())
        return f"<@{user_id}|{match.group(1).lower()}>" if user_id else match.group(0)

    def channel_ref(match: re.Match[str]) -> str:
        channel_id = channels.get(match.group(1).lower())
        return f"<#{channel_id}|{match.group(1).lower()}>" if channel_id else match.group(0)

    text = re.sub(r"(?<![\w<])@([A-Za-z][\w.-]*)", user_ref, text)
    return re.sub(r"(?<![\w&<])#([a-z0-9][\w-]*)", channel_ref, text)


def body_of(result: dict[str, Any]) -> dict[str, Any]:
    """The app's JSON answer in a posted result, or {} when it answered something else."""
    body = result.get("body")
    return body if isinstance(body, dict) else {}
