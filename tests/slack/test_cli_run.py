"""`crm-bot run` as a real process: migrates, serves signed Slack requests and /healthz, stops on SIGTERM."""

from __future__ import annotations

import signal
import socket
import urllib.request

import pytest

from bot.dev.driver import SlackDriver
from tests.conftest import SIGNING_SECRET
from tests.support.processes import CRM_BOT, Started, clean_env, run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_crm_bot_run_serves_slack_over_http(tmp_path, standin, processes):
    port = _free_port()
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        PORT=str(port),
    )
    bot = processes.start("crm-bot-run", [CRM_BOT, "run", "--host", "127.0.0.1"], cwd=tmp_path, env=env)
    processes.wait_until(lambda: _healthy(port), "crm-bot run to answer /healthz", timeout=30)
    assert (tmp_path / "crm.db").exists()  # the embedded default, migrated on start
    driver = SlackDriver(
        f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, response_url_factory=standin.response_url
    )
    ok = driver.command("/crm", "help")
    # Acknowledged inside Slack's 3 s deadline (typically ~10 ms; not a benchmark: machines are noisy).
    assert ok.status == 200 and ok.elapsed < 3.0
    assert "CRM commands" in str(standin.wait_for("response_url")[0].params["blocks"])
    assert driver.command("/crm", "help", secret="forged").status == 401
    assert bot.terminate_and_wait() == 0, processes.story()
    assert "Traceback" not in bot.output(), processes.story()


def test_socket_mode_refused_by_slack_is_one_clear_sentence(tmp_path, standin):
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_APP_TOKEN="xapp-1-A0-revoked",
        SLACK_API_URL=standin.base_url,
        PORT=str(_free_port()),
    )
    standin.fail_next("apps.connections.open", error="invalid_auth")
    result = run([CRM_BOT, "run", "--host", "127.0.0.1"], cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Slack refused the Socket Mode connection (invalid_auth)" in result.stderr
    assert "Traceback" not in result.stderr
    assert standin.calls_to("apps.connections.open")


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_two_replicas_and_a_restart_nudge_each_follow_up_once(tmp_path, standin, database_url, processes):
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
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=database_url.replace("+psycopg", ""),
        CRM_NUDGE_INTERVAL="5",
        CRM_NUDGE_LEASE="5",  # a dead replica's claims free up after 5 s (default 60)
    )
    standin.set_latency("chat.postMessage", 0.05)

    def start() -> Started:
        name = f"replica-{len(processes.started)}"
        return processes.start(
            name, [CRM_BOT, "run", "--host", "127.0.0.1", "--port", str(_free_port())], cwd=tmp_path, env=env
        )

    def still_due() -> int:
        with sf() as s:
            return s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.nudge_at.is_not(None))) or 0

    try:
        first, second = start(), start()
        processes.wait_until(lambda: len(standin.calls_to("chat.postMessage")) >= 8, "8 nudges", timeout=60)
        first.signal(signal.SIGKILL)  # mid-tick: it may hold claims and unrecorded sends
        first.wait(timeout=10)
        again = start()  # ... and comes back
        # Its own deadline: leases (5 s) and ticks (5 s) must pass first.
        processes.wait_until(
            lambda: still_due() == 0, "every follow-up to be nudged", timeout=90, alive=[second, again], every=0.2
        )
    finally:
        processes.stop_all()
        engine.dispose()
    sent = [c.params["metadata"]["event_payload"]["follow_up_id"] for c in standin.calls_to("chat.postMessage") if c.ok]
    story = "\n" + processes.story()
    assert len(set(sent)) == 40, f"{40 - len(set(sent))} follow-ups were never nudged" + story
    assert len(sent) == 40, f"duplicates: {sorted(i for i in set(sent) if sent.count(i) > 1)}" + story
