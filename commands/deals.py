"""Deals in Slack: `/crm deal <customer>`, the card's "New deal" button, and the deal modal.

``/crm deal acme`` lists Acme's deals, each with an Edit button, and a New deal button;
``/crm deal`` alone opens the modal with a customer picker. The modal's fields are checked
by ``crm.deals`` and its errors come back as field errors; after saving, the customer's deal
list is shown again (only to the user).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from commands.blockkit import (
    BUTTON_VALUE_MAX,
    HEADER_TEXT_MAX,
    OPTION_TEXT_MAX,
    PRIVATE_METADATA_MAX,
    escape_mrkdwn,
    input_block,
    mrkdwn,
    plain,
    text_input,
    truncate,
)
from commands.common import channel_of, input_value, meta_id, metadata, tell, user_of, workspace_of
from commands.customer_views import DEAL_NEW_OPEN, SHOW
from commands.pickers import NEW_PREFIX, customer_select
from commands.router import CommandRouter, SlashContext
from crm import deals as svc
from crm.customers import find_customers, get_customer
from crm.errors import Conflict, InvalidInput, NotFound
from crm.models import Customer, Deal, DealStageChange
from crm.money import format_money
from crm.pipeline_stages import PipelineStages, stages_of
from crm.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

NEW_OPEN = DEAL_NEW_OPEN  # the card's button; value: customer id
EDIT_OPEN = "deal_edit_open"  # value: deal id
LIST_SHOW = "deal_list_show"  # value: customer id
SAVE_VIEW = "deal_save"
PICKER = "customer_picker:deal"

B_CUSTOMER, B_TITLE, B_AMOUNT, B_CURRENCY, B_STAGE, B_CLOSE, B_OWNER = (
    "customer",
    "title",
    "amount",
    "currency",
    "stage",
    "expected_close",
    "owner",
)
A_VALUE = "value"
LIST_MAX = 20
PICK_MAX = 8
HISTORY_SHOWN = 6


def _esc(text: str | None, limit: int = 120) -> str:
    return escape_mrkdwn(truncate(" ".join((text or "").split()), limit))


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": plain(truncate(text, 75)),
        "action_id": action_id,
        "value": truncate(value, BUTTON_VALUE_MAX, suffix=""),
    }
    if style:
        button["style"] = style
    return button


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(truncate(text, 3000))}
    if accessory:
        block["accessory"] = accessory
    return block


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(truncate(text, 3000))]}


# -- builders -------------------------------------------------------------------------------
def deal_summary(deal: Deal, stages: PipelineStages) -> str:
    stage = stages.describe(deal.stage)
    parts = [
        f"*{_esc(deal.title, 150)}*",
        f"{stage.emoji} {_esc(stage.label, 40)}",
        format_money(deal.amount_minor, deal.currency),
    ]
    if deal.expected_close:
        parts.append(f"{'closed' if stage.closed else 'closes'} {deal.expected_close:%d %b %Y}")
    if deal.owner_user_id:
        parts.append(f"<@{deal.owner_user_id}>")
    return " · ".join(parts)


def deal_list_blocks(data: svc.CustomerDeals, stages: PipelineStages) -> list[dict[str, Any]]:
    c = data.customer
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(truncate(f"Deals: {c.name}", HEADER_TEXT_MAX))}]
    if not data.deals:
        blocks.append(_section("No deals yet."))
    for deal in data.deals:
        blocks.append(_section(deal_summary(deal, stages), accessory=_button("Edit", EDIT_OPEN, str(deal.id))))
    if data.total > len(data.deals):
        blocks.append(_context(f"…and {data.total - len(data.deals)} older closed deals"))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                _button("New deal", NEW_OPEN, str(c.id), "primary"),
                _button("Customer card", SHOW, str(c.id)),
            ],
        }
    )
    return blocks


def deal_list_text(data: svc.CustomerDeals) -> str:
    return truncate(f"Deals with {data.customer.name}: {data.total}", 300)


def pick_customer_blocks(query: str, customers: list[Customer]) -> list[dict[str, Any]]:
    blocks = [_section(f"Several customers match “{_esc(query, 100)}”. Whose deals?")]
    for c in customers[:PICK_MAX]:
        detail = f" · {_esc(c.domain, 80)}" if c.domain else ""
        blocks.append(_section(f"*{_esc(c.name, 200)}*{detail}", accessory=_button("Deals", LIST_SHOW, str(c.id))))
    return blocks


def _stage_option(key: str, stages: PipelineStages) -> dict[str, Any]:
    stage = stages.describe(key)
    label = stage.display + (" (retired)" if stage.retired else "")
    return {"text": plain(truncate(label, OPTION_TEXT_MAX)), "value": key[:150]}


def amount_text(deal: Deal) -> str:
    """The amount as a rep would type it again ("12500.50"), exact."""
    if deal.amount_minor is None:
        return ""
    from decimal import Decimal

    from crm.money import exponent

    places = exponent(deal.currency)
    value = Decimal(deal.amount_minor) / (Decimal(10) ** places)
    return f"{value:.{places}f}"


def deal_modal(
    *,
    stages: PipelineStages,
    owner: str,
    meta: dict[str, Any],
    customer: Customer | None = None,
    deal: Deal | None = None,
    history: list[DealStageChange] | None = None,
) -> dict[str, Any]:
    """The create/edit modal. Without ``customer`` it starts with a customer picker."""
    blocks: list[dict[str, Any]] = []
    if customer is None:
        blocks.append(input_block(B_CUSTOMER, "Customer", customer_select(action_id=PICKER)))
    else:
        blocks.append(_context(f"Deal with *{_esc(customer.name, 200)}*"))
    options = [_stage_option(k, stages) for k in stages.keys]
    current = deal.stage if deal else stages.stages[0].key
    if current not in stages.keys:
        options.append(_stage_option(current, stages))
    blocks += [
        input_block(
            B_TITLE,
            "Title",
            text_input(A_VALUE, initial=deal.title if deal else "", max_length=255, placeholder="Annual licence"),
        ),
        input_block(
            B_AMOUNT,
            "Amount",
            text_input(
                A_VALUE, initial=amount_text(deal) if deal else "", max_length=40, placeholder="12,500.00 or 12.5k"
            ),
            optional=True,
        ),
        input_block(
            B_CURRENCY,
            "Currency",
            text_input(
                A_VALUE, initial=deal.currency if deal else svc.DEFAULT_CURRENCY, max_length=10, placeholder="USD"
            ),
            hint="Three-letter ISO code: USD, EUR, GBP, JPY…",
        ),
        input_block(
            B_STAGE,
            "Stage",
            {
                "type": "static_select",
                "action_id": A_VALUE,
                "options": options[:100],
                "initial_option": _stage_option(current, stages),
            },
        ),
    ]
    close: dict[str, Any] = {"type": "datepicker", "action_id": A_VALUE}
    if deal and deal.expected_close:
        close["initial_date"] = deal.expected_close.isoformat()
    blocks.append(input_block(B_CLOSE, "Expected close", close, optional=True))
    blocks.append(
        input_block(
            B_OWNER,
            "Owner",
            {
                "type": "users_select",
                "action_id": A_VALUE,
                "initial_user": (deal.owner_user_id if deal else None) or owner,
            },
        )
    )
    if history:
        lines = []
        for change in history[-HISTORY_SHOWN:]:
            before = stages.describe(change.from_stage).label if change.from_stage else "created"
            after = stages.describe(change.to_stage).label
            lines.append(
                f"{_esc(before, 30)} → {_esc(after, 30)} · <@{change.created_by}> · {change.created_at:%d %b %Y}"
            )
        more = f" (latest {HISTORY_SHOWN} of {len(history)})" if len(history) > HISTORY_SHOWN else ""
        blocks.append(_context(f"*Stage history{more}:*\n" + "\n".join(lines)))
    text = json.dumps(meta, separators=(",", ":"))
    if len(text) > PRIVATE_METADATA_MAX:
        raise ValueError("private_metadata too long")
    return {
        "type": "modal",
        "callback_id": SAVE_VIEW,
        "title": plain("Edit deal" if deal else "New deal"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": text,
        "blocks": blocks,
    }


# -- handlers -------------------------------------------------------------------------------
class DealUI:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.sf = services.session_factory

    @property
    def stages(self) -> PipelineStages:
        return stages_of(self.services.settings)

    def _list(self, ws: int, customer_id: int) -> tuple[str, list[dict[str, Any]]]:
        data = svc.customer_deals(self.sf, ws, customer_id, stages=self.stages, limit=LIST_MAX)
        return deal_list_text(data), deal_list_blocks(data, self.stages)

    # /crm deal [customer]
    def command(self, ctx: SlashContext) -> None:
        query = " ".join(ctx.args.split())[:MAX_QUERY_CHARS]
        if not query:
            view = deal_modal(stages=self.stages, owner=ctx.user_id, meta={"channel": ctx.channel_id})
            ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)
            return
        result = find_customers(self.sf, self.services.search, ctx.workspace_id, query)
        if result.kind == "winner":
            ctx.reply(*self._list(ctx.workspace_id, result.matches[0].customer_id))
        elif result.kind == "ambiguous":
            customers = [result.customers[m.customer_id] for m in result.matches]
            ctx.reply(f"Several customers match “{query[:100]}”.", blocks=pick_customer_blocks(query, customers))
        else:
            ctx.reply(
                f"No customer matches “{query[:100]}”. Create it with `/crm new {query[:100]}`, then add the deal."
            )

    def list_show(self, ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        value = body["actions"][0].get("value", "")
        if not value.isdigit():
            return
        try:
            text, blocks = self._list(workspace_of(self.services, body), int(value))
        except NotFound as err:
            respond(text=err.message, response_type="ephemeral", replace_original=False)
            return
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=True)

    def new_open(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        value = body["actions"][0].get("value", "")
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            customer = get_customer(self.sf, ws, int(value))
        except (NotFound, ValueError):
            tell(client, channel_of(body), user, "That customer no longer exists.")
            return
        meta = {"channel": channel_of(body), "customer": customer.id}
        client.views_open(
            trigger_id=body["trigger_id"], view=deal_modal(stages=self.stages, owner=user, meta=meta, customer=customer)
        )

    def edit_open(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        value = body["actions"][0].get("value", "")
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            found = svc.get_deal(self.sf, ws, int(value))
            customer = get_customer(self.sf, ws, found.deal.customer_id)
            history = svc.stage_history(self.sf, ws, found.deal.id)
        except (NotFound, ValueError):
            tell(client, channel_of(body), user, "That deal no longer exists.")
            return
        meta = {"channel": channel_of(body), "customer": customer.id, "deal": found.deal.id}
        view = deal_modal(
            stages=self.stages, owner=user, meta=meta, customer=customer, deal=found.deal, history=history
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def submit(self, ack: Ack, body: dict, client: WebClient) -> None:
        values = body["view"]["state"]["values"]
        meta = metadata(body)
        ws = workspace_of(self.services, body)
        user = user_of(body)
        customer_id = meta_id(meta, "customer")
        if not customer_id:
            picked = input_value(values, B_CUSTOMER, PICKER) or ""
            if picked.startswith(NEW_PREFIX):
                ack(
                    response_action="errors",
                    errors={B_CUSTOMER: "Create the customer first (`/crm new`), then add the deal."},
                )
                return
            if not picked.isdigit():
                ack(response_action="errors", errors={B_CUSTOMER: "Pick a customer from the list."})
                return
            customer_id = int(picked)
        close_raw = input_value(values, B_CLOSE, A_VALUE)
        try:
            close = datetime.strptime(close_raw, "%Y-%m-%d").date() if close_raw else None
        except ValueError:
            ack(response_action="errors", errors={B_CLOSE: "Pick a date from the calendar."})
            return
        form = svc.DealInput(
            title=input_value(values, B_TITLE, A_VALUE),
            amount=input_value(values, B_AMOUNT, A_VALUE),
            currency=input_value(values, B_CURRENCY, A_VALUE),
            stage=input_value(values, B_STAGE, A_VALUE),
            expected_close=close,
            owner_user_id=input_value(values, B_OWNER, A_VALUE),
        )
        now = self.services.now()
        try:
            if meta_id(meta, "deal"):
                deal = svc.update_deal(
                    self.sf, ws, meta_id(meta, "deal"), form, actor=user, stages=self.stages, now=now
                )
            else:
                deal = svc.create_deal(
                    self.sf,
                    ws,
                    customer_id,
                    form,
                    actor=user,
                    stages=self.stages,
                    now=now,
                    idempotency_key=f"view:{body['view']['id']}",
                )
        except Conflict:
            ack()  # a double-click or a replay: the first submission saved it and confirmed
            return
        except InvalidInput as err:
            field = err.field if err.field in (B_TITLE, B_AMOUNT, B_CURRENCY, B_STAGE, B_CLOSE, B_OWNER) else B_TITLE
            ack(response_action="errors", errors={field: err.message[:300]})
            return
        except NotFound as err:
            block = B_CUSTOMER if not meta.get("customer") else B_TITLE
            ack(response_action="errors", errors={block: err.message})
            return
        ack()
        _, blocks = self._list(ws, deal.customer_id)
        verb = "Updated" if meta.get("deal") else "Created"
        notice = _section(f":white_check_mark: {verb} {deal_summary(deal, self.stages)}")
        tell(client, meta.get("channel"), user, f"{verb} deal {deal.title}"[:300], [notice, *blocks][:50])


def register(app: App, services: Services, router: CommandRouter) -> None:
    ui = DealUI(services)
    router.add(
        "deal",
        ui.command,
        summary="A customer's deals with Edit buttons and New deal; alone, opens the new-deal form.",
        example="/crm deal acme",
        aliases=("deals",),
    )
    app.action(NEW_OPEN)(ui.new_open)
    app.action(EDIT_OPEN)(ui.edit_open)
    app.action(LIST_SHOW)(ui.list_show)
    app.view(SAVE_VIEW)(ui.submit)
