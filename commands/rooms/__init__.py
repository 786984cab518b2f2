"""Capture without typing: linked channels and deal rooms (``handlers``), logging a thread with
``@crm log`` (``threads``), routed deal alerts (``alerts``, ``alert_words``), and their messages
(``views``: pure Block Kit builders, also used by ``reminders/channel_posts.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.services import Services
    from commands.router import CommandRouter


def register(app: App, services: Services, router: CommandRouter) -> None:
    # Imported here: the customer card (commands.customers) uses this package's views, and
    # these handlers use the card.
    from commands.rooms import handlers

    handlers.register(app, services, router)


__all__ = ["register"]
