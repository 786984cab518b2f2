"""``crm-bot import | export | dedupe``: bring data in, take it out, find duplicates.

Argument parsing, progress display and report printing only; the work is done by
``crm.importer``, ``crm.exporter`` and ``crm.dedupe``. Exit status: 0 done (rows may have
been rejected: see the report), 1 the files or directory could not be used (nothing was
written), 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from bot import cli_names
from bot.config import ConfigError, Settings
from bot.import_report import print_import_report
from bot.owner_lookup import slack_owner_lookup
from bot.services import Services
from crm import dedupe, exporter, importer
from crm.activity_types import types_for
from crm.errors import CRMError, InvalidInput
from crm.fields import clean_region_code
from crm.importer.owners import read_owner_mapping
from crm.lifecycle import lifecycle_for
from crm.models import Workspace
from crm.pipeline_stages import stages_for

COMMANDS = cli_names.COMMANDS
SHOW = 20  # lines per report section before "and N more"

IMPORT_HELP = """\
Files are imported customers first, then contacts, deals and activities. Name each with
--customers/--contacts/--deals/--activities, or give them positionally: the kind is read
from the file name (companies.csv, people.csv, deals.csv, tasks.csv ...) or else guessed
from the headers. Give an export directory (from `crm-bot export`) alone to restore it.

Headers from HubSpot, Salesforce, Pipedrive and generic CSVs are recognised; override with
--map "Firma=name,Web=website,Fax=ignore"; "Gebiet=custom:Region" sends a column to the
custom field of that name or key (with --create-fields). --update brings changed fields in
and adds a customer's new tags (tags given in Slack stay).
{fields}

The encoding is detected (UTF-8 with or without BOM, UTF-16, Windows-1252, Latin-1,
Shift-JIS, ...; the report says which); name it with --encoding when that is wrong. A row
longer than 1 MB is rejected, and the rest of the file is read.
"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the import, export and dedupe subcommands to ``crm-bot``'s parser."""
    imp = sub.add_parser(
        "import",
        help=cli_names.SUMMARIES["import"],
        description=IMPORT_HELP.format(fields=_field_list()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("files", nargs="*", type=Path, help="CSV files (kind from name or headers), or an export dir")
    for kind in importer.KINDS:
        imp.add_argument(f"--{kind}", type=Path, metavar="FILE", help=f"a CSV file of {kind}")
    _team_arguments(imp)
    imp.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    imp.add_argument("--update", action="store_true", help="update changed fields of rows already imported")
    imp.add_argument(
        "--skip-duplicates", action="store_true", help="reject customers that probably duplicate an existing one"
    )
    imp.add_argument("--map", action="append", default=[], metavar="COL=FIELD,...", help="override header mapping")
    imp.add_argument("--encoding", help="the files' encoding (default: detected)")
    imp.add_argument("--dayfirst", action="store_true", help="read 03/04/2024 as 3 April (default: March 4)")
    imp.add_argument("--timezone", default="UTC", help="zone of dates without one (default: UTC)")
    imp.add_argument("--currency", default="USD", help="currency of amounts without one (default: USD)")
    imp.add_argument("--phone-region", help="country of phone numbers without +code, e.g. US or DE")
    imp.add_argument("--rejects-dir", type=Path, help="where <name>.rejects.csv go (default: next to each file)")
    imp.add_argument("--batch-size", type=int, default=5000, help="rows per bulk insert (default: 5000)")
    imp.add_argument("--min-score", type=float, default=dedupe.MIN_SCORE, help="duplicate threshold 0-100")
    imp.add_argument("--actor", default="import", help="recorded as created_by (default: import)")
    imp.add_argument(
        "--owners",
        type=Path,
        metavar="MAPPING.csv",
        help="old CRM owner (id, email or name) -> Slack user id, two columns; emails are also looked up in Slack",
    )
    imp.add_argument(
        "--create-fields", action="store_true", help="create the custom fields the dry run offers, and fill them"
    )
    _progress_arguments(imp)

    exp = sub.add_parser("export", help=cli_names.SUMMARIES["export"])
    _team_arguments(exp)
    exp.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write into")
    _progress_arguments(exp)

    ded = sub.add_parser("dedupe", help=cli_names.SUMMARIES["dedupe"])
    _team_arguments(ded)
    ded.add_argument("--min-score", type=float, default=dedupe.MIN_SCORE, help="report pairs scoring at least this")
    ded.add_argument("--limit", type=int, default=100, help="pairs listed per section (default: 100; 0 = all)")
    ded.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="also write every pair and every member of a group to this CSV file (replaced whole, never half)",
    )


def _field_list() -> str:
    kinds = "; ".join(f"{name} {' '.join(spec.field_names)}" for name, spec in importer.SPECS.items())
    return textwrap.fill(f"Fields: {kinds}.", width=90)


def _team_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--team",
        metavar="T…",
        help="Slack team id of the workspace; not needed when the database holds just one "
        "(the playground's is T0PLAYGROUND)",
    )
    parser.add_argument("--enterprise", metavar="E…", help="Enterprise Grid org id, if any")


def _progress_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress output")


# -- progress ------------------------------------------------------------------------------
class ProgressPrinter:
    """A progress bar with rate and ETA on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, interval: float | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.interval = interval if interval is not None else (0.1 if self.tty else 5.0)
        self.label = ""
        self.started = 0.0
        self.last = 0.0

    def __call__(self, label: str, rows: int, done: int, total: int, finished: bool) -> None:
        now = time.monotonic()
        if label != self.label:
            self.label, self.started, self.last = label, now, now
        if not finished and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        speed = f"{rows / elapsed:>9,.0f}/s" if elapsed >= 0.5 else ""
        fraction = min(1.0, done / total) if total else (1.0 if finished else 0.0)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
        if self.tty:
            width = 24
            bar = "#" * int(width * fraction) + "-" * (width - int(width * fraction))
            tail = f"done in {_duration(elapsed)}" if finished else f"ETA {_duration(eta)}"
            line = f"\r{label[:28]:<28} [{bar}] {fraction:4.0%} {rows:>10,} rows {speed:>11} {tail}   "
            self.stream.write(line + ("\n" if finished else ""))
        else:
            state = f"done in {_duration(elapsed)}" if finished else f"{fraction:.0%}, ETA {_duration(eta)}"
            speed = f", {speed.strip()}" if speed else ""
            self.stream.write(f"{label}: {rows:,} rows{speed}, {state}\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


# -- commands ------------------------------------------------------------------------------
def run(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the schema talk is for `crm-bot migrate`
    services = Services.from_settings(settings)
    try:
        services.migrate()
        if args.command == "import":
            return cmd_import(args, services)
        if args.command == "export":
            return cmd_export(args, services)
        return cmd_dedupe(args, services)
    except _NoWorkspace as err:
        return _fail(str(err))
    finally:
        services.close()


def _known_workspaces(services: Services) -> list[tuple[int, str, str | None]]:
    with services.session_factory() as session:
        rows = session.execute(select(Workspace.id, Workspace.team_id, Workspace.name).order_by(Workspace.id))
        return [(row.id, row.team_id, row.name) for row in rows]


def _listing(known: list[tuple[int, str, str | None]]) -> str:
    shown = [f"{team} ({name})" if name else team for _, team, name in known[:10]]
    more = f" and {len(known) - 10} more" if len(known) > 10 else ""
    return ", ".join(shown) + more


def _workspace(services: Services, args: argparse.Namespace, *, create: bool, missing_ok: bool = False) -> int | None:
    """The workspace a command works on: ``--team``'s, or the only one in the database. An unknown
    team id is refused with the ones that exist (``create`` makes it instead: import, restore)."""
    team = (args.team or "").strip()
    if not team:
        known = _known_workspaces(services)
        if len(known) == 1:
            args.team = known[0][1]
            return known[0][0]
        if not known:
            raise ConfigError(
                "This database holds no workspace yet: say which one with --team, the Slack team id "
                "(T0123ABCD; the playground's is T0PLAYGROUND)."
            )
        raise ConfigError(f"This database holds {len(known)} workspaces: {_listing(known)}. Say which with --team.")
    if create:
        return services.workspace_id(team, args.enterprise)
    with services.session_factory() as session:
        found = session.scalar(
            select(Workspace.id).where(
                Workspace.team_id == team, Workspace.enterprise_id_key == (args.enterprise or "")
            )
        )
    if found is None and not missing_ok:
        known = _known_workspaces(services)
        there = f"; it holds {_listing(known)}" if known else "; it holds no workspace yet"
        raise _NoWorkspace(f"there is no workspace with team id {team} in this database{there}.")
    return found


class _NoWorkspace(Exception):
    """An unknown --team on a command that reads an existing workspace (exit status 1)."""


def _fail(message: str) -> int:
    print(f"crm-bot: {message}", file=sys.stderr)
    return 1


def _progress(args: argparse.Namespace) -> ProgressPrinter | None:
    return None if args.quiet else ProgressPrinter(sys.stderr)


def cmd_import(args: argparse.Namespace, services: Services) -> int:
    files: list[tuple[Path, str | None]] = [(p, None) for p in args.files]
    files += [(getattr(args, kind), kind) for kind in importer.KINDS if getattr(args, kind)]
    if not files:
        return _fail("give at least one CSV file to import (see crm-bot import --help).")
    if len(files) == 1 and exporter.is_export(files[0][0]):
        return _restore(args, services, files[0][0])
    for path, _ in files:
        if exporter.is_export(path):
            return _fail(f"{path} is an export directory: restore it on its own (crm-bot import {path} --team …).")
    try:
        mapping: dict[str, str] = {}
        for text in args.map:
            mapping.update(importer.parse_mapping(text))
        try:
            ZoneInfo(args.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"--timezone {args.timezone} is not an IANA zone such as Europe/Berlin.") from None
        try:
            phone_region = clean_region_code(args.phone_region or services.settings.phone_region)
        except ValueError as err:
            raise InvalidInput(f"--phone-region: {err}.") from None
        if args.batch_size < 1:
            raise InvalidInput("--batch-size must be at least 1.")
        options = importer.ImportOptions(
            dry_run=args.dry_run,
            update=args.update,
            skip_duplicates=args.skip_duplicates,
            dayfirst=args.dayfirst,
            timezone=args.timezone,
            currency=args.currency.upper(),
            phone_region=phone_region,
            actor=args.actor,
            batch_size=args.batch_size,
            min_score=args.min_score,
            mapping=mapping,
            encoding=args.encoding,
            rejects_dir=args.rejects_dir,
            activity_types=types_for(services.settings.activity_types),
            deal_stages=stages_for(services.settings.deal_stages),
            lifecycle_stages=lifecycle_for(services.settings.lifecycle_stages),
            owners=read_owner_mapping(args.owners) if args.owners else {},
            owner_lookup=_owner_lookup(services),
            create_fields=args.create_fields,
        )
        workspace_id = _workspace(services, args, create=not args.dry_run, missing_ok=True)
        if workspace_id is None:  # a dry run for a workspace not created yet: compare with nothing
            workspace_id = 0
        with _sigterm_stops():
            report = importer.run_import(
                services.session_factory, workspace_id, files, options, progress=_progress(args), now=services.now()
            )
    except CRMError as err:
        return _fail(f"{err.message} Nothing was imported.")
    except _Terminated:
        _fail("stopped by SIGTERM before the import was committed. Nothing was imported.")
        return 128 + signal.SIGTERM
    print_import_report(report, sys.stdout, create_fields=options.create_fields)
    return 0


def _owner_lookup(services: Services) -> Callable[[str], str | None] | None:
    """Owners' emails looked up in Slack when the app has a token; else only --owners maps them."""
    if not services.settings.slack_bot_token:
        return None
    from bot.app import make_web_client

    return slack_owner_lookup(make_web_client(services))


class _Terminated(BaseException):
    """SIGTERM during an import: unwinds it like Ctrl-C, so it rolls back and removes its temporary files."""


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _restore(args: argparse.Namespace, services: Services, directory: Path) -> int:
    if args.dry_run:
        manifest = exporter.read_manifest(directory)
        print(f"{directory} is an export of {manifest.get('team_id')} from {manifest.get('exported_at')}:")
        for name, info in (manifest.get("tables") or {}).items():
            print(f"  {name}: {info.get('rows', 0):,} rows")
        print("Dry run: nothing was written.")
        return 0
    try:
        workspace_id = _workspace(services, args, create=True)
        assert workspace_id is not None
        report = exporter.restore_workspace(services.session_factory, workspace_id, directory, progress=_progress(args))
    except CRMError as err:
        return _fail(f"{err.message} Nothing was restored.")
    total = sum(report.counts.values())
    print(f"Restored {total:,} rows from {directory} in {report.seconds:.1f} s:")
    for name, n in report.counts.items():
        print(f"  {name}: {n:,}")
    return 0


def cmd_export(args: argparse.Namespace, services: Services) -> int:
    workspace_id = _workspace(services, args, create=False)
    assert workspace_id is not None  # an unknown team is refused inside
    try:
        report = exporter.export_workspace(
            services.session_factory, workspace_id, args.out, progress=_progress(args), now=services.now()
        )
    except CRMError as err:
        return _fail(err.message)
    total = sum(report.counts.values())
    print(f"Exported {total:,} rows to {report.directory} in {report.seconds:.1f} s (CSV and JSON Lines):")
    for name, n in report.counts.items():
        print(f"  {name}: {n:,}")
    return 0


def cmd_dedupe(args: argparse.Namespace, services: Services) -> int:
    workspace_id = _workspace(services, args, create=False)
    assert workspace_id is not None  # an unknown team is refused inside
    if args.csv is not None and not args.csv.parent.is_dir():
        return _fail(f"Can't write {args.csv}: the folder {args.csv.parent} does not exist.")
    found = dedupe.find_duplicates(services.session_factory, workspace_id, min_score=args.min_score)
    print_duplicate_report(found, sys.stdout, limit=args.limit or None)
    if args.csv is not None:
        try:
            rows = write_duplicate_csv(found, args.csv)
        except OSError as err:
            return _fail(f"Can't write {args.csv}: {err.strerror or err}. Nothing was written.")
        print(f"\nWrote {rows:,} rows to {args.csv}.")
    return 0


def write_duplicate_csv(report: dedupe.DuplicateReport, path: Path) -> int:
    """Every finding as CSV (``dedupe.REPORT_COLUMNS``), written to a temporary file beside
    ``path`` and moved into place, so a reader never sees half a file. Returns the row count."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    n = 0
    try:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(dedupe.REPORT_COLUMNS)
            for row in dedupe.report_rows(report):
                writer.writerow([exporter.neutralise(cell) for cell in row])
                n += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


# -- reports -------------------------------------------------------------------------------
def _more(out: TextIO, shown: int, total: int) -> None:
    if total > shown:
        out.write(f"    … and {total - shown:,} more\n")


def print_duplicate_report(report: dedupe.DuplicateReport, out: TextIO, *, limit: int | None = 100) -> None:
    w = out.write
    w(f"Checked {report.customers_checked:,} customers and {report.contacts_checked:,} contacts.\n")
    w(f"\nProbable duplicate customers ({len(report.customers):,}):\n")
    shown = report.customers[:limit] if limit else report.customers
    for d in shown:
        w(
            f"  {d.score:3.0f}% {d.verdict:<6}  #{d.duplicate_id} {d.duplicate_name}  →  merge into #{d.keeper_id} "
            f"{d.keeper_name}  ({'; '.join(d.reasons)})\n"
        )
    _more(out, len(shown), len(report.customers))
    if report.groups:
        w(f"\nGrouped instead of paired ({len(report.groups):,}): too many records share one key to list as pairs.\n")
        for g in report.groups[:limit] if limit else report.groups:
            listed = " (each paired with the one to keep)" if g.paired else ""
            w(f"  {g.size:,} customers {g.what}, e.g. {', '.join(g.sample)}{listed}\n")
    w(f"\nProbable duplicate contacts ({len(report.contacts):,}):\n")
    contacts = report.contacts[:limit] if limit else report.contacts
    for c in contacts:
        w(f"  {c.score:3.0f}%  #{c.first_id} {c.first}  ~  #{c.second_id} {c.second}  ({'; '.join(c.reasons)})\n")
    _more(out, len(contacts), len(report.contacts))
    if report.customers:
        w("\nMerge customers with the Merge buttons of /crm duplicates, or /crm merge <duplicate> into <keeper>.\n")
