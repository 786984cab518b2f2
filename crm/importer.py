"""Import customers, contacts, deals and activities from CSV exports of other CRMs.

Plain functions, no Slack and no terminal: :func:`run_import` reads the files, checks every
row, reports duplicates, and (unless ``dry_run``) writes the valid rows. The CLI
(``bot/cli_data.py``) turns the :class:`ImportReport` into text.

Reading
    Files are streamed (never loaded whole). The encoding is detected from the first
    64 KB: a UTF-8 or UTF-16 byte-order mark, UTF-16 without one, valid UTF-8, else
    Windows-1252 / Latin-1. The delimiter is the commonest of ``, ; TAB |`` in the header
    line. Binary files, spreadsheets saved as ``.xlsx``, empty files and files without a
    name column stop the import before anything is written.

Headers
    Column names are matched (case, spaces and punctuation ignored) against the generic
    names and the usual HubSpot, Salesforce and Pipedrive export columns (:data:`HEADERS`);
    ``mapping`` (``--map "Col=field"``) overrides them.

Rows
    A row that fails a check (bad email, phone, date, amount, website, missing name,
    wrong number of columns, unknown company, repeated id) is *rejected* with a reason and
    a line number; the others are imported. Rejects go to ``<file>.rejects.csv``.

Idempotency
    Every row has a stable key: its source id (``external_ref``) when the file has an id
    column, otherwise the normalised company name, the contact's email (or name at the
    company), the deal title at the company, or a hash of the activity's company, time,
    type and summary (kept in ``activities.idempotency_key`` as ``import:...``). A row whose
    key is already in the database is skipped, or with ``update`` has its changed fields
    updated (customers, contacts, deals; imported activities are never rewritten).

Writing
    All files are written in **one** transaction, with bulk inserts of ``batch_size`` rows
    (``session.execute(insert(Model), rows)``). Any failure rolls everything back, so an
    import is never half-written. At the end the workspace's search version is bumped
    once and every touched customer stamped, so replicas re-index them.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.activity_types import DEFAULT as DEFAULT_TYPES
from crm.activity_types import ActivityTypes
from crm.customers import clean_email, clean_name, clean_text, clean_website
from crm.dedupe import CustomerRecord, customer_pairs, load_customer_records
from crm.errors import CRMError, InvalidInput
from crm.lookup import bump_search_version
from crm.models import Activity, Contact, Customer, CustomerAlias, Deal, DealStageChange, utcnow
from crm.money import to_minor
from crm.normalize import is_free_email_domain, normalize_name, normalize_phone

KINDS = ("customers", "contacts", "deals", "activities")  # the order files are imported in
SAMPLE_BYTES = 64 * 1024
FIELD_LIMIT = 10 * 1024 * 1024  # a longer field means broken quoting, not data
MAX_SUMMARY = 20_000
MAX_NOTES = 20_000
PROGRESS_EVERY = 5_000
SHOW_PROBLEMS = 1_000  # problems kept per file for the report (all are counted)
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
IGNORE = "ignore"


class ImportFileError(CRMError):
    """A file that cannot be imported at all (unreadable, binary, no name column...)."""


# -- header names --------------------------------------------------------------------------
def header_key(header: str) -> str:
    """ "Organization - Name" -> "organization name"; "E-Mail" -> "e mail"."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header.strip().lstrip("\ufeff").lower()).split())


def _names(text: str) -> list[str]:
    return [header_key(x) for x in text.split(",") if x.strip()]


_COMPANY = "company, company name, account, account name, organization, organization name, organisation, \
organisation name, org name, customer, customer name, associated company, business name"
_COMPANY_ID = "company id, account id, organization id, organisation id, associated company id, customer id, org id"

# field -> header names, per kind (HubSpot, Salesforce, Pipedrive and generic spellings).
HEADERS: dict[str, dict[str, list[str]]] = {
    "customers": {
        "id": _names("id, record id, company id, account id, organization id, external id, external ref, customer id"),
        "name": _names(_COMPANY + ", name, company legal name"),
        "website": _names(
            "website, website url, web site, url, domain, company domain name, company domain, "
            "organization website, homepage, web"
        ),
        "owner": _names("owner, company owner, account owner, organization owner, owner user id"),
        "notes": _names("notes, note, description, about"),
    },
    "contacts": {
        "id": _names("id, record id, contact id, person id, external id, external ref"),
        "name": _names("name, full name, contact name, person name, contact"),
        "first_name": _names("first name, firstname, given name, person first name"),
        "last_name": _names("last name, lastname, surname, family name, person last name"),
        "email": _names("email, e mail, email address, person email, work email, contact email, primary email"),
        "phone": _names(
            "phone, phone number, mobile, mobile phone, mobile phone number, person phone, work phone, "
            "telephone, business phone"
        ),
        "title": _names("title, job title, position, role, person job title"),
        "company": _names(_COMPANY + ", person organization, person organization name"),
        "company_id": _names(_COMPANY_ID + ", person organization id"),
    },
    "deals": {
        "id": _names("id, record id, deal id, opportunity id, external id, external ref"),
        "title": _names("title, deal name, deal title, opportunity name, name, deal, opportunity"),
        "company": _names(_COMPANY + ", deal organization, deal organization name"),
        "company_id": _names(_COMPANY_ID + ", deal organization id"),
        "amount": _names("amount, value, deal value, deal amount, opportunity amount"),
        "amount_minor": _names("amount minor"),
        "currency": _names("currency, deal currency, amount currency, currency code, currency iso code"),
        "stage": _names("stage, deal stage, stage name, pipeline stage, deal stage name"),
        "close_date": _names(
            "close date, expected close date, closedate, expected close, deal expected close date, "
            "deal close date, won time"
        ),
        "owner": _names("owner, deal owner, opportunity owner, owner user id, deal owner id"),
    },
    "activities": {
        "id": _names("id, activity id, record id, task id, engagement id, external id, external ref"),
        "type": _names("type, activity type, type key, task type, engagement type, activity type name"),
        "summary": _names(
            "summary, subject, note, notes, description, body, activity note, activity subject, details, "
            "comments, content"
        ),
        "date": _names(
            "date, occurred at, activity date, due date, activity due date, timestamp, date time, "
            "activity date time, start date, created date"
        ),
        "company": _names(_COMPANY + ", activity organization"),
        "company_id": _names(_COMPANY_ID + ", activity organization id"),
        "contact_email": _names("contact email, email, person email, activity person email"),
        "contact_id": _names("contact id, person id, associated contact id, who id, activity person id"),
        "deal_id": _names("deal id, opportunity id, associated deal id, activity deal id, what id"),
        "owner": _names("owner, created by, assigned to, activity owner, user"),
    },
}
FIELDS: dict[str, tuple[str, ...]] = {kind: tuple(fields) for kind, fields in HEADERS.items()}
# A file whose headers include one of these is probably of that kind (for files given positionally).
DISTINCTIVE = {
    "contacts": {"email", "first_name", "last_name", "title", "phone"},
    "deals": {"stage", "amount", "close_date", "amount_minor"},
    "activities": {"type", "summary", "date", "contact_email"},
    "customers": {"website"},
}
FILENAME_HINTS = (
    ("contacts", ("contact", "people", "person", "lead")),
    ("deals", ("deal", "opportunit", "pipeline")),
    ("activities", ("activit", "task", "call", "meeting", "note", "event", "engagement", "history")),
    ("customers", ("compan", "account", "organi", "customer", "client")),
)


def parse_mapping(text: str) -> dict[str, str]:
    """``"Firma=name,Web=website,Fax=ignore"`` -> {header key: field}; raises InvalidInput."""
    known = {f for fields in FIELDS.values() for f in fields} | {IGNORE}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        column, sep, target = part.rpartition("=")
        target = target.strip().lower().replace(" ", "_")
        if not sep or not column.strip():
            raise InvalidInput(f"--map needs Column=field pairs; “{part.strip()}” has no “=”.")
        if target not in known:
            raise InvalidInput(f"--map: “{target}” is not a field. Fields are: {', '.join(sorted(known))}.")
        mapping[header_key(column)] = target
    return mapping


# -- reading files -------------------------------------------------------------------------
@dataclass
class SourceFile:
    path: Path
    kind: str
    encoding: str
    delimiter: str
    header: list[str]
    columns: dict[str, list[int]]  # field -> column indexes (first non-empty value wins)
    ignored: list[str]
    size: int

    @property
    def label(self) -> str:
        return self.path.name


def detect_encoding(sample: bytes, name: str) -> str:
    """The encoding of a file from its first bytes; raises ImportFileError for binary files."""
    if not sample.strip():
        raise ImportFileError(f"{name} is empty: there is nothing to import.")
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(b"PK\x03\x04"):
        raise ImportFileError(f"{name} is a zip file or an Excel workbook, not CSV: save it as CSV (UTF-8) first.")
    even, odd = sample[0::2], sample[1::2]
    if len(sample) >= 4 and odd.count(0) > len(odd) // 3 and even.count(0) == 0:
        return "utf-16-le"
    if len(sample) >= 4 and even.count(0) > len(even) // 3 and odd.count(0) == 0:
        return "utf-16-be"
    if b"\x00" in sample:
        raise ImportFileError(f"{name} looks like a binary file, not CSV text (it contains NUL bytes).")
    head = sample
    if len(sample) == SAMPLE_BYTES:  # may end inside a multi-byte character
        head = sample[:-4]
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _sniff_delimiter(text: str) -> str:
    line = text.split("\n", 1)[0]
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _check_text(text: str, name: str) -> None:
    controls = sum(1 for ch in text[:20_000] if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(10, len(text[:20_000]) // 100):
        raise ImportFileError(f"{name} looks like a binary file, not CSV text.")


def open_source(path: Path, *, kind: str | None, mapping: dict[str, str], encoding: str | None = None) -> SourceFile:
    """Sniff a file's encoding, delimiter, kind and column mapping (reads only its start)."""
    name = path.name
    if not path.exists():
        raise ImportFileError(f"{path} does not exist.")
    if path.is_dir():
        raise ImportFileError(f"{path} is a directory; give a CSV file (or an export directory on its own).")
    size = path.stat().st_size
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if encoding is None:
        encoding = detect_encoding(sample, name)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFileError(f"--encoding {encoding} is not an encoding Python knows.") from None
    text = sample.decode(encoding, errors="ignore")
    _check_text(text, name)
    delimiter = _sniff_delimiter(text.lstrip("\ufeff"))
    header = _read_header(path, encoding, delimiter)
    if not header or not any(h.strip() for h in header):
        raise ImportFileError(f"{name} has no header row: the first line must name the columns.")
    keys = [header_key(h) for h in header]
    if kind is None:
        kind = guess_kind(path, keys, mapping)
    columns, ignored = map_columns(kind, header, mapping)
    required = {"customers": "name", "deals": "title", "activities": "date"}.get(kind)
    if kind == "contacts" and not ({"name", "first_name", "last_name", "email"} & set(columns)):
        required = "name"
    if required and required not in columns:
        raise ImportFileError(
            f"{name} ({kind}) has no column for the {required.replace('_', ' ')}. Its columns are: "
            f'{", ".join(header[:30])}. Name the column with --map "Column={required}".'
        )
    return SourceFile(path, kind, encoding, delimiter, header, columns, ignored, size)


def _read_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        try:
            return next(csv.reader(fh, delimiter=delimiter), [])
        except csv.Error as err:
            raise ImportFileError(f"{path.name}: the header row can't be read as CSV ({err}).") from None


def guess_kind(path: Path, keys: list[str], mapping: dict[str, str]) -> str:
    """customers / contacts / deals / activities, from the file name, else from the headers."""
    stem = path.stem.lower()
    for kind, hints in FILENAME_HINTS:
        if any(h in stem for h in hints):
            return kind
    scores: Counter[str] = Counter()
    for kind, fields in DISTINCTIVE.items():
        for key in keys:
            target = mapping.get(key) or next((f for f, names in HEADERS[kind].items() if key in names), None)
            if target in fields:
                scores[kind] += 1
    if not scores:
        return "customers"
    return max(KINDS, key=lambda k: (scores[k], k == "customers"))


def map_columns(kind: str, header: list[str], mapping: dict[str, str]) -> tuple[dict[str, list[int]], list[str]]:
    columns: dict[str, list[int]] = defaultdict(list)
    ignored = []
    lookup = {name: f for f, names in HEADERS[kind].items() for name in names}
    for i, raw in enumerate(header):
        key = header_key(raw)
        target = mapping.get(key, lookup.get(key))
        if target and target != IGNORE and target in FIELDS[kind]:
            columns[target].append(i)
        elif raw.strip():
            ignored.append(raw.strip())
    # Explicit --map targets come first, whatever the column order.
    for idx in columns.values():
        idx.sort(key=lambda i: header_key(header[i]) not in mapping)
    return dict(columns), ignored


class Row:
    """One data row: its first line number and its values by field (first non-empty column wins)."""

    __slots__ = ("fields", "line", "values")

    def __init__(self, line: int, values: list[str], columns: dict[str, list[int]]) -> None:
        self.line = line
        self.values = values
        fields: dict[str, str] = {}
        for name, idx in columns.items():
            for i in idx:
                value = values[i].strip()
                if value:
                    fields[name] = _unneutralise(value) if value[0] == "'" else value
                    break
        self.fields = fields

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


def _unneutralise(value: str) -> str:
    """Undo the export's formula guard: "'=SUM(A1)" -> "=SUM(A1)"."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


class _Counting(io.RawIOBase):
    """A binary file wrapper that counts bytes read (for progress and ETA)."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        self.done += n or 0
        return n


def read_rows(source: SourceFile, counter: list[_Counting] | None = None) -> Iterator[Row | tuple[int, str]]:
    """Data rows, or (line, reason) for rows that are broken as CSV; ImportFileError if unreadable."""
    previous_limit = csv.field_size_limit(FIELD_LIMIT)
    width = len(source.header)
    raw = _Counting(source.path.open("rb"))
    if counter is not None:
        counter.append(raw)
    text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 16), encoding=source.encoding, newline="")
    reader = csv.reader(text, delimiter=source.delimiter)
    line = 1
    try:
        next(reader, None)  # header
        line = reader.line_num + 1
        for values in reader:
            start, line = line, reader.line_num + 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != width:
                if len(values) > width and not any(v.strip() for v in values[width:]):
                    values = values[:width]
                else:
                    yield (start, f"has {len(values)} values but the header has {width} columns")
                    continue
            yield Row(start, values, source.columns)
    except UnicodeDecodeError:
        raise ImportFileError(
            f"{source.label}: around line {line} the bytes are not valid {source.encoding}. "
            "Save the file as UTF-8, or name its encoding with --encoding (e.g. --encoding latin-1)."
        ) from None
    except csv.Error as err:
        raise ImportFileError(
            f"{source.label}: line {line} can't be read as CSV ({err}); check for an unclosed quote."
        ) from None
    finally:
        text.close()
        csv.field_size_limit(previous_limit)


# -- values --------------------------------------------------------------------------------
_DATE_FORMATS_MDY = ("%m/%d/%Y", "%m/%d/%y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p")
_DATE_FORMATS_DMY = ("%d/%m/%Y", "%d/%m/%y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %I:%M %p")
_DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%y",
    "%d-%m-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%Y%m%d",
)


def parse_datetime(text: str, *, tz: ZoneInfo, dayfirst: bool = False) -> datetime:
    """A date or date-time in any of the usual export formats, as aware UTC; InvalidInput if not."""
    value = " ".join(text.split())
    if not value:
        raise InvalidInput("no date")
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace(" UTC", "+00:00"))
    except ValueError:
        slash = value.count("/") == 2 and not re.match(r"^\d{4}/", value)
        formats: tuple[str, ...] = _DATE_FORMATS
        if slash:
            first = int(re.match(r"^\s*(\d+)", value).group(1)) if re.match(r"^\s*\d+", value) else 0
            second = re.match(r"^\s*\d+/(\d+)", value)
            order_dmy = dayfirst or first > 12
            if second and int(second.group(1)) > 12:
                order_dmy = False
            formats = _DATE_FORMATS_DMY if order_dmy else _DATE_FORMATS_MDY
        elif re.fullmatch(r"\d{9,10}(\.\d+)?", value):
            parsed = datetime.fromtimestamp(float(value), UTC)
        for fmt in formats:
            if parsed is not None:
                break
            try:
                parsed = datetime.strptime(value, fmt)
            except ValueError:
                continue
    if parsed is None or not 1900 <= parsed.year <= 2200:
        raise InvalidInput(f"“{text[:40]}” isn't a date (try 2024-03-31 or 03/31/2024)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def stage_key(text: str) -> str:
    """ "Closed Won" -> "won", "Qualified To Buy" -> "qualified_to_buy" (at most 64 characters)."""
    slug = "_".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())
    if slug in ("closed_won", "closedwon", "won", "closed_won_deal"):
        return "won"
    if slug in ("closed_lost", "closedlost", "lost"):
        return "lost"
    return slug[:64] or "open"


def _owner(text: str) -> str | None:
    text = text.strip()
    return text if SLACK_USER_ID.match(text) else None


_SUMMARY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202d\u202e\ufeff]")


def _summary(text: str) -> str:
    cleaned = _SUMMARY_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(cleaned) > MAX_SUMMARY:
        raise InvalidInput(f"the summary is {len(cleaned):,} characters; at most {MAX_SUMMARY:,}")
    return cleaned


# -- options and report ----------------------------------------------------------------------
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
    encoding: str | None = None
    rejects_dir: Path | None = None  # where <file>.rejects.csv go (default: next to each file)
    activity_types: ActivityTypes = DEFAULT_TYPES


@dataclass(frozen=True)
class Problem:
    line: int
    category: str  # "invalid email", "invalid phone", "invalid date", "company not found", ...
    message: str


@dataclass
class FileReport:
    path: Path
    kind: str
    encoding: str = ""
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
    notes: Counter[str] = field(default_factory=Counter)  # e.g. "unknown activity type saved as note"
    rejects_path: Path | None = None
    seconds: float = 0.0


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


Progress = Callable[[str, int, int, int, bool], None]  # (label, rows, bytes done, bytes total, finished)


class _Rejects:
    """A file's rejects, written to a temporary file and moved into place only on success."""

    def __init__(self, source: SourceFile, directory: Path | None, enabled: bool) -> None:
        self.source = source
        self.enabled = enabled
        self.target = (directory or source.path.parent).resolve() / f"{source.path.stem}.rejects.csv"
        self._fh = None
        self._writer: Any = None

    def add(self, line: int, reason: str, values: list[str] | None) -> None:
        if not self.enabled:
            return
        if self._writer is None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".rejects-", suffix=".csv", dir=self.target.parent)
            self._tmp = Path(tmp)
            self._fh = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._fh)
            self._writer.writerow(["line", "reason", *self.source.header])
        self._writer.writerow([line, reason, *(values or [])])

    def commit(self) -> Path | None:
        if self._fh is None:
            return None
        self._fh.close()
        os.replace(self._tmp, self.target)
        return self.target

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)


# -- the import ------------------------------------------------------------------------------
@dataclass
class _Existing:
    """What the workspace already holds, keyed the ways rows are matched."""

    customer_by_ref: dict[str, int] = field(default_factory=dict)
    customer_by_name: dict[str, int] = field(default_factory=dict)
    customer_by_domain: dict[str, int] = field(default_factory=dict)
    customer_values: dict[int, dict[str, Any]] = field(default_factory=dict)
    contact_by_ref: dict[str, int] = field(default_factory=dict)
    contact_by_email: dict[str, int] = field(default_factory=dict)
    contact_by_name: dict[tuple[int, str], int] = field(default_factory=dict)
    contact_values: dict[int, dict[str, Any]] = field(default_factory=dict)
    deal_by_ref: dict[str, int] = field(default_factory=dict)
    deal_by_title: dict[tuple[int, str], int] = field(default_factory=dict)
    deal_values: dict[int, dict[str, Any]] = field(default_factory=dict)
    activity_keys: set[str] = field(default_factory=set)


def _load_existing(session: Session, ws: int) -> _Existing:
    ex = _Existing()
    merged: dict[int, int] = {}
    for cid, name, normalized, website, domain, owner, notes, ref, merged_into, deleted in session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.normalized_name,
            Customer.website,
            Customer.domain,
            Customer.owner_user_id,
            Customer.notes,
            Customer.external_ref,
            Customer.merged_into_id,
            Customer.deleted_at,
        )
        .where(Customer.workspace_id == ws)
        .order_by(Customer.id)
    ):
        if merged_into is not None:
            merged[cid] = merged_into
        elif deleted is not None:
            continue
        else:
            ex.customer_by_name.setdefault(normalized, cid)
            if domain:
                ex.customer_by_domain.setdefault(domain, cid)
            ex.customer_values[cid] = {
                "name": name,
                "normalized_name": normalized,
                "website": website,
                "domain": domain,
                "owner_user_id": owner,
                "notes": notes,
                "external_ref": ref,
            }
        if ref:
            ex.customer_by_ref.setdefault(ref, cid)

    def follow(cid: int) -> int:
        for _ in range(20):
            if cid not in merged:
                break
            cid = merged[cid]
        return cid

    # A record merged away resolves to the one it was merged into, so a re-import after
    # a clean-up does not bring the duplicate back.
    ex.customer_by_ref = {ref: follow(cid) for ref, cid in ex.customer_by_ref.items()}
    for cid, normalized in session.execute(
        select(CustomerAlias.customer_id, CustomerAlias.normalized).where(CustomerAlias.workspace_id == ws)
    ):
        ex.customer_by_name.setdefault(normalized, follow(cid))
    for cid, customer_id, name, normalized, email, phone, title, ref, deleted, merged_into in session.execute(
        select(
            Contact.id,
            Contact.customer_id,
            Contact.name,
            Contact.normalized_name,
            Contact.email,
            Contact.phone,
            Contact.title,
            Contact.external_ref,
            Contact.deleted_at,
            Contact.merged_into_id,
        ).where(Contact.workspace_id == ws)
    ):
        if ref:
            ex.contact_by_ref.setdefault(ref, merged_into or cid)
        if deleted is not None:
            continue
        if email:
            ex.contact_by_email.setdefault(email, cid)
        ex.contact_by_name.setdefault((customer_id, normalized), cid)
        ex.contact_values[cid] = {
            "name": name,
            "normalized_name": normalized,
            "email": email,
            "phone": phone,
            "title": title,
            "customer_id": customer_id,
        }
    for did, customer_id, title, amount, currency, stage, close, ref, deleted in session.execute(
        select(
            Deal.id,
            Deal.customer_id,
            Deal.title,
            Deal.amount_minor,
            Deal.currency,
            Deal.stage,
            Deal.expected_close,
            Deal.external_ref,
            Deal.deleted_at,
        ).where(Deal.workspace_id == ws)
    ):
        if ref:
            ex.deal_by_ref.setdefault(ref, did)
        if deleted is not None:
            continue
        ex.deal_by_title.setdefault((customer_id, normalize_name(title)), did)
        ex.deal_values[did] = {
            "title": title,
            "amount_minor": amount,
            "currency": currency,
            "stage": stage,
            "expected_close": close,
            "customer_id": customer_id,
        }
    ex.activity_keys = set(
        session.scalars(
            select(Activity.idempotency_key).where(
                Activity.workspace_id == ws, Activity.idempotency_key.like("import:%")
            )
        )
    )
    return ex


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
        self.tz = ZoneInfo(options.timezone)
        self.ex = _load_existing(session, ws)
        self.fake_id = 0  # dry run: ids of rows that would be created
        self.touched_customers: set[int] = set()
        self.new_customer_ids: list[int] = []
        self.company_cache: dict[str, int | None] = {}
        self.rejects: list[_Rejects] = []
        self._seen_activity_keys: set[str] = set()  # activity keys met in this run's files
        self._next_ids: dict[str, int] = {}

    # -- shared helpers ------------------------------------------------------------------
    def insert(self, model, rows: list[dict[str, Any]], *, returning: bool) -> list[int]:
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

    def bulk_update(self, model, rows: list[dict[str, Any]]) -> None:
        if rows and not self.o.dry_run:
            self.session.execute(update(model), rows)

    def resolve_company(self, ref: str, company: str, email: str | None) -> int | None:
        """A customer id from a company id, a company name, or a work email's domain."""
        if ref:
            found = self.ex.customer_by_ref.get(ref)
            if found is not None:
                return found
        if company:
            if company in self.company_cache:
                found = self.company_cache[company]
            else:
                found = self.ex.customer_by_name.get(normalize_name(company))
                self.company_cache[company] = found
            if found is not None:
                return found
        if email and "@" in email:
            domain = email.rsplit("@", 1)[1].lower()
            if not is_free_email_domain(domain):
                return self.ex.customer_by_domain.get(domain)
        return None

    def _tick(self, fr: FileReport, counter: list[_Counting], source: SourceFile, done: bool = False) -> None:
        if self.progress is not None:
            read = counter[0].done if counter else 0
            self.progress(source.label, fr.rows_read, min(read, source.size), source.size, done)

    def run_file(self, source: SourceFile) -> FileReport:
        fr = FileReport(source.path, source.kind, source.encoding, source.delimiter)
        fr.columns = {f: ", ".join(source.header[i] for i in idx) for f, idx in source.columns.items()}
        fr.ignored = source.ignored
        rejects = _Rejects(source, self.o.rejects_dir, not self.o.dry_run)
        self.rejects.append(rejects)
        started = time.perf_counter()
        handler = getattr(self, f"_import_{source.kind}")
        handler(source, fr, rejects)
        fr.seconds = time.perf_counter() - started
        self.report.files.append(fr)
        return fr

    def _rows(self, source: SourceFile, fr: FileReport, rejects: _Rejects) -> Iterator[Row]:
        counter: list[_Counting] = []
        for item in read_rows(source, counter):
            fr.rows_read += 1
            if isinstance(item, tuple):
                self.reject(fr, rejects, item[0], "malformed row", item[1], None)
            else:
                yield item
            if fr.rows_read % PROGRESS_EVERY == 0:
                self._tick(fr, counter, source)
        self._tick(fr, counter, source, done=True)

    def reject(
        self, fr: FileReport, rejects: _Rejects, line: int, category: str, message: str, values: list[str] | None
    ) -> None:
        fr.rejected += 1
        fr.categories[category] += 1
        if len(fr.problems) < SHOW_PROBLEMS:
            fr.problems.append(Problem(line, category, message))
        rejects.add(line, message, values)

    # -- customers -------------------------------------------------------------------------
    def _import_customers(self, source: SourceFile, fr: FileReport, rejects: _Rejects) -> None:
        incoming: list[dict[str, Any]] = []
        seen_refs: dict[str, int] = {}
        seen_names: dict[str, int] = {}
        for row in self._rows(source, fr, rejects):
            try:
                name, normalized = clean_name(row.get("name"), label="company name")
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "missing or invalid name", err.message, row.values)
                continue
            try:
                website, domain = clean_website(row.get("website"))
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "invalid website", err.message, row.values)
                continue
            ref = row.get("id")[:255] or None
            if ref is not None and ref in seen_refs:
                msg = f"id {ref} appears twice (first on line {seen_refs[ref]})"
                self.reject(fr, rejects, row.line, "duplicate id", msg, row.values)
                continue
            if ref is None and normalized in seen_names:
                msg = f"same company as line {seen_names[normalized]}"
                self.reject(fr, rejects, row.line, "duplicate in file", msg, row.values)
                continue
            notes = row.get("notes")
            if len(notes) > MAX_NOTES:
                self.reject(fr, rejects, row.line, "field too long", "the notes are too long", row.values)
                continue
            if ref is not None:
                seen_refs[ref] = row.line
            seen_names.setdefault(normalized, row.line)
            incoming.append(
                {
                    "line": row.line,
                    "values": row.values,
                    "ref": ref,
                    "name": name,
                    "normalized_name": normalized,
                    "website": website,
                    "domain": domain,
                    "owner_user_id": _owner(row.get("owner")),
                    "notes": notes or None,
                }
            )
        # Match each row to what is there: by source id, else by normalised name.
        for item in incoming:
            existing = None
            if item["ref"] is not None:
                existing = self.ex.customer_by_ref.get(item["ref"])
            if existing is None:
                existing = self.ex.customer_by_name.get(item["normalized_name"])
            item["existing"] = existing
        self._customer_duplicates(incoming, fr, rejects)
        new_rows: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for item in incoming:
            if item.get("rejected"):
                continue
            fr.rows_valid += 1
            existing = item["existing"]
            if existing is not None:
                self._match_customer(item, existing, fr, updates)
                continue
            new_rows.append(
                {
                    "workspace_id": self.ws,
                    "name": item["name"],
                    "normalized_name": item["normalized_name"],
                    "website": item["website"],
                    "domain": item["domain"],
                    "owner_user_id": item["owner_user_id"],
                    "notes": item["notes"],
                    "external_ref": item["ref"],
                    "created_at": self.now,
                    "created_by": self.o.actor,
                    "index_version": 0,
                }
            )
            pending.append(item)
            if len(new_rows) >= self.o.batch_size:
                self._flush_customers(new_rows, pending, fr)
        self._flush_customers(new_rows, pending, fr)
        self.bulk_update(Customer, updates)

    def _customer_duplicates(self, incoming: list[dict[str, Any]], fr: FileReport, rejects: _Rejects) -> None:
        """Fuzzy duplicates of the new rows, within the file and against the database."""
        new = [item for item in incoming if item["existing"] is None]
        if not new:
            return
        records = load_customer_records(self.session, self.ws, with_weights=False)
        db_names = {r.key: r.name for r in records}
        by_line = {}
        for item in new:
            key = ("line", item["line"])
            by_line[key] = item
            records.append(CustomerRecord(key, item["name"], item["normalized_name"], item["domain"]))

        def relevant(a: CustomerRecord, b: CustomerRecord) -> bool:
            return isinstance(a.key, tuple) or isinstance(b.key, tuple)

        for pair in customer_pairs(records, min_score=self.o.min_score, relevant=relevant):
            a, b = pair.a, pair.b
            if isinstance(a, tuple) and isinstance(b, tuple):
                first, second = sorted((a, b))
                item, target = by_line[second], by_line[first]
                finding = DuplicateFinding(
                    item["line"],
                    item["name"],
                    f"line {target['line']} {target['name']}",
                    None,
                    pair.score,
                    pair.reasons,
                    False,
                )
            else:
                line_key, db_id = (a, b) if isinstance(a, tuple) else (b, a)
                item = by_line[line_key]
                finding = DuplicateFinding(
                    item["line"], item["name"], f"#{db_id} {db_names[db_id]}", db_id, pair.score, pair.reasons, True
                )
                if self.o.skip_duplicates and not item.get("rejected"):
                    item["rejected"] = True
                    why = ", ".join(pair.reasons)
                    msg = f"probably the same as #{db_id} {db_names[db_id]} ({pair.score:.0f}%: {why})"
                    self.reject(fr, rejects, item["line"], "probable duplicate", msg, item["values"])
            self.report.duplicates.append(finding)

    def _match_customer(self, item: dict[str, Any], cid: int, fr: FileReport, updates: list[dict[str, Any]]) -> None:
        current = self.ex.customer_values.get(cid, {})
        if item["ref"] is not None:
            self.ex.customer_by_ref.setdefault(item["ref"], cid)
        change: dict[str, Any] = {}
        if self.o.update:
            for key in ("name", "website", "domain", "owner_user_id", "notes"):
                value = item[key]
                if value is not None and value != current.get(key):
                    change[key] = value
            if "name" in change:
                change["normalized_name"] = item["normalized_name"]
        if item["ref"] is not None and not current.get("external_ref"):
            change["external_ref"] = item["ref"]  # remember the source id for the next run
        if not change:
            fr.unchanged += 1
            return
        if set(change) == {"external_ref"}:
            updates.append({"id": cid, **change})
            fr.unchanged += 1
            return
        updates.append({"id": cid, **change, "updated_at": self.now, "updated_by": self.o.actor})
        self.touched_customers.add(cid)
        fr.updated += 1
        if not self.o.dry_run:
            shown = [k for k in change if k != "external_ref"]
            audit.record(
                self.session,
                workspace_id=self.ws,
                entity_type="customer",
                entity_id=cid,
                action="update",
                actor=self.o.actor,
                before={k: current.get(k) for k in shown},
                after={k: change[k] for k in shown},
                note=f"import: {fr.path.name} line {item['line']}",
            )

    def _flush_customers(self, rows: list[dict[str, Any]], pending: list[dict[str, Any]], fr: FileReport) -> None:
        ids = self.insert(Customer, rows, returning=True)
        for item, cid in zip(pending, ids, strict=True):
            self.ex.customer_by_name.setdefault(item["normalized_name"], cid)
            if item["ref"] is not None:
                self.ex.customer_by_ref[item["ref"]] = cid
            if item["domain"]:
                self.ex.customer_by_domain.setdefault(item["domain"], cid)
            self.ex.customer_values[cid] = {k: item[k] for k in ("name", "website", "domain", "owner_user_id")}
            self.new_customer_ids.append(cid)
        fr.inserted += len(ids)
        rows.clear()
        pending.clear()

    # -- contacts --------------------------------------------------------------------------
    def _import_contacts(self, source: SourceFile, fr: FileReport, rejects: _Rejects) -> None:
        seen_refs: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        seen_names: dict[tuple[int, str], int] = {}
        batch: list[dict[str, Any]] = []
        keys: list[tuple[str | None, str | None, tuple[int, str]]] = []
        updates: list[dict[str, Any]] = []
        for row in self._rows(source, fr, rejects):
            name_text = row.get("name") or " ".join(x for x in (row.get("first_name"), row.get("last_name")) if x)
            raw_email = row.get("email")
            try:
                email = clean_email(raw_email)
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "invalid email", err.message, row.values)
                continue
            try:
                name, normalized = clean_name(name_text or email, label="contact name")
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "missing or invalid name", err.message, row.values)
                continue
            raw_phone = row.get("phone")
            try:
                phone = normalize_phone(raw_phone[:64], self.o.phone_region) if raw_phone else None
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "invalid phone", err.message, row.values)
                continue
            try:
                title = clean_text(row.get("title"), limit=255, field="title", label="title")
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "field too long", err.message, row.values)
                continue
            company = row.get("company")
            customer_id = self.resolve_company(row.get("company_id"), company, email)
            if customer_id is None:
                what = company or row.get("company_id") or "(none given)"
                self.report.missing_companies.append((source.label, row.line, what))
                self.reject(fr, rejects, row.line, "company not found", f"company “{what[:80]}” not found", row.values)
                continue
            ref = row.get("id")[:255] or None
            if ref is not None and ref in seen_refs:
                msg = f"id {ref} appears twice (first on line {seen_refs[ref]})"
                self.reject(fr, rejects, row.line, "duplicate id", msg, row.values)
                continue
            if email and email in seen_emails:
                msg = f"{email} is also on line {seen_emails[email]}"
                self.reject(fr, rejects, row.line, "duplicate in file", msg, row.values)
                continue
            name_key = (customer_id, normalized)
            if not email and ref is None and name_key in seen_names:
                msg = f"same contact as line {seen_names[name_key]}"
                self.reject(fr, rejects, row.line, "duplicate in file", msg, row.values)
                continue
            if ref is not None:
                seen_refs[ref] = row.line
            if email:
                seen_emails[email] = row.line
            seen_names.setdefault(name_key, row.line)
            fr.rows_valid += 1
            values = {"name": name, "normalized_name": normalized, "email": email, "phone": phone, "title": title}
            existing = self.ex.contact_by_ref.get(ref) if ref is not None else None
            if existing is None and email:
                existing = self.ex.contact_by_email.get(email)
            if existing is None and not email:
                existing = self.ex.contact_by_name.get(name_key)
            if existing is not None:
                self._match_contact(existing, ref, values, customer_id, fr, updates, row.line)
                continue
            batch.append(
                {
                    "workspace_id": self.ws,
                    "customer_id": customer_id,
                    **values,
                    "external_ref": ref,
                    "created_at": self.now,
                    "created_by": self.o.actor,
                }
            )
            keys.append((ref, email, name_key))
            if len(batch) >= self.o.batch_size:
                self._flush_contacts(batch, keys, fr)
        self._flush_contacts(batch, keys, fr)
        self.bulk_update(Contact, updates)

    def _match_contact(
        self,
        cid: int,
        ref: str | None,
        values: dict[str, Any],
        customer_id: int,
        fr: FileReport,
        updates: list[dict[str, Any]],
        line: int,
    ) -> None:
        current = self.ex.contact_values.get(cid, {})
        change = {}
        if self.o.update:
            change = {k: v for k, v in values.items() if v is not None and v != current.get(k)}
            if change.keys() == {"normalized_name"}:
                change = {}
        if change:
            updates.append({"id": cid, **change, "updated_at": self.now, "updated_by": self.o.actor})
            fr.updated += 1
            self.touched_customers.add(current.get("customer_id", customer_id))
            if not self.o.dry_run:
                audit.record(
                    self.session,
                    workspace_id=self.ws,
                    entity_type="contact",
                    entity_id=cid,
                    action="update",
                    actor=self.o.actor,
                    before={k: current.get(k) for k in change},
                    after=change,
                    note=f"import: {fr.path.name} line {line}",
                )
        else:
            fr.unchanged += 1
        if ref is not None:
            self.ex.contact_by_ref.setdefault(ref, cid)

    def _flush_contacts(self, batch: list[dict[str, Any]], keys: list, fr: FileReport) -> None:
        ids = self.insert(Contact, batch, returning=True)
        for (ref, email, name_key), cid, row in zip(keys, ids, batch, strict=True):
            if ref is not None:
                self.ex.contact_by_ref[ref] = cid
            if email:
                self.ex.contact_by_email[email] = cid
            self.ex.contact_by_name.setdefault(name_key, cid)
            self.ex.contact_values[cid] = {"customer_id": row["customer_id"]}
            self.touched_customers.add(row["customer_id"])
        fr.inserted += len(ids)
        batch.clear()
        keys.clear()

    # -- deals -----------------------------------------------------------------------------
    def _import_deals(self, source: SourceFile, fr: FileReport, rejects: _Rejects) -> None:
        seen_refs: dict[str, int] = {}
        seen_titles: dict[tuple[int, str], int] = {}
        batch: list[dict[str, Any]] = []
        keys: list[tuple[str | None, tuple[int, str]]] = []
        updates: list[dict[str, Any]] = []
        stage_changes: list[dict[str, Any]] = []
        for row in self._rows(source, fr, rejects):
            try:
                title = clean_text(row.get("title"), limit=255, field="title", label="deal name", required=True)
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "missing or invalid name", err.message, row.values)
                continue
            currency = (row.get("currency") or self.o.currency).upper()
            if not re.fullmatch(r"[A-Z]{3}", currency):
                self.reject(
                    fr, rejects, row.line, "invalid amount", f"“{currency[:20]}” isn't a currency code", row.values
                )
                continue
            try:
                minor = row.get("amount_minor")
                if minor:
                    if not re.fullmatch(r"\d{1,18}", minor):
                        raise InvalidInput(f"“{minor[:30]}” isn't a whole number of minor units")
                    amount = int(minor)
                else:
                    amount = to_minor(row.get("amount"), currency) if row.get("amount") else None
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "invalid amount", err.message, row.values)
                continue
            close_text = row.get("close_date")
            try:
                close = parse_datetime(close_text, tz=self.tz, dayfirst=self.o.dayfirst) if close_text else None
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "invalid date", f"close date {err.message}", row.values)
                continue
            customer_id = self.resolve_company(row.get("company_id"), row.get("company"), None)
            if customer_id is None:
                what = row.get("company") or row.get("company_id") or "(none given)"
                self.report.missing_companies.append((source.label, row.line, what))
                self.reject(fr, rejects, row.line, "company not found", f"company “{what[:80]}” not found", row.values)
                continue
            ref = row.get("id")[:255] or None
            title_key = (customer_id, normalize_name(title))
            if ref is not None and ref in seen_refs:
                msg = f"id {ref} appears twice (first on line {seen_refs[ref]})"
                self.reject(fr, rejects, row.line, "duplicate id", msg, row.values)
                continue
            if ref is None and title_key in seen_titles:
                msg = f"same deal as line {seen_titles[title_key]}"
                self.reject(fr, rejects, row.line, "duplicate in file", msg, row.values)
                continue
            if ref is not None:
                seen_refs[ref] = row.line
            seen_titles.setdefault(title_key, row.line)
            fr.rows_valid += 1
            stage = stage_key(row.get("stage"))
            close_day = close.date() if close else None
            values = {
                "title": title,
                "amount_minor": amount,
                "currency": currency,
                "stage": stage,
                "expected_close": close_day,
            }
            existing = self.ex.deal_by_ref.get(ref) if ref is not None else None
            if existing is None:
                existing = self.ex.deal_by_title.get(title_key)
            if existing is not None:
                self._match_deal(existing, ref, values, fr, updates, stage_changes, row.line)
                continue
            batch.append(
                {
                    "workspace_id": self.ws,
                    "customer_id": customer_id,
                    **values,
                    "owner_user_id": _owner(row.get("owner")),
                    "closed_at": close if stage in ("won", "lost") and close else None,
                    "external_ref": ref,
                    "created_at": self.now,
                    "created_by": self.o.actor,
                }
            )
            keys.append((ref, title_key))
            if len(batch) >= self.o.batch_size:
                self._flush_deals(batch, keys, fr)
        self._flush_deals(batch, keys, fr)
        self.bulk_update(Deal, updates)
        self.insert(DealStageChange, stage_changes, returning=False)

    def _match_deal(self, did, ref, values, fr, updates, stage_changes, line) -> None:
        current = self.ex.deal_values.get(did, {})
        change = {}
        if self.o.update:
            change = {k: v for k, v in values.items() if v is not None and v != current.get(k)}
        if change:
            updates.append({"id": did, **change, "updated_at": self.now, "updated_by": self.o.actor})
            fr.updated += 1
            if "stage" in change:
                stage_changes.append(
                    {
                        "workspace_id": self.ws,
                        "deal_id": did,
                        "from_stage": current.get("stage"),
                        "to_stage": change["stage"],
                        "created_at": self.now,
                        "created_by": self.o.actor,
                    }
                )
            if not self.o.dry_run:
                audit.record(
                    self.session,
                    workspace_id=self.ws,
                    entity_type="deal",
                    entity_id=did,
                    action="update",
                    actor=self.o.actor,
                    before={k: audit.jsonable(current.get(k)) for k in change},
                    after={k: audit.jsonable(v) for k, v in change.items()},
                    note=f"import: {fr.path.name} line {line}",
                )
        else:
            fr.unchanged += 1
        if ref is not None:
            self.ex.deal_by_ref.setdefault(ref, did)

    def _flush_deals(self, batch: list[dict[str, Any]], keys: list, fr: FileReport) -> None:
        ids = self.insert(Deal, batch, returning=True)
        changes = []
        for (ref, title_key), did, row in zip(keys, ids, batch, strict=True):
            if ref is not None:
                self.ex.deal_by_ref[ref] = did
            self.ex.deal_by_title.setdefault(title_key, did)
            self.ex.deal_values[did] = {"stage": row["stage"], "customer_id": row["customer_id"]}
            changes.append(
                {
                    "workspace_id": self.ws,
                    "deal_id": did,
                    "from_stage": None,
                    "to_stage": row["stage"],
                    "created_at": self.now,
                    "created_by": self.o.actor,
                }
            )
        self.insert(DealStageChange, changes, returning=False)
        fr.inserted += len(ids)
        batch.clear()
        keys.clear()

    # -- activities ------------------------------------------------------------------------
    def _import_activities(self, source: SourceFile, fr: FileReport, rejects: _Rejects) -> None:
        batch: list[dict[str, Any]] = []
        types = self.o.activity_types
        type_cache: dict[str, str | None] = {}
        known = self.ex.activity_keys
        for row in self._rows(source, fr, rejects):
            date_text = row.get("date")
            try:
                occurred = parse_datetime(date_text, tz=self.tz, dayfirst=self.o.dayfirst)
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "invalid date", err.message, row.values)
                continue
            type_text = row.get("type")
            if type_text not in type_cache:
                found = types.resolve(type_text)
                type_cache[type_text] = found.key if found else None
            type_key = type_cache[type_text]
            if type_key is None:
                type_key = "note" if types.is_active("note") else types.keys[0]
                fr.notes[f"unknown activity type saved as {type_key}"] += 1
            try:
                summary = _summary(row.get("summary"))
            except InvalidInput as err:
                self.reject(fr, rejects, row.line, "field too long", err.message, row.values)
                continue
            summary = summary or types.describe(type_key).label
            contact_email = row.get("contact_email").lower()
            contact_id = None
            contact_ref = row.get("contact_id")
            if contact_ref:
                contact_id = self.ex.contact_by_ref.get(contact_ref)
            if contact_id is None and contact_email:
                contact_id = self.ex.contact_by_email.get(contact_email)
            deal_ref = row.get("deal_id")
            deal_id = self.ex.deal_by_ref.get(deal_ref) if deal_ref else None
            company_ref, company = row.get("company_id"), row.get("company")
            customer_id = self.resolve_company(company_ref, company, contact_email or None)
            if customer_id is None and contact_id is not None:
                customer_id = self.ex.contact_values.get(contact_id, {}).get("customer_id")
            if customer_id is None and deal_id is not None:
                customer_id = self.ex.deal_values.get(deal_id, {}).get("customer_id")
            if customer_id is None:
                what = company or company_ref or contact_email or "(none given)"
                self.report.missing_companies.append((source.label, row.line, what))
                self.reject(fr, rejects, row.line, "company not found", f"company “{what[:80]}” not found", row.values)
                continue
            ref = row.get("id")[:255] or None
            if ref is not None:
                key = f"import:{ref}"[:128]
            else:
                who = (company_ref or normalize_name(company)) if (company_ref or company) else contact_email
                digest = hashlib.sha1(
                    "\x1f".join((who, contact_email, occurred.isoformat(), type_key, summary)).encode()
                ).hexdigest()
                key = f"import:h:{digest}"
            if key in known:
                if key in self._seen_activity_keys:
                    what = f"id {ref}" if ref is not None else "the same company, time, type and summary"
                    self.reject(fr, rejects, row.line, "duplicate in file", f"an earlier row has {what}", row.values)
                    continue
                fr.rows_valid += 1
                fr.unchanged += 1
                continue
            known.add(key)
            self._seen_activity_keys.add(key)
            fr.rows_valid += 1
            batch.append(
                {
                    "workspace_id": self.ws,
                    "customer_id": customer_id,
                    "contact_id": contact_id,
                    "deal_id": deal_id,
                    "type_key": type_key,
                    "summary": summary,
                    "occurred_at": occurred,
                    "source": "import",
                    "idempotency_key": key,
                    "external_ref": ref,
                    "created_at": self.now,
                    "created_by": _owner(row.get("owner")) or self.o.actor,
                }
            )
            if len(batch) >= self.o.batch_size:
                self.insert(Activity, batch, returning=False)
                fr.inserted += len(batch)
                batch.clear()
        self.insert(Activity, batch, returning=False)
        fr.inserted += len(batch)

    # -- the end ---------------------------------------------------------------------------
    def finish(self) -> None:
        """Stamp touched customers with a new search version; record the import in the audit log."""
        if self.o.dry_run:
            return
        touched = self.touched_customers | set(self.new_customer_ids)
        if touched:
            version = bump_search_version(self.session, self.ws)
            ids = sorted(touched)
            table = Customer.__table__
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
                action="import",
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


def order_sources(sources: list[SourceFile]) -> list[SourceFile]:
    """Customers first, then contacts, deals, activities (each may refer to the ones before)."""
    kinds = [s.kind for s in sources]
    for kind in KINDS:
        if kinds.count(kind) > 1:
            names = ", ".join(s.label for s in sources if s.kind == kind)
            raise ImportFileError(f"Several files look like {kind} ({names}); give them with --{kind} FILE instead.")
    return sorted(sources, key=lambda s: KINDS.index(s.kind))


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
    report = ImportReport(dry_run=options.dry_run)
    context = sf() if options.dry_run else sf.begin()
    run: _Run | None = None
    try:
        with context as session:
            run = _Run(session, workspace_id, options, report, progress, now)
            for source in sources:
                run.run_file(source)
            run.finish()
    except BaseException:
        if run is not None:
            for rejects in run.rejects:
                rejects.discard()
        raise
    for fr, rejects in zip(report.files, run.rejects, strict=True):
        fr.rejects_path = rejects.commit()
    report.seconds = time.perf_counter() - started
    return report
