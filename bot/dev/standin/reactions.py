"""``reactions.*``: the bot's emoji reactions on messages."""

from __future__ import annotations

from typing import Any

from bot.dev.standin.server import SlackError
from bot.dev.standin.workspace import Workspace


class ReactionMethods(Workspace):
    """reactions.add and reactions.remove, as the bot user."""

    def _api_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._find(channel.id, params.get("timestamp"))
        if message is None:
            raise SlackError("message_not_found")
        name = params.get("name")
        if not name:
            raise SlackError("invalid_name")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise SlackError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] += 1
        return {}

    def _api_reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._find(channel.id, params.get("timestamp"))
        if message is None:
            raise SlackError("message_not_found")
        reactions = message.get("reactions", [])
        reaction = next((r for r in reactions if r["name"] == params.get("name")), None)
        if reaction is None or self.bot_user_id not in reaction["users"]:
            raise SlackError("no_reaction")
        reaction["users"].remove(self.bot_user_id)
        reaction["count"] -= 1
        if not reaction["count"]:
            reactions.remove(reaction)
        return {}
