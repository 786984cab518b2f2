"""Workspace settings from the Home tab: admins open the modal, and saving stores them per workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App

from commands import request
from commands.admin import views
from commands.common import input_value
from commands.request import Request, ViewAnswer
from crm import workspace_settings
from crm.errors import PermissionDenied

if TYPE_CHECKING:
    from bot.services import Services
    from commands.router import CommandRouter

FIELDS: dict[str | None, str] = {key: key for key in workspace_settings.KEYS} | {None: views.TYPES}


def on_open(req: Request) -> None:
    if not req.actor.is_admin:
        raise PermissionDenied("Only workspace admins can change the CRM's settings.")
    stored = workspace_settings.read(req.sf, req.workspace_id).values
    config = req.services.config(req.workspace_id)
    req.open_view(
        views.settings_modal(
            types=stored.get("activity_types") or workspace_settings.render(config.types.items),
            stages=stored.get("deal_stages") or workspace_settings.render(config.stages.items),
            lifecycle=stored.get("lifecycle_stages") or workspace_settings.render(config.lifecycle.items),
            probabilities=workspace_settings.render_probabilities(config.probabilities),
            stale_days=config.stale_days,
            key_account_days=config.key_account_days,
            currency=config.default_currency,
            managers=sorted(config.managers),
        )
    )


def _selected_users(values: dict[str, Any]) -> list[str]:
    block = values.get(views.MANAGERS)
    element = block.get(views.VALUE) if isinstance(block, dict) else None
    users = element.get("selected_users") if isinstance(element, dict) else None
    return [u for u in users if isinstance(u, str)] if isinstance(users, list) else []


def on_saved(req: Request) -> ViewAnswer:
    submitted = {key: input_value(req.values, key, views.VALUE) or "" for key in workspace_settings.LISTS}
    submitted["stale_days"] = input_value(req.values, views.STALE, views.VALUE) or ""
    submitted["key_account_days"] = input_value(req.values, views.KEY_DAYS, views.VALUE) or ""
    submitted["stage_probabilities"] = input_value(req.values, views.PROBABILITIES, views.VALUE) or ""
    submitted["default_currency"] = input_value(req.values, views.CURRENCY, views.VALUE) or ""
    submitted["managers"] = _selected_users(req.values)
    env = req.services.settings
    defaults = {"deal_stages": env.deal_stages}
    version = workspace_settings.update(req.sf, req.workspace_id, req.actor, submitted, defaults)
    req.services.forget_config(req.workspace_id)  # this replica at once; the others within seconds
    req.later(lambda: _confirm(req, version))
    return None


def _confirm(req: Request, version: int) -> None:
    req.tell(views.saved_text(version))


def register(app: App, services: Services, router: CommandRouter) -> None:
    request.action(app, views.OPEN, on_open)
    request.view(app, views.CALLBACK, on_saved, fields=FIELDS)
