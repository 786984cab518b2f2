"""Custom field values: read and checked by the field's type, stored in the column it uses.

Errors name the field by its label, and their ``field`` is :func:`field_error_key` ("cf:<key>"),
so a modal shows each under its own input and an import report names the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit, fields
from crm.actors import Actor
from crm.custom_fields.definitions import FieldDef, fields_in
from crm.customers.values import Collected, clean_text, recorded_id
from crm.errors import InvalidInput, NotFound
from crm.models import Contact, Customer, CustomFieldValue, Deal
from crm.money import exponent, format_money
from crm.normalize import extract_domain, is_valid_domain, strip_control
from crm.slack_ids import is_user_id
from crm.states import AuditAction, FieldEntity, FieldType

MAX_TEXT = 2000  # a text field (a modal's input holds 3000)
MAX_URL = 1024
MAX_NUMBER_DIGITS = 30
YES = frozenset(("yes", "y", "true", "1", "on", "x", "✓", "ja", "oui", "si", "sí"))
NO = frozenset(("no", "n", "false", "0", "off", "nein", "non"))
_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+")
_MONEY = re.compile(r"(?:(?P<pre>[A-Za-z]{3})\s*)?(?P<amount>[^A-Za-z]+?)(?:\s*(?P<post>[A-Za-z]{3}))?")
_RECORDS: dict[FieldEntity, type[Customer] | type[Contact] | type[Deal]] = {
    FieldEntity.CUSTOMER: Customer,
    FieldEntity.CONTACT: Contact,
    FieldEntity.DEAL: Deal,
}


def field_error_key(field: FieldDef) -> str:
    """The ``InvalidInput.field`` of an error about this custom field."""
    return f"cf:{field.key}"


@dataclass(frozen=True)
class StoredValue:
    """A checked value in the columns its field's type uses (see ``CustomFieldValue``)."""

    text: str | None = None
    int_: int | None = None
    currency: str | None = None
    day: date | None = None
    keys: tuple[str, ...] | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "value_text": self.text,
            "value_int": self.int_,
            "value_currency": self.currency,
            "value_date": self.day,
            "value_list": list(self.keys) if self.keys is not None else None,
        }

    @classmethod
    def of(cls, row: CustomFieldValue) -> StoredValue:
        keys = tuple(str(k) for k in row.value_list) if row.value_list is not None else None
        return cls(row.value_text, row.value_int, row.value_currency, row.value_date, keys)

    def plain(self, field: FieldDef) -> Any:
        """The value as JSON and export want it: text, a number as text, "12.50 EUR", an ISO date,
        true/false, an option label, or a list of labels."""
        kind = field.type
        if kind is FieldType.MONEY and self.int_ is not None and self.currency:
            places = exponent(self.currency)
            amount = Decimal(self.int_) / (Decimal(10) ** places)
            return f"{amount:.{places}f} {self.currency}"
        if kind is FieldType.YES_NO:
            return None if self.int_ is None else bool(self.int_)
        if kind is FieldType.DATE:
            return self.day.isoformat() if self.day else None
        if kind is FieldType.ONE_OF:
            return field.option_label(self.text) if self.text else None
        if kind is FieldType.SEVERAL_OF:
            return [field.option_label(k) for k in self.keys or ()]
        return self.text


# -- reading a typed value -----------------------------------------------------------------------
def _bad(field: FieldDef, message: str) -> InvalidInput:
    return InvalidInput(message, field=field_error_key(field))


def _number(field: FieldDef, typed: str) -> StoredValue:
    body = typed.replace(" ", "").replace("_", "")
    if not _NUMBER.fullmatch(body) or len(re.sub(r"\D", "", body)) > MAX_NUMBER_DIGITS:
        raise _bad(field, f"“{typed[:30]}” isn't a number; {field.label} takes a number such as 42, 1,250 or 3.5.")
    value = Decimal(body.replace(",", ""))
    text = format(value.normalize(), "f") if value != 0 else "0"
    return StoredValue(text=text)


def _money(field: FieldDef, typed: str) -> StoredValue:
    from crm.deals import DEFAULT_CURRENCY, clean_currency, parse_amount

    match = _MONEY.fullmatch(typed)
    if match is None or (match["pre"] and match["post"]):
        raise _bad(field, f"“{typed[:30]}” isn't an amount; {field.label} takes one such as 12,500.50 EUR.")
    try:
        currency = clean_currency(match["pre"] or match["post"] or DEFAULT_CURRENCY)
        minor = parse_amount(match["amount"], currency)
    except InvalidInput as err:
        raise _bad(field, f"{field.label}: {err.message}") from None
    if minor is None:
        raise _bad(field, f"{field.label} needs an amount, such as 12,500.50 EUR.")
    return StoredValue(int_=minor, currency=currency)


def _date(field: FieldDef, raw: Any) -> StoredValue:
    if isinstance(raw, date):
        return StoredValue(day=raw)
    try:
        return StoredValue(day=date.fromisoformat(str(raw).strip()))
    except ValueError:
        raise _bad(field, f"“{str(raw)[:30]}” isn't a date; {field.label} takes a date such as 2026-12-31.") from None


def _yes_no(field: FieldDef, raw: Any) -> StoredValue:
    if isinstance(raw, bool):
        return StoredValue(int_=int(raw))
    said = str(raw).strip().casefold()
    if said in YES or said in NO:
        return StoredValue(int_=int(said in YES))
    raise _bad(field, f"“{str(raw)[:30]}” isn't yes or no; {field.label} takes yes or no.")


def _option_key(field: FieldDef, raw: str) -> str:
    said = " ".join(raw.split())
    for option in field.options:
        if said == option.key or said.casefold() == option.label.casefold():
            return option.key
    names = ", ".join(o.label for o in field.options[:10])
    raise _bad(field, f"“{said[:30]}” isn't one of the options of {field.label} ({names}).")


def _several(field: FieldDef, raw: Any) -> StoredValue:
    items = raw if isinstance(raw, list | tuple) else re.split(r"[;\n]", str(raw))
    keys: list[str] = []
    for item in items:
        if str(item).strip():
            key = _option_key(field, str(item))
            if key not in keys:
                keys.append(key)
    return StoredValue(keys=tuple(keys))


def _url(field: FieldDef, typed: str) -> StoredValue:
    url = typed if re.match(r"(?i)https?://", typed) else f"https://{typed}"
    domain = extract_domain(url)
    if len(url) > MAX_URL or not domain or not is_valid_domain(domain) or re.search(r"\s", url):
        raise _bad(field, f"“{typed[:40]}” isn't a web address; {field.label} takes one such as https://acme.com/x.")
    return StoredValue(text=url)


def clean_value(field: FieldDef, raw: Any) -> StoredValue | None:
    """The stored form of ``raw`` for this field, None for blank; raises InvalidInput naming the field."""
    if raw is None or (isinstance(raw, str | list | tuple) and not raw):
        return None
    if isinstance(raw, str):
        raw = strip_control(raw)
        if not raw.strip():
            return None
    kind = field.type
    if kind is FieldType.DATE:
        return _date(field, raw)
    if kind is FieldType.YES_NO:
        return _yes_no(field, raw)
    if kind is FieldType.SEVERAL_OF:
        value = _several(field, raw)
        return value if value.keys else None
    typed = " ".join(str(raw).split())
    if kind is FieldType.TEXT:
        return StoredValue(text=clean_text(typed, limit=MAX_TEXT, field=field_error_key(field), label=field.label))
    if kind is FieldType.NUMBER:
        return _number(field, typed)
    if kind is FieldType.MONEY:
        return _money(field, typed)
    if kind is FieldType.ONE_OF:
        return StoredValue(text=_option_key(field, typed))
    if kind is FieldType.URL:
        return _url(field, typed)
    if kind is FieldType.EMAIL:
        return StoredValue(text=fields.clean_email(typed, field=field_error_key(field), label=field.label))
    if kind is FieldType.PERSON:
        if not is_user_id(typed):
            raise _bad(field, f"Pick {field.label} from the people in this workspace.")
        return StoredValue(text=typed)
    raise _bad(field, f"{field.label} has a type this version doesn't know.")  # pragma: no cover


def clean_values(
    defs: list[FieldDef], raw: dict[str, Any], errors: Collected | None = None
) -> dict[int, StoredValue | None]:
    """Values by field id for the fields named in ``raw`` (by key); errors are gathered into
    ``errors`` when given (else the first is raised). Keys that name no live field are refused."""
    collect = errors if errors is not None else Collected()
    by_key = {d.key: d for d in defs if not d.retired}
    cleaned: dict[int, StoredValue | None] = {}
    for key, value in raw.items():
        found = by_key.get(key)
        if found is None:
            collect.errors.setdefault(f"cf:{key}", "That custom field no longer exists; reopen the form.")
            continue
        taken = collect.take(lambda f=found, v=value: clean_value(f, v))  # type: ignore[misc]
        if f"cf:{key}" not in collect.errors:
            cleaned[found.id] = taken
    if errors is None:
        collect.raise_any()
    return cleaned


# -- storing and reading ---------------------------------------------------------------------------
def load_values(
    session: Session, workspace_id: int, entity: str, record_ids: list[int]
) -> dict[int, dict[int, StoredValue]]:
    """record id → field id → value, for these records (retired fields' values included)."""
    found: dict[int, dict[int, StoredValue]] = {rid: {} for rid in record_ids}
    if not record_ids:
        return found
    for row in session.scalars(
        select(CustomFieldValue).where(
            CustomFieldValue.workspace_id == workspace_id,
            CustomFieldValue.entity == entity,
            CustomFieldValue.record_id.in_(record_ids),
        )
    ):
        found.setdefault(row.record_id, {})[row.field_id] = StoredValue.of(row)
    return found


def values_by_key(defs: list[FieldDef], values: dict[int, StoredValue]) -> dict[str, Any]:
    """{field key: plain value} for the audit trail and history (retired fields too)."""
    return {d.key: values[d.id].plain(d) for d in defs if d.id in values}


def save_values(
    session: Session,
    workspace_id: int,
    entity: str,
    record_id: int,
    values: dict[int, StoredValue | None],
    *,
    actor: str,
) -> None:
    """Store checked values inside the caller's transaction; None removes a value."""
    if not values:
        return
    rows = {
        r.field_id: r
        for r in session.scalars(
            select(CustomFieldValue).where(
                CustomFieldValue.workspace_id == workspace_id,
                CustomFieldValue.entity == entity,
                CustomFieldValue.record_id == record_id,
                CustomFieldValue.field_id.in_(list(values)),
            )
        )
    }
    for field_id, value in values.items():
        row = rows.get(field_id)
        if value is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = CustomFieldValue(workspace_id=workspace_id, entity=entity, record_id=record_id, field_id=field_id)
            session.add(row)
        if StoredValue.of(row) != value if row.id else True:
            for column, stored in value.columns().items():
                setattr(row, column, stored)
            row.updated_by = actor
    session.flush()


def set_values(
    sf: sessionmaker[Session], workspace_id: int, entity: str, record_id: int, raw: dict[str, Any], *, actor: Actor
) -> dict[str, Any]:
    """Check and store custom values of one record by field key (all or nothing), audited on the
    record; the record's values by key afterwards."""
    by = recorded_id(actor.user_id)
    with sf.begin() as session:
        record: Any = session.get(_RECORDS[FieldEntity(entity)], record_id)
        if record is None or record.workspace_id != workspace_id or record.deleted_at is not None:
            raise NotFound(f"That {entity} no longer exists.")
        defs = fields_in(session, workspace_id, entity, include_retired=True)
        cleaned = clean_values(defs, raw)
        before_values = load_values(session, workspace_id, entity, [record_id])[record_id]
        save_values(session, workspace_id, entity, record_id, cleaned, actor=by)
        after_values = load_values(session, workspace_id, entity, [record_id])[record_id]
        before, after = values_by_key(defs, before_values), values_by_key(defs, after_values)
        if before != after:
            audit.change(
                session,
                record,
                AuditAction.UPDATE,
                actor=by,
                before={**audit.snapshot(record), "custom": before},
                extra={"custom": after},
            )
        return after


def form_values(
    sf: sessionmaker[Session], workspace_id: int, entity: str, record_id: int | None
) -> tuple[list[FieldDef], dict[int, StoredValue]]:
    """What a form starts from: the live fields of ``entity`` and the record's values (none for a new one)."""
    with sf() as session:
        defs = fields_in(session, workspace_id, entity)
        if not record_id:
            return defs, {}
        return defs, load_values(session, workspace_id, entity, [record_id]).get(record_id, {})


def show_value(field: FieldDef, value: StoredValue, *, phone_region: str = fields.DEFAULT_REGION) -> str:
    """How the card shows a value (plain text; the Slack layer escapes it)."""
    kind = field.type
    if kind is FieldType.MONEY and value.int_ is not None and value.currency:
        return format_money(value.int_, value.currency)
    if kind is FieldType.YES_NO:
        return "Yes" if value.int_ else "No"
    if kind is FieldType.DATE and value.day:
        return value.day.strftime("%b %-d, %Y")
    if kind is FieldType.NUMBER and value.text:
        number = Decimal(value.text)
        whole, _, frac = value.text.lstrip("-").partition(".")
        sign = "-" if number < 0 else ""
        return f"{sign}{int(whole or 0):,}" + (f".{frac}" if frac else "")
    if kind is FieldType.SEVERAL_OF:
        return ", ".join(field.option_label(k) for k in value.keys or ())
    if kind is FieldType.ONE_OF and value.text:
        return field.option_label(value.text)
    return value.text or ""
