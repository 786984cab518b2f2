"""`crm-bot import` as a user runs it on a vendor export: the dry run's migration checklist, and big files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.service.test_import_vendors import HS_COMPANIES, HS_CONTACTS, HS_DEALS, SF_ACCOUNTS, SF_OPPORTUNITIES, write

CRM_BOT = str(Path(sys.executable).parent / "crm-bot")


def crm_bot(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run([CRM_BOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_cli_dry_run_reads_like_a_migration_checklist(database_url, tmp_path):
    write(tmp_path / "Account.csv", SF_ACCOUNTS, encoding="utf-8-sig")
    write(tmp_path / "extract.csv", SF_OPPORTUNITIES)
    dry = crm_bot(database_url, "import", "Account.csv", "extract.csv", "--team", "T0SF", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout
    assert "[x] read as customers: its name “Account.csv” says so; a Salesforce export" in out
    assert "[x] read as deals: its columns STAGENAME, AMOUNT, CLOSEDATE, ISCLOSED … are a deal's" in out
    assert "billing_city ← BILLINGCITY" in out and "employees ← NUMBEROFEMPLOYEES" in out
    assert "[ ] no built-in field: custom fields --create-fields would create:" in out
    assert "“Account Number” from ACCOUNTNUMBER: text" in out
    assert "skipped on purpose: ISDELETED (a system column of the old CRM)" in out
    assert "“Id. Decision Makers” → qualified (1)" in out
    assert "[ ] values dropped (the rows were imported without them):" in out
    assert "line 4: WEBSITE: “Yes” isn't a website." in out
    assert "[ ] owners not mapped (3; those rows are imported without an owner)" in out
    assert "“0055g00000OWNER1”: 4 rows" in out  # 2 accounts and 2 opportunities
    assert "[x] every contact, deal and activity found its company" in out
    assert "Traceback" not in dry.stderr

    # Without --create-fields a real run says loudly what it leaves out; with it, nothing is left out.
    run = crm_bot(database_url, "import", "Account.csv", "extract.csv", "--team", "T0SF", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "NOT imported: no built-in field holds these; run again with --create-fields" in run.stdout
    files = ["Account.csv", "extract.csv", "--team", "T0SF", "--quiet"]
    again = crm_bot(database_url, "import", *files, "--create-fields", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "[x] custom fields, values stored:" in again.stdout
    assert "0 new, 0 would be updated" not in again.stdout and "3 rows read, 3 valid: 0 new" in again.stdout


def test_cli_owners_file_and_bad_owners_file(database_url, tmp_path):
    write(tmp_path / "companies.csv", HS_COMPANIES)
    write(tmp_path / "contacts.csv", HS_CONTACTS)
    write(tmp_path / "deals.csv", HS_DEALS)
    write(tmp_path / "owners.csv", [["rep@example.com", "U0REP00001"], ["nobody@example.com", "U0REP00002"]])
    files = ["companies.csv", "contacts.csv", "deals.csv", "--team", "T0HS", "--quiet"]
    run = crm_bot(database_url, "import", *files, "--owners", "owners.csv", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "[x] owners: 4 rows' owners mapped to Slack users" in run.stdout
    write(tmp_path / "owners.csv", [["HubSpot owner", "Slack user"], ["rep@example.com", "rita"]])
    bad = crm_bot(database_url, "import", *files, "--owners", "owners.csv", "--dry-run", cwd=tmp_path)
    assert bad.returncode == 1 and "“rita” is not a Slack user id" in bad.stderr
    assert "Nothing was imported." in bad.stderr and "Traceback" not in bad.stderr


def test_cli_a_50_mb_file_with_one_10_mb_cell(database_url, tmp_path):
    """The big cell's row is refused with its line and column; the other 49 MB come in, each value kept."""
    path = tmp_path / "companies.csv"
    long_text = "word " * 100_000  # 500 KB: longer than the card's description, kept in the notes
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Company name,Description\r\n")
        for i in range(40):
            fh.write(f"Company {i},{long_text[:19_000]}\r\n")
        fh.write('Huge Corp,"' + "z" * (10 * 1024 * 1024) + '"\r\n')
        for i in range(40, 120):
            fh.write(f'Company {i},"{long_text}"\r\n')
    assert path.stat().st_size > 50_000_000
    result = crm_bot(database_url, "import", "companies.csv", "--team", "T0BIG", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "line 42: longer than 1 MB (column “Description”); skipped" in result.stdout
    assert "121 rows read, 120 valid: 120 new" in result.stdout
    assert "40 × descriptions too long for the card kept in the notes instead" in result.stdout
    assert "line 43: Description: The description is 499,999 characters" in result.stdout, result.stdout[:3000]
    rejects = (tmp_path / "companies.rejects.csv").read_text(encoding="utf-8-sig")
    assert "line,reason" in rejects.splitlines()[0] and "\n42," in rejects


def test_cli_refuses_an_unknown_phone_region(database_url, tmp_path):
    write(tmp_path / "companies.csv", HS_COMPANIES)
    bad = crm_bot(database_url, "import", "companies.csv", "--team", "T0PR", "--phone-region", "XX", cwd=tmp_path)
    assert bad.returncode == 1 and "--phone-region: 'XX' is not a two-letter region" in bad.stderr
    assert "Nothing was imported." in bad.stderr and "Traceback" not in bad.stderr
