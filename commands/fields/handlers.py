"""`/crm fields`: the list of custom fields, and adding, renaming, retiring, reordering them and
editing their options. Who may is crm's rule (:func:`crm.custom_fields.check_can_manage`): anyone
else gets its polite refusal, from the subcommand and from every button and form alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import App

from commands import request
from commands.blockkit import context, esc
from commands.common import as_id, input_value, meta_id
from commands.fields import views
from commands.request import Errors, Request, ViewAnswer
from commands.router import CUSTOMERS, UMBRELLA, CommandRouter
from crm import custom_fields as cf
from crm.errors import InvalidInput

if TYPE_CHECKING:
    from bot.services import Services

FIELDS = {None: views.B_LABEL, "label": views.B_LABEL, "type": views.B_TYPE, "options": views.B_OPTIONS}
FIELDS |= {"entity": views.B_ENTITY}


def _list(req: Request, *, replace: bool = False, note: str = "") -> None:
    fields = cf.list_fields(req.sf, req.workspace_id, include_retired=True)
    blocks = views.list_blocks(fields)
    if note:
        blocks.insert(1, context(note))
    req.reply(views.list_text(), blocks=blocks, replace=replace)


def fields_command(req: Request) -> None:
    cf.check_can_manage(req.actor)  # PermissionDenied is the reply
    _list(req)


def on_add_open(req: Request) -> None:
    cf.check_can_manage(req.actor)
    req.open_view(views.add_view({"channel": req.channel_id}))


def on_menu(req: Request) -> None:
    cf.check_can_manage(req.actor)
    verb, _, raw_id = req.value.partition(":")
    field_id, actor = as_id(raw_id) or 0, req.actor
    found = cf.get_field(req.sf, req.workspace_id, field_id)
    meta = {"channel": req.channel_id}
    if verb == "rename":
        req.open_view(views.rename_view(found, meta))
        return
    if verb == "options":
        req.open_view(views.options_view(found, meta))
        return
    if verb == "retire":
        cf.retire_field(req.sf, req.workspace_id, field_id, actor=actor)
        note = f"Retired “{esc(found.label, 80)}”. Its values are kept; “Bring back” restores it."
    elif verb == "unretire":
        cf.unretire_field(req.sf, req.workspace_id, field_id, actor=actor)
        note = f"“{esc(found.label, 80)}” is back, with its values."
    elif verb == "up":
        order = [f.id for f in cf.list_fields(req.sf, req.workspace_id, found.entity)]
        at = order.index(found.id) if found.id in order else 0
        if at > 0:
            order[at - 1], order[at] = order[at], order[at - 1]
        cf.reorder_fields(req.sf, req.workspace_id, found.entity, order, actor=actor)
        note = f"Moved “{esc(found.label, 80)}” up."
    else:
        raise InvalidInput("That menu choice is not one I know. Run /crm fields again.")
    _list(req, replace=True, note=note)


def _typed(req: Request, block_id: str) -> str:
    value = input_value(req.values, block_id, views.A_VALUE)
    return value if isinstance(value, str) else ""


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _confirm(req: Request, note: str) -> None:
    channel = req.metadata.get("channel")
    fields = cf.list_fields(req.sf, req.workspace_id, include_retired=True)
    blocks = views.list_blocks(fields)
    blocks.insert(1, context(note))
    req.tell(views.done_text(note), blocks, channel=channel if isinstance(channel, str) else None)


def on_add_submit(req: Request) -> ViewAnswer:
    entity, label, kind = _typed(req, views.B_ENTITY), _typed(req, views.B_LABEL), _typed(req, views.B_TYPE)
    if not kind:
        return Errors({views.B_TYPE: "Pick a type for the field."})
    added = cf.define_field(
        req.sf,
        req.workspace_id,
        actor=req.actor,
        entity=entity,
        label=label,
        type=kind,
        options=_lines(_typed(req, views.B_OPTIONS)) or None,
    )
    req.later(lambda: _confirm(req, f"Added “{esc(added.label, 80)}”."))
    return None


def on_rename_submit(req: Request) -> ViewAnswer:
    renamed = cf.rename_field(
        req.sf, req.workspace_id, meta_id(req.metadata, "field"), actor=req.actor, label=_typed(req, views.B_LABEL)
    )
    req.later(lambda: _confirm(req, f"Renamed to “{esc(renamed.label, 80)}”; its values stay."))
    return None


def on_options_submit(req: Request) -> ViewAnswer:
    lines = _lines(_typed(req, views.B_OPTIONS))
    saved = cf.set_options(req.sf, req.workspace_id, meta_id(req.metadata, "field"), lines, actor=req.actor)
    req.later(lambda: _confirm(req, f"Saved the options of “{esc(saved.label, 80)}”."))
    return None


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "fields",
        fields_command,
        summary="Admins: the workspace's custom fields on customers, contacts and deals; add, rename, retire.",
        example=f"{UMBRELLA} fields",
        aliases=("field", "custom"),
        topic=CUSTOMERS,
    )
    request.action(app, views.ADD_OPEN, on_add_open)
    request.action(app, views.MENU, on_menu)
    request.view(app, views.ADD_VIEW, on_add_submit, fields=FIELDS)
    request.view(app, views.RENAME_VIEW, on_rename_submit, fields=FIELDS)
    request.view(app, views.OPTIONS_VIEW, on_options_submit, fields=FIELDS)
