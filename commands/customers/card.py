"""The customer card as one request sees it: in the asker's time zone, with the workspace's
activity types and stages, and people named rather than mentioned when it is shared."""

from __future__ import annotations

from typing import Any

from commands.customers import record, value, views
from commands.request import Request
from commands.rooms.views import card_links_block
from crm import customers as svc
from crm.channels import links_of_customer
from crm.slack_ids import is_user_id
from crm.value import contact_cadence, customer_value


def _name_of(req: Request):
    """Display names for a shared card; an id that can't be a Slack user is shown as it is."""
    return lambda user_id: req.name_of(user_id) if is_user_id(user_id) else user_id


def card(req: Request, customer_id: int, *, shared: bool = False) -> tuple[svc.CustomerCard, list[dict[str, Any]]]:
    """The card's data and its blocks; ``NotFound`` when the customer is gone (or the id forged)."""
    found = svc.customer_card(
        req.sf,
        req.workspace_id,
        customer_id,
        contacts=views.CARD_CONTACTS,
        deals=views.CARD_DEALS,
        activities=views.CARD_ACTIVITIES,
    )
    name_of = _name_of(req) if shared else None
    worth = customer_value(req.sf, req.workspace_id, found.customer.id)
    hints = (
        []
        if shared
        else contact_cadence(  # coaching for the rep, not for a channel
            req.sf, req.workspace_id, found.customer.id, now=req.now, quiet_days=req.config.key_account_days
        )
    )
    region = req.config.phone_region
    blocks = views.card_blocks(
        found,
        tz=req.tz,
        now=req.now,
        type_label=req.config.type_label,
        stage_label=req.config.stage_label,
        shared=shared,
        name_of=name_of,
        record=[
            *value.value_blocks(worth, hints, now=req.now),
            *record.card_record_blocks(
                found, stages=req.config.lifecycle, region=region, shared=shared, name_of=name_of
            ),
        ],
        contact_extras=lambda contact: record.contact_extras(contact, found, region, name_of),
        deal_extras=lambda deal: record.deal_extras(deal, found, region, name_of),
    )
    links = card_links_block(links_of_customer(req.sf, req.workspace_id, found.customer.id))
    if links is not None and len(blocks) < 50:
        blocks.insert(len(blocks) - 1, links)  # above the buttons (or the "shared from" line)
    return found, blocks
