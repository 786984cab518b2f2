"""Block Kit for the fuller customer record: its part of the card (with the lifecycle select),
the inputs of the edit and contact modals, and reading those submissions back.

Pure functions. Block ids are the field names ``crm`` reports errors under ("phone",
"billing_country", "cf:tier", ...), so an :class:`~crm.errors.InvalidFields` maps straight onto
the modal; Slack keeps what was typed in a refused modal, so the user fixes just that field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import context, esc, input_block, mrkdwn, option, person, section, text_input, truncate
from commands.common import input_value
from commands.custom_values import custom_input, select_input, show_custom
from commands.customers.views import B_CONTACT_MOBILE
from crm import custom_fields as cf
from crm import customers as svc
from crm.customers.history import FieldChange, RecordChange
from crm.dates import format_local
from crm.fields import country_name, region_name, show_phone
from crm.lifecycle import LifecycleStages
from crm.models import Contact, Customer, Deal
from crm.money import format_money

LIFECYCLE_SET = "customer_lifecycle_set"  # the card's select: value "<customer id>:<stage key>"
A_VALUE = "value"
B_PHONE, B_LIFECYCLE, B_INDUSTRY, B_EMPLOYEES = "phone", "lifecycle_stage", "industry", "employees"
B_REVENUE, B_CURRENCY, B_DESCRIPTION, B_TAGS = "annual_revenue", "revenue_currency", "description", "tags"
ADDRESS_PARTS = (
    ("street", "Street", 512),
    ("city", "City", 128),
    ("region", "State / region", 128),
    ("postal_code", "Postal code", 32),
    ("country", "Country", 64),
)
_ISO_REGION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
B_MOBILE = B_CONTACT_MOBILE  # one block id in the create and contact modals
CARD_DESCRIPTION = 600
FIELDS_PER_SECTION = 10  # Slack's limit for a section's fields

Name = Callable[[str], str]


# -- the card ------------------------------------------------------------------------------------
def address_line(parts: dict[str, str | None]) -> str:
    """ "1 Market St, San Francisco, California 94105, United States" (plain text)."""
    region = region_name(parts.get("region")) if parts.get("region") else ""
    place = " ".join(p for p in (region, parts.get("postal_code") or "") if p)
    items = [parts.get("street") or "", parts.get("city") or "", place, country_name(parts.get("country"))]
    return ", ".join(i for i in items if i)


def _address(row: Any, prefix: str) -> dict[str, str | None]:
    return {part: getattr(row, f"{prefix}{part}") for part, _, _ in ADDRESS_PARTS}


def _field_sections(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """(label, mrkdwn value) pairs as sections of at most 10 fields."""
    blocks = []
    for start in range(0, len(items), FIELDS_PER_SECTION):
        chunk = items[start : start + FIELDS_PER_SECTION]
        fields = [mrkdwn(truncate(f"*{esc(label, 80)}*\n{value}", 2000)) for label, value in chunk]
        blocks.append({"type": "section", "fields": fields})
    return blocks


def lifecycle_select(customer: Customer, stages: LifecycleStages) -> dict[str, Any]:
    options = [option(s.display, f"{customer.id}:{s.key}") for s in stages.stages]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": LIFECYCLE_SET,
        "placeholder": {"type": "plain_text", "text": "Set stage"},
        "options": options,
    }
    current = stages.get(customer.lifecycle_stage)
    if current is not None:
        element["initial_option"] = option(current.display, f"{customer.id}:{current.key}")
    return element


def card_record_blocks(
    card: svc.CustomerCard,
    *,
    stages: LifecycleStages,
    region: str,
    shared: bool,
    name_of: Name | None,
) -> list[dict[str, Any]]:
    """The record's part of the card: lifecycle stage (a select unless shared), facts, description,
    custom fields. Only what is filled in is shown."""
    c = card.customer
    stage = stages.describe(c.lifecycle_stage).display if c.lifecycle_stage else "not set"
    stage_text = f"*Lifecycle stage:* {esc(stage, 80)}"
    blocks = [section(stage_text) if shared else section(stage_text, accessory=lifecycle_select(c, stages))]
    facts: list[tuple[str, str]] = []
    if c.phone:
        facts.append(("Phone", esc(show_phone(c.phone, region=region), 60)))
    if c.industry:
        facts.append(("Industry", esc(c.industry, 120)))
    if c.employees is not None:
        facts.append(("Employees", f"{c.employees:,}"))
    if c.annual_revenue_minor is not None and c.annual_revenue_currency:
        facts.append(("Annual revenue", esc(format_money(c.annual_revenue_minor, c.annual_revenue_currency), 60)))
    for label, prefix in (("Billing address", "billing_"), ("Shipping address", "shipping_")):
        line = address_line(_address(c, prefix))
        if line:
            facts.append((label, esc(line, 600)))
    if card.tags:
        facts.append(("Tags", esc(", ".join(card.tags), 600)))
    facts += [(f.label, show_custom(f, v, name_of, region)) for f, v in card.custom]
    blocks += _field_sections(facts)
    if c.description:
        blocks.append(section(f"*Description*\n{esc(c.description, CARD_DESCRIPTION)}"))
    return blocks


def contact_extras(contact: Contact, card: svc.CustomerCard, region: str, name_of: Name | None) -> list[str]:
    """The contact line's phones (national format where local), address and custom values."""
    parts = []
    if contact.phone:
        parts.append(f"work {esc(show_phone(contact.phone, region=region), 40)}")
    if contact.mobile_phone:
        parts.append(f"mobile {esc(show_phone(contact.mobile_phone, region=region), 40)}")
    line = address_line(_address(contact, ""))
    if line:
        parts.append(esc(line, 300))
    for f, v in card.contact_custom.get(contact.id, []):
        parts.append(f"{esc(f.label, 40)}: {show_custom(f, v, name_of, region)}")
    return parts


def deal_extras(deal: Deal, card: svc.CustomerCard, region: str, name_of: Name | None) -> list[str]:
    """An open deal's custom values on the card: "Label: value"."""
    return [f"{esc(f.label, 40)}: {show_custom(f, v, name_of, region)}" for f, v in card.deal_custom.get(deal.id, [])]


# -- history --------------------------------------------------------------------------------------
def _shown(change: FieldChange, value: Any, currency: str | None, stages: LifecycleStages, region: str) -> str:
    if value is None or value == [] or value == "":
        return "—"
    if change.field == "lifecycle_stage":
        return stages.describe(str(value)).display
    if change.field in ("phone", "contact_phone", "contact_mobile_phone"):
        return show_phone(str(value), region=region)
    if change.field == "annual_revenue_minor" and isinstance(value, int) and currency:
        return format_money(value, currency)
    if change.field.endswith("_country"):
        return country_name(str(value))
    if change.field.endswith("_region"):
        return region_name(str(value))
    if change.field == "owner_user_id":
        return person(str(value))  # a private page: a mention is fine (and not escaped away)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def change_blocks(
    changes: list[RecordChange], *, tz: str, now: datetime, stages: LifecycleStages, region: str
) -> list[dict[str, Any]]:
    """The record's latest edits for the history page: who, when, and each field from → to."""
    blocks = []
    for n, change in enumerate(changes):
        parts = []
        for c in change.changes:
            old = _shown(c, c.before, c.before_currency, stages, region)
            new = _shown(c, c.after, c.after_currency, stages, region)
            raw = c.field == "owner_user_id"
            parts.append(f"{esc(c.label, 60)}: {old if raw else esc(old, 120)} → {new if raw else esc(new, 120)}")
        title = "*Record changes*\n" if n == 0 else ""
        head = f"{title}{format_local(change.at, tz, now=now)} · {person(change.by)}"
        blocks.append(section(truncate(head + "\n" + "; ".join(parts), 2900)))
    return blocks


# -- modal inputs ---------------------------------------------------------------------------------
def _text(block_id: str, label: str, initial: str | None, max_length: int, **kw: Any) -> dict[str, Any]:
    element = text_input(A_VALUE, initial=initial, max_length=max_length, placeholder=kw.pop("placeholder", None))
    if kw.pop("multiline", False):
        element["multiline"] = True
    return input_block(block_id, label, element, optional=True, **kw)


def address_inputs(initial: dict[str, str | None], prefix: str, title: str) -> list[dict[str, Any]]:
    """Street ... country inputs (block ids ``{prefix}street`` ...), prefilled from ``initial``."""
    blocks: list[dict[str, Any]] = [context(f"*{title}*")]
    for part, label, limit in ADDRESS_PARTS:
        typed = initial.get(part)
        if part == "region" and typed and _ISO_REGION.fullmatch(typed):
            typed = typed.split("-", 1)[1]  # "US-CA" is edited as "CA" next to the country
        hint = "A name or code, e.g. US, USA or United States" if part == "country" else None
        blocks.append(_text(f"{prefix}{part}", label, typed, limit, hint=hint))
    return blocks


def record_inputs(
    customer: Customer,
    tags: list[str],
    defs: list[cf.FieldDef],
    values: dict[int, cf.StoredValue],
    *,
    stages: LifecycleStages,
    region: str,
) -> list[dict[str, Any]]:
    """The edit modal's inputs after name, website and owner."""
    c = customer
    stage_options = [option(s.display, s.key) for s in stages.stages]
    if c.lifecycle_stage and not stages.is_active(c.lifecycle_stage):  # retired: keep it choosable
        stage_options.insert(0, option(stages.describe(c.lifecycle_stage).display, c.lifecycle_stage))
    revenue = None
    if c.annual_revenue_minor is not None and c.annual_revenue_currency:
        revenue = format_money(c.annual_revenue_minor, c.annual_revenue_currency).lstrip("$€£¥₹")
        revenue = revenue.split(" ", 1)[-1] if revenue[:3].isalpha() else revenue
    blocks = [
        select_input(B_LIFECYCLE, "Lifecycle stage", stage_options, c.lifecycle_stage),
        _text(B_PHONE, "Company phone", show_phone(c.phone, region=region) or None, 64, placeholder="+1 415 555 0100"),
        _text(B_INDUSTRY, "Industry", c.industry, 128),
        _text(B_EMPLOYEES, "Employees", f"{c.employees}" if c.employees is not None else None, 16),
        _text(B_REVENUE, "Annual revenue", revenue, 40, placeholder="12,500,000"),
        _text(B_CURRENCY, "Revenue currency", c.annual_revenue_currency, 3, placeholder="USD"),
        _text(B_TAGS, "Tags", ", ".join(tags) or None, 2000, hint="Separated by commas"),
        _text(B_DESCRIPTION, "Description", c.description, svc.MAX_DESCRIPTION, multiline=True),
        *address_inputs(_address(c, "billing_"), "billing_", "Billing address"),
        *address_inputs(_address(c, "shipping_"), "shipping_", "Shipping address"),
    ]
    if defs:
        blocks.append(context("*Custom fields*"))
        blocks += [custom_input(d, values.get(d.id)) for d in defs]
    return blocks


def contact_inputs(
    contact: Contact | None, defs: list[cf.FieldDef], values: dict[int, cf.StoredValue], region: str
) -> list[dict[str, Any]]:
    """The contact modal's mobile phone, address and custom fields."""
    mobile = show_phone(contact.mobile_phone, region=region) if contact is not None and contact.mobile_phone else None
    blocks = [_text(B_MOBILE, "Mobile phone", mobile, 64)]
    blocks += address_inputs(_address(contact, "") if contact is not None else {}, "contact_", "Address")
    blocks += [custom_input(d, values.get(d.id)) for d in defs]
    return blocks


# -- reading submissions ---------------------------------------------------------------------------
def _typed(values: dict[str, Any], block_id: str) -> str:
    value = input_value(values, block_id, A_VALUE)
    return value if isinstance(value, str) else ""


def read_address(values: dict[str, Any], prefix: str) -> svc.AddressInput:
    return svc.AddressInput(*(_typed(values, f"{prefix}{part}") for part, _, _ in ADDRESS_PARTS))


def read_details(values: dict[str, Any]) -> svc.DetailsInput:
    return svc.DetailsInput(
        phone=_typed(values, B_PHONE),
        billing=read_address(values, "billing_"),
        shipping=read_address(values, "shipping_"),
        industry=_typed(values, B_INDUSTRY),
        employees=_typed(values, B_EMPLOYEES),
        annual_revenue=_typed(values, B_REVENUE),
        revenue_currency=_typed(values, B_CURRENCY),
        description=_typed(values, B_DESCRIPTION),
        tags=_typed(values, B_TAGS),
    )


def read_lifecycle(values: dict[str, Any]) -> str | None:
    return _typed(values, B_LIFECYCLE) or None
