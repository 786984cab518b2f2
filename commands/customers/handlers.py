"""Finding a customer and showing its card: ``/customer <query>`` (or ``/crm find``), the pick
list's Show buttons, the history pages and Share in channel; and the wiring of the whole
customers feature (the modals are in ``forms``, merging in ``merge``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from commands import request
from commands.common import as_id
from commands.customers import forms, merge, record, views
from commands.customers.card import card
from commands.request import Request
from commands.router import CUSTOMERS, CommandRouter
from crm import customers as svc
from crm.errors import InvalidInput
from crm.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from bot.services import Services

EXTERNAL_CHANNEL = (
    ":lock: This channel is shared with another organisation, so I won't post CRM data in it. "
    "The card stays visible only to you."
)
NOT_IN_CHANNEL = "I can't post here because I'm not in this channel. Invite me with `/invite @crm` and try again."


def lookup(req: Request) -> None:
    query = " ".join(req.args.split())
    command = "/customer" if req.command == "/customer" else "/crm find"
    if not query:
        req.reply("Who should I look for?", blocks=views.usage_blocks(command))
        return
    query = query[:MAX_QUERY_CHARS]
    result = svc.find_customers(req.sf, req.services.search, req.workspace_id, query)
    if result.kind == "winner":
        found, blocks = card(req, result.matches[0].customer_id)
        req.reply(views.card_text(found), blocks=blocks)
    elif result.kind == "ambiguous":
        req.reply(views.several_text(query), blocks=views.pick_list_blocks(query, result))
    else:
        req.reply(views.no_match_text(query), blocks=views.no_match_blocks(query))


def on_show(req: Request) -> None:
    found, blocks = card(req, req.value_id or 0)  # a forged id finds nothing: NotFound is the reply
    req.reply(views.card_text(found), blocks=blocks, replace=True)


def on_history(req: Request) -> None:
    customer, _, page = req.value.partition(":")
    history = svc.customer_history(req.sf, req.workspace_id, as_id(customer) or 0, page=as_id(page) or 1)
    changes = record.change_blocks(
        history.changes, tz=req.tz, now=req.now, stages=req.config.lifecycle, region=req.config.phone_region
    )
    blocks = views.history_blocks(history, tz=req.tz, now=req.now, type_label=req.config.type_label, changes=changes)
    req.reply(views.history_text(history), blocks=blocks, replace=True)


def on_share(req: Request) -> None:
    channel = req.channel_id
    if not channel:
        raise InvalidInput("Open the card in a channel to share it there.")
    if _externally_shared(req, channel):
        req.reply(EXTERNAL_CHANNEL)
        return
    found, blocks = card(req, req.value_id or 0, shared=True)
    try:
        req.client.chat_postMessage(
            channel=channel, text=views.shared_text(req.user_id, found.customer.name), blocks=blocks
        )
    except SlackApiError as exc:
        error = exc.response.get("error")
        refused = f"Slack refused to post the card ({error}). Nothing was changed."
        req.reply(NOT_IN_CHANNEL if error in ("not_in_channel", "channel_not_found") else refused)


def _externally_shared(req: Request, channel: str) -> bool:
    if channel.startswith("D"):
        return False
    try:
        info = req.client.conversations_info(channel=channel)["channel"]
    except SlackApiError:
        return True  # unknown: don't risk posting CRM data publicly
    return bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "find",
        lookup,
        summary="Look up a customer by name, website or email; typos are fine.",
        example="/crm find acme corp",
        aliases=("customer", "lookup", "search"),
        slash="/customer",
        topic=CUSTOMERS,
    )
    router.add(
        "new",
        forms.new_command,
        summary="Create a customer (checks for duplicates first).",
        example="/crm new Acme Corporation",
        aliases=("create", "add"),
        topic=CUSTOMERS,
    )
    router.add(
        "merge",
        merge.merge_command,
        summary="Admins: merge a duplicate customer into the one to keep.",
        example="/crm merge Acme Inc into Acme Corporation",
        topic=CUSTOMERS,
    )
    request.action(app, views.SHOW, on_show)
    request.action(app, re.compile(rf"^{views.HISTORY}(_newer|_older)?$"), on_history)
    request.action(app, views.SHARE, on_share)
    request.action(app, views.CREATE_OPEN, forms.on_create_open)
    request.action(app, views.USE_EXISTING, forms.on_use_existing)
    request.action(app, views.EDIT_OPEN, forms.on_edit_open)
    request.action(app, record.LIFECYCLE_SET, forms.on_lifecycle_set)
    request.action(app, views.CONTACT_ADD_OPEN, forms.on_contact_add_open)
    request.action(app, views.CONTACT_MENU, forms.on_contact_menu)
    request.action(app, views.MERGE_CONFIRM, merge.on_confirm)
    request.action(app, views.MERGE_CANCEL, merge.on_cancel)
    request.view(app, views.CREATE_VIEW, forms.on_create_submit, fields=forms.CUSTOMER_FIELDS)
    request.view(app, views.EDIT_VIEW, forms.on_edit_submit, fields=forms.CUSTOMER_FIELDS)
    request.view(app, views.CONTACT_VIEW, forms.on_contact_submit, fields=forms.CONTACT_FIELDS)
