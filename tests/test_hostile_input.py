"""Every slash command, fed hostile text, answers sensibly: never a crash, never a ping, nothing half-written."""

from __future__ import annotations

import json
import time

import pytest

from crm import customers as csvc
from tests.conftest import ADMIN, REP

SUBCOMMANDS = [
    "help", "find", "new", "merge", "log", "followup", "followups", "deal", "pipeline", "digest", "duplicates", "who",
]  # fmt: skip
HOSTILE = {
    "long": "x" * 2000,
    "emoji": "🚀🔥💯 " * 20,
    "rtl": "شركة الأمل \u202eevil\u202c",
    "sql": "'; DROP TABLE customers; -- %_%",
    "control": "acme\x00\x07\x1b[31m\r\n",
    "mrkdwn": "<!channel> <@U0ADMIN> *bold* <http://evil.example|click>",
    "dates": "25:00 tomorrowish 32/13 into into",
}


def replies_or_views(standin, before: int) -> list:
    deadline = time.time() + 5
    while time.time() < deadline:
        calls = [c for c in standin.calls if c.method in ("response_url", "views.open", "chat.postEphemeral")]
        if len(calls) > before:
            return calls[before:]
        time.sleep(0.02)
    return []


def mrkdwn_of(node) -> str:
    if isinstance(node, dict):
        own = node.get("text", "") if node.get("type") == "mrkdwn" else ""
        return own + "".join(mrkdwn_of(v) for v in node.values())
    if isinstance(node, list):
        return "".join(mrkdwn_of(v) for v in node)
    return ""


COMMANDS = [("/crm", f"{sub} ") for sub in SUBCOMMANDS] + [("/customer", ""), ("/log", "")]


@pytest.mark.parametrize(("command", "prefix"), COMMANDS, ids=[f"{c} {p}".strip() for c, p in COMMANDS])
def test_every_command_survives_hostile_text(slack, standin, app_server, command, prefix):
    services = app_server.services
    ws = services.workspace_id("T0TEST")
    csvc.create_customer(services.session_factory, services.search, ws, actor=REP, name="Acme Corporation")
    for name, text in HOSTILE.items():
        for user in (REP, ADMIN):
            before = len([c for c in standin.calls if c.method in ("response_url", "views.open", "chat.postEphemeral")])
            resp = slack.command(command, prefix + text, user=user)
            assert resp.status == 200, (command, prefix, name)
            answers = replies_or_views(standin, before)
            assert answers, f"{command} {prefix}with {name} text got no answer"
            for call in answers:
                body = json.dumps(call.params, ensure_ascii=False)
                assert "Something went wrong" not in body, (command, prefix, name, body[:300])
                assert "<!channel>" not in mrkdwn_of(call.params), (command, prefix, name)
