"""`crm-bot run` as a real process: migrates, serves signed Slack requests and /healthz, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.dev.driver import SlackDriver
from tests.conftest import SIGNING_SECRET


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_crm_bot_run_serves_slack_over_http(tmp_path, standin):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_", "PORT"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        PORT=str(port),
    )
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "crm-bot"), "run", "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.time() < deadline, "crm-bot run did not come up"
                time.sleep(0.2)
        assert (tmp_path / "crm.db").exists()  # the embedded default, migrated on start
        driver = SlackDriver(
            f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, response_url_factory=standin.response_url
        )
        ok = driver.command("/crm", "help")
        # Acknowledged inside Slack's 3 s deadline (typically ~10 ms; not a benchmark: machines are noisy).
        assert ok.status == 200 and ok.elapsed < 3.0
        assert "CRM commands" in str(standin.wait_for("response_url")[0].params["blocks"])
        assert driver.command("/crm", "help", secret="forged").status == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "Traceback" not in output


def test_socket_mode_refused_by_slack_is_one_clear_sentence(tmp_path, standin):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_", "PORT"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_APP_TOKEN="xapp-1-A0-revoked",
        SLACK_API_URL=standin.base_url,
        PORT=str(_free_port()),
    )
    standin.fail_next("apps.connections.open", error="invalid_auth")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "crm-bot"), "run", "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Slack refused the Socket Mode connection (invalid_auth)" in result.stderr
    assert "Traceback" not in result.stderr
    assert standin.calls_to("apps.connections.open")


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_two_replicas_and_a_restart_nudge_each_follow_up_once(tmp_path, standin, database_url):
    """Two `crm-bot run` processes tick on one database; one is killed and started again."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, insert, select

    from crm.db import make_engine, make_session_factory
    from crm.models import Customer, FollowUp, Workspace

    engine = make_engine(database_url)
    sf = make_session_factory(engine)
    now = datetime.now(UTC)
    with sf.begin() as s:
        ws = Workspace(team_id="T0TEST", enterprise_id_key="")
        s.add(ws)
        s.flush()
        acme = Customer(workspace_id=ws.id, name="Acme", normalized_name="acme")
        s.add(acme)
        s.flush()
        s.execute(
            insert(FollowUp),
            [
                {
                    "workspace_id": ws.id,
                    "customer_id": acme.id,
                    "owner_user_id": "U0REP",
                    "due_at": now - timedelta(minutes=1),
                    "nudge_at": now - timedelta(minutes=1),
                    "status": "open",
                    "created_by": "U0REP",
                    "nudge_attempts": 0,
                }
                for _ in range(40)
            ],
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_", "PORT"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=database_url.replace("+psycopg", ""),
        CRM_NUDGE_INTERVAL="5",
        CRM_NUDGE_LEASE="5",  # a dead replica's claims free up after 5 s (default 60)
    )
    standin.set_latency("chat.postMessage", 0.05)

    logs: list[Path] = []

    def start() -> subprocess.Popen:
        log_path = tmp_path / f"replica-{len(logs)}.log"
        logs.append(log_path)
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "crm-bot"), "run", "--host", "127.0.0.1", "--port", str(_free_port())],
            cwd=tmp_path,
            env=env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
        )

    def still_due() -> int:
        with sf() as s:
            return s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.nudge_at.is_not(None))) or 0

    def story() -> str:
        """What the replicas did: exit codes (a replica killed from outside shows here) and their logs."""
        parts = [f"replica {i}: exit code {proc.poll()}" for i, proc in enumerate(replicas)]
        for path in logs:
            parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    replicas = [start(), start()]
    try:
        first_sends = time.monotonic() + 60
        while len(standin.calls_to("chat.postMessage")) < 8:
            assert time.monotonic() < first_sends, "no 8 nudges within 60 s\n" + story()
            assert all(proc.poll() is None for proc in replicas), "a replica stopped\n" + story()
            time.sleep(0.05)
        replicas[0].send_signal(signal.SIGKILL)  # mid-tick: it may hold claims and unrecorded sends
        replicas[0].wait(timeout=10)
        replicas.append(start())  # ... and comes back
        all_sent = time.monotonic() + 90  # its own deadline: leases (5 s) and ticks (5 s) must pass first
        while still_due():
            assert time.monotonic() < all_sent, f"{still_due()} follow-ups still due after 90 s\n" + story()
            assert all(proc.poll() is None for proc in replicas[1:]), "a replica stopped\n" + story()
            time.sleep(0.2)
    finally:
        for proc in replicas:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in replicas:
            proc.wait(timeout=20)
        engine.dispose()
    sent = [c.params["metadata"]["event_payload"]["follow_up_id"] for c in standin.calls_to("chat.postMessage") if c.ok]
    assert len(set(sent)) == 40, f"{40 - len(set(sent))} follow-ups were never nudged\n" + story()
    assert len(sent) == 40, f"duplicates: {sorted(i for i in set(sent) if sent.count(i) > 1)}\n" + story()
