"""Import customers, contacts, deals and activities from CSV exports of other CRMs.

Plain functions, no Slack and no terminal: :func:`run_import` reads the files, checks every
row, reports duplicates, and (unless ``dry_run``) writes the valid rows. The CLI
(``bot/cli_data.py``) turns the :class:`ImportReport` into text.

The package, in the order a file goes through it:

``sources``
    Opening a file: the encoding (byte-order marks, UTF-8, else ``charset-normalizer``;
    ``--encoding`` overrides), the delimiter, the header (two columns of one name are
    refused), the kind (from the file name, else the headers) and the column mapping.
    Binary files, spreadsheets saved as ``.xlsx``, empty files and files without a name
    column stop the import before anything is written.
``reader``
    The rows, streamed with a bound on memory: a row over 1 MB (one huge value, or a
    100 MB line) is rejected with its line and column, and the file goes on.
``kinds`` and ``values``
    What each kind of file holds: its fields with the header spellings of generic,
    HubSpot, Salesforce and Pipedrive exports, the cleaner of each value (dates, stages,
    owners, emails, phones, money), how a row becomes a record, how it is matched to one
    already there and which fields ``update`` may change.
``run``
    One loop for all kinds. A row that fails a check (bad email, phone, date, amount,
    website, missing name, wrong number of columns, unknown company, repeated id) is
    *rejected* with a reason and a line number; the others are imported.
``existing`` and ``duplicates``
    What the workspace holds, keyed the ways rows are matched; probable duplicate
    customers (fuzzy names, same domain), within the file and against the database.
``rejects`` and ``report``
    ``companies.csv``'s rejects go to ``companies.rejects.csv`` (written to a temporary
    file and renamed once the import has committed; one left by a killed import is
    removed by the next); :class:`ImportReport` is what a dry run shows.

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

from crm.errors import InvalidInput
from crm.importer.kinds import KINDS as SPECS
from crm.importer.reader import ROW_LIMIT, ImportFileError, Row
from crm.importer.report import DuplicateFinding, FileReport, ImportOptions, ImportReport, Problem, Progress
from crm.importer.run import allocate_ids, order_sources, run_import
from crm.importer.sources import (
    SourceFile,
    detect_encoding,
    guess_kind,
    header_key,
    map_columns,
    open_source,
    parse_mapping,
    read_rows,
)
from crm.importer.values import parse_datetime, stage_key

KINDS = tuple(SPECS)  # the order files are imported in: customers, contacts, deals, activities

__all__ = [
    "KINDS",
    "ROW_LIMIT",
    "SPECS",
    "DuplicateFinding",
    "FileReport",
    "ImportFileError",
    "ImportOptions",
    "ImportReport",
    "InvalidInput",
    "Problem",
    "Progress",
    "Row",
    "SourceFile",
    "allocate_ids",
    "detect_encoding",
    "guess_kind",
    "header_key",
    "map_columns",
    "open_source",
    "order_sources",
    "parse_datetime",
    "parse_mapping",
    "read_rows",
    "run_import",
    "stage_key",
]
