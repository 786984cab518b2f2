"""The first start as a new user meets it: a taken port and a wrong token are one sentence, at once."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SIGNING_SECRET

CRM_BOT = str(Path(sys.executable).parent / "crm-bot")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_", "PORT"))}
    env.update(extra)
    return env


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    "argv",
    [
        ["playground", "--demo"],
        ["run"],  # without a token: falls back to the playground with demo data
    ],
    ids=["playground", "run-without-token"],
)
def test_a_taken_port_is_one_sentence_before_any_seeding(tmp_path, taken_port, argv):
    started = time.monotonic()
    result = subprocess.run(
        [CRM_BOT, *argv, "--port", str(taken_port)],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert f"crm-bot: Port {taken_port} on 127.0.0.1 is already in use" in result.stderr
    assert f"--port {taken_port + 1}" in result.stderr
    assert "Traceback" not in result.stderr and "OSError" not in result.stderr
    assert "demo data:" not in result.stderr  # refused before the demo was seeded
    assert took < 30, f"took {took:.1f} s"  # not a benchmark: seeding the demo first took ~27 s


def test_a_taken_port_stops_crm_bot_run_before_it_touches_the_database(tmp_path, taken_port, standin):
    result = subprocess.run(
        [CRM_BOT, "run", "--host", "127.0.0.1", "--port", str(taken_port)],
        cwd=tmp_path,
        env=_clean_env(
            SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=standin.base_url
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "is already in use" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "crm.db").exists()
    assert not standin.calls_to("auth.test")


def test_a_made_up_bot_token_is_refused_at_start_in_one_sentence(tmp_path, standin):
    standin.fail_next("auth.test", error="invalid_auth")
    port = _free_port()
    result = subprocess.run(
        [CRM_BOT, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(
            SLACK_BOT_TOKEN="xoxb-made-up", SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=standin.base_url
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "crm-bot: Slack refused SLACK_BOT_TOKEN (invalid_auth)" in result.stderr
    assert "Traceback" not in result.stderr
    assert [c.token for c in standin.calls_to("auth.test")] == ["xoxb-made-up"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bolt_does_not_warn_at_start_about_the_token_it_reads_itself(services, monkeypatch, caplog):
    from bot.app import create_app

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    with caplog.at_level(logging.INFO):
        create_app(services)
    assert not [r for r in caplog.records if "token will be unused" in r.getMessage()]


def test_the_scheduler_does_not_log_each_run_at_info():
    from bot.__main__ import _setup_logging

    before = logging.getLogger("apscheduler").level
    try:
        _setup_logging("INFO")
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.WARNING)
        _setup_logging("DEBUG")  # asked for everything: the runs show again
    finally:
        logging.getLogger("apscheduler").setLevel(before)


def test_small_search_index_reloads_are_not_logged_at_info(services, caplog):
    from crm.customers import create_customer

    ws = services.workspace_id("T0QUIET")
    names = ["Quiet Harbour Foods", "Zephyr Logistics", "Marlowe Dental", "Okapi Robotics", "Brindle Textiles"]
    with caplog.at_level(logging.INFO, logger="crm.lookup"):
        for name in names:
            create_customer(services.session_factory, services.search, ws, actor="U0REP", name=name)
            assert services.search.search(ws, name)  # each one loads the index again
    assert not [r for r in caplog.records if "(re)loaded" in r.getMessage() and r.levelno >= logging.INFO]


def _cli(tmp_path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = _clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'crm.db'}")
    return subprocess.run([CRM_BOT, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_command_line_verbs_need_no_team_when_the_database_holds_one(tmp_path):
    (tmp_path / "companies.csv").write_text("name,website\nAcme Robotics,acme-robotics.com\n")
    empty = _cli(tmp_path, "export", "--out", "dump")
    assert empty.returncode == 2 and "holds no workspace yet" in empty.stderr and "--team" in empty.stderr
    assert "T0PLAYGROUND" in empty.stderr  # what the playground's workspace is called
    first = _cli(tmp_path, "import", "companies.csv", "--team", "T0ONE")
    assert first.returncode == 0, first.stderr
    alone = _cli(tmp_path, "export", "--out", "dump")  # the only workspace: no --team needed
    assert alone.returncode == 0, alone.stderr
    assert "customers: 1" in alone.stdout
    unknown = _cli(tmp_path, "dedupe", "--team", "TNOPE")
    assert unknown.returncode == 1
    assert "there is no workspace with team id TNOPE in this database; it holds T0ONE." in unknown.stderr
    second = _cli(tmp_path, "import", "companies.csv", "--team", "T0TWO")
    assert second.returncode == 0, second.stderr
    which = _cli(tmp_path, "dedupe")
    assert which.returncode == 2
    assert "This database holds 2 workspaces: T0ONE, T0TWO. Say which with --team." in which.stderr
    assert all("Traceback" not in r.stderr for r in (empty, alone, unknown, which))


def test_help_loads_neither_the_database_layer_nor_slack(tmp_path):
    probe = (
        "import sys\n"
        "from bot.__main__ import _parser\n"
        "_parser(['--help']).format_help()\n"
        "print(sorted(m for m in ('sqlalchemy', 'slack_sdk', 'slack_bolt', 'crm.importer') if m in sys.modules))\n"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"  # `crm-bot --help` took 2.5 s when it loaded them all
    full = subprocess.run([CRM_BOT, "import", "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert full.returncode == 0 and "--create-fields" in full.stdout and "Fields: customers" in full.stdout


def test_a_reader_that_goes_away_ends_the_report_quietly(tmp_path):
    """`crm-bot dedupe | head`: the pipe closes early; no BrokenPipeError traceback."""
    from sqlalchemy import insert

    from crm.db import make_engine
    from crm.migrate import upgrade
    from crm.models import Customer, Workspace
    from crm.normalize import normalize_name

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = make_engine(url)
    upgrade(engine)
    names = [n for i in range(1500) for n in (f"Zephyr Holdings {i}", f"Zephyr Holding {i}")]  # 1,500 pairs
    with engine.begin() as conn:
        conn.execute(insert(Workspace).values(id=1, team_id="T0ONE", enterprise_id_key="", settings={}))
        conn.execute(
            insert(Customer),
            [{"workspace_id": 1, "name": n, "normalized_name": normalize_name(n), "index_version": 0} for n in names],
        )
    engine.dispose()
    report = subprocess.Popen(
        [CRM_BOT, "dedupe", "--limit", "0"],
        cwd=tmp_path,
        env=_clean_env(DATABASE_URL=url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert report.stdout is not None and report.stdout.readline()  # read one line, then hang up
    report.stdout.close()
    _, err = report.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err
