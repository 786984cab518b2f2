"""``chat.*``: posting, updating, deleting and scheduling the bot's messages (and seeding other people's)."""

from __future__ import annotations

import copy
import time
from typing import Any

from bot.dev.standin.server import SlackError
from bot.dev.standin.workspace import Channel, Workspace, is_user_id


class ChatMethods(Workspace):
    """chat.postMessage, postEphemeral, update, delete, getPermalink, scheduleMessage and friends."""

    def post_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Seed a message as if ``user`` had posted it (no call is recorded). Unknown channels are
        created. Returns the stored message, whose ``ts`` is what Slack would have given it."""
        with self._lock:
            channel_id = self._open_dm(channel) if is_user_id(channel) else channel
            if channel_id not in self._channels:
                self.add_channel(channel_id, name=channel_id.lower())
            message: dict[str, Any] = {"type": "message", "user": user, "text": text}
            if user == self.bot_user_id:
                message.update(bot_id=self.bot_id, app_id=self.app_id)
            if blocks is not None:
                message["blocks"] = copy.deepcopy(blocks)
            stored = self._store_message(channel_id, message, thread_ts)
            return copy.deepcopy(stored)

    # ---------------------------------------------------------------- Web API methods

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params)
        self._check_message("chat.postMessage", params)
        thread_ts = params.get("thread_ts") or None
        message = self._store_message(channel.id, self._bot_message(params), thread_ts)
        return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params)
        user = params.get("user")
        if not user:
            raise SlackError("user_not_found")
        if self.strict_channels:
            self._user(user)
        self._check_message("chat.postEphemeral", params)
        message = self._bot_message(params)
        message.update(ts=self._new_ts(), recipient=user)
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        self._ephemeral.setdefault(channel.id, []).append(message)
        return {"message_ts": message["ts"]}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._own_message(channel, params.get("ts"), "cant_update_message")
        self._check_message("chat.update", params)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = copy.deepcopy(params[key])
        message["edited"] = {"user": self.bot_user_id, "ts": self._new_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _api_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._own_message(channel, params.get("ts"), "cant_delete_message")
        self._delete(channel.id, message)
        return {"channel": channel.id, "ts": params["ts"]}

    def _api_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._find(channel.id, params.get("message_ts"))
        if message is None:
            raise SlackError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{message['ts'].replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _api_chat_scheduleMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params)
        try:
            post_at = int(params["post_at"])
        except (KeyError, TypeError, ValueError):
            raise SlackError("invalid_time") from None
        now = time.time()
        if post_at <= now:
            raise SlackError("time_in_past")
        if post_at > now + 120 * 86400:
            raise SlackError("time_too_far")
        self._check_message("chat.scheduleMessage", params)
        message = self._bot_message(params)
        scheduled = {
            "id": self._mint("Q"),
            "channel_id": channel.id,
            "post_at": post_at,
            "date_created": int(now),
            "text": message["text"],
            "message": message,
        }
        if params.get("thread_ts"):
            scheduled["thread_ts"] = params["thread_ts"]
        self._scheduled.append(scheduled)
        return {
            "channel": channel.id,
            "scheduled_message_id": scheduled["id"],
            "post_at": post_at,
            "message": copy.deepcopy(message),
        }

    def _api_chat_deleteScheduledMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("scheduled_message_id")
        found = next((s for s in self._scheduled if s["id"] == wanted), None)
        if found is None:
            raise SlackError("invalid_scheduled_message_id")
        self._scheduled.remove(found)
        return {}

    def _api_chat_scheduledMessages_list(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        found = [
            {k: s[k] for k in ("id", "channel_id", "post_at", "date_created", "text")}
            for s in self._scheduled
            if not channel or s["channel_id"] == channel
        ]
        return {"scheduled_messages": found, "response_metadata": {"next_cursor": ""}}

    def _own_message(self, channel: Channel, ts: Any, refusal: str) -> dict[str, Any]:
        message = self._find(channel.id, ts)
        if message is None:
            raise SlackError("message_not_found")
        if message.get("user") != self.bot_user_id and message.get("bot_id") != self.bot_id:
            raise SlackError(refusal)
        return message
