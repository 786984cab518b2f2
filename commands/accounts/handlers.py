"""`/crm accounts [filters]` and its page buttons."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from slack_bolt import App

from commands import request
from commands.accounts import filters, views
from commands.customers import views as customer_views
from commands.customers.card import card
from commands.request import Request
from commands.router import ACCOUNTS, CommandRouter
from crm.accounts import list_accounts

if TYPE_CHECKING:
    from bot.services import Services


def _show(req: Request, text: str, page: int | None = None, *, replace: bool = False) -> None:
    query = filters.parse(text, asker=req.user_id)  # InvalidInput becomes the reply
    found = list_accounts(
        req.sf, req.workspace_id, query.filters, lifecycle=req.config.lifecycle, now=req.now, page=page or query.page
    )
    blocks = views.accounts_blocks(
        found,
        query.filters,
        query_text=filters.unparse(query.filters),
        now=req.now,
        lifecycle_label=req.config.lifecycle_label,
        usage=filters.USAGE,
    )
    req.reply(views.accounts_text(found), blocks=blocks, replace=replace)


def accounts(req: Request) -> None:
    if req.args.strip().lower() in ("help", "?", "filters"):
        req.reply(filters.USAGE)
        return
    _show(req, req.args)


def on_card(req: Request) -> None:
    """The customer's card as a new private message, so the list stays where it was."""
    found, blocks = card(req, req.value_id or 0)  # a forged id finds nothing: NotFound is the reply
    req.reply(customer_views.card_text(found), blocks=blocks)


def on_page(req: Request) -> None:
    try:
        data = json.loads(req.value)
        text, page = str(data["q"]), int(data["p"])
    except (ValueError, KeyError, TypeError):
        req.reply("That page button is out of date. Run `/crm accounts` again.")
        return
    _show(req, text, page, replace=True)


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "accounts",
        accounts,
        summary="Customers by value tier (A/B/C), lifetime value and last touch; filter with `tier:A`, "
        "`owner:@rep`, `stage:`, `industry:`, `quiet:30` or a custom field.",
        example="/crm accounts tier:A quiet:30",
        topic=ACCOUNTS,
    )
    request.action(app, re.compile(rf"^{views.PAGE}_(prev|next)$"), on_page)
    request.action(app, views.CARD, on_card)
