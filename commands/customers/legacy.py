"""Transitional entry points for features not yet on the request context (delete at the merge).

``commands/followups.py`` still calls ``CustomerUI(services).card(client, ws, id, user)`` and
``commands/activities.py`` still calls ``push_create_customer(services, client, body, name)``.
Both build the request context from what they are given and call the real functions,
:func:`commands.customers.card` and :func:`commands.customers.forms.push_create_customer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from commands.customers import forms
from commands.customers.card import card
from commands.request import Request, build_request

if TYPE_CHECKING:
    from bot.services import Services


def _request(services: Services, client: WebClient, workspace_id: int, user: str) -> Request:
    return Request(
        services=services,
        client=client,
        body={},
        respond=None,
        workspace_id=workspace_id,
        team_id="",
        enterprise_id=None,
        user_id=user,
        channel_id=None,
        now=services.now(),
        config=services.config(workspace_id),
    )


class CustomerUI:
    """Transitional: ``CustomerUI(services).card(...)`` is :func:`commands.customers.card`."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def card(self, client: WebClient, workspace_id: int, customer_id: int, user: str, *, shared: bool = False):
        return card(_request(self.services, client, workspace_id, user), customer_id, shared=shared)


def push_create_customer(req: Any, *rest: Any) -> None:
    """``push_create_customer(req, name)``; also takes the older ``(services, client, body, name)``."""
    if isinstance(req, Request):
        forms.push_create_customer(req, *rest)
        return
    client, body, name = rest
    built = build_request(req, client, body, None)
    if built is not None:
        forms.push_create_customer(built, name)
