"""``conversations.*``: channels and DMs, creating, joining, inviting to and opening them, and reading
history and threads."""

from __future__ import annotations

import copy
import re
from typing import Any

from bot.dev.standin.server import SlackError
from bot.dev.standin.workspace import Channel, Workspace, between, paginate, truthy

_CHANNEL_NAME = re.compile(r"[a-z0-9_\-]+")


class ConversationMethods(Workspace):
    """conversations.info, list, create, invite, join, open, members, history and replies."""

    # ---------------------------------------------------------------- what Slack users do (tests)

    def archive_channel(self, channel_id: str) -> None:
        with self._lock:
            self._channels[channel_id].is_archived = True

    def rename_channel(self, channel_id: str, name: str) -> None:
        with self._lock:
            self._channels[channel_id].name = name

    def remove_bot(self, channel_id: str) -> None:
        """Someone removed the bot from the channel (``/remove @crm``)."""
        with self._lock:
            channel = self._channels[channel_id]
            channel.is_member = False
            if self.bot_user_id in channel.members:
                channel.members.remove(self.bot_user_id)

    def share_channel(self, channel_id: str) -> None:
        """The channel is now shared with another organisation (Slack Connect)."""
        with self._lock:
            self._channels[channel_id].is_ext_shared = True

    # ---------------------------------------------------------------- Web API methods

    def _api_conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("name") or "")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not _CHANNEL_NAME.fullmatch(name):
            raise SlackError("invalid_name_specials")
        if any(c.name == name for c in self._channels.values() if not c.is_im):
            raise SlackError("name_taken")
        is_private = truthy(params.get("is_private"))
        channel_id = self._mint("G" if is_private else "C")
        self.add_channel(channel_id, name=name, is_private=is_private)
        return {"channel": self._public_channel(self._channels[channel_id])}

    def _api_conversations_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        if channel.is_im or channel.is_mpim:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        if not channel.is_member:
            raise SlackError("not_in_channel")
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("no_user")
        if self.bot_user_id in users:
            raise SlackError("cant_invite_self")
        for user in users:
            found = self._user(user)
            if found.get("deleted"):
                raise SlackError("cant_invite")
        if all(u in channel.members for u in users):
            raise SlackError("already_in_channel")
        for user in users:
            if user not in channel.members:
                channel.members.append(user)
        return {"channel": self._public_channel(channel)}

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._public_channel(self._channel(params.get("channel")))}

    def _api_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = set(str(params.get("types") or "public_channel").split(","))
        exclude_archived = truthy(params.get("exclude_archived"))

        def kind(c: Channel) -> str:
            if c.is_im:
                return "im"
            if c.is_mpim:
                return "mpim"
            return "private_channel" if c.is_private else "public_channel"

        found = [
            self._public_channel(c)
            for c in self._channels.values()
            if kind(c) in types and not (exclude_archived and c.is_archived)
        ]
        page, next_cursor = paginate(found, params, "channels")
        return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"), create=True)
        if channel.is_im or channel.is_mpim or channel.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        result: dict[str, Any] = {}
        if channel.is_member:
            result = {
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.is_member = True
        if self.bot_user_id not in channel.members:
            channel.members.append(self.bot_user_id)
        return {"channel": self._public_channel(channel), **result}

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"channel": {"id": self._channel(params["channel"]).id}}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        if self.strict_channels:
            for user in users:
                self._user(user)
        if len(users) == 1:
            existing = self._dm_for(users[0])
            channel_id = self._open_dm(users[0])
            result: dict[str, Any] = {"channel": {"id": channel_id}}
            if existing:
                result.update(no_op=True, already_open=True)
            return result
        members = sorted(set(users))
        for channel in self._channels.values():
            if channel.is_mpim and sorted(set(channel.members) - {self.bot_user_id}) == members:
                return {"channel": {"id": channel.id}, "no_op": True, "already_open": True}
        channel_id = self._mint("G")
        self.add_channel(channel_id, name="mpdm-" + "--".join(members) + "-1", is_private=True, members=members)
        self._channels[channel_id].is_mpim = True
        return {"channel": {"id": channel_id}}

    def _api_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        page, next_cursor = paginate(list(channel.members), params, "members")
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params)
        top_level = [m for m in self._messages.get(channel.id, []) if m.get("thread_ts") in (None, m["ts"])]
        top_level = between(top_level, params)
        newest_first = [copy.deepcopy(m) for m in reversed(top_level)]
        page, next_cursor = paginate(newest_first, params, "history", default_limit=100)
        return {
            "messages": page,
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params)
        message = self._find(channel.id, params.get("ts"))
        if message is None:
            raise SlackError("thread_not_found")
        parent_ts = message.get("thread_ts") or message["ts"]
        thread = [
            m for m in self._messages.get(channel.id, []) if m["ts"] == parent_ts or m.get("thread_ts") == parent_ts
        ]
        thread = between(thread, params, keep_first=True)
        page, next_cursor = paginate([copy.deepcopy(m) for m in thread], params, "replies", default_limit=1000)
        return {
            "messages": page,
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }
