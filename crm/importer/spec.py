"""The shape of a kind of file: :class:`Kind`, its :class:`Field` s, and what cleaning a row works with.

:mod:`crm.importer.kinds` fills these in for customers, contacts, deals and activities;
:mod:`crm.importer.run` drives any of them with one loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any
from zoneinfo import ZoneInfo

from crm.errors import InvalidInput
from crm.importer.existing import Existing, Index
from crm.importer.owners import Owners
from crm.importer.reader import Row
from crm.importer.report import DuplicateFinding, ImportOptions
from crm.importer.stages import KEPT, closed_status, resolve_stage
from crm.importer.vendors import Vendor

Cleaner = tuple[str, Callable[[str], Any], str, bool]  # (field, text -> value, category, essential)


class Reject(Exception):
    """A row that is refused, with the category and sentence the report and rejects file show."""

    def __init__(self, category: str, message: str, *, missing: str | None = None) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.missing = missing  # the company that was not found, for the report's list


class Record:
    """A checked row: the columns to store, and the keys it is indexed and matched by."""

    __slots__ = ("custom", "existing", "keys", "line", "rejected", "row", "tags", "values")

    def __init__(self, source: Row, row: dict[str, Any], keys: dict[str, Any]) -> None:
        self.line = source.line
        self.values: list[str] | None = source.values  # the original cells, for the rejects file
        self.row = row
        self.keys = keys
        self.existing: int | None = None  # the id of the row it matched
        self.rejected = False
        self.custom: list[tuple[int, str]] | None = None  # (custom column, text) for custom fields
        self.tags: list[str] | None = None  # a customer's tags


@dataclass
class Context:
    """What cleaning and building a row may look at."""

    options: ImportOptions
    tz: ZoneInfo
    existing: Existing
    notes: Counter[str] = field(default_factory=Counter)  # the current file's notes
    type_cache: dict[str, str | None] = field(default_factory=dict)
    owners: Owners = field(default_factory=lambda: Owners({}, None))
    owner_counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # the current file's
    stage_counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # the current file's
    vendor: Vendor | None = None  # the current file's
    labels: dict[str, str] = field(default_factory=dict)  # field -> the current file's header for it
    dropped: list[tuple[str, str, str]] = field(default_factory=list)  # the row's (field, category, message)
    _cleaners: dict[str, tuple[Cleaner, ...]] = field(default_factory=dict)

    def cleaners(self, kind: Kind) -> tuple[Cleaner, ...]:
        """(field, text -> value, category, essential) for the fields with a cleaner, bound to this import."""
        found = self._cleaners.get(kind.name)
        if found is None:
            found = self._cleaners[kind.name] = tuple(
                (f.name, partial(f.clean, **f.bind(self)) if f.bind else f.clean, f.category, f.essential)
                for f in kind.fields
                if f.clean is not None
            )
        return found

    def drop(self, name: str, category: str, message: str) -> None:
        """A bad value: the row goes in without it, and the report and rejects file say so."""
        label = self.labels.get(name, name.replace("_", " "))
        self.dropped.append((name, category, f"{label}: {message} The row was imported without it."))

    def company(self, ref: str, name: str, email: str | None) -> int:
        """The customer a row belongs to; Reject when there is none."""
        found = self.find_company(ref, name, email)
        if found is None:
            raise missing_company(name or ref)
        return found

    def find_company(self, ref: str, name: str, email: str | None) -> int | None:
        """By the exported id first (of several ``;``-separated ids, the first that exists), then by name."""
        if ";" not in ref:
            return self.existing.company(ref, name, email)
        ids = [x.strip() for x in ref.split(";") if x.strip()]
        by_ref = self.existing.customers.by["ref"]
        found = next((x for x in ids if x in by_ref), None)
        if found is None:
            return self.existing.company("", name, email)
        if len(ids) > 1:
            self.notes["rows associated with several companies: linked to the first one found"] += 1
        return by_ref[found]

    def stage(self, text: str, status: str, is_won: str, is_closed: str) -> str:
        """The deal's stage by the rule of :mod:`crm.importer.stages`; each vendor stage is counted."""
        closed = closed_status(status, is_won, is_closed)
        if closed is not None:
            return closed
        key, how = resolve_stage(text, self.options.deal_stages, self.vendor)
        if how:
            self.stage_counts[(text, key if how != KEPT else KEPT)] += 1
        return key


def missing_company(what: str) -> Reject:
    what = what or "(none given)"
    return Reject("company not found", f"company “{what[:80]}” not found", missing=what)


@dataclass(frozen=True)
class Field:
    name: str
    aliases: tuple[str, ...]  # header spellings (case, spaces and punctuation don't matter)
    clean: Callable[..., Any] | None = None  # text -> value; InvalidInput rejects the row under ``category``
    category: str = ""
    bind: Callable[[Context], dict[str, Any]] | None = None  # keyword arguments of ``clean`` from the import
    essential: bool = False  # a bad value rejects the row (else only the value is dropped)


@dataclass(frozen=True)
class Unique:
    """No two rows of a file may share this key: the later one is rejected."""

    key: str
    category: str
    message: Callable[[Record, int], str]  # (record, line of the first) -> sentence
    unless: tuple[str, ...] = ()  # not checked when the record has one of these keys (still remembered)


@dataclass(frozen=True)
class History:
    """Every change of ``column`` is also written as a row of ``model`` (deals: the stage history)."""

    column: str
    model: type
    row: Callable[[int, Any, Any], dict[str, Any]]  # (id, before, after) -> the history row's columns


@dataclass(frozen=True)
class Kind:
    name: str  # "customers": the CLI's --customers, the report's kind
    entity: str  # the audit entity type
    model: type
    fields: tuple[Field, ...]
    required: tuple[str, ...]  # the file needs a column for one of these
    file_hints: tuple[str, ...]  # parts of file names that say so
    build: Callable[[dict[str, Any], Row, Context], Record]
    match: Callable[[Record, Index], int | None]
    unique: tuple[Unique, ...]
    updatable: tuple[str, ...] = ()  # columns --update may change; empty: rows are never updated
    derived: frozenset[str] = frozenset()  # updatable columns that alone are no change
    remember: tuple[str, ...] = ()  # columns of new rows that later files look up
    touches: str | None = None  # the column naming the customer whose search entry changes
    backfill_ref: bool = False  # store the source id on a matched row that has none
    returning: bool = True  # new rows need their ids (later rows refer to them)
    custom_fields: bool = True  # other columns may become custom fields (else they join the summary)
    history: History | None = None
    # rows of other tables a new record brings (a customer's tags): (record, new id) -> [(model, row)]
    children: Callable[[Record, int], list[tuple[type, dict[str, Any]]]] | None = None
    # with --update, the rows of other tables a matched record adds (tags it lacks):
    # (record, id, current values) -> (what changed as {name: (before, after)}, [(model, row)])
    added_children: (
        Callable[[Record, int, dict[str, Any]], tuple[dict[str, Any], list[tuple[type, dict[str, Any]]]]] | None
    ) = None
    # looks over all the file's records before they are written (see duplicates.screen_customers)
    screen: Callable[..., list[DuplicateFinding]] | None = None

    @cached_property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def clean_values(kind: Kind, row: Row, ctx: Context) -> dict[str, Any]:
    """The row's values, each field's cleaner run over its text (in field order), in place.

    A bad value of an essential field (a customer's name, an activity's date) rejects the
    row; any other bad value is dropped (the field's empty value) and noted in
    ``ctx.dropped``. A field without a cleaner keeps its text, and is absent when the row
    has none (``values.get(name, "")``).
    """
    values: dict[str, Any] = row.fields
    for name, clean, category, essential in ctx.cleaners(kind):
        try:
            values[name] = clean(values.get(name, ""))
        except InvalidInput as err:
            if essential:
                raise Reject(category, err.message) from None
            ctx.drop(name, category, err.message)
            values[name] = clean("")
    return values
