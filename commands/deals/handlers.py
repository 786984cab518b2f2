"""Deals in Slack: `/crm deal <customer>`, the card's "New deal" button, Edit, and the deal modal.

``/crm deal acme`` lists Acme's deals, each with an Edit button, and a New deal button;
``/crm deal`` alone opens the modal with a customer picker. ``crm.deals`` checks the modal's
fields and its errors come back as field errors; after saving, the customer's deal list is
shown again, only to the user. A modal is saved once: a double-click, a replay or two
concurrent submissions of one view are one deal (or one edit), whichever replica gets them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import App

from commands import request
from commands.common import as_id, input_value
from commands.custom_values import custom_input, read_custom
from commands.deals import views
from commands.pickers import NEW_PREFIX
from commands.request import Errors, Request, ViewAnswer
from commands.router import DEALS, CommandRouter
from crm import custom_fields as cf
from crm import deals as svc
from crm.customers import find_customers, get_customer
from crm.errors import Conflict, InvalidInput, NotFound
from crm.models import Deal
from crm.search import MAX_QUERY_CHARS
from crm.slack_ids import is_channel_id
from crm.states import FieldEntity

if TYPE_CHECKING:
    from bot.services import Services

NO_CUSTOMER = "That customer no longer exists. It may have been deleted."


def show_list(req: Request, customer_id: int, *, replace: bool = False) -> None:
    data = svc.customer_deals(req.sf, req.workspace_id, customer_id, stages=req.config.stages, limit=views.LIST_MAX)
    req.reply(*views.deal_list(data, req.config.stages), replace=replace)


# -- /crm deal [customer] ------------------------------------------------------------------------
def on_command(req: Request) -> None:
    query = " ".join(req.args.split())[:MAX_QUERY_CHARS]
    if not query:
        meta = {"channel": req.channel_id}
        currency = req.config.default_currency
        req.open_view(
            views.deal_modal(stages=req.config.stages, owner=req.user_id, meta=meta, default_currency=currency)
        )
        return
    result = find_customers(req.sf, req.services.search, req.workspace_id, query)
    if result.kind == "winner":
        show_list(req, result.matches[0].customer_id)
    elif result.kind == "ambiguous":
        req.reply(*views.pick_customer(query, [result.customers[m.customer_id] for m in result.matches]))
    else:
        req.reply(views.no_customer(query))


# -- buttons ------------------------------------------------------------------------------------------
def on_list_show(req: Request) -> None:
    """A "Deals" button of the "which customer?" list: that customer's deals, in its place."""
    show_list(req, req.value_id or 0, replace=True)  # a forged id is no customer: NotFound


def on_new_open(req: Request) -> None:
    customer = get_customer(req.sf, req.workspace_id, req.value_id or 0)
    meta = {"channel": req.channel_id, "customer": customer.id}
    custom = _custom_inputs(req, None)
    view = views.deal_modal(
        stages=req.config.stages,
        owner=req.user_id,
        meta=meta,
        customer=customer,
        custom=custom,
        default_currency=req.config.default_currency,
    )
    req.open_view(view)


def _custom_inputs(req: Request, deal_id: int | None) -> list[dict[str, Any]]:
    defs, values = cf.form_values(req.sf, req.workspace_id, FieldEntity.DEAL, deal_id)
    return [custom_input(d, values.get(d.id)) for d in defs]


def on_edit_open(req: Request) -> None:
    found = svc.get_deal(req.sf, req.workspace_id, req.value_id or 0)
    customer = get_customer(req.sf, req.workspace_id, found.deal.customer_id)
    history = svc.stage_history(req.sf, req.workspace_id, found.deal.id)
    meta = {"channel": req.channel_id, "customer": customer.id, "deal": found.deal.id}
    view = views.deal_modal(
        stages=req.config.stages,
        owner=req.user_id,
        meta=meta,
        customer=customer,
        deal=found.deal,
        history=history,
        custom=_custom_inputs(req, found.deal.id),
    )
    req.open_view(view)


# -- the modal ----------------------------------------------------------------------------------------
def _text(values: dict[str, Any], block_id: str, action_id: str = views.A_VALUE) -> str | None:
    """A submitted value when it is text; anything else (a forged payload) reads as empty."""
    try:
        raw = input_value(values, block_id, action_id)
    except (AttributeError, TypeError):  # a block or element that is not an object
        return None
    return raw if isinstance(raw, str) else None


def _meta_ref(meta: dict[str, Any], key: str) -> int | None:
    """A row id from the modal's metadata: None when absent, 0 (matches nothing) when forged."""
    if meta.get(key) in (None, ""):
        return None
    return as_id(meta.get(key)) or 0


def _customer_of(req: Request) -> int:
    """The customer the deal is for: the one the modal was opened on, or the one picked."""
    fixed = _meta_ref(req.metadata, "customer")
    if fixed is not None:
        if not fixed:
            raise NotFound(NO_CUSTOMER)
        return fixed
    picked = _text(req.values, views.B_CUSTOMER, views.PICKER) or ""
    if picked.startswith(NEW_PREFIX):
        raise InvalidInput("Create the customer first (`/crm new`), then add the deal.", field=views.B_CUSTOMER)
    customer_id = as_id(picked)
    if customer_id is None:
        raise InvalidInput("Pick a customer from the list.", field=views.B_CUSTOMER)
    return customer_id


def _close_date(values: dict[str, Any]) -> date | None:
    raw = _text(values, views.B_CLOSE)
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput("Pick a date from the calendar.", field=views.B_CLOSE) from None


def read_form(values: dict[str, Any], defs: list[cf.FieldDef] | None = None) -> svc.DealInput:
    return svc.DealInput(
        custom=read_custom(values, defs or []),
        title=_text(values, views.B_TITLE),
        amount=_text(values, views.B_AMOUNT),
        currency=_text(values, views.B_CURRENCY),
        stage=_text(values, views.B_STAGE),
        expected_close=_close_date(values),
        owner_user_id=_text(values, views.B_OWNER),
    )


def _reply_channel(meta: dict[str, Any]) -> str | None:
    channel = meta.get("channel")
    return channel if is_channel_id(channel) else None


def _idempotency_key(req: Request) -> str | None:
    view_id = req.view.get("id")
    return f"view:{view_id}" if isinstance(view_id, str) and view_id else None


def _save(req: Request, deal_id: int | None, customer_id: int, form: svc.DealInput) -> Deal:
    """Create the deal, or save the edit when the modal was opened on a deal."""
    key, stages = _idempotency_key(req), req.config.stages
    if deal_id is not None:
        return svc.update_deal(
            req.sf, req.workspace_id, deal_id, form, actor=req.user_id, stages=stages, now=req.now, idempotency_key=key
        )
    return svc.create_deal(
        req.sf, req.workspace_id, customer_id, form, actor=req.user_id, stages=stages, now=req.now, idempotency_key=key
    )


def on_save(req: Request) -> ViewAnswer:
    meta = req.metadata
    deal_id = _meta_ref(meta, "deal")
    customer_id = _customer_of(req)
    defs, _ = cf.form_values(req.sf, req.workspace_id, FieldEntity.DEAL, None)
    form = read_form(req.values, defs)
    try:
        deal = _save(req, deal_id, customer_id, form)
    except InvalidInput as err:
        if err.field and err.field.startswith("cf:"):  # a custom field: shown under its own input
            return Errors({err.field: err.message})
        raise
    except Conflict:
        return None  # a double-click, replay or concurrent twin: the first submission saved it and confirms
    except NotFound as err:  # the deal or customer went away while the modal was open
        picked = "customer" not in meta
        return Errors({views.B_CUSTOMER if picked else views.B_TITLE: err.message})
    req.later(lambda: _confirm(req, deal, updated=deal_id is not None))
    return None


def _confirm(req: Request, deal: Deal, *, updated: bool) -> None:
    data = svc.customer_deals(
        req.sf, req.workspace_id, deal.customer_id, stages=req.config.stages, limit=views.LIST_MAX
    )
    req.tell(*views.saved(deal, data, req.config.stages, updated=updated), channel=_reply_channel(req.metadata))


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "deal",
        on_command,
        summary="A customer's deals with Edit buttons and New deal; alone, opens the new-deal form.",
        example="/crm deal acme",
        aliases=("deals",),
        topic=DEALS,
    )
    request.action(app, views.NEW_OPEN, on_new_open)
    request.action(app, views.EDIT_OPEN, on_edit_open)
    request.action(app, views.LIST_SHOW, on_list_show)
    fields: dict[str | None, str] = {None: views.B_TITLE, views.B_CUSTOMER: views.B_CUSTOMER}
    fields.update({name: name for name in views.FIELDS})
    request.view(app, views.SAVE_VIEW, on_save, fields=fields)
