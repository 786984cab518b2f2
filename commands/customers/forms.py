"""Creating and editing customers and their contacts: ``/crm new``, the Create, Edit and Add
contact buttons, the contact menu, "Use this one" on the duplicate warning, the create form
that other features' pickers push, and the three modal submissions.

Each submission is keyed by its modal's view id, so a replayed, double-clicked or concurrent
second submission of one form writes nothing: crm answers ``Conflict`` and the form simply
closes, as it did the first time.
"""

from __future__ import annotations

from typing import Any

from commands.blockkit import esc, refill, truncate
from commands.common import as_id, input_value, meta_id
from commands.custom_values import read_custom
from commands.customers import record, views
from commands.customers.card import card
from commands.request import Errors, Request, Update, ViewAnswer
from crm import custom_fields as cf
from crm import customers as svc
from crm.errors import Conflict, DuplicateSuspected, InvalidFields, NotFound
from crm.fields import show_phone
from crm.models import Customer
from crm.slack_ids import is_channel_id
from crm.states import FieldEntity

CONTACT_FIELDS = {
    None: views.B_CONTACT_NAME,
    "contact_name": views.B_CONTACT_NAME,
    "contact_email": views.B_CONTACT_EMAIL,
    "contact_phone": views.B_CONTACT_PHONE,
    "contact_title": views.B_CONTACT_TITLE,
}
CUSTOMER_FIELDS = {
    **CONTACT_FIELDS,
    None: views.B_NAME,
    "name": views.B_NAME,
    "website": views.B_WEBSITE,
    "owner": views.B_OWNER,
}
NAME_THE_CONTACT = "Give the contact a name, or clear the fields."
SAVE_ANYWAY = "Tick “Save anyway” if this is a different person."


# -- reading the forms -------------------------------------------------------------------------
def _form_key(req: Request) -> str | None:
    """The submitted modal's view id: one form, saved once."""
    view_id = req.view.get("id")
    return view_id if isinstance(view_id, str) and view_id else None


def _channel(meta: dict[str, Any]) -> str | None:
    """Where the form was opened (for the confirmation), if the metadata names a real channel."""
    channel = meta.get("channel")
    return channel if is_channel_id(channel) else None


def _text(values: dict[str, Any], block_id: str) -> str:
    value = input_value(values, block_id, "value")
    return value if isinstance(value, str) else ""


def _field_errors(err: InvalidFields, fields: dict[str | None, str]) -> Errors:
    """Every refused field under its own input (block ids are the field names)."""
    default = fields[None]
    return Errors({fields.get(name) or (name if name else default): message for name, message in err.errors.items()})


def _contact_form(values: dict[str, Any]) -> tuple[svc.ContactInput, bool]:
    """The contact fields of a submitted modal, and whether "save/create anyway" was ticked."""
    contact = svc.ContactInput(
        name=_text(values, views.B_CONTACT_NAME),
        email=_text(values, views.B_CONTACT_EMAIL),
        phone=_text(values, views.B_CONTACT_PHONE),
        title=_text(values, views.B_CONTACT_TITLE),
        mobile_phone=_text(values, record.B_MOBILE),
        address=record.read_address(values, "contact_"),
    )
    ticked = input_value(values, views.B_FORCE, views.A_FORCE) or []
    return contact, isinstance(ticked, list) and views.FORCE_VALUE in ticked


def _owner(values: dict[str, Any]) -> str | None:
    owner = input_value(values, views.B_OWNER, views.A_OWNER)
    return owner if owner is None or isinstance(owner, str) else str(owner)  # crm refuses a non-user


def _confirm(req: Request, customer_id: int, text: str, channel: str | None) -> None:
    """After a save: the card, privately, where the form was opened."""
    _, blocks = card(req, customer_id)
    req.tell(text, blocks, channel=channel)


# -- create ------------------------------------------------------------------------------------
def _create_record_inputs(req: Request) -> list[dict[str, Any]]:
    """The fuller record's inputs for a new customer: blank, the lifecycle at the first stage."""
    stages = req.config.lifecycle
    first = stages.stages[0].key if stages.stages else None
    defs = cf.list_fields(req.sf, req.workspace_id, FieldEntity.CUSTOMER)
    blank = Customer(lifecycle_stage=first)
    return record.record_inputs(blank, [], defs, {}, stages=stages, region=req.config.phone_region)


def _create_view(req: Request, name: str, meta: dict[str, Any]) -> dict[str, Any]:
    inputs = _create_record_inputs(req)
    return views.create_customer_view(name=name[:255], owner=req.user_id, meta=meta, record=inputs)


def open_create_customer(req: Request, name: str = "") -> None:
    """For other features' buttons (App Home's New customer): open the create-customer modal."""
    req.open_view(_create_view(req, name, {"channel": req.channel_id}))


def new_command(req: Request) -> None:
    open_create_customer(req, " ".join(req.args.split()))


def on_create_open(req: Request) -> None:
    open_create_customer(req, req.value)


def push_create_customer(req: Request, name: str) -> None:
    """For other features' pickers: push the create-customer modal onto the current modal."""
    req.push_view(_create_view(req, name, {"channel": _channel(req.metadata), "pushed": True}))


def _created_notice(name: str | None) -> Update:
    what = f"Created *{esc(name, 200)}*." if name else "This customer was created already."
    return Update(views.notice_view("Customer created", f"{what} Go back and pick it in the form."))


def on_create_submit(req: Request) -> ViewAnswer:
    values = req.values
    channel, pushed = _channel(req.metadata), bool(req.metadata.get("pushed"))
    meta = {"channel": channel, "pushed": pushed}
    contact, force = _contact_form(values)
    if not contact.is_empty() and not (contact.name or "").strip():
        return Errors({views.B_CONTACT_NAME: NAME_THE_CONTACT})
    defs = cf.list_fields(req.sf, req.workspace_id, FieldEntity.CUSTOMER)
    form = svc.CustomerForm(
        name=_text(values, views.B_NAME),
        website=_text(values, views.B_WEBSITE),
        owner_user_id=_owner(values),
        details=record.read_details(values),
        lifecycle_stage=record.read_lifecycle(values),
        custom=read_custom(values, defs),
    )
    try:
        customer = svc.create_record(
            req.sf,
            req.services.search,
            req.workspace_id,
            form,
            actor=req.actor,
            stages=req.config.lifecycle,
            contact=contact,
            phone_region=req.config.phone_region,
            force=force,
            idempotency_key=_form_key(req),
            now=req.now,
        )
    except InvalidFields as err:
        return _field_errors(err, CUSTOMER_FIELDS)
    except DuplicateSuspected as dup:
        view = views.create_customer_view(
            duplicates=dup.candidates, meta=meta, owner=_owner(values), record=_create_record_inputs(req)
        )
        refill(view["blocks"], values)  # Slack opens a new view blank: keep everything typed
        return Update(view)
    except Conflict:  # this very form was saved already (a replay or a second click): it just closes
        return _created_notice(None) if pushed else None
    text = views.done_text("Created", customer.name)
    req.later(lambda: _confirm(req, customer.id, text, channel))
    return _created_notice(customer.name) if pushed else None


def on_use_existing(req: Request) -> None:
    """ "Use this one" on the duplicate warning: nothing is created; the existing card is shown."""
    in_modal = bool(req.view.get("id"))
    try:
        found, blocks = card(req, req.value_id or 0)
    except NotFound:  # the warning is stale: say so where the user is looking
        if in_modal:
            req.update_view(views.notice_view("Not found", "That customer no longer exists. Nothing was created."))
        else:
            req.reply("That customer no longer exists.")
        return
    if in_modal:
        name = esc(found.customer.name, 200)
        text = f"Nothing new was created. *{name}*'s card is in the channel, visible only to you."
        req.update_view(views.notice_view("Existing customer", text))
    req.tell(views.card_text(found), blocks, channel=_channel(req.metadata) or req.channel_id)


# -- edit --------------------------------------------------------------------------------------
def on_edit_open(req: Request) -> None:
    found = svc.record_form(req.sf, req.workspace_id, req.value_id or 0)
    inputs = record.record_inputs(
        found.customer,
        found.tags,
        found.fields,
        found.values,
        stages=req.config.lifecycle,
        region=req.config.phone_region,
    )
    req.open_view(views.edit_customer_view(found.customer, meta={"channel": req.channel_id}, record=inputs))


def on_edit_submit(req: Request) -> ViewAnswer:
    values, meta = req.values, req.metadata
    customer_id = meta_id(meta, "customer")
    fields = svc.record_form(req.sf, req.workspace_id, customer_id).fields
    form = svc.CustomerForm(
        name=_text(values, views.B_NAME),
        website=_text(values, views.B_WEBSITE),
        owner_user_id=_owner(values),
        details=record.read_details(values),
        lifecycle_stage=record.read_lifecycle(values),
        custom=read_custom(values, fields),
    )
    try:
        customer = svc.save_customer(
            req.sf,
            req.services.search,
            req.workspace_id,
            customer_id,
            form,
            actor=req.actor,
            stages=req.config.lifecycle,
            phone_region=req.config.phone_region,
            idempotency_key=_form_key(req),
            now=req.now,
        )
    except InvalidFields as err:
        return _field_errors(err, CUSTOMER_FIELDS)
    except DuplicateSuspected as dup:
        names = ", ".join(c.name for c in dup.candidates[:3])
        return Errors(
            {views.B_NAME: truncate(f"Another customer already looks like this ({names}). Merge them instead?", 300)}
        )
    except Conflict:  # saved already by this very form
        return None
    text = views.done_text("Saved", customer.name)
    req.later(lambda: _confirm(req, customer.id, text, _channel(meta)))
    return None


def on_lifecycle_set(req: Request) -> None:
    """The card's lifecycle select: move the customer, then show the card again."""
    raw_id, _, key = req.value.partition(":")
    customer, _ = svc.change_lifecycle(
        req.sf, req.workspace_id, as_id(raw_id) or 0, key, actor=req.actor, stages=req.config.lifecycle, now=req.now
    )
    found, blocks = card(req, customer.id)
    req.reply(views.card_text(found), blocks, replace=True)


# -- contacts ----------------------------------------------------------------------------------
def _contact_view(req: Request, customer: Any, contact_id: int | None) -> dict[str, Any]:
    contact, fields, values = svc.contact_form(req.sf, req.workspace_id, contact_id)
    region = req.config.phone_region
    extra = record.contact_inputs(contact, fields, values, region)
    phone = show_phone(contact.phone, region=region) if contact is not None and contact.phone else None
    return views.contact_view(customer, contact, meta={"channel": req.channel_id}, extra=extra, work_phone=phone)


def on_contact_add_open(req: Request) -> None:
    customer = svc.get_customer(req.sf, req.workspace_id, req.value_id or 0)
    req.open_view(_contact_view(req, customer, None))


def on_contact_menu(req: Request) -> None:
    verb, _, raw_id = req.value.partition(":")
    contact = svc.get_contact(req.sf, req.workspace_id, as_id(raw_id) or 0)
    if verb == "edit":
        customer = svc.get_customer(req.sf, req.workspace_id, contact.customer_id)
        req.open_view(_contact_view(req, customer, contact.id))
    elif verb == "remove":
        svc.delete_contact(req.sf, req.services.search, req.workspace_id, contact.id, actor=req.user_id)
        req.reply(views.removed_text(contact.name))


def on_contact_submit(req: Request) -> ViewAnswer:
    meta = req.metadata
    contact, force = _contact_form(req.values)
    sf, search, ws, key = req.sf, req.services.search, req.workspace_id, _form_key(req)
    contact_id = meta_id(meta, "contact")
    _, fields, _ = svc.contact_form(sf, ws, None)
    extra: dict[str, Any] = {"region": req.config.phone_region, "custom": read_custom(req.values, fields)}
    try:
        if contact_id:
            saved = svc.update_contact(
                sf, search, ws, contact_id, contact, actor=req.user_id, force_name=force, idempotency_key=key, **extra
            )
        else:
            customer_id = meta_id(meta, "customer")
            saved = svc.add_contact(
                sf, search, ws, customer_id, contact, actor=req.user_id, force_name=force, idempotency_key=key, **extra
            )
    except InvalidFields as err:
        return _field_errors(err, CONTACT_FIELDS)
    except DuplicateSuspected as dup:
        return Errors({views.B_CONTACT_NAME: truncate(f"{dup.message} {SAVE_ANYWAY}", 300)})
    except Conflict:  # saved already by this very form
        return None
    text = views.done_text("Saved contact", saved.name)
    req.later(lambda: _confirm(req, saved.customer_id, text, _channel(meta)))
    return None
