"""The import: one loop over every kind's rows, driven by its :class:`~crm.importer.kinds.Kind`.

For each row: clean its values, build a record, refuse it if an earlier row of the file
has the same key; then, a batch at a time, match the records to what the workspace
holds, update the matched ones (with ``update``) and bulk insert the rest. All files
go into one transaction; at the end touched customers get a new search version.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.custom_fields.definitions import word
from crm.importer import existing
from crm.importer import values as v
from crm.importer.custom import ColumnStats
from crm.importer.custom_store import RETIRED, export_definitions, offer_label, store_custom_values
from crm.importer.kinds import KINDS, Context, Kind, Record, Reject, clean_values
from crm.importer.own_export import bring_history
from crm.importer.owners import Owners
from crm.importer.reader import Broken, ImportFileError, Row
from crm.importer.rejects import Rejects, sweep, target_paths
from crm.importer.report import CustomOffer, FileReport, ImportOptions, ImportReport, Progress
from crm.importer.sources import ByteCount, SourceFile, open_source, read_rows
from crm.importer.vendors import CRM_EXPORT, VENDORS
from crm.lookup import bump_search_version
from crm.models import Customer, utcnow
from crm.states import AuditAction

PROGRESS_EVERY = 5_000
# A cell a spreadsheet would run as a formula ("=HYPERLINK(…)", "+cmd|…", "@SUM(…)"): kept as typed
# (exports neutralise it), but said, since it is rarely what the old CRM meant to hold.
_FORMULA = re.compile(r"\s*[=+\-@]\s*[A-Za-z_][A-Za-z0-9_.]*\s*[(|!]")
_TEXT_FIELDS = ("name", "title", "summary", "notes", "description", "website", "industry")


def allocate_ids(session: Session, model: Any, n: int, next_ids: dict[str, int]) -> list[int]:
    """Reserve ``n`` primary keys for a bulk insert that must know its ids.

    PostgreSQL draws them from the table's sequence (safe next to concurrent writers).
    SQLite runs the import in a ``BEGIN IMMEDIATE`` transaction, so nobody else can insert
    meanwhile and ids continue from the current maximum. (RETURNING from a multi-row
    insert has no guaranteed order on SQLite, so SQLAlchemy would insert row by row.)
    """
    table = model.__table__.name
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.scalars(
                text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table, "n": n},
            )
        )
    start = next_ids.get(table)
    if start is None:
        start = (session.scalar(select(func.max(model.id))) or 0) + 1
    next_ids[table] = start + n
    return list(range(start, start + n))


class _File:
    """One file being imported: its report, rejects, the keys seen so far, and pending writes."""

    def __init__(self, kind: Kind, source: SourceFile, target: Path, dry_run: bool) -> None:
        self.kind = kind
        self.source = source
        self.report = FileReport(
            source.path, kind.name, source.encoding, source.encoding_given, source.delimiter, ignored=source.ignored
        )
        self.report.columns = {f: ", ".join(source.header[i] for i in idx) for f, idx in source.columns.items()}
        self.report.kind_reason, self.report.vendor = source.kind_reason, source.vendor
        self.report.vendor_reason, self.report.skipped = source.vendor_reason, source.skipped
        self.custom = [(c, ColumnStats(c.label, person=c.person)) for c in source.custom]
        self.rejects = Rejects(target, source.header, enabled=not dry_run)
        # (key, category, message, unless, {value: first line}) per unique key
        self.unique: list[tuple[str, str, Callable[[Record, int], str], tuple[str, ...], dict[Hashable, int]]] = [
            (u.key, u.category, u.message, u.unless, {}) for u in kind.unique
        ]
        self.updates: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.children: dict[type, list[dict[str, Any]]] = {}
        self.custom_rows: list[tuple[int, int, list[tuple[int, str]]]] = []  # (record id, line, values)

    def refuse(self, line: int, category: str, message: str, values: list[str] | None) -> None:
        self.report.problem(line, category, message)
        self.rejects.add(line, message, values)

    def custom_values(self, values: list[str], ctx: Context) -> list[tuple[int, str]] | None:
        """The row's values of the columns offered as custom fields (fed to their statistics);
        an owner column's old users as Slack user ids (unmapped ones counted, and left out)."""
        found = []
        for i, (column, stats) in enumerate(self.custom):
            text = values[column.index].strip()
            if text and column.person:
                text = ctx.owners.resolve(text, ctx.owner_counts) or ""
            if text:
                stats.add(text)
                found.append((i, text))
        return found or None

    def with_extras(self, summary: str, extras: list[tuple[int, str]]) -> str:
        """Activities have no custom fields: their other columns are kept in the summary."""
        lines = [f"{self.custom[i][0].label}: {text}" for i, text in extras]
        return "\n".join([summary, "", *lines])[: v.MAX_SUMMARY]

    def warn(self, line: int, dropped: list[tuple[str, str, str]], values: list[str]) -> None:
        """Values dropped from a row that is imported: in the report, and in the rejects file to fix."""
        for _, category, message in dropped:
            self.report.warning(line, category, message)
        self.rejects.add(line, " ".join(m for _, _, m in dropped), values)

    def refuse_record(self, rec: Record, category: str, message: str) -> None:
        rec.rejected = True
        self.refuse(rec.line, category, message, rec.values)

    def repeated(self, rec: Record) -> tuple[str, str] | None:
        """(category, message) when an earlier row of the file has one of the record's unique keys."""
        keys = rec.keys
        for key, category, message, unless, seen in self.unique:
            value = keys[key]
            if value and value in seen and not (unless and _any_key(keys, unless)):
                return category, message(rec, seen[value])
        for key, _, _, _, seen in self.unique:
            value = keys[key]
            if value:
                seen.setdefault(value, rec.line)
        return None


def _any_key(keys: dict[str, Any], names: tuple[str, ...]) -> bool:
    return any(keys[name] for name in names)


class _Run:
    """One import: the shared state across files, and the writer."""

    def __init__(
        self,
        session: Session,
        ws: int,
        options: ImportOptions,
        report: ImportReport,
        progress: Progress | None,
        now: datetime,
    ) -> None:
        self.session = session
        self.ws = ws
        self.o = options
        self.report = report
        self.progress = progress
        self.now = now
        self.ex = existing.load(session, ws)
        self.ctx = Context(options, ZoneInfo(options.timezone), self.ex)
        self.ctx.owners = Owners(options.owners, options.owner_lookup)
        self.fake_id = 0  # dry run: ids of rows that would be created
        self.created_from_export: dict[str, dict[str, int]] = {}  # kind -> {export id: new id}
        self.export_dirs: set[Path] = set()  # directories of this CRM's export files read
        self.touched_customers: set[int] = set()
        self.jobs: list[_File] = []
        self._next_ids: dict[str, int] = {}

    # -- writing -------------------------------------------------------------------------------
    def insert(self, model: Any, rows: list[dict[str, Any]], *, returning: bool) -> list[int]:
        """Bulk insert; with ``returning``, ids are allocated first and returned in row order."""
        if not rows:
            return []
        if self.o.dry_run:
            ids = list(range(self.fake_id - 1, self.fake_id - 1 - len(rows), -1))
            self.fake_id -= len(rows)
            return ids if returning else []
        ids = []
        if returning:
            ids = allocate_ids(self.session, model, len(rows), self._next_ids)
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
        self.session.execute(insert(model.__table__), rows)
        return ids

    def bulk_update(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if rows and not self.o.dry_run:
            self.session.execute(update(model), rows)

    # -- one file --------------------------------------------------------------------------------
    def run_file(self, source: SourceFile, target: Path) -> _File:
        kind = KINDS[source.kind]
        job = _File(kind, source, target, self.o.dry_run)
        self.jobs.append(job)
        self.ctx.notes = job.report.notes
        self.ctx.owner_counts, self.ctx.stage_counts = job.report.owners, job.report.stages
        self.ctx.vendor = next((v for v in VENDORS if v.label == source.vendor), None)
        if self.ctx.vendor is CRM_EXPORT:
            self.export_dirs.add(source.path.parent)
        self.ctx.labels = {f: ", ".join(source.header[i].strip() for i in idx) for f, idx in source.columns.items()}
        started = time.perf_counter()
        pending: list[Record] = []
        counter: list[ByteCount] = []
        fr, record, batch = job.report, self._record, self.o.batch_size if kind.screen is None else 0
        for item in read_rows(source, counter):
            fr.rows_read += 1
            if fr.rows_read % PROGRESS_EVERY == 0:
                self._tick(job, counter)
            if isinstance(item, Broken):
                job.refuse(item.line, item.category, item.message, None)
                continue
            rec = record(job, item)
            if rec is not None:
                pending.append(rec)
                if len(pending) == batch:
                    self._write(job, pending)
                    pending = []
        self._tick(job, counter, done=True)
        self._write(job, pending)
        self.bulk_update(kind.model, job.updates)
        if kind.history is not None:
            self.insert(kind.history.model, job.history, returning=False)
        self._custom_fields(job)
        job.report.seconds = time.perf_counter() - started
        self.report.files.append(job.report)
        return job

    def _custom_fields(self, job: _File) -> None:
        """The columns no built-in field holds: offered as typed custom fields, created with ``create_fields``."""
        kind = job.kind
        offers = []
        defined = {}
        if self.ctx.vendor is CRM_EXPORT and kind.custom_fields:  # defined as in the export's custom_fields.csv
            defined = export_definitions(job.source.path, kind.entity)
        for column, stats in job.custom:
            label = offer_label(kind.entity, column.label) if kind.custom_fields else column.label
            offer = CustomOffer(column.header, label, *stats.infer(), values=stats.values)
            retired = label.endswith(RETIRED)
            known = defined.get(word(label.removesuffix(RETIRED) if retired else label))
            if known is not None:
                offer.label, offer.retired = label.removesuffix(RETIRED) if retired else label, retired
                offer.type, offer.options = known
                offer.why = "as defined in the export's custom_fields.csv"
            offers.append((offer, stats))
        job.report.custom = [offer for offer, _ in offers]
        used = [(offer, stats) for offer, stats in offers if stats.values]
        if self.o.dry_run or not self.o.create_fields or not kind.custom_fields or not used:
            return
        keep = {id(stats): i for i, (_, stats) in enumerate(used)}
        renumber = {i: keep[id(stats)] for i, (_, stats) in enumerate(job.custom) if id(stats) in keep}
        rows = [(rid, line, [(renumber[c], t) for c, t in cells]) for rid, line, cells in job.custom_rows]
        store_custom_values(
            self.session,
            self.ws,
            kind.entity,
            used,
            rows,
            actor=self.o.actor,
            update_values=self.o.update,
            currency=self.o.currency,
            tz=self.ctx.tz,
            dayfirst=self.o.dayfirst,
            now=self.now,
            warn=lambda line, message: job.report.warning(line, "invalid custom value", message),
        )

    def _tick(self, job: _File, counter: list[ByteCount], done: bool = False) -> None:
        if self.progress is not None:
            size = job.source.size
            read = counter[0].done if counter else 0
            self.progress(job.source.label, job.report.rows_read, min(read, size), size, done)

    def _record(self, job: _File, row: Row) -> Record | None:
        """The row as a record, or None when it is refused (and reported)."""
        dropped = self.ctx.dropped
        if dropped:
            dropped.clear()
        rec = self._known(job, row)
        if rec is None:
            try:
                rec = job.kind.build(clean_values(job.kind, row, self.ctx), row, self.ctx)
            except Reject as err:
                if err.missing is not None:
                    self.report.missing_companies.append((job.source.label, row.line, err.missing))
                job.refuse(row.line, err.category, err.message, row.values)
                return None
        repeated = job.repeated(rec)
        if repeated is not None:
            job.refuse(row.line, *repeated, row.values)
            return None
        if dropped:
            job.warn(row.line, dropped, row.values)
        for name in _TEXT_FIELDS:
            value = rec.row.get(name)
            if isinstance(value, str) and _FORMULA.match(value):
                shown = value if len(value) <= 60 else value[:59] + "…"
                job.report.warning(
                    row.line,
                    "looks like a formula",
                    f"{name} “{shown}” looks like a spreadsheet formula: kept as typed (exports neutralise it).",
                )
        if job.custom:
            rec.custom = job.custom_values(row.values, self.ctx)
            if rec.custom and not job.kind.custom_fields and "summary" in rec.row:
                rec.row["summary"] = job.with_extras(rec.row["summary"], rec.custom)
        if job.kind.screen is None:
            rec.values = None  # only a screen refuses rows after this: free the cells early
        return rec

    def _known(self, job: _File, row: Row) -> Record | None:
        """Without ``update``, a row whose source id was imported before changes nothing: it is
        not cleaned again (phone and email validation are most of an import's time)."""
        kind = job.kind
        if self.o.update or not kind.updatable:
            return None
        ref = v.ref(row.fields.get("id", ""))
        if ref is None or ref not in self.ex[kind.name].by["ref"]:
            return None
        keys: dict[str, Any] = {u.key: None for u in kind.unique}
        keys["ref"] = ref
        if "export" in self.ex[kind.name].by:  # this CRM's export: later files point at the row by its id
            keys["export"] = row.fields.get("export_id") or None
        return Record(row, {}, keys)

    def _write(self, job: _File, records: list[Record]) -> None:
        kind, index = job.kind, self.ex[job.kind.name]
        for rec in records:
            rec.existing = kind.match(rec, index)
        if kind.screen is not None:
            self.report.duplicates += kind.screen(self.session, self.ws, self.o, records, job.refuse_record)
        new: list[Record] = []
        fr = job.report
        for rec in records:
            if rec.rejected:
                continue
            fr.rows_valid += 1
            if rec.existing is not None:
                if kind.updatable:
                    self._update(job, rec, rec.existing)
                else:
                    fr.unchanged += 1  # activities: what was imported once stays as it is
                continue
            new.append(rec)
            if len(new) >= self.o.batch_size:
                self._insert(job, new)
                new = []
        self._insert(job, new)
        self._insert_children(job)  # what --update added to matched records

    def _insert(self, job: _File, records: list[Record]) -> None:
        if not records:
            return
        kind, index = job.kind, self.ex[job.kind.name]
        rows = []
        for rec in records:
            row = rec.row
            row["workspace_id"] = self.ws
            if row.get("created_at") is None:  # the old CRM's date of creation, else now
                row["created_at"] = self.now
            row.setdefault("created_by", self.o.actor)
            rows.append(row)
        ids = self.insert(kind.model, rows, returning=kind.returning) or [0] * len(rows)
        history = []
        by = index.by
        for rec, new_id in zip(records, ids, strict=True):
            for key, value in rec.keys.items():  # index.add(), written out
                if value:
                    by[key].setdefault(value, new_id)
            if rec.keys.get("export"):
                self.created_from_export.setdefault(kind.name, {})[rec.keys["export"]] = new_id
            if kind.remember:
                index.values[new_id] = {c: rec.row[c] for c in kind.remember}
            if kind.touches is not None:
                self.touched_customers.add(new_id if kind.touches == "id" else rec.row[kind.touches])
            if kind.history is not None and rec.row[kind.history.column] is not None:
                history.append(self._history(kind, new_id, None, rec.row[kind.history.column]))
            if kind.children is not None:
                for model, child in kind.children(rec, new_id):
                    self._add_child(job, model, child)
            if rec.custom:
                job.custom_rows.append((new_id, rec.line, rec.custom))
        if kind.history is not None:
            self.insert(kind.history.model, history, returning=False)
        self._insert_children(job)
        job.report.inserted += len(records)

    def _insert_children(self, job: _File) -> None:
        for model, children in job.children.items():
            self.insert(model, children, returning=False)
        job.children.clear()

    def _add_child(self, job: _File, model: type, child: dict[str, Any]) -> None:
        child.update(workspace_id=self.ws, created_at=self.now, created_by=self.o.actor)
        job.children.setdefault(model, []).append(child)

    def _history(self, kind: Kind, row_id: int, before: Any, after: Any) -> dict[str, Any]:
        assert kind.history is not None
        return {
            "workspace_id": self.ws,
            **kind.history.row(row_id, before, after),
            "created_at": self.now,
            "created_by": self.o.actor,
        }

    def _update(self, job: _File, rec: Record, row_id: int) -> None:
        """A record that is there already: with ``update``, change the fields that differ."""
        kind, fr = job.kind, job.report
        index = self.ex[kind.name]
        ref = rec.keys.get("ref")
        if ref is not None:
            index.by["ref"].setdefault(ref, row_id)
        if rec.keys.get("export"):
            index.by["export"].setdefault(rec.keys["export"], row_id)
        if rec.custom:
            job.custom_rows.append((row_id, rec.line, rec.custom))
        if not self.o.update and not (ref and kind.backfill_ref):  # the common re-run: nothing to compare
            fr.unchanged += 1
            return
        current = index.values.get(row_id, {})
        change: dict[str, Any] = {}
        if self.o.update:
            change = {k: rec.row[k] for k in kind.updatable if rec.row[k] is not None and rec.row[k] != current.get(k)}
            if change.keys() <= kind.derived:
                change = {}
        added: dict[str, Any] = {}
        if self.o.update and kind.added_children is not None:
            added, children = kind.added_children(rec, row_id, current)
            for model, child in children:
                self._add_child(job, model, child)
        backfill = {"external_ref": ref} if kind.backfill_ref and ref and not current.get("external_ref") else {}
        if not change and not added:
            if backfill:  # remember the source id for the next run; no change anybody sees
                job.updates.append({"id": row_id, **backfill})
            fr.unchanged += 1
            return
        job.updates.append({"id": row_id, **change, **backfill, "updated_at": self.now, "updated_by": self.o.actor})
        fr.updated += 1
        if kind.touches is not None:
            self.touched_customers.add(
                row_id if kind.touches == "id" else current.get(kind.touches, rec.row[kind.touches])
            )
        if kind.history is not None and kind.history.column in change:
            column = kind.history.column
            job.history.append(self._history(kind, row_id, current.get(column), change[column]))
        if not self.o.dry_run:
            audit.record(
                self.session,
                workspace_id=self.ws,
                entity_type=kind.entity,
                entity_id=row_id,
                action=AuditAction.UPDATE,
                actor=self.o.actor,
                before={**{k: audit.jsonable(current.get(k)) for k in change}, **{k: b for k, (b, _) in added.items()}},
                after={
                    **{k: audit.jsonable(value) for k, value in change.items()},
                    **{k: a for k, (_, a) in added.items()},
                },
                note=f"import: {fr.path.name} line {rec.line}",
            )

    # -- the end -------------------------------------------------------------------------------
    def finish(self) -> None:
        """Stamp touched customers with a new search version; record the import in the audit log."""
        if self.o.dry_run:
            return
        for directory in sorted(self.export_dirs):  # this CRM's export: its histories come along
            counts = bring_history(
                self.session, self.ws, directory, self.created_from_export, now=self.now, actor=self.o.actor
            )
            job = next(j for j in self.jobs if j.source.path.parent == directory)
            for name, n in counts.items():
                job.report.notes[f"rows of the export's {name} brought back with their own who and when"] += n
        if self.touched_customers:
            version = bump_search_version(self.session, self.ws)
            ids = sorted(self.touched_customers)
            table = cast(Table, Customer.__table__)
            for start in range(0, len(ids), 1000):
                self.session.execute(  # updated_at set to itself: stamping is no user-visible change
                    update(table)
                    .where(table.c.id.in_(ids[start : start + 1000]))
                    .values(index_version=version, updated_at=table.c.updated_at)
                )
        for fr in self.report.files:
            audit.record(
                self.session,
                workspace_id=self.ws,
                entity_type="import",
                entity_id=0,
                action=AuditAction.IMPORT,
                actor=self.o.actor,
                after={
                    "file": fr.path.name,
                    "kind": fr.kind,
                    "rows_read": fr.rows_read,
                    "inserted": fr.inserted,
                    "updated": fr.updated,
                    "unchanged": fr.unchanged,
                    "rejected": fr.rejected,
                },
                note=f"imported {fr.path.name}: {fr.inserted} new, {fr.updated} updated, {fr.rejected} rejected",
            )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Fewer cyclic garbage collections while rows are read and written.

    An import allocates a few containers per row and keeps large indexes alive; a
    collection every 700 allocations (the default) spends 10-20% of the run walking those
    indexes and finds almost nothing, as rows make no reference cycles. Collecting every
    100,000 allocations keeps that cost small and the memory of the odd cycle bounded.
    """
    previous = gc.get_threshold()
    gc.set_threshold(100_000, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def order_sources(sources: list[SourceFile]) -> list[SourceFile]:
    """Customers first, then contacts, deals, activities (each may refer to the ones before)."""
    kinds = [s.kind for s in sources]
    for kind in KINDS:
        if kinds.count(kind) > 1:
            names = ", ".join(s.label for s in sources if s.kind == kind)
            raise ImportFileError(f"Several files look like {kind} ({names}); give them with --{kind} FILE instead.")
    order = list(KINDS)
    return sorted(sources, key=lambda s: order.index(s.kind))


def run_import(
    sf: sessionmaker[Session],
    workspace_id: int,
    files: list[tuple[Path, str | None]],
    options: ImportOptions | None = None,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Check and (unless ``options.dry_run``) import ``files``: (path, kind or None to guess).

    Raises :class:`ImportFileError` (nothing written) when a file can't be read at all.
    """
    options = options or ImportOptions()
    now = now or utcnow()
    started = time.perf_counter()
    sources = order_sources(
        [open_source(path, kind=kind, mapping=options.mapping, encoding=options.encoding) for path, kind in files]
    )
    targets = target_paths([(s.path, s.kind) for s in sources], options.rejects_dir)
    sweep(t.parent for t in targets)  # what killed imports left behind
    report = ImportReport(dry_run=options.dry_run)
    run: _Run | None = None
    try:
        with _collector_paused(), sf() if options.dry_run else sf.begin() as session:
            run = _Run(session, workspace_id, options, report, progress, now)
            for source, target in zip(sources, targets, strict=True):
                run.run_file(source, target)
            run.finish()
    except BaseException:
        for job in run.jobs if run is not None else []:
            job.rejects.discard()
        raise
    for job in run.jobs:
        job.report.rejects_path = job.rejects.commit()
    report.seconds = time.perf_counter() - started
    return report
