"""This CRM's own export read back by ``crm-bot import``: the history files next to its CSVs.

``customers.csv`` and ``deals.csv`` hold where each record is now; how it got there is in
``customer_lifecycle_changes.csv``, ``deal_stage_changes.csv`` and ``customer_aliases.csv``
(former names). For the records an import of those CSVs created, these rows come back too, with
their own who and when, in place of the one "none → stage" entry the import would have written,
so conversions are counted and dated as before and a former name stays searchable.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, insert
from sqlalchemy.orm import Session

from crm.customers.values import RECORDED_ID
from crm.models import CustomerAlias, CustomerLifecycleChange, DealStageChange

# (file, model, the column naming the record, the kind of record, the columns copied)
HISTORIES: tuple[tuple[str, Any, str, str, tuple[str, ...]], ...] = (
    ("customer_lifecycle_changes.csv", CustomerLifecycleChange, "customer_id", "customers", ("from_stage", "to_stage")),
    ("deal_stage_changes.csv", DealStageChange, "deal_id", "deals", ("from_stage", "to_stage")),
    ("customer_aliases.csv", CustomerAlias, "customer_id", "customers", ("alias", "normalized", "source")),
)
CHUNK = 1_000


def _when(text: str | None, default: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return default
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _rows(path: Path, link: str, ids: dict[str, int], columns: tuple[str, ...], *, ws: int, now: datetime, actor: str):
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            target = ids.get(row.get(link) or "")
            if target is None or not all(row.get(c) for c in columns if c != "from_stage"):
                continue
            by = row.get("created_by") or ""
            yield {
                "workspace_id": ws,
                link: target,
                **{c: row.get(c) or None for c in columns},
                "created_at": _when(row.get("created_at"), now),
                "created_by": by if RECORDED_ID.fullmatch(by) else actor,
            }


def bring_history(
    session: Session, ws: int, directory: Path, created: dict[str, dict[str, int]], *, now: datetime, actor: str
) -> dict[str, int]:
    """Copy the export's history rows of the records this import created (``created``: kind ->
    {export id: new id}); returns how many rows per file."""
    counts: dict[str, int] = {}
    for name, model, link, kind, columns in HISTORIES:
        path, ids = directory / name, created.get(kind) or {}
        if not ids or not path.is_file():
            continue
        rows = list(_rows(path, link, ids, columns, ws=ws, now=now, actor=actor))
        if not rows:
            continue
        if model is not CustomerAlias:  # the import's own first entry gives way to the real history
            touched = sorted({r[link] for r in rows})
            column = getattr(model, link)
            for start in range(0, len(touched), CHUNK):
                session.execute(
                    delete(model).where(
                        model.workspace_id == ws,
                        column.in_(touched[start : start + CHUNK]),
                        model.created_at == now,
                        model.created_by == actor,
                    )
                )
        table = cast(Table, model.__table__)
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(table), rows[start : start + CHUNK])
        counts[name] = len(rows)
    return counts
