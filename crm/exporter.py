"""Take everything out (export) and bring an export back in (restore).

:func:`export_workspace` writes every table of one workspace to a directory, each as
``<table>.csv`` (for people and spreadsheets) and ``<table>.jsonl`` (exact values, for
machines), plus ``manifest.json`` with the row counts, written last so a directory with a
manifest is a complete export. Rows are streamed, never loaded whole.

CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or
a carriage return) get a leading ``'``, so ``=HYPERLINK(...)`` in a customer name shows
as text. Plain numbers and phone numbers such as ``+14155550100`` or ``-12.5`` are left
alone: they cannot call a function. The JSON Lines files keep every value exactly.

:func:`restore_workspace` reads the JSON Lines of an export into a workspace that holds
no data yet, in one transaction: ids are assigned afresh and every reference (foreign
keys, audit entries and the ids inside their before/after snapshots) is translated, so
the data comes back the same. Only the search bookkeeping (``index_version``) is
re-stamped, so every replica indexes the restored customers.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Date, DateTime, Table, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm import custom_fields as cf
from crm.errors import CRMError
from crm.importer import allocate_ids
from crm.lookup import bump_search_version
from crm.models import (
    Activity,
    ActivityParticipant,
    AlertSubscription,
    AuditEntry,
    Contact,
    Customer,
    CustomerAlias,
    CustomerLifecycleChange,
    CustomerTag,
    CustomField,
    CustomFieldValue,
    Deal,
    DealStageChange,
    DigestSubscription,
    FollowUp,
    LinkedChannel,
    UTCDateTime,
    Workspace,
    utcnow,
)
from crm.states import FieldEntity

FORMAT = "crm-export"
VERSION = 1
MANIFEST = "manifest.json"
# Every workspace table worth keeping, parents before children.
TABLES: tuple[tuple[str, Any], ...] = (
    ("customers", Customer),
    ("customer_aliases", CustomerAlias),
    ("customer_tags", CustomerTag),
    ("customer_lifecycle_changes", CustomerLifecycleChange),
    ("contacts", Contact),
    ("deals", Deal),
    ("deal_stage_changes", DealStageChange),
    ("activities", Activity),
    ("follow_ups", FollowUp),
    ("activity_participants", ActivityParticipant),
    ("linked_channels", LinkedChannel),
    ("alert_subscriptions", AlertSubscription),
    ("digest_subscriptions", DigestSubscription),
    ("custom_fields", CustomField),
    ("custom_field_values", CustomFieldValue),
    ("audit_log", AuditEntry),
)
# Tables whose CSV also has one column per custom field (by label) after its own columns; the
# customers' CSV has their tags too. The JSON Lines keep only the table's own columns: the
# values are exact in custom_field_values.jsonl and customer_tags.jsonl.
CUSTOM_ENTITIES = {"customers": FieldEntity.CUSTOMER, "contacts": FieldEntity.CONTACT, "deals": FieldEntity.DEAL}
TAGS_COLUMN = "tags"
SKIPPED_COLUMNS = ("workspace_id",)  # implied by the export
# audit_log.entity_type -> the table its entity_id points into
AUDIT_ENTITIES = {
    "customer": "customers",
    "contact": "contacts",
    "deal": "deals",
    "activity": "activities",
    "follow_up": "follow_ups",
    "digest_subscription": "digest_subscriptions",
    "alert_subscription": "alert_subscriptions",
    "custom_field": "custom_fields",
}
# ids inside audit snapshots
SNAPSHOT_REFS = {"customer_id": "customers", "contact_id": "contacts", "deal_id": "deals", "activity_id": "activities"}
BATCH = 2_000

Progress = Callable[[str, int, int, int, bool], None]  # (label, rows, done, total, finished)


class ExportError(CRMError):
    """An export directory that can't be written or restored; nothing was changed."""


# -- values --------------------------------------------------------------------------------
_SAFE_NUMBER = re.compile(r"^[+-]?[\d\s().,/-]*\d[\d\s().,/-]*$")


def neutralise(value: str) -> str:
    """Stop a spreadsheet running a cell as a formula: "=HYPERLINK(...)" -> "'=HYPERLINK(...)"."""
    if value and value[0] in "=+-@\t\r" and not _SAFE_NUMBER.match(value):
        return "'" + value
    return value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


def _columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in SKIPPED_COLUMNS]


# -- export --------------------------------------------------------------------------------
class _Extras:
    """The CSV's extra columns for one table: custom fields by label (position order, retired
    ones too, marked), and the customers' tags; looked up per batch of rows, never all at once."""

    def __init__(self, session: Session, workspace_id: int, table: str, id_at: int) -> None:
        self.session, self.workspace_id, self.id_at = session, workspace_id, id_at
        self.entity = CUSTOM_ENTITIES.get(table)
        self.tags = table == "customers"
        self.defs = (
            cf.definitions.fields_in(session, workspace_id, self.entity, include_retired=True) if self.entity else []
        )
        self.header = ([TAGS_COLUMN] if self.tags else []) + [
            f"{d.label} (retired)" if d.retired else d.label for d in self.defs
        ]
        self._values: dict[int, dict[int, cf.StoredValue]] = {}
        self._tags: dict[int, list[str]] = {}

    def rows(self, result: Any) -> Iterator[Any]:
        """The rows in order, with each batch's extras loaded before it is written."""
        if not self.header:
            yield from result
            return
        for chunk in result.partitions(BATCH):
            ids = [row[self.id_at] for row in chunk]
            if self.entity and self.defs:
                self._values = cf.load_values(self.session, self.workspace_id, self.entity, ids)
            if self.tags:
                self._tags = {i: [] for i in ids}
                for cid, tag in self.session.execute(
                    select(CustomerTag.customer_id, CustomerTag.tag)
                    .where(CustomerTag.customer_id.in_(ids))
                    .order_by(CustomerTag.normalized)
                ):
                    self._tags[cid].append(tag)
            yield from chunk

    def cells(self, row: Any) -> list[Any]:
        if not self.header:
            return []
        record_id = row[self.id_at]
        values = self._values.get(record_id, {})
        cells: list[Any] = ["; ".join(self._tags.get(record_id, []))] if self.tags else []
        for d in self.defs:
            value = values.get(d.id)
            plain = value.plain(d) if value is not None else None
            cells.append("; ".join(plain) if isinstance(plain, list) else plain)
        return cells


@dataclass
class ExportReport:
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def export_workspace(
    sf: sessionmaker[Session],
    workspace_id: int,
    directory: Path,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ExportReport:
    """Write every table of the workspace as CSV and JSON Lines, then the manifest."""
    started = time.perf_counter()
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"Can't create {directory}: {err.strerror}.") from None
    report = ExportReport(directory)
    (directory / MANIFEST).unlink(missing_ok=True)
    with sf() as session:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            raise ExportError("That workspace does not exist.")
        for name, model in TABLES:
            table: Table = model.__table__
            columns = _columns(table)
            total = (
                session.scalar(select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)) or 0
            )
            csv_path, jsonl_path = directory / f"{name}.csv", directory / f"{name}.jsonl"
            csv_tmp, jsonl_tmp = csv_path.with_suffix(".csv.part"), jsonl_path.with_suffix(".jsonl.part")
            count = 0
            try:
                with (
                    csv_tmp.open("w", encoding="utf-8-sig", newline="") as csv_file,
                    jsonl_tmp.open("w", encoding="utf-8") as jf,
                ):
                    writer = csv.writer(csv_file)
                    extras = _Extras(session, workspace_id, name, columns.index("id"))
                    writer.writerow(columns + extras.header)
                    result = session.execute(
                        select(*(table.c[c] for c in columns))
                        .where(table.c.workspace_id == workspace_id)
                        .order_by(table.c.id)
                        .execution_options(yield_per=BATCH)
                    )
                    for row in extras.rows(result):
                        writer.writerow([_csv_cell(v) for v in row] + [_csv_cell(v) for v in extras.cells(row)])
                        jf.write(
                            json.dumps(
                                {c: audit.jsonable(v) for c, v in zip(columns, row, strict=True)},
                                ensure_ascii=False,
                                sort_keys=False,
                            )
                        )
                        jf.write("\n")
                        count += 1
                        if progress is not None and count % 10_000 == 0:
                            progress(name, count, count, total, False)
                os.replace(csv_tmp, csv_path)
                os.replace(jsonl_tmp, jsonl_path)
            except OSError as err:
                csv_tmp.unlink(missing_ok=True)
                jsonl_tmp.unlink(missing_ok=True)
                raise ExportError(f"Can't write {name} into {directory}: {err.strerror}.") from None
            if progress is not None:
                progress(name, count, count, total, True)
            report.counts[name] = count
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": (now or utcnow()).isoformat(),
            "team_id": workspace.team_id,
            "enterprise_id": workspace.enterprise_id,
            "workspace": {"name": workspace.name, "settings": workspace.settings},
            "tables": {
                name: {"rows": n, "columns": _columns(m.__table__)}
                for (name, m), n in zip(TABLES, report.counts.values(), strict=True)
            },
        }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report.seconds = time.perf_counter() - started
    return report


# -- restore -------------------------------------------------------------------------------
def is_export(directory: Path) -> bool:
    return Path(directory).is_dir() and (Path(directory) / MANIFEST).is_file()


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExportError(f"{path} can't be read as an export manifest ({err}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportError(f"{path} is not a CRM export manifest.")
    if manifest.get("version") != VERSION:
        raise ExportError(f"{path} is export version {manifest.get('version')}; this CRM reads version {VERSION}.")
    return manifest


def _decoders(table: Table) -> dict[str, Callable[[Any], Any]]:
    decoders: dict[str, Callable[[Any], Any]] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UTCDateTime | DateTime):
            decoders[column.name] = lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v
        elif isinstance(kind, Date):
            decoders[column.name] = lambda v: date.fromisoformat(v) if isinstance(v, str) else v
    return decoders


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open("r", encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError:
                    raise ExportError(f"{path.name} line {n} is not valid JSON; the export is damaged.") from None
                if not isinstance(value, dict):
                    raise ExportError(f"{path.name} line {n} is not a JSON object; the export is damaged.")
                yield n, value
    except OSError as err:
        raise ExportError(f"Can't read {path}: {err.strerror}.") from None


@dataclass
class RestoreReport:
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _workspace_rows(session: Session, workspace_id: int) -> dict[str, int]:
    counts = {}
    for name, model in TABLES:
        n = session.scalar(select(func.count()).select_from(model).where(model.workspace_id == workspace_id))
        if n:
            counts[name] = n
    return counts


def restore_workspace(
    sf: sessionmaker[Session],
    workspace_id: int,
    directory: Path,
    *,
    progress: Progress | None = None,
) -> RestoreReport:
    """Load an export into an empty workspace, all or nothing."""
    started = time.perf_counter()
    directory = Path(directory)
    manifest = read_manifest(directory)
    tables = manifest.get("tables") or {}
    for name, _ in TABLES:
        if name in tables and not (directory / f"{name}.jsonl").is_file():
            raise ExportError(f"{directory} has no {name}.jsonl although the manifest lists it.")
    report = RestoreReport(directory)
    ids: dict[str, dict[int, int]] = {name: {} for name, _ in TABLES}
    with sf.begin() as session:
        present = _workspace_rows(session, workspace_id)
        if present:
            what = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in present.items())
            raise ExportError(f"This workspace already has data ({what}); restore an export only into an empty one.")
        workspace = session.get(Workspace, workspace_id)
        saved = manifest.get("workspace") or {}
        if workspace is not None:
            workspace.name = workspace.name or saved.get("name")
            workspace.settings = saved.get("settings") or workspace.settings
        for name, model in TABLES:
            if name not in tables:
                continue
            expected = int((tables[name] or {}).get("rows", 0))
            count = _restore_table(session, workspace_id, directory, name, model, ids, expected, progress)
            if count != expected:
                raise ExportError(
                    f"{name}.jsonl has {count} rows but the manifest says {expected}; the export is incomplete."
                )
            report.counts[name] = count
        version = bump_search_version(session, workspace_id)
        table = cast(Table, Customer.__table__)  # declared as a FromClause; it is this Table
        session.execute(  # setting updated_at to itself keeps its onupdate from firing
            update(table)
            .where(table.c.workspace_id == workspace_id)
            .values(index_version=version, updated_at=table.c.updated_at)
        )
    report.seconds = time.perf_counter() - started
    return report


def _restore_table(
    session: Session,
    workspace_id: int,
    directory: Path,
    name: str,
    model: Any,
    ids: dict[str, dict[int, int]],
    expected: int,
    progress: Progress | None,
) -> int:
    table: Table = model.__table__
    decoders = _decoders(table)
    known = {c.name for c in table.columns} - {"id", "workspace_id"}
    refs = {fk.parent.name: fk.column.table.name for fk in table.foreign_keys if fk.parent.name != "workspace_id"}
    self_refs = {col for col, target in refs.items() if target == name}  # merged_into_id: set afterwards
    needs_ids = name != "audit_log"
    batch: list[dict[str, Any]] = []
    old_ids: list[int] = []
    deferred: list[tuple[int, str, int, Any]] = []  # (old id, column, old target id, updated_at)
    next_ids: dict[str, int] = {}
    count = 0

    def flush() -> None:
        if not batch:
            return
        if needs_ids:
            new = allocate_ids(session, model, len(batch), next_ids)
            for row, new_id in zip(batch, new, strict=True):
                row["id"] = new_id
            ids[name].update(zip(old_ids, new, strict=True))
        session.execute(insert(table), batch)
        batch.clear()
        old_ids.clear()

    for n, raw in _lines(directory / f"{name}.jsonl"):
        row: dict[str, Any] = {"workspace_id": workspace_id}
        try:
            for key, value in raw.items():
                if key not in known:
                    continue
                decode = decoders.get(key)
                row[key] = decode(value) if decode and value is not None else value
        except (TypeError, ValueError) as err:
            raise ExportError(f"{name}.jsonl line {n}: {err}; the export is damaged.") from None
        for column, target in refs.items():
            old = row.get(column)
            if old is None:
                continue
            if column in self_refs:
                deferred.append((raw["id"], column, old, row.get("updated_at")))
                row[column] = None
                continue
            new_id = ids[target].get(old)
            if new_id is None:
                raise ExportError(f"{name}.jsonl line {n}: {column} {old} points at no exported row.")
            row[column] = new_id
        if name == "audit_log":
            _translate_audit(row, ids)
        if name == "custom_field_values":
            entity_table = AUDIT_ENTITIES.get(str(row.get("entity")))
            new_record = ids[entity_table].get(row["record_id"]) if entity_table else None
            if new_record is None:
                raise ExportError(f"{name}.jsonl line {n}: record {row.get('record_id')} points at no exported row.")
            row["record_id"] = new_record
        batch.append(row)
        if needs_ids:
            old_ids.append(raw["id"])
        count += 1
        if len(batch) >= BATCH:
            flush()
            if progress is not None:
                progress(name, count, count, expected, False)
    flush()
    updates: dict[str, list[dict[str, Any]]] = {}
    for old, column, old_target, updated_at in deferred:
        new = {"id": ids[name][old], column: ids[name].get(old_target)}
        if "updated_at" in known:
            new["updated_at"] = updated_at  # restored as it was, not "now"
        updates.setdefault(column, []).append(new)
    for rows in updates.values():
        session.execute(update(model), rows)
    if progress is not None:
        progress(name, count, count, expected, True)
    return count


def _translate_audit(row: dict[str, Any], ids: dict[str, dict[int, int]]) -> None:
    """Point an audit entry (and the ids in its snapshots) at the restored rows."""
    table = AUDIT_ENTITIES.get(row.get("entity_type") or "")
    if table is not None:
        row["entity_id"] = ids[table].get(row["entity_id"], row["entity_id"])
    for key in ("before", "after"):
        snapshot = row.get(key)
        if not isinstance(snapshot, dict):
            continue
        translated = dict(snapshot)
        for field_name, value in snapshot.items():
            target = SNAPSHOT_REFS.get(field_name) or (table if field_name == "merged_into_id" else None)
            if target is not None and isinstance(value, int) and not isinstance(value, bool):
                translated[field_name] = ids[target].get(value, value)
        row[key] = translated
