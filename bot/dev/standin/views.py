"""``views.*``: modals (open, push, update) and the App Home (publish), each checked like Slack checks them."""

from __future__ import annotations

import copy
from typing import Any

from bot.dev.blockkit_check import validate_view
from bot.dev.standin.server import SlackError
from bot.dev.standin.workspace import FIRST_TS, Workspace


class ViewMethods(Workspace):
    """views.open, push, update and publish, one-use trigger_ids, and view_submission's response_action."""

    def view_response(self, view_id: str, response_action: str, view: dict[str, Any]) -> dict[str, Any]:
        """Do what Slack does with a view_submission answered by ``response_action`` ``"update"``
        (the submitted view ``view_id`` becomes ``view``) or ``"push"`` (``view`` goes on top of it).
        The view is checked like a ``views.*`` call; a broken one raises ``ValueError``."""
        if response_action not in ("update", "push"):
            raise ValueError(f"response_action must be update or push, not {response_action!r}")
        with self._lock:
            stored = self._views.get(view_id)
            if stored is None:
                raise ValueError(f"no view {view_id!r}")
            try:
                checked = self._check_view(f"response_action:{response_action}", view)
            except SlackError as e:
                raise ValueError(f"{e.error}: {e.extra.get('errors')}") from None
            if response_action == "update":
                return copy.deepcopy(self._apply_view(stored, checked))
            pushed = self._new_view(checked, previous_view_id=view_id, root_view_id=stored["root_view_id"])
            return copy.deepcopy(pushed)

    def trigger_id(self) -> str:
        """A fresh trigger_id for a simulated interaction. Any trigger works once."""
        with self._lock:
            return f"{self._next_n()}.{self.team_id}.{self._mint('')}"

    # ---------------------------------------------------------------- Web API methods

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(params)
        view = self._check_view("views.open", params.get("view"))
        if self._external_id_taken(view.get("external_id")):
            raise SlackError("duplicate_external_id")
        return {"view": copy.deepcopy(self._new_view(view))}

    def _api_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(params)
        view = self._check_view("views.push", params.get("view"))
        if self._external_id_taken(view.get("external_id")):
            raise SlackError("duplicate_external_id")
        return {"view": copy.deepcopy(self._new_view(view))}

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
            )
        stored = self._views.get(view_id) if view_id else None
        if stored is None and external_id:
            stored = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        if stored is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != stored["hash"]:
            raise SlackError("hash_conflict")
        view = self._check_view("views.update", params.get("view"))
        return {"view": copy.deepcopy(self._apply_view(stored, view))}

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not user_id:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing user_id"]})
        if self.strict_channels:
            self._user(user_id)
        view = self._check_view("views.publish", params.get("view"))
        if view.get("type") != "home":
            raise SlackError("invalid_arguments", response_metadata={"messages": ['[ERROR] type must be "home"']})
        current = self._views.get(self._home.get(user_id, ""))
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._apply_view(current, view) if current is not None else self._new_view(view)
        self._home[user_id] = stored["id"]
        return {"view": copy.deepcopy(stored)}

    # ---------------------------------------------------------------- helpers

    def _check_view(self, method: str, view: Any) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] view is required"]})
        problems = validate_view(view)
        if problems:
            self._block_errors.extend(f"{method}: {p}" for p in problems)
            raise SlackError(
                "invalid_arguments",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        return view

    def _new_view(self, view: dict[str, Any], **extra: Any) -> dict[str, Any]:
        view_id = self._mint("V")
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "title": None,
            "submit": None,
            "close": None,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        stored.update(extra)
        return self._apply_view(stored, view)

    def _apply_view(self, stored: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
        for key, value in view.items():
            if key not in ("id", "team_id", "hash", "state", "root_view_id", "app_id", "bot_id"):
                stored[key] = copy.deepcopy(value)
        stored["hash"] = f"{FIRST_TS + self._next_n()}.{self._mint('h').lower()}"
        self._views[stored["id"]] = stored
        return stored

    def _use_trigger(self, params: dict[str, Any]) -> None:
        trigger = params.get("trigger_id") or params.get("interactivity_pointer")
        if not trigger:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing trigger_id"]})
        if trigger in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        self._used_triggers.add(trigger)

    def _external_id_taken(self, external_id: Any) -> bool:
        return bool(external_id) and any(v.get("external_id") == external_id for v in self._views.values())
