"""Probable duplicate customers among an import's new rows: within the file and against the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from sqlalchemy.orm import Session

from crm.dedupe import CustomerRecord, address_key, customer_pairs, load_customer_records
from crm.importer.report import DuplicateFinding, ImportOptions

if TYPE_CHECKING:
    from crm.importer.spec import Record

Refuse = Callable[["Record", str, str], None]  # (record, category, message)


def screen_customers(
    session: Session, ws: int, options: ImportOptions, records: list[Record], refuse: Refuse
) -> list[DuplicateFinding]:
    """Fuzzy duplicates of the records that match no existing customer; with ``skip_duplicates``
    those that probably duplicate one in the database are refused."""
    new = [rec for rec in records if rec.existing is None]
    if not new:
        return []
    known = load_customer_records(session, ws, with_weights=False)
    db_names = {r.key: r.name for r in known}
    by_line: dict[tuple[str, int], Record] = {}
    for rec in new:
        key = ("line", rec.line)
        by_line[key] = rec
        record = CustomerRecord(key, rec.row["name"], rec.row["normalized_name"], rec.row["domain"])
        if rec.row.get("phone"):
            record.phones.add(rec.row["phone"])
        for kind in ("billing", "shipping"):
            place = address_key(rec.row.get(f"{kind}_postal_code"), rec.row.get(f"{kind}_street"))
            if place:
                record.addresses.add(place)
        known.append(record)

    # Only pairs with a row of the file matter (new x new, new x existing), never two existing ones.
    focus = [isinstance(r.key, tuple) for r in known]
    findings = []
    for pair in customer_pairs(known, min_score=options.min_score, focus=focus):
        a, b = pair.a, pair.b
        target_id: int | None = None
        if isinstance(a, tuple) and isinstance(b, tuple):
            first, second = sorted((a, b))
            rec, target = by_line[second], by_line[first]
            where, in_db = f"line {target.line} {target.row['name']}", False
        else:
            line_key, db_key = (a, b) if isinstance(a, tuple) else (b, a)
            rec, target_id = by_line[cast(tuple[str, int], line_key)], cast(int, db_key)
            where, in_db = f"#{target_id} {db_names[target_id]}", True
            if options.skip_duplicates and not rec.rejected:
                why = ", ".join(pair.reasons)
                refuse(rec, "probable duplicate", f"probably the same as {where} ({pair.score:.0f}%: {why})")
        findings.append(DuplicateFinding(rec.line, rec.row["name"], where, target_id, pair.score, pair.reasons, in_db))
    return findings
