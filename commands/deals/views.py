"""Block Kit for deals: a customer's deal list, the "which customer?" pick, and the deal modal.

Pure functions of ``crm`` objects. Block and action ids are the module constants below, shared
with ``handlers``, which reads the submission. Everything users typed (customer names, deal
titles, stage labels, owners) is escaped, in the blocks and in the fallback ``text`` alike.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from commands.blockkit import (
    PRIVATE_METADATA_MAX,
    actions,
    button,
    context,
    esc,
    fallback_text,
    header,
    input_block,
    option,
    person,
    plain,
    section,
    text_input,
)
from commands.customers.views import DEAL_NEW_OPEN, SHOW
from commands.pickers import customer_select
from crm import deals as svc
from crm.dates import format_date
from crm.models import Customer, Deal, DealStageChange
from crm.money import exponent, format_money
from crm.pipeline_stages import PipelineStages
from crm.slack_ids import is_user_id

NEW_OPEN = DEAL_NEW_OPEN  # the card's "New deal" button; value: customer id
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
FIELDS = (B_TITLE, B_AMOUNT, B_CURRENCY, B_STAGE, B_CLOSE, B_OWNER)  # crm's field names are these block ids
AMOUNT_INPUT_MAX = 40
LIST_MAX = 20
PICK_MAX = 8
HISTORY_SHOWN = 6


# -- the list ----------------------------------------------------------------------------------
def deal_summary(deal: Deal, stages: PipelineStages) -> str:
    """ "*Annual licence* · 🔎 Qualified · €12,500.50 · closes 30 Apr 2026 · @rita" (escaped)."""
    stage = stages.describe(deal.stage)
    parts = [
        f"*{esc(deal.title, 150)}*",
        f"{stage.emoji} {esc(stage.label, 40)}",
        format_money(deal.amount_minor, deal.currency),
    ]
    if deal.expected_close:
        parts.append(f"{'closed' if stage.closed else 'closes'} {format_date(deal.expected_close)}")
    if deal.owner_user_id:
        parts.append(person(deal.owner_user_id))
    return " · ".join(parts)


def deal_list_blocks(data: svc.CustomerDeals, stages: PipelineStages) -> list[dict[str, Any]]:
    c = data.customer
    blocks: list[dict[str, Any]] = [header(f"Deals: {c.name}")]
    if not data.deals:
        blocks.append(section("No deals yet."))
    for deal in data.deals:
        blocks.append(section(deal_summary(deal, stages), accessory=button("Edit", EDIT_OPEN, str(deal.id))))
    if data.total > len(data.deals):
        blocks.append(context(f"…and {data.total - len(data.deals)} older closed deals"))
    blocks.append(actions(button("New deal", NEW_OPEN, str(c.id), "primary"), button("Customer card", SHOW, str(c.id))))
    return blocks


def deal_list_text(data: svc.CustomerDeals) -> str:
    return fallback_text(f"Deals with {data.customer.name}: {data.total}", 300)


def deal_list(data: svc.CustomerDeals, stages: PipelineStages) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of a customer's deal list."""
    return deal_list_text(data), deal_list_blocks(data, stages)


def saved(
    deal: Deal, data: svc.CustomerDeals, stages: PipelineStages, *, updated: bool
) -> tuple[str, list[dict[str, Any]]]:
    """The private confirmation after the modal saved: what was saved, then the customer's deals."""
    verb = "Updated" if updated else "Created"
    notice = section(f":white_check_mark: {verb} {deal_summary(deal, stages)}")
    return fallback_text(f"{verb} deal {deal.title}", 300), [notice, *deal_list_blocks(data, stages)][:50]


# -- finding the customer ------------------------------------------------------------------------
def pick_customer(query: str, customers: list[Customer]) -> tuple[str, list[dict[str, Any]]]:
    """Several customers match `/crm deal <query>`: one Deals button each."""
    blocks = [section(f"Several customers match “{esc(query, 100)}”. Whose deals?")]
    for c in customers[:PICK_MAX]:
        detail = f" · {esc(c.domain, 80)}" if c.domain else ""
        blocks.append(section(f"*{esc(c.name, 200)}*{detail}", accessory=button("Deals", LIST_SHOW, str(c.id))))
    return fallback_text(f"Several customers match “{query[:100]}”."), blocks


def no_customer(query: str) -> str:
    shown = query[:100]
    return fallback_text(f"No customer matches “{shown}”. Create it with `/crm new {shown}`, then add the deal.")


# -- the modal -----------------------------------------------------------------------------------
def stage_option(key: str, stages: PipelineStages) -> dict[str, Any]:
    stage = stages.describe(key)
    return option(stage.display + (" (retired)" if stage.retired else ""), key)


def amount_text(deal: Deal) -> str:
    """The amount as a rep would type it again ("12500.50"), exact."""
    if deal.amount_minor is None:
        return ""
    places = exponent(deal.currency)
    value = Decimal(deal.amount_minor) / (Decimal(10) ** places)
    return f"{value:.{places}f}"


def history_context(history: list[DealStageChange], stages: PipelineStages) -> dict[str, Any]:
    """The latest stage moves: "Lead → Qualified · @rita · 04 Mar 2026"."""
    lines = []
    for change in history[-HISTORY_SHOWN:]:
        before = stages.describe(change.from_stage).label if change.from_stage else "created"
        after = stages.describe(change.to_stage).label
        lines.append(
            f"{esc(before, 30)} → {esc(after, 30)} · {person(change.created_by)} · {format_date(change.created_at)}"
        )
    more = f" (latest {HISTORY_SHOWN} of {len(history)})" if len(history) > HISTORY_SHOWN else ""
    return context(f"*Stage history{more}:*\n" + "\n".join(lines))


def _stage_input(stages: PipelineStages, deal: Deal | None) -> dict[str, Any]:
    options = [stage_option(k, stages) for k in stages.keys]
    current = deal.stage if deal else stages.stages[0].key
    if current not in stages.keys:
        options.append(stage_option(current, stages))
    select: dict[str, Any] = {"type": "static_select", "action_id": A_VALUE, "options": options[:100]}
    select["initial_option"] = stage_option(current, stages)
    return input_block(B_STAGE, "Stage", select)


def _owner_input(owner: str, deal: Deal | None) -> dict[str, Any]:
    initial = (deal.owner_user_id if deal else None) or owner
    if not is_user_id(initial):  # an imported deal's owner may be no Slack user
        initial = owner
    return input_block(B_OWNER, "Owner", {"type": "users_select", "action_id": A_VALUE, "initial_user": initial})


def _field_inputs(
    stages: PipelineStages, owner: str, deal: Deal | None, default_currency: str = svc.DEFAULT_CURRENCY
) -> list[dict[str, Any]]:
    title = text_input(
        A_VALUE, initial=deal.title if deal else "", max_length=svc.MAX_TITLE, placeholder="Annual licence"
    )
    amount = text_input(
        A_VALUE,
        initial=amount_text(deal) if deal else "",
        max_length=AMOUNT_INPUT_MAX,
        placeholder="12,500.00 or 12.5k",
    )
    currency = text_input(
        A_VALUE, initial=deal.currency if deal else default_currency, max_length=10, placeholder=default_currency
    )
    close: dict[str, Any] = {"type": "datepicker", "action_id": A_VALUE}
    if deal and deal.expected_close:
        close["initial_date"] = deal.expected_close.isoformat()
    return [
        input_block(B_TITLE, "Title", title),
        input_block(B_AMOUNT, "Amount", amount, optional=True),
        input_block(B_CURRENCY, "Currency", currency, hint="Three-letter ISO code: USD, EUR, GBP, JPY…"),
        _stage_input(stages, deal),
        input_block(B_CLOSE, "Expected close", close, optional=True),
        _owner_input(owner, deal),
    ]


def deal_modal(
    *,
    stages: PipelineStages,
    owner: str,
    meta: dict[str, Any],
    customer: Customer | None = None,
    deal: Deal | None = None,
    history: list[DealStageChange] | None = None,
    custom: list[dict[str, Any]] | None = None,
    default_currency: str = svc.DEFAULT_CURRENCY,
) -> dict[str, Any]:
    """The create/edit modal. Without ``customer`` it starts with a customer picker; ``custom``
    is the custom field inputs (``commands.custom_values``)."""
    blocks: list[dict[str, Any]] = []
    if customer is None:
        blocks.append(input_block(B_CUSTOMER, "Customer", customer_select(action_id=PICKER)))
    else:
        blocks.append(context(f"Deal with *{esc(customer.name, 200)}*"))
    blocks += _field_inputs(stages, owner, deal, default_currency)
    blocks += custom or []
    if history:
        blocks.append(history_context(history, stages))
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
