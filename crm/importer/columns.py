"""What a file's columns say: which CRM wrote it, which kind of records it holds, and where each column goes.

Every column ends up in exactly one of three lists, so none is dropped silently:

mapped
    to a built-in field of the kind (``columns``: field -> column indexes);
custom
    no built-in field holds it: offered as a custom field (``--create-fields`` creates it);
skipped
    deliberately, with the reason (:data:`crm.importer.vendors.SKIP_RULE`, or ``--map Col=ignore``).

Header spellings come from the kinds' generic aliases and the vendors' tables
(:mod:`crm.importer.vendors`); the vendor the file's headers point to is asked first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from crm.importer.kinds import KINDS
from crm.importer.vendors import CUSTOM, GENERIC_SYSTEM, SKIP_RULE, VENDORS, Vendor

IGNORE = "ignore"
_NOT_WORD = re.compile(r"[\W_]+")  # letters and digits of any script make a header's name


def header_key(header: str) -> str:
    """ "Organization - Name" -> "organization name"; "E-Mail" -> "e mail"; "会社名" -> "会社名"."""
    return " ".join(_NOT_WORD.sub(" ", header.strip().lstrip("\ufeff").lower()).split())


def _compact(key: str) -> str:
    """ "billing city" and "billingcity" (Salesforce's API name) are one header."""
    return key.replace(" ", "")


@dataclass(frozen=True)
class CustomColumn:
    index: int
    header: str
    label: str  # the custom field's label
    person: bool = False  # an owner column of a kind without an owner: a person field (a Slack user)


# -- look-ups ----------------------------------------------------------------------------------
@cache
def _generic(kind: str) -> dict[str, str]:
    """header key -> field, for one kind, from the kinds' aliases."""
    return {_compact(header_key(a)): f.name for f in KINDS[kind].fields for a in f.aliases}


@cache
def _vendor_lookup(vendor: str, kind: str) -> dict[str, str]:
    v = next(x for x in VENDORS if x.key == vendor)
    return {_compact(header_key(h)): target for h, target in v.headers.get(kind, {}).items()}


@cache
def _system(vendor: str | None) -> frozenset[str]:
    names = list(GENERIC_SYSTEM)
    for v in VENDORS:
        if (vendor is None and v.fallback) or v.key == vendor:
            names += v.system
    return frozenset(_compact(header_key(n)) for n in names)


def lookup(kind: str, vendor: Vendor | None) -> list[dict[str, str]]:
    """The tables a header is looked up in, strongest first."""
    tables = [_vendor_lookup(vendor.key, kind)] if vendor else []
    tables.append(_generic(kind))
    tables += [_vendor_lookup(v.key, kind) for v in VENDORS if v is not vendor and v.fallback]
    return tables


def target_of(key: str, tables: list[dict[str, str]], mapping: dict[str, str]) -> str | None:
    if key in mapping:
        return mapping[key]
    compact = _compact(key)
    for table in tables:
        found = table.get(compact)
        if found is not None:
            return found
    return None


# -- the vendor ------------------------------------------------------------------------------
def detect_vendor(header: list[str]) -> tuple[Vendor | None, str]:
    """The CRM whose signature headers the file has most of (at least two), and which ones."""
    keys = {_compact(header_key(h)) for h in header}
    best: tuple[int, Vendor | None, list[str]] = (0, None, [])
    for v in VENDORS:
        found = [s for s in v.signature if _compact(header_key(s)) in keys]
        if len(found) > best[0]:
            best = (len(found), v, found)
    count, vendor, found = best
    if vendor is None or count < 2:
        return None, "no vendor's own column names"
    return vendor, "its columns " + ", ".join(found[:4]) + (" …" if len(found) > 4 else "")


# -- the kind --------------------------------------------------------------------------------
# Fields that say a file holds this kind of record (whichever table named the column).
SIGNALS: dict[str, frozenset[str]] = {
    "deals": frozenset(
        {"title", "stage", "amount", "close_date", "status", "is_won", "is_closed", "won_time", "lost_time"}
    ),
    "activities": frozenset({"type", "summary", "date"}),
    "contacts": frozenset({"first_name", "last_name", "title", "mobile_phone"}),
    "customers": frozenset(
        {"website", "industry", "employees", "annual_revenue", "lifecycle_stage", "billing_city", "billing_country"}
        | {"billing_street", "billing_address", "shipping_city", "shipping_street", "shipping_country"}
    ),
}
_ORDER = ("customers", "contacts", "deals", "activities")  # ties go to the earlier


def choose_kind(path: Path, header: list[str], mapping: dict[str, str], vendor: Vendor | None) -> tuple[str, str]:
    """(kind, why): from the file's name when it says one, else from what its columns hold."""
    stem = path.stem.lower()
    for kind in ("contacts", "deals", "activities", "customers"):  # "customer_contacts" are contacts
        hint = next((h for h in KINDS[kind].file_hints if h in stem), None)
        if hint is not None:
            return kind, f"its name “{path.name}” says so"
    evidence: dict[str, list[str]] = {k: [] for k in _ORDER}
    keys = [header_key(h) for h in header]
    for kind, signals in SIGNALS.items():
        tables = lookup(kind, vendor)
        for raw, key in zip(header, keys, strict=True):
            target = target_of(key, tables, mapping)
            if target in signals and not (kind == "deals" and target == "title" and key in ("name", "title")):
                evidence[kind].append(raw.strip())
    contact_tables = lookup("contacts", vendor)
    targets = [target_of(k, contact_tables, mapping) for k in keys]
    has_company = "company" in targets
    has_person = any(t in ("first_name", "last_name") for t in targets) or (
        has_company and "name" in targets  # a name besides the company's: the person's
    )
    if has_company and not has_person:  # the only name is a company's: a list of companies
        evidence["customers"].append(next(h.strip() for h, t in zip(header, targets, strict=True) if t == "company"))
    if has_person:
        people = [h.strip() for h, t in zip(header, targets, strict=True) if t in ("name", "first_name", "last_name")]
        evidence["contacts"] += [h for h in people if h not in evidence["contacts"]]
    elif "email" in targets and not has_company and not evidence["customers"]:
        evidence["contacts"].append(next(h.strip() for h, t in zip(header, targets, strict=True) if t == "email"))
    scores = {k: len(v) for k, v in evidence.items()}
    if not any(scores.values()):
        return "customers", "its columns name no person, deal or activity, so it is read as a list of companies"
    kind = max(_ORDER, key=lambda k: (scores[k], -_ORDER.index(k)))
    shown = ", ".join(evidence[kind][:4]) + (" …" if len(evidence[kind]) > 4 else "")
    entity = KINDS[kind].entity
    return kind, f"its columns {shown} are {'an' if entity[0] in 'aeiou' else 'a'} {entity}'s"


# -- the columns -----------------------------------------------------------------------------
def map_columns(
    kind: str, header: list[str], mapping: dict[str, str], vendor: Vendor | None = None
) -> tuple[dict[str, list[int]], list[CustomColumn], list[tuple[str, str]]]:
    """(field -> column indexes, custom field offers, skipped columns with why)."""
    columns: dict[str, list[int]] = defaultdict(list)
    custom: list[CustomColumn] = []
    skipped: list[tuple[str, str]] = []
    tables = lookup(kind, vendor)
    fields = set(KINDS[kind].field_names)
    system = _system(vendor.key if vendor else None)
    for i, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff")
        key = header_key(raw)
        target = target_of(key, tables, mapping)
        if target == IGNORE:
            skipped.append((name, "--map says ignore"))
        elif target is not None and target in fields:
            columns[target].append(i)
        elif not key:
            skipped.append((name or f"column {i + 1}", "it has no name"))
        elif target is None and _compact(key) in system:
            skipped.append((name, "a system column of the old CRM"))
        else:
            label = target[len(CUSTOM) :] if target and target.startswith(CUSTOM) else name
            custom.append(CustomColumn(i, name, label[:80], person=target == "owner"))
    # Explicit --map targets come first, whatever the column order.
    for idx in columns.values():
        idx.sort(key=lambda i: header_key(header[i]) not in mapping)
    return dict(columns), custom, skipped


__all__ = [
    "IGNORE",
    "SKIP_RULE",
    "CustomColumn",
    "choose_kind",
    "detect_vendor",
    "header_key",
    "map_columns",
]
