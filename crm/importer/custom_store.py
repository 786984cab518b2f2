"""``--create-fields``: the columns offered as custom fields become fields, and their values are stored.

Inside the import's one transaction: a field whose label the workspace already has, or whose
key the column names (``--map Col=custom:<key>``), live or retired, compared as
:func:`crm.custom_fields.definitions.word`, is reused with its type; otherwise it is created
with :func:`crm.custom_fields.add_field` (the same checks as ``/crm fields``: no clash with a
built-in field, at most 25 per kind of record), typed by what the values showed. Each value is
checked by the field's own type (:func:`crm.custom_fields.clean_value`); one that doesn't fit
is dropped and reported with its line. A value already stored is changed only with ``--update``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from crm.custom_fields import BUILTIN_FIELDS, FieldDef, StoredValue, add_field, clean_value
from crm.custom_fields.definitions import fields_in, word
from crm.errors import InvalidInput
from crm.importer.custom import ColumnStats
from crm.importer.report import CustomOffer
from crm.importer.values import parse_datetime
from crm.models import CustomField, CustomFieldValue, utcnow
from crm.states import FieldType

TYPES = {
    "text": FieldType.TEXT,
    "number": FieldType.NUMBER,
    "money": FieldType.MONEY,
    "date": FieldType.DATE,
    "yes/no": FieldType.YES_NO,
    "one-of-a-list": FieldType.ONE_OF,
    "several-of-a-list": FieldType.SEVERAL_OF,
    "URL": FieldType.URL,
    "email": FieldType.EMAIL,
    "person": FieldType.PERSON,
}
RETIRED = " (retired)"  # how crm.exporter labels a retired field's column
_HAS_CURRENCY = re.compile(r"[A-Za-z]{3}")
Warn = Callable[[int, str], None]  # (line, message)


def offer_label(entity: str, label: str) -> str:
    """The custom field's label: the column's, unless a built-in field has that name."""
    return f"{label} (imported)"[:80] if word(label) in BUILTIN_FIELDS[entity] else label


def _define(
    session: Session, ws: int, entity: str, offer: CustomOffer, stats: ColumnStats, known: dict[str, FieldDef], by: str
) -> FieldDef:
    found = known.get(word(offer.label))
    if found is not None:
        return found
    kind = TYPES[offer.type]
    options = (offer.options or stats.choices) if kind in (FieldType.ONE_OF, FieldType.SEVERAL_OF) else None
    try:
        made = add_field(session, ws, by=by, entity=entity, label=offer.label, type=kind, options=options)
    except InvalidInput as err:
        raise InvalidInput(f"The custom field “{offer.label}” can't be created: {err.message}") from None
    if offer.retired:  # retired in the CRM it was exported from: created retired, its values kept
        row = session.get(CustomField, made.id)
        assert row is not None
        row.retired_at, row.retired_by = utcnow(), by
        session.flush()
    known[word(made.label)] = made
    return made


def export_definitions(path: Path, entity: str) -> dict[str, tuple[str, list[str]]]:
    """This CRM's export's ``custom_fields.csv`` next to ``path``: {label as compared: (type, options)}
    for one kind of record, so the fields come back as they were defined, not as values suggest."""
    names = {t: name for name, t in TYPES.items()}
    found: dict[str, tuple[str, list[str]]] = {}
    source = path.parent / "custom_fields.csv"
    if not source.is_file():
        return found
    with source.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("entity") != entity or row.get("deleted_at") or row.get("type") not in set(names):
                continue
            try:
                options = [str(o.get("label")) for o in json.loads(row.get("options") or "[]") if isinstance(o, dict)]
            except ValueError:
                options = []
            found[word(row.get("label") or "")] = (names[FieldType(row["type"])], options)
    return found


def _typed(field: FieldDef, text: str, *, currency: str, tz: ZoneInfo, dayfirst: bool) -> Any:
    """The cell as ``clean_value`` reads it: dates in any export format, amounts in the import's currency."""
    if field.type is FieldType.DATE:
        try:
            return parse_datetime(text, tz=tz, dayfirst=dayfirst).astimezone(tz).date()
        except InvalidInput:
            return text
    if field.type is FieldType.MONEY and not _HAS_CURRENCY.search(text):
        return f"{text} {currency}"
    return text


def store_custom_values(
    session: Session,
    ws: int,
    entity: str,
    columns: list[tuple[CustomOffer, ColumnStats]],
    rows: list[tuple[int, int, list[tuple[int, str]]]],
    *,
    actor: str,
    update_values: bool,
    currency: str,
    tz: ZoneInfo,
    dayfirst: bool,
    now: datetime,
    warn: Warn,
) -> None:
    """Create (or find) the fields of ``columns`` and store ``rows``: (record id, line, [(column, text)])."""
    existing = fields_in(session, ws, entity, include_retired=True)
    known = {word(d.label): d for d in existing}
    for d in existing:  # also by key ("--map Region=custom:region"), which a rename never changes
        known.setdefault(word(d.key), d)
    defs = [_define(session, ws, entity, offer, stats, known, actor) for offer, stats in columns]
    for offer, _ in columns:
        offer.created = True
    ids = sorted({d.id for d in defs})
    stored: dict[tuple[int, int], tuple[int, StoredValue]] = {}
    for row in session.scalars(select(CustomFieldValue).where(CustomFieldValue.field_id.in_(ids))):
        stored[(row.field_id, row.record_id)] = (row.id, StoredValue.of(row))
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for record_id, line, cells in rows:
        for column, text in cells:
            field = defs[column]
            try:
                value = clean_value(field, _typed(field, text, currency=currency, tz=tz, dayfirst=dayfirst))
            except InvalidInput as err:
                warn(line, f"{columns[column][0].header}: {err.message} The row was imported without it.")
                continue
            if value is None:
                continue
            there = stored.get((field.id, record_id))
            if there is None:
                stored[(field.id, record_id)] = (0, value)
                new.append(
                    {
                        "workspace_id": ws,
                        "entity": entity,
                        "record_id": record_id,
                        "field_id": field.id,
                        **value.columns(),
                        "updated_at": now,
                        "updated_by": actor,
                    }
                )
            elif update_values and there[0] and there[1] != value:
                changed.append({"id": there[0], **value.columns(), "updated_at": now, "updated_by": actor})
    for start in range(0, len(new), 5_000):
        session.execute(insert(cast(Table, CustomFieldValue.__table__)), new[start : start + 5_000])
    if changed:
        session.execute(update(CustomFieldValue), changed)
