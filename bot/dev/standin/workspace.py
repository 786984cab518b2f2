"""What the stand-in's workspace holds (users, channels, messages, views, files) and the rules every family shares.

:class:`Workspace` adds the state and the seeding methods tests use (``add_user``,
``add_channel``) to :class:`~bot.dev.standin.server.StandInServer`, with what more than one API
family needs: finding a channel the way Slack does (by id or name, DMs by user id), storing and
deleting messages and threads, and checking every payload's Block Kit with
:mod:`bot.dev.blockkit_check`. The families (``chat``, ``conversations``, ``views``, ...) each
add their ``_api_*`` methods on top of it.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.dev.blockkit_check import validate_message, validate_message_blocks
from bot.dev.standin.server import SlackError, StandInServer
from commands.blockkit import MESSAGE_TEXT_MAX

FIRST_TS = 1_700_000_000


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_ext_shared: bool = False
    is_member: bool = True
    is_im: bool = False
    is_mpim: bool = False
    is_archived: bool = False
    user: str | None = None  # the other side of a DM
    members: list[str] = field(default_factory=list)


@dataclass
class ResponseUrl:
    channel: str | None
    message_ts: str | None
    user: str | None


class Workspace(StandInServer):
    """One Slack workspace with the bot installed: the state behind every Web API family."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        team_id: str = "T0TEST",
        team_name: str = "Test Workspace",
        team_domain: str = "test-workspace",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        bot_name: str = "crm",
        strict_channels: bool = False,
        chat_write_public: bool = True,
    ) -> None:
        """``strict_channels=False`` creates unknown ``C``/``G``/``D`` channels on first post (and
        DMs with unknown users); ``True`` answers ``channel_not_found`` as Slack does.
        ``chat_write_public=True`` lets the bot post in public channels it hasn't joined (the
        ``chat:write.public`` scope); otherwise that is ``not_in_channel``."""
        super().__init__(host, port)
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.strict_channels = strict_channels
        self.chat_write_public = chat_write_public
        self._ts_counter = 0
        self._id_counter = 0
        self._clear()

    def _clear(self) -> None:
        super()._clear()
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemeral: dict[str, list[dict[str, Any]]] = {}
        self._scheduled: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._home: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self._files: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self.add_user(self.bot_user_id, name=self.bot_name, is_bot=True)

    # ---------------------------------------------------------------- what the workspace holds

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages now in ``channel`` (after updates and deletes), thread replies included,
        oldest first. ``channel`` may be a user id for the bot's DM with that user."""
        with self._lock:
            channel_id = self._dm_for(channel) if is_user_id(channel) else channel
            return copy.deepcopy(self._messages.get(channel_id or "", []))

    def ephemeral_messages(self, channel: str, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and response_url) shown in ``channel``, each
        with the ``recipient`` who saw it; ``user`` keeps only those shown to that user."""
        with self._lock:
            found = self._ephemeral.get(channel, [])
            return copy.deepcopy([m for m in found if user is None or m.get("recipient") == user])

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The latest version of a view opened, pushed, updated or published."""
        with self._lock:
            return copy.deepcopy(self._views.get(view_id))

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for ``user_id``."""
        with self._lock:
            view_id = self._home.get(user_id)
            return copy.deepcopy(self._views.get(view_id)) if view_id else None

    def users(self) -> list[dict[str, Any]]:
        """Every user the stand-in knows (a snapshot), the bot included."""
        with self._lock:
            return copy.deepcopy(list(self._users.values()))

    def channels(self) -> list[dict[str, Any]]:
        """Every channel and DM as ``conversations.info`` shows it, plus its ``members``."""
        with self._lock:
            return [
                {**self._public_channel(c), "name": c.name, "members": list(c.members)} for c in self._channels.values()
            ]

    # ---------------------------------------------------------------- seeding the workspace

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        tz: str = "America/Los_Angeles",
        tz_offset: int | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        locale: str = "en-US",
        email: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a user; ``tz_offset`` defaults to the zone's current UTC offset."""
        real_name = real_name if real_name is not None else name
        zone_label, zone_offset = _zone_facts(tz)
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name if display_name is not None else name,
            "display_name_normalized": display_name if display_name is not None else name,
            "status_text": "",
            "status_emoji": "",
            "image_24": f"https://avatars.example/{user_id}_24.png",
            "image_48": f"https://avatars.example/{user_id}_48.png",
            "image_72": f"https://avatars.example/{user_id}_72.png",
            "image_192": f"https://avatars.example/{user_id}_192.png",
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else f"B{user_id[1:]}"
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": zone_label,
            "tz_offset": tz_offset if tz_offset is not None else zone_offset,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": FIRST_TS,
            "locale": locale,
        }
        with self._lock:
            self._users[user_id] = user
            return copy.deepcopy(user)

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_private: bool = False,
        is_ext_shared: bool = False,
        is_member: bool = True,
        is_im: bool = False,
        is_archived: bool = False,
        members: list[str] | None = None,
        user: str | None = None,
    ) -> None:
        """Add (or replace) a channel. The bot is a member when ``is_member``; ``members`` lists
        the others. For a DM (``is_im``) give the other side as ``user``."""
        member_list = list(members or [])
        if user and user not in member_list:
            member_list.append(user)
        if is_member and self.bot_user_id not in member_list:
            member_list.append(self.bot_user_id)
        with self._lock:
            self._channels[channel_id] = Channel(
                id=channel_id,
                name=name,
                is_private=is_private or is_im,
                is_ext_shared=is_ext_shared,
                is_member=is_member,
                is_im=is_im,
                is_archived=is_archived,
                user=user,
                members=member_list,
            )
            self._messages.setdefault(channel_id, [])

    # ---------------------------------------------------------------- helpers for the methods

    def _next_n(self) -> int:
        self._ts_counter += 100
        return self._ts_counter

    def _new_ts(self) -> str:
        n = self._next_n()
        return f"{FIRST_TS + n // 1_000_000}.{n % 1_000_000:06d}"

    def _mint(self, prefix: str) -> str:
        self._id_counter += 1
        return f"{prefix}{self._id_counter:08X}"

    def _dm_for(self, user_id: str) -> str | None:
        for channel in self._channels.values():
            if channel.is_im and channel.user == user_id:
                return channel.id
        return None

    def _open_dm(self, user_id: str) -> str:
        """The bot's DM with ``user_id``, opened when there is none yet."""
        existing = self._dm_for(user_id)
        if existing is not None:
            return existing
        channel_id = self._mint("D")
        self.add_channel(channel_id, name=user_id, is_im=True, user=user_id)
        return channel_id

    def _channel(self, channel_id: Any, *, create: bool = False) -> Channel:
        """The channel with this id (or name); creates unknown ones when not strict."""
        if not isinstance(channel_id, str) or not channel_id:
            raise SlackError("channel_not_found")
        if is_user_id(channel_id):
            if self.strict_channels and channel_id not in self._users:
                raise SlackError("channel_not_found")
            dm = self._open_dm(channel_id) if create else self._dm_for(channel_id)
            if dm is None:
                raise SlackError("channel_not_found")
            return self._channels[dm]
        found = self._channels.get(channel_id)
        if found is None:
            wanted = channel_id.lstrip("#")
            found = next((c for c in self._channels.values() if c.name == wanted), None)
        if found is None:
            if not create or self.strict_channels or channel_id[0] not in "CGD":
                raise SlackError("channel_not_found")
            is_im = channel_id.startswith("D")
            self.add_channel(channel_id, name=channel_id.lower(), is_im=is_im)
            found = self._channels[channel_id]
        return found

    def _postable(self, params: dict[str, Any]) -> Channel:
        channel = self._channel(params.get("channel"), create=True)
        if channel.is_archived:
            raise SlackError("is_archived")
        if not channel.is_member and (channel.is_private or not self.chat_write_public):
            raise SlackError("not_in_channel")
        return channel

    def _readable(self, params: dict[str, Any]) -> Channel:
        channel = self._channel(params.get("channel"))
        if not channel.is_member:
            raise SlackError("not_in_channel")
        return channel

    def _check_message(self, method: str, payload: dict[str, Any], *, require_content: bool = True) -> None:
        problems = validate_message(payload)
        self._block_errors.extend(f"{method}: {p}" for p in problems)
        rejected = validate_message_blocks(payload)
        if rejected:
            raise SlackError(
                "invalid_blocks",
                errors=rejected,
                response_metadata={"messages": [f"[ERROR] {p}" for p in rejected]},
            )
        if require_content and not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
            raise SlackError("no_text")

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "text": (params.get("text") or "")[:MESSAGE_TEXT_MAX],  # Slack truncates, too
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
        }
        for key in ("blocks", "attachments", "metadata", "username", "icon_emoji", "icon_url"):
            if params.get(key) is not None:
                message[key] = copy.deepcopy(params[key])
        return message

    def _store_message(self, channel_id: str, message: dict[str, Any], thread_ts: str | None) -> dict[str, Any]:
        message["ts"] = self._new_ts()
        stored = self._messages.setdefault(channel_id, [])
        if thread_ts:
            message["thread_ts"] = thread_ts
            parent = self._find(channel_id, thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                if message.get("user") and message["user"] not in users:
                    users.append(message["user"])
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = message["ts"]
        stored.append(message)
        return message

    def _find(self, channel_id: str, ts: Any) -> dict[str, Any] | None:
        return next((m for m in self._messages.get(channel_id, []) if m["ts"] == ts), None)

    def _delete(self, channel_id: str, message: dict[str, Any]) -> None:
        if message.get("reply_count"):
            # Slack keeps a thread's parent as a tombstone so the replies stay reachable.
            for key in ("blocks", "attachments", "bot_id", "app_id", "metadata", "edited"):
                message.pop(key, None)
            message.update(subtype="tombstone", text="This message was deleted.", user="USLACKBOT")
            return
        self._messages[channel_id].remove(message)
        parent_ts = message.get("thread_ts")
        if parent_ts and parent_ts != message["ts"]:
            parent = self._find(channel_id, parent_ts)
            if parent is not None and parent.get("reply_count"):
                parent["reply_count"] -= 1

    def _public_channel(self, channel: Channel) -> dict[str, Any]:
        if channel.is_im:
            return {
                "id": channel.id,
                "created": FIRST_TS,
                "is_im": True,
                "is_org_shared": False,
                "user": channel.user,
                "is_user_deleted": bool(self._users.get(channel.user or "", {}).get("deleted")),
                "context_team_id": self.team_id,
            }
        return {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private and not channel.is_mpim,
            "is_group": channel.is_private and not channel.is_mpim,
            "is_im": False,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private,
            "is_archived": channel.is_archived,
            "is_general": False,
            "is_member": channel.is_member,
            "is_shared": channel.is_ext_shared,
            "is_ext_shared": channel.is_ext_shared,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "created": FIRST_TS,
            "creator": "",
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(channel.members),
        }

    def _user(self, user_id: Any) -> dict[str, Any]:
        user = self._users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise SlackError("user_not_found")
        return user


def is_user_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) > 1 and value[0] in "UW" and value[1:].isalnum()


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _zone_facts(tz: str) -> tuple[str, int]:
    try:
        now = dt.datetime.now(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return tz, 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


def between(
    messages: list[dict[str, Any]], params: dict[str, Any], *, keep_first: bool = False
) -> list[dict[str, Any]]:
    """Apply ``oldest`` / ``latest`` / ``inclusive`` (ts strings compare as numbers)."""
    oldest = float(params.get("oldest") or 0)
    latest = float(params.get("latest") or "inf")
    inclusive = truthy(params.get("inclusive"))

    def inside(m: dict[str, Any]) -> bool:
        ts = float(m["ts"])
        return oldest <= ts <= latest if inclusive else oldest < ts < latest

    return [m for i, m in enumerate(messages) if (keep_first and i == 0) or inside(m)]


def paginate(items: list[Any], params: dict[str, Any], kind: str, default_limit: int = 0) -> tuple[list[Any], str]:
    """Cursor pagination: ``limit`` and an opaque ``cursor``; returns (page, next_cursor)."""
    try:
        start = int(base64.b64decode(params["cursor"]).decode().split(":")[1]) if params.get("cursor") else 0
    except (ValueError, IndexError):
        raise SlackError("invalid_cursor") from None
    limit = int(params.get("limit") or default_limit or len(items) or 1)
    page = items[start : start + limit]
    end = start + limit
    next_cursor = base64.b64encode(f"{kind}:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
