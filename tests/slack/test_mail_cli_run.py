"""`crm-bot run` with CRM_MAIL_DOMAIN and CRM_MAIL_SMTP_PORT starts the SMTP receiver and the
webhooks: a real process takes a real message by smtplib and logs it; it stops on SIGTERM."""

from __future__ import annotations

import smtplib
import socket
import urllib.request
from datetime import UTC, datetime, timedelta
from email.policy import SMTP as SMTP_POLICY

from sqlalchemy import select

from bot.services import Services
from crm.actors import Actor
from crm.customers.values import ContactInput
from crm.mail.inbox import get_inbox
from crm.models import Activity
from tests.conftest import ADMIN, REP, SIGNING_SECRET, make_settings
from tests.support.mail import DOMAIN, RITA, message
from tests.support.make import Make
from tests.support.processes import CRM_BOT, clean_env


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


def test_crm_bot_run_receives_mail_by_smtp(tmp_path, standin, processes):
    standin.add_user(REP, name="rita", real_name="Rita Rep", email=RITA)
    port, smtp_port = _free_port(), _free_port()
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        PORT=str(port),
        CRM_MAIL_DOMAIN=DOMAIN,
        CRM_MAIL_SMTP_PORT=str(smtp_port),
    )
    bot = processes.start("crm-bot-run", [CRM_BOT, "run", "--host", "127.0.0.1"], cwd=tmp_path, env=env)
    processes.wait_until(lambda: _healthy(port), "crm-bot run to answer /healthz", timeout=30)
    services = Services.from_settings(make_settings(f"sqlite:///{tmp_path / 'crm.db'}", standin))
    try:
        make = Make(services)
        acme = make.customer("Acme Corp", contact=ContactInput(name="Jane", email="jane@acme.com"))
        inbox = get_inbox(services.session_factory, make.ws, actor=Actor(ADMIN, is_admin=True), now=make.now())
        msg = message(date=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            assert smtp.sendmail(RITA, [inbox.address("crm", DOMAIN)], msg.as_bytes(policy=SMTP_POLICY)) == {}
        with services.session_factory() as s:
            (activity,) = s.scalars(select(Activity)).all()
        assert (activity.customer_id, activity.created_by, activity.source) == (acme.id, REP, "email")
    finally:
        services.close()
    assert bot.terminate_and_wait() == 0, processes.story()
    assert "Traceback" not in bot.output() and "receiving mail by SMTP" in bot.output(), processes.story()
