"""Custom field values in Slack: an input per field type, reading a submission, showing a value.

Shared by every form and card that holds custom fields (customers, contacts, deals). Block ids
are :func:`crm.custom_fields.field_error_key` ("cf:<key>"), the field crm names in its errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands.blockkit import esc, input_block, option, person, text_input
from commands.common import input_value
from crm import custom_fields as cf
from crm.slack_ids import is_user_id
from crm.states import FieldType

A_VALUE = "value"
Name = Callable[[str], str]


def show_custom(field: cf.FieldDef, value: cf.StoredValue, name_of: Name | None, region: str) -> str:
    """A custom value in mrkdwn: escaped, a person as a mention privately or by name when shared."""
    if field.type is FieldType.PERSON and value.text:
        return person(value.text, name_of)
    return esc(cf.show_value(field, value, phone_region=region), 500)


def select_input(
    block_id: str,
    label: str,
    options: list[dict[str, Any]],
    initial: str | tuple[str, ...] | None,
    *,
    multi: bool = False,
) -> dict[str, Any]:
    """An optional (multi) static select preselecting the option(s) whose value is ``initial``."""
    kind = "multi_static_select" if multi else "static_select"
    element: dict[str, Any] = {"type": kind, "action_id": A_VALUE, "options": options[:100]}
    wanted = (initial,) if isinstance(initial, str) else (initial or ())
    chosen = [o for o in options[:100] if o["value"] in wanted]
    if chosen and multi:
        element["initial_options"] = chosen
    elif chosen:
        element["initial_option"] = chosen[0]
    return input_block(block_id, label, element, optional=True)


def custom_input(field: cf.FieldDef, value: cf.StoredValue | None) -> dict[str, Any]:
    """The input for one custom field, prefilled with its value."""
    block_id, kind = cf.field_error_key(field), field.type
    if kind is FieldType.DATE:
        element: dict[str, Any] = {"type": "datepicker", "action_id": A_VALUE}
        if value is not None and value.day:
            element["initial_date"] = value.day.isoformat()
        return input_block(block_id, field.label, element, optional=True)
    if kind is FieldType.PERSON:
        element = {"type": "users_select", "action_id": A_VALUE}
        if value is not None and is_user_id(value.text):
            element["initial_user"] = value.text
        return input_block(block_id, field.label, element, optional=True)
    if kind is FieldType.YES_NO:
        yes_no = None if value is None or value.int_ is None else ("yes" if value.int_ else "no")
        return select_input(block_id, field.label, [option("Yes", "yes"), option("No", "no")], yes_no)
    if kind in (FieldType.ONE_OF, FieldType.SEVERAL_OF):
        options = [option(o.label, o.key) for o in field.options]
        chosen = (value.keys if kind is FieldType.SEVERAL_OF else value.text) if value is not None else None
        return select_input(block_id, field.label, options, chosen, multi=kind is FieldType.SEVERAL_OF)
    shown = None
    if value is not None:
        plain = value.plain(field)
        shown = str(plain) if plain is not None else None
    hints = {FieldType.MONEY: "An amount and currency, e.g. 12,500.50 EUR", FieldType.NUMBER: "A number, e.g. 1,250.5"}
    return input_block(
        block_id, field.label, text_input(A_VALUE, initial=shown, max_length=2000), optional=True, hint=hints.get(kind)
    )


def read_custom(values: dict[str, Any], defs: list[cf.FieldDef]) -> dict[str, Any]:
    """Custom values by field key as submitted (blank ones too, so clearing a value removes it)."""
    found: dict[str, Any] = {}
    for d in defs:
        block = values.get(cf.field_error_key(d))
        if block is None:
            continue  # not on this form (a field added while it was open): left alone
        element = block.get(A_VALUE) or {}
        if element.get("type") == "multi_static_select":
            found[d.key] = [o.get("value") for o in element.get("selected_options") or [] if isinstance(o, dict)]
        else:
            raw = input_value(values, cf.field_error_key(d), A_VALUE)
            found[d.key] = raw if isinstance(raw, str) else ""
    return found
