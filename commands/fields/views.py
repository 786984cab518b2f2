"""Block Kit for custom field admin: the list with its menus, and the add / rename / options modals.

Pure functions of :class:`crm.custom_fields.FieldDef`. Labels and options are admin-typed and
escaped like anything else users type.
"""

from __future__ import annotations

import json
from typing import Any

from commands.blockkit import (
    actions,
    button,
    context,
    esc,
    fallback_text,
    header,
    input_block,
    option,
    plain,
    section,
    text_input,
)
from crm.custom_fields import MAX_OPTIONS, FieldDef
from crm.custom_fields.definitions import LIST_TYPES
from crm.states import FieldEntity, FieldType

ADD_OPEN = "fields_add_open"
MENU = "fields_menu"  # overflow: "rename:<id>", "options:<id>", "up:<id>", "retire:<id>", "unretire:<id>"
ADD_VIEW, RENAME_VIEW, OPTIONS_VIEW = "fields_add", "fields_rename", "fields_options"
B_ENTITY, B_LABEL, B_TYPE, B_OPTIONS = "entity", "label", "type", "options"
A_VALUE = "value"

ENTITY_NAMES = {FieldEntity.CUSTOMER: "Customers", FieldEntity.CONTACT: "Contacts", FieldEntity.DEAL: "Deals"}
TYPE_NAMES = {
    FieldType.TEXT: "Text",
    FieldType.NUMBER: "Number",
    FieldType.MONEY: "Money",
    FieldType.DATE: "Date",
    FieldType.YES_NO: "Yes / no",
    FieldType.ONE_OF: "One of a list",
    FieldType.SEVERAL_OF: "Several of a list",
    FieldType.URL: "Web address (URL)",
    FieldType.EMAIL: "Email",
    FieldType.PERSON: "Person in Slack",
}
LIST_SHOWN = 12  # options listed per field before "and N more"


def list_text() -> str:
    return fallback_text("Custom fields")


def _describe(f: FieldDef) -> str:
    kind = TYPE_NAMES.get(f.type, f.type)
    text = f"*{esc(f.label, 80)}* · {kind}"
    if f.options:
        names = ", ".join(o.label for o in f.options[:LIST_SHOWN])
        more = f" and {len(f.options) - LIST_SHOWN} more" if len(f.options) > LIST_SHOWN else ""
        text += f"\n{esc(names, 1500)}{more}"
    return text


def _menu(f: FieldDef, first: bool) -> dict[str, Any]:
    if f.retired:
        choices = [option("Bring back", f"unretire:{f.id}")]
    else:
        choices = [option("Rename", f"rename:{f.id}")]
        if f.type in LIST_TYPES:
            choices.append(option("Edit options", f"options:{f.id}"))
        if not first:
            choices.append(option("Move up", f"up:{f.id}"))
        choices.append(option("Retire (values are kept)", f"retire:{f.id}"))
    return {"type": "overflow", "action_id": MENU, "options": choices}


def list_blocks(fields: list[FieldDef]) -> list[dict[str, Any]]:
    """Every kind of record's fields in order, each with its menu; retired ones after them."""
    blocks: list[dict[str, Any]] = [header("Custom fields")]
    for entity, name in ENTITY_NAMES.items():
        live = [f for f in fields if f.entity == entity and not f.retired]
        retired = [f for f in fields if f.entity == entity and f.retired]
        blocks.append(section(f"*{name}*" + ("" if live else ": none yet")))
        blocks += [section(_describe(f), accessory=_menu(f, i == 0)) for i, f in enumerate(live)]
        if retired:
            blocks.append(context(f"Retired {name.lower()} fields (their values are kept):"))
            blocks += [section(_describe(f), accessory=_menu(f, False)) for f in retired]
    blocks.append(
        context("A field's values survive renaming and retiring. Only workspace admins can change these fields.")
    )
    blocks.append(actions(button("Add field", ADD_OPEN, "add", "primary")))
    return blocks[:50]  # a message holds 50 blocks: 3 kinds × 25 live fields never need more than the list shows


def _modal(callback_id: str, title: str, submit: str, meta: dict[str, Any], blocks: list[dict[str, Any]]):
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "submit": plain(submit, 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(meta, separators=(",", ":")),
        "blocks": blocks,
    }


def _options_input(initial: list[str]) -> dict[str, Any]:
    element = text_input(A_VALUE, initial="\n".join(initial) or None, max_length=3000)
    element["multiline"] = True
    hint = (
        f"One option per line, at most {MAX_OPTIONS}. Keep a line to keep its option (and its values); "
        "write “Gold → Platinum” to rename one. An option still in use can't be removed."
    )
    return input_block(B_OPTIONS, "Options", element, optional=True, hint=hint)


def add_view(meta: dict[str, Any]) -> dict[str, Any]:
    entities = [option(name, entity) for entity, name in ENTITY_NAMES.items()]
    types = [option(name, kind) for kind, name in TYPE_NAMES.items()]
    blocks = [
        input_block(
            B_ENTITY,
            "On",
            {"type": "static_select", "action_id": A_VALUE, "options": entities, "initial_option": entities[0]},
        ),
        input_block(B_LABEL, "Field name", text_input(A_VALUE, max_length=80, placeholder="Contract end")),
        input_block(B_TYPE, "Type", {"type": "static_select", "action_id": A_VALUE, "options": types}),
        _options_input([]),
        context("Options are only for the list types. The field's name can be changed later; its values stay."),
    ]
    return _modal(ADD_VIEW, "Add a custom field", "Add", meta, blocks)


def rename_view(f: FieldDef, meta: dict[str, Any]) -> dict[str, Any]:
    element = text_input(A_VALUE, initial=f.label, max_length=80)
    blocks = [input_block(B_LABEL, "New name", element), context("Every value of this field stays as it is.")]
    return _modal(RENAME_VIEW, "Rename field", "Rename", {**meta, "field": f.id}, blocks)


def options_view(f: FieldDef, meta: dict[str, Any]) -> dict[str, Any]:
    blocks = [section(f"Options of *{esc(f.label, 80)}*"), _options_input([o.label for o in f.options])]
    return _modal(OPTIONS_VIEW, "Edit options", "Save", {**meta, "field": f.id}, blocks)


def done_text(what: str) -> str:
    return fallback_text(what, 300)
