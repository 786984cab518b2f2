"""``auth.test``, ``team.info`` and ``users.*``: who the bot is and who is in the workspace."""

from __future__ import annotations

import copy
from typing import Any

from bot.dev.standin.server import SlackError
from bot.dev.standin.workspace import FIRST_TS, Workspace, paginate, truthy


class UserMethods(Workspace):
    """auth.test, team.info, users.info, users.list and users.lookupByEmail."""

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_team_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": "",
                "icon": {"image_default": True},
            }
        }

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = copy.deepcopy(self._user(params.get("user")))
        if not truthy(params.get("include_locale")):
            user.pop("locale", None)
        return {"user": user}

    def _api_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        include_locale = truthy(params.get("include_locale"))
        members = [copy.deepcopy(u) for u in self._users.values()]
        if not include_locale:
            for member in members:
                member.pop("locale", None)
        page, next_cursor = paginate(members, params, "users")
        return {"members": page, "cache_ts": FIRST_TS, "response_metadata": {"next_cursor": next_cursor}}

    def _api_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        email = params.get("email")
        for user in self._users.values():
            if email and user["profile"].get("email") == email:
                found = copy.deepcopy(user)
                found.pop("locale", None)
                return {"user": found}
        raise SlackError("users_not_found")
