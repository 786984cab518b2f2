"""``crm-bot import``'s report, written as a migration checklist.

For each file: which CRM and which kind of records it is (and why), where every column goes
(a built-in field, a custom field, or skipped and why), how many rows are new, updated or
unchanged, the values dropped and the rows refused (with line numbers), and the stages that
were mapped or kept. Then for the whole import: probable duplicates (naming both records),
owners not mapped, and rows whose company is missing. Each item starts with ``[x]`` when
nothing needs doing, ``[ ]`` when someone should look.
"""

from __future__ import annotations

from typing import TextIO

from crm import importer
from crm.importer.stages import KEPT

SHOW = 20  # lines per section before "and N more"

ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32": "UTF-32",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
    "cp932": "Shift-JIS",
    "shift_jis": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "gb18030": "GB18030",
    "big5": "Big5",
    "cp949": "Korean (cp949)",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
}
_DELIMITERS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def encoding_label(fr: importer.FileReport) -> str:
    """ "Shift-JIS (cp932), detected" or "latin-1, from --encoding": the name to give --encoding, and why."""
    name = ENCODING_NAMES.get(fr.encoding)
    shown = name or fr.encoding
    if name and name.lower() != fr.encoding.lower():
        shown = f"{name} ({fr.encoding})"
    return f"{shown}, {'from --encoding' if fr.encoding_given else 'detected'}"


def _box(ok: bool) -> str:
    return "[x]" if ok else "[ ]"


def _more(out: TextIO, shown: int, total: int) -> None:
    if total > shown:
        out.write(f"      … and {total - shown:,} more\n")


def print_import_report(report: importer.ImportReport, out: TextIO, *, create_fields: bool = False) -> None:
    w = out.write
    if report.dry_run:
        w("Dry run: nothing was written. The migration checklist:\n")
    for fr in report.files:
        _file(fr, out, dry_run=report.dry_run, create_fields=create_fields)
    w("\nAcross the files\n")
    _duplicates(report, out)
    _owners(report, out)
    _missing(report, out)
    w(f"\n{report.rows_read:,} rows read, {report.rows_valid:,} valid, in {report.seconds:.1f} s.\n")


def _file(fr: importer.FileReport, out: TextIO, *, dry_run: bool, create_fields: bool) -> None:
    w = out.write
    delimiter = _DELIMITERS.get(fr.delimiter, fr.delimiter)
    w(f"\n{fr.path.name} ({fr.kind}; {encoding_label(fr)}; {delimiter}-separated)\n")
    vendor = f"a {fr.vendor} export ({fr.vendor_reason})" if fr.vendor else "a generic CSV (no vendor's own headers)"
    w(f"  [x] read as {fr.kind}: {fr.kind_reason}; {vendor}\n")
    verb = "would be " if dry_run else ""
    w(
        f"  [x] {fr.rows_read:,} rows read, {fr.rows_valid:,} valid: {fr.inserted:,} {verb}new, "
        f"{fr.updated:,} {verb}updated, {fr.unchanged:,} already there (unchanged); {fr.rejected:,} rejected\n"
    )
    mapped = "; ".join(f"{f} ← {h}" for f, h in fr.columns.items())
    w(f"  [x] columns: {mapped}\n")
    _custom(fr, out, dry_run=dry_run, create_fields=create_fields)
    if fr.skipped:
        skipped = ", ".join(f"{h} ({why})" for h, why in fr.skipped[:30])
        w(f"  [x] skipped on purpose: {skipped}\n")
    _stages(fr, out)
    for note, n in fr.notes.items():
        w(f"  [ ] note: {n:,} × {note}\n")
    _problems(out, "values dropped (the rows were imported without them)", fr.warnings, fr.warning_categories)
    _problems(out, "rows rejected", fr.problems, fr.categories)
    if fr.rejects_path is not None:
        w(f"  [ ] rejected rows and dropped values, to fix and import again: {fr.rejects_path}\n")


def _custom(fr: importer.FileReport, out: TextIO, *, dry_run: bool, create_fields: bool) -> None:
    if not fr.custom:
        return
    w = out.write
    if fr.kind == "activities":
        names = ", ".join(c.header for c in fr.custom)
        w(f"  [x] kept in each activity's summary (activities have no custom fields): {names}\n")
        return
    done = all(c.created or not c.values for c in fr.custom)
    if done:
        head = "custom fields, values stored"
    elif dry_run and create_fields:
        head = "custom fields that --create-fields will create"
    elif dry_run:
        head = "no built-in field: custom fields --create-fields would create"
    else:
        head = "NOT imported: no built-in field holds these; run again with --create-fields to keep them"
    w(f"  {_box(done or (dry_run and create_fields))} {head}:\n")
    for c in fr.custom[:SHOW]:
        label = f"“{c.label}”" + (f" from {c.header}" if c.label != c.header else "")
        w(f"      {label}: {c.type} ({c.why})\n")
    _more(out, min(SHOW, len(fr.custom)), len(fr.custom))


def _stages(fr: importer.FileReport, out: TextIO) -> None:
    if not fr.stages:
        return
    kept = {k: n for k, n in fr.stages.items() if k[1] == KEPT}
    mapped = {k: n for k, n in fr.stages.items() if k[1] != KEPT}
    if mapped:
        shown = "; ".join(f"“{old}” → {new} ({n:,})" for (old, new), n in sorted(mapped.items())[:SHOW])
        out.write(f"  [x] vendor stages mapped to the workspace's: {shown}\n")
    if kept:
        shown = "; ".join(f"“{old}” ({n:,} deals)" for (old, _), n in sorted(kept.items())[:SHOW])
        out.write(
            f"  [ ] stages that are not the workspace's, kept as they are: {shown}. Add them to "
            "CRM_DEAL_STAGES (or as aliases of a stage) and re-run with --update\n"
        )


def _problems(
    out: TextIO, title: str, problems: list[importer.Problem], categories: importer.report.Counter[str]
) -> None:
    if not categories:
        return
    out.write(f"  [ ] {title}:\n")
    for category, n in categories.most_common():
        out.write(f"    {category} ({n:,}):\n")
        shown = [p for p in problems if p.category == category][:SHOW]
        for p in shown:
            out.write(f"      line {p.line}: {p.message}\n")
        _more(out, len(shown), n)


def _duplicates(report: importer.ImportReport, out: TextIO) -> None:
    w = out.write
    if not report.duplicates:
        w("  [x] no probable duplicate customers\n")
        return
    w(f"  [ ] probable duplicate customers ({len(report.duplicates):,}):\n")
    for d in report.duplicates[:SHOW]:
        where = "in the database" if d.in_database else "in this file"
        merge = f" → merge into #{d.target_id}" if d.target_id else ""
        w(f"      line {d.line} “{d.name}” ~ {d.target} {where} ({d.score:.0f}%: {', '.join(d.reasons)}){merge}\n")
    _more(out, min(SHOW, len(report.duplicates)), len(report.duplicates))
    w("      Merge them after the import with /crm duplicates, or use --skip-duplicates.\n")


def _owners(report: importer.ImportReport, out: TextIO) -> None:
    unmapped: dict[str, int] = {}
    mapped = 0
    for fr in report.files:
        for (old, slack), n in fr.owners.items():
            if slack:
                mapped += n
            else:
                unmapped[old] = unmapped.get(old, 0) + n
    if not unmapped:
        w = (
            f"  [x] owners: {mapped:,} rows' owners mapped to Slack users\n"
            if mapped
            else "  [x] no owners to map (no owner column, or every row imported before)\n"
        )
        out.write(w)
        return
    out.write(
        f"  [ ] owners not mapped ({len(unmapped):,}; those rows are imported without an owner). Map them with "
        "--owners mapping.csv (old id, email or name → Slack user id):\n"
    )
    ranked = sorted(unmapped.items(), key=lambda kv: (-kv[1], kv[0]))
    for old, n in ranked[:SHOW]:
        out.write(f"      “{old[:80]}”: {n:,} rows\n")
    _more(out, min(SHOW, len(ranked)), len(ranked))


def _missing(report: importer.ImportReport, out: TextIO) -> None:
    if not report.missing_companies:
        out.write("  [x] every contact, deal and activity found its company\n")
        return
    out.write(f"  [ ] rows whose company can't be found ({len(report.missing_companies):,}):\n")
    for name, line, company in report.missing_companies[:SHOW]:
        out.write(f"      {name} line {line}: “{company[:80]}”\n")
    _more(out, min(SHOW, len(report.missing_companies)), len(report.missing_companies))
