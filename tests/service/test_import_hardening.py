"""`crm-bot import` against hostile files: encodings, repeated headers, huge rows, kills, rejects names."""

from __future__ import annotations

import codecs
import csv
import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm import importer
from crm.importer import ImportFileError, ImportOptions, reader, rejects, run_import
from crm.models import Customer
from tests.service.test_import import CRM_BOT, count, crm_bot, write
from tests.support.processes import Processes, Started, clean_env, run

JAPANESE = [["Company name", "Website", "メモ"], ["株式会社山田製作所", "yamada.co.jp", "毎月の定例会議"]]
JAPANESE += [[f"東京商事{i}号", f"tokyo{i}.example", "新規顧客です。よろしくお願いします"] for i in range(40)]
WESTERN = [["Company", "Notes"], ["Café Müller", "größter Kunde – „wichtig“ €"], ["Zoë & Søn", "naïve"]]
LATIN = [["Company", "Notes"], ["Café Müller", "größter Kunde"], ["Zoë & Søn", "naïve"]]


@pytest.fixture
def ws(services) -> int:
    return services.workspace_id("T0HARD")


def names(services) -> set[str]:
    with services.session_factory() as s:
        return set(s.scalars(select(Customer.name)))


def encoded(rows: list[list[str]], encoding: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


# -- pure: encodings ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (encoded(JAPANESE, "shift_jis"), "cp932"),
        (encoded(JAPANESE, "cp932"), "cp932"),
        (encoded(WESTERN, "cp1252"), "cp1252"),
        (encoded(LATIN, "latin-1") + b"Caf\xe9 \x81,x\r\n", "latin-1"),  # 0x81: not Windows-1252
        (encoded(WESTERN, "utf-16"), "utf-16"),
        (encoded(WESTERN, "utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + encoded(WESTERN, "utf-8"), "utf-8-sig"),
    ],
)
def test_detect_encoding(data, expected):
    assert importer.detect_encoding(data, "x.csv") == expected
    assert data.decode(expected).replace("\ufeff", "").startswith("Company")


def test_a_sample_cut_inside_a_character_is_still_read_right():
    size = importer.sources.SAMPLE_BYTES
    for pad in range(4):  # the 64 KB boundary falls on each byte of a character in turn
        rows = [["Company", "Pad"]] + [[JAPANESE[1][0], "x" * pad]] * 4000
        data = encoded(rows, "shift_jis")
        assert len(data) > size
        assert importer.detect_encoding(data[:size], "x.csv") == "cp932"


# -- pure: following a row to its end ---------------------------------------------------------------
def _rows_by_csv(text: str) -> list[tuple[int, int]]:
    """(lines, values) of each row as the csv module reads them."""
    out = []
    lines = io.StringIO(text, newline="")
    r = csv.reader(lines)
    last = 0
    for values in r:
        out.append((r.line_num - last, len(values)))
        last = r.line_num
    return out


def _rows_by_scanner(text: str, rng: random.Random) -> list[tuple[int, int]]:
    out = []
    scanner, lines = reader._Scanner(","), 0
    for line in io.StringIO(text, newline=""):
        lines += 1
        ended = False
        while line:  # fed in random pieces, as the reader does with long lines
            cut = rng.randint(1, len(line))
            ended = scanner.feed(line[:cut])
            line = line[cut:]
        if ended:
            out.append((lines, scanner.field + 1))
            scanner, lines = reader._Scanner(","), 0
    if lines:
        out.append((lines, scanner.field + 1))
    return out


def test_the_scanner_ends_rows_where_the_csv_module_does():
    rng = random.Random(12)
    for _ in range(3000):
        text = "".join(rng.choice('ab,,""\n') for _ in range(rng.randint(1, 40)))
        expected = _rows_by_csv(text)
        got = _rows_by_scanner(text, rng)
        # the csv module reads a blank line as a row of no values; the scanner as one empty value
        assert [(n, v or 1) for n, v in expected] == got, repr(text)


# -- files that are refused as a whole --------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["name", "name", "website"], "two columns called “name”, columns 1 and 2"),
        (["Name", "website", "NAME "], "two columns called “Name” (“NAME” reads the same), columns 1 and 3"),
        (["Company-Name", "Company name"], "two columns called “Company-Name”"),
        (["Fax", "Fax", "Name"], "two columns called “Fax”"),
    ],
)
def test_repeated_headers_are_refused(tmp_path, header, message):
    path = write(tmp_path / "companies.csv", [header, ["Acme"] * len(header)])
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        importer.open_source(path, kind=None, mapping={})


def test_a_repeated_header_that_is_ignored_with_map_is_allowed(tmp_path):
    path = write(tmp_path / "companies.csv", [["Name", "Fax", "Fax"], ["Acme", "1", "2"]])
    source = importer.open_source(path, kind=None, mapping={"fax": "ignore"})
    assert source.columns == {"name": [0]}


def test_a_huge_header_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "ROW_LIMIT", 1000)
    (tmp_path / "companies.csv").write_text("Name," + "x" * 5000 + "\nAcme,1\n")
    with pytest.raises(ImportFileError, match="header row is longer than 1,000 characters"):
        importer.open_source(tmp_path / "companies.csv", kind=None, mapping={})


# -- services on SQLite and PostgreSQL ---------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["shift_jis", "cp1252", "latin-1", "utf-16", "utf-8", "utf-8-sig"])
def test_each_encoding_imports_the_right_text(services, ws, tmp_path, encoding):
    rows = JAPANESE if encoding == "shift_jis" else WESTERN
    if encoding == "latin-1":
        rows = LATIN
    (tmp_path / "companies.csv").write_bytes(encoded(rows, encoding))
    report = run_import(services.session_factory, ws, [(tmp_path / "companies.csv", None)], ImportOptions())
    assert report.files[0].inserted == len(rows) - 1
    assert names(services) == {r[0] for r in rows[1:]}
    assert not report.files[0].encoding_given


def test_headers_in_other_scripts_can_be_mapped(services, ws, tmp_path):
    path = tmp_path / "companies.csv"
    path.write_bytes(encoded([["会社名", "ウェブサイト"], ["株式会社山田", "yamada.co.jp"]], "shift_jis"))
    options = ImportOptions(mapping=importer.parse_mapping("会社名=name,ウェブサイト=website"))
    report = run_import(services.session_factory, ws, [(path, None)], options)
    assert report.files[0].columns == {"name": "会社名", "website": "ウェブサイト"}
    assert names(services) == {"株式会社山田"}


def test_encoding_given_wins_and_is_reported(services, ws, tmp_path):
    (tmp_path / "companies.csv").write_bytes(encoded(WESTERN, "cp1252"))
    options = ImportOptions(dry_run=True, encoding="latin-1")
    report = run_import(services.session_factory, ws, [(tmp_path / "companies.csv", None)], options)
    assert (report.files[0].encoding, report.files[0].encoding_given) == ("latin-1", True)


def test_rows_over_the_limit_are_rejected_and_the_rest_imported(services, ws, tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "ROW_LIMIT", 2000)
    long_value = "many lines, and commas\r\n" * 300
    body = (
        "Name,Website,Notes\r\n"
        "Acme,acme.com,short\r\n"
        f"Huge plain,huge.com,{'x' * 5000}\r\n"  # line 3: one long line
        'Globex,globex.com,"two\r\nlines"\r\n'
        f'Huge quoted,q.com,"{long_value}"\r\n'  # line 6: a long quoted value
        f"{'a,' * 3000}\r\n"  # line 307: a long line of short values
        "Initech,initech.com,fine\r\n"
    )
    (tmp_path / "companies.csv").write_text(body, encoding="utf-8", newline="")
    report = run_import(services.session_factory, ws, [(tmp_path / "companies.csv", None)], ImportOptions())
    fr = report.files[0]
    assert [(p.line, p.category) for p in fr.problems] == [
        (3, "row too long"),
        (6, "row too long"),
        (307, "row too long"),
    ]
    assert "longer than 2,000 characters (column “Notes”); skipped" in fr.problems[0].message
    assert "(column “Notes”)" in fr.problems[1].message
    assert names(services) == {"Acme", "Globex", "Initech"}
    with services.session_factory() as s:
        assert s.scalar(select(Customer.notes).where(Customer.name == "Globex")) == "two\r\nlines"
    lines = (tmp_path / "companies.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "6", "307"]


def test_an_unclosed_quote_in_a_long_file_stops_it(services, ws, tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "ROW_LIMIT", 2000)
    body = 'Name,Notes\nAcme,fine\nGlobex,"never closed\n' + "more text\n" * 500
    (tmp_path / "companies.csv").write_text(body)
    with pytest.raises(ImportFileError, match="the quote opened on line 3 is never closed"):
        run_import(services.session_factory, ws, [(tmp_path / "companies.csv", None)], ImportOptions())
    assert count(services, Customer) == 0


def test_nul_characters_after_the_sample_are_dropped(services, ws, tmp_path):
    rows = "Name,Notes\n" + "".join(f"Company {i},{'n' * 100}\n" for i in range(800))  # > 64 KB
    (tmp_path / "companies.csv").write_bytes(rows.encode() + b"Nul\x00 Corp,a\x00b\n")
    report = run_import(services.session_factory, ws, [(tmp_path / "companies.csv", None)], ImportOptions())
    assert report.files[0].inserted == 801
    with services.session_factory() as s:
        assert s.scalar(select(Customer.notes).where(Customer.name == "Nul Corp")) == "ab"


def test_rejects_files_never_overwrite_an_input_or_each_other(tmp_path):
    a, b, c = tmp_path / "x.csv", tmp_path / "x.txt", tmp_path / "x.rejects.csv"
    targets = rejects.target_paths([(a, "customers"), (b, "contacts"), (c, "deals")], None)
    assert [t.name for t in targets] == ["x.customers.rejects.csv", "x.contacts.rejects.csv", "x.rejects.rejects.csv"]
    one, two = tmp_path / "one" / "p.csv", tmp_path / "two" / "p.csv"
    together = rejects.target_paths([(one, "customers"), (two, "contacts")], tmp_path / "out")
    assert [t.name for t in together] == ["p.rejects.csv", "p.contacts.rejects.csv"]
    assert rejects.target_paths([(one, "customers")], None) == [(tmp_path / "one" / "p.rejects.csv").resolve()]


# -- the CLI as a real process -------------------------------------------------------------------------
def test_cli_reports_the_encoding_of_each_file(database_url, tmp_path):
    (tmp_path / "companies.csv").write_bytes(encoded(JAPANESE, "shift_jis"))
    (tmp_path / "people.csv").write_bytes(
        encoded([["Name", "Email", "Company"], ["Ann", "a@x.jp", "東京商事1号"]], "utf-8")
    )
    dry = crm_bot(database_url, "import", "companies.csv", "people.csv", "--team", "T0ENC", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "companies.csv (customers; Shift-JIS (cp932), detected; comma-separated)" in dry.stdout
    assert "people.csv (contacts; UTF-8, detected; comma-separated)" in dry.stdout
    given = crm_bot(
        database_url, "import", "companies.csv", "--team", "T0ENC", "--dry-run", "--encoding", "cp932", cwd=tmp_path
    )
    assert "Shift-JIS (cp932), from --encoding" in given.stdout
    wrong = crm_bot(database_url, "import", "companies.csv", "--team", "T0ENC", "--encoding", "nope", cwd=tmp_path)
    assert wrong.returncode == 1 and "--encoding nope is not an encoding" in wrong.stderr


def test_cli_refuses_repeated_headers_and_writes_nothing(database_url, tmp_path):
    write(tmp_path / "companies.csv", [["name", "name", "website"], ["Acme", "Acme Corp", "acme.com"]])
    result = crm_bot(database_url, "import", "companies.csv", "--team", "T0DUP", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "companies.csv has two columns called “name”, columns 1 and 2: rename or remove one of them." in result.stderr
    )
    assert "Nothing was imported." in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.glob("*rejects*")) == []


MEASURE = """
import resource, sys
from bot.__main__ import main
try:
    code = main(sys.argv[1:])
finally:
    print(f"maxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def _measured(database_url: str, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_"))}
    env["DATABASE_URL"] = database_url
    result = run([sys.executable, "-c", MEASURE, *args], cwd=cwd, env=env, timeout=300)
    peak = int(result.stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) * 1024
    return result, peak


def test_cli_a_100_mb_line_is_rejected_with_bounded_memory(database_url, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    write(small / "companies.csv", [["Name", "Notes"], ["Acme", "x"], ["Initech", "y"]])
    baseline, base_peak = _measured(database_url, small, "import", "companies.csv", "--team", "T0MEM", "--quiet")
    assert baseline.returncode == 0, baseline.stderr
    huge = 100 * 1024 * 1024
    with (tmp_path / "companies.csv").open("w", encoding="utf-8", newline="") as fh:
        fh.write("Name,Notes\r\nGlobex,fine\r\nHuge,")
        chunk = "y" * (1 << 20)
        for _ in range(huge // len(chunk)):
            fh.write(chunk)
        fh.write("\r\nUmbrella,fine\r\n")
    result, peak = _measured(database_url, tmp_path, "import", "companies.csv", "--team", "T0MEM", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "row too long (1):" in result.stdout
    assert "line 3: longer than 1 MB (column “Notes”); skipped" in result.stdout
    assert "3 rows read, 2 valid: 2 new" in result.stdout
    # The line alone is 100 MB; reading it held at most a few megabytes more than a tiny import.
    print(f"peak {peak / 2**20:.0f} MB, tiny import {base_peak / 2**20:.0f} MB")
    assert peak - base_peak < 40 * 1024 * 1024, (peak, base_peak)


def _start(processes: Processes, database_url: str, cwd: Path, *args: str) -> Started:
    env = clean_env(DATABASE_URL=database_url)
    return processes.start("crm-bot-import", [CRM_BOT, "import", *args], cwd=cwd, env=env, split_stderr=True)


def _big_companies(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Name,Website\nAcme,not a website\n")  # line 2 is rejected at once: the temporary file exists
        for i in range(400_000):
            fh.write(f"Company {i},c{i}.example\n")


def _wait_for_temp(processes: Processes, folder: Path) -> Path:
    found = processes.wait_until(
        lambda: list(folder.glob(".companies.rejects.csv.*.tmp")), "the import's temporary rejects file", timeout=60
    )
    return found[0]


def test_cli_kill_9_mid_import_leaves_nothing_after_the_next_run(database_url, tmp_path, processes):
    _big_companies(tmp_path / "companies.csv")
    proc = _start(processes, database_url, tmp_path, "companies.csv", "--team", "T0KILL", "--quiet")
    temp = _wait_for_temp(processes, tmp_path)
    proc.signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, processes.story()
    assert temp.exists()  # what a kill leaves behind...
    write(tmp_path / "other.csv", [["Name"], ["Initech"]])
    again = crm_bot(database_url, "import", "--customers", "other.csv", "--team", "T0KILL", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert not temp.exists()  # ...is gone after the next import into that folder
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert not (tmp_path / "companies.rejects.csv").exists()
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    with engine.connect() as conn:  # all or nothing: the killed import wrote no row
        assert conn.scalar(select(func.count()).select_from(Customer)) == 1
    engine.dispose()


def test_cli_sigterm_rolls_back_and_removes_the_temporary_file(database_url, tmp_path, processes):
    _big_companies(tmp_path / "companies.csv")
    proc = _start(processes, database_url, tmp_path, "companies.csv", "--team", "T0TERM", "--quiet")
    temp = _wait_for_temp(processes, tmp_path)
    proc.signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM, processes.story()
    err = proc.errors()
    assert "stopped by SIGTERM before the import was committed. Nothing was imported." in err
    assert "Traceback" not in err
    assert not temp.exists() and not (tmp_path / "companies.rejects.csv").exists()


class _Stopped(BaseException):
    pass


def test_a_stop_while_the_temporary_file_is_being_opened_still_removes_it(tmp_path, monkeypatch):
    # SIGTERM's handler can run inside open() after the file exists but before its handle is
    # returned (the text wrapper runs the codec's Python code): discard must still remove it.
    real_open = Path.open

    def open_then_stop(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        real_open(self, *args, **kwargs).close()  # type: ignore[call-overload]
        raise _Stopped

    out = rejects.Rejects(tmp_path / "companies.rejects.csv", ["Name"], enabled=True)
    monkeypatch.setattr(Path, "open", open_then_stop)
    with pytest.raises(_Stopped):
        out.add(2, "bad", ["x"])
    monkeypatch.undo()
    assert list(tmp_path.glob(".*.tmp"))
    out.discard()
    assert not list(tmp_path.iterdir())


def test_a_temporary_file_that_could_not_be_created_is_not_removed(tmp_path, monkeypatch):
    out = rejects.Rejects(tmp_path / "companies.rejects.csv", ["Name"], enabled=True)
    taken = tmp_path / out.temp_name
    taken.write_text("someone else's")
    monkeypatch.setattr(rejects.Rejects, "temp_name", property(lambda self: taken.name))
    with pytest.raises(ImportFileError):
        out.add(2, "bad", ["x"])
    out.discard()
    assert taken.read_text() == "someone else's"


def test_a_temporary_file_of_a_live_process_is_kept(tmp_path):
    live = tmp_path / f".companies.rejects.csv.{rejects._HOST}.{os.getpid()}.abcd1234.tmp"
    dead = tmp_path / f".companies.rejects.csv.{rejects._HOST}.999999999.abcd1234.tmp"
    other_host = tmp_path / ".companies.rejects.csv.elsewhere.999999999.abcd1234.tmp"
    legacy_old, legacy_new = tmp_path / ".rejects-abc.csv", tmp_path / ".rejects-def.csv"
    for p in (live, dead, other_host, legacy_old, legacy_new):
        p.write_text("x")
    os.utime(legacy_old, (time.time() - 3 * 86400,) * 2)
    assert set(rejects.sweep([tmp_path])) == {dead, legacy_old}
    assert live.exists() and other_host.exists() and legacy_new.exists()
