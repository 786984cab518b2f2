"""What an import is asked to do (:class:`ImportOptions`) and what it found (:class:`ImportReport`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crm.activity_types import DEFAULT as DEFAULT_TYPES
from crm.activity_types import ActivityTypes
from crm.lifecycle import DEFAULT as DEFAULT_LIFECYCLE
from crm.lifecycle import LifecycleStages
from crm.pipeline_stages import DEFAULT as DEFAULT_STAGES
from crm.pipeline_stages import PipelineStages

SHOW_PROBLEMS = 1_000  # problems kept per file for the report (all are counted)

Progress = Callable[[str, int, int, int, bool], None]  # (label, rows, bytes done, bytes total, finished)


@dataclass
class ImportOptions:
    dry_run: bool = False
    update: bool = False
    skip_duplicates: bool = False  # reject rows that probably duplicate an existing customer
    dayfirst: bool = False
    timezone: str = "UTC"
    currency: str = "USD"
    phone_region: str | None = None
    actor: str = "import"
    batch_size: int = 5_000
    min_score: float = 85.0
    mapping: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None  # the files' encoding; None: detected per file
    rejects_dir: Path | None = None  # where <name>.rejects.csv go (default: next to each file)
    activity_types: ActivityTypes = DEFAULT_TYPES
    deal_stages: PipelineStages = DEFAULT_STAGES
    lifecycle_stages: LifecycleStages = DEFAULT_LIFECYCLE
    owners: dict[str, str] = field(default_factory=dict)  # --owners: old id, email or name (casefolded) -> U…
    owner_lookup: Callable[[str], str | None] | None = None  # email -> Slack user id (users.lookupByEmail)
    create_fields: bool = False  # create the offered custom fields and store their values


@dataclass(frozen=True)
class Problem:
    line: int
    category: str  # "invalid email", "invalid phone", "invalid date", "company not found", ...
    message: str


@dataclass
class CustomOffer:
    """A column no built-in field holds: a custom field of this type (created with ``create_fields``)."""

    header: str
    label: str
    type: str  # text, number, money, date, yes/no, one-of-a-list, several-of-a-list, URL, email
    why: str  # what the values showed, e.g. "all 120 values are dates"
    values: int = 0  # rows with a value
    created: bool = False  # created by this import (or there already, with values stored)
    options: list[str] | None = None  # a list's options as defined (this CRM's export), else from the values
    retired: bool = False  # retired where it came from (this CRM's export): created retired


@dataclass
class FileReport:
    path: Path
    kind: str
    encoding: str = ""
    encoding_given: bool = False  # named with --encoding (else detected)
    delimiter: str = ","
    columns: dict[str, str] = field(default_factory=dict)  # field -> header(s) used
    ignored: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_valid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    categories: Counter[str] = field(default_factory=Counter)
    warnings: list[Problem] = field(default_factory=list)  # values dropped from rows that were imported
    warning_categories: Counter[str] = field(default_factory=Counter)
    kind_reason: str = ""
    vendor: str = ""  # "Salesforce", "HubSpot", "Pipedrive" or "" (a generic CSV)
    vendor_reason: str = ""
    custom: list[CustomOffer] = field(default_factory=list)  # columns offered (or made) custom fields
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (header, why)
    stages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (vendor stage, our stage) -> deals
    owners: Counter[tuple[str, str]] = field(default_factory=Counter)  # (old owner, how it was mapped) -> rows
    notes: Counter[str] = field(default_factory=Counter)  # e.g. "unknown activity type saved as note"
    rejects_path: Path | None = None
    seconds: float = 0.0

    def warning(self, line: int, category: str, message: str) -> None:
        self.warning_categories[category] += 1
        if len(self.warnings) < SHOW_PROBLEMS:
            self.warnings.append(Problem(line, category, message))

    def problem(self, line: int, category: str, message: str) -> None:
        self.rejected += 1
        self.categories[category] += 1
        if len(self.problems) < SHOW_PROBLEMS:
            self.problems.append(Problem(line, category, message))


@dataclass(frozen=True)
class DuplicateFinding:
    line: int
    name: str
    target: str  # "#12 Acme Corp" (in the database) or "line 7 Acme Corp." (in the file)
    target_id: int | None
    score: float
    reasons: tuple[str, ...]
    in_database: bool


@dataclass
class ImportReport:
    dry_run: bool
    files: list[FileReport] = field(default_factory=list)
    duplicates: list[DuplicateFinding] = field(default_factory=list)
    missing_companies: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, company)
    seconds: float = 0.0

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_valid(self) -> int:
        return sum(f.rows_valid for f in self.files)
