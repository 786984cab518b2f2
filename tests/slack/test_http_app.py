"""The real app over HTTP: signature checks, help, concurrency and the health check."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.dev.driver import SlackDriver
from bot.server import ServerThread, make_wsgi_app
from crm.db import make_engine
from crm.models import Workspace
from tests.conftest import SIGNING_SECRET, TEAM_ID


def _workspace_count(services) -> int:
    with services.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Workspace))


def test_crm_help_is_answered_privately_and_fast(slack, standin):
    resp = slack.command("/crm", "help")
    assert resp.status == 200
    assert resp.elapsed < 3.0  # Slack's deadline; typically ~10 ms here
    [call] = standin.wait_for("response_url")
    body = call.params
    assert body["response_type"] == "ephemeral"
    text = json.dumps(body["blocks"])
    assert "/crm help" in text
    assert "CRM commands" in text
    # Each example teaches something: none is just the command again.
    assert "_e.g._ `/crm help`" not in text and "_e.g._ `/crm unlink`" not in text
    assert "_e.g._ `/crm accounts tier:A quiet:30`" in text


def test_the_help_lists_each_command_once_under_its_heading_in_order(slack, standin):
    from commands.router import TOPICS

    assert slack.command("/crm", "help").status == 200
    [call] = standin.wait_for("response_url")
    sections = [b["text"]["text"] for b in call.params["blocks"] if b["type"] == "section"]
    headings = [s.split("\n", 1)[0] for s in sections]
    assert headings == [f"*{t}*" for t in TOPICS]  # each heading once, in order (none is empty)
    listed = [line.split("`")[1] for s in sections for line in s.split("\n") if line.startswith("• ")]
    assert len(listed) == len(set(listed)) and "/crm find" in listed and "/crm help" in listed
    under = {s.split("\n", 1)[0]: s for s in sections}
    assert "`/crm log`" in under["*Calls, meetings and follow-ups*"]
    assert "`/crm email`" in under["*Capture without typing*"]
    assert all(len(s) <= 3000 for s in sections)


def test_a_subcommand_under_no_known_heading_is_refused_at_start():
    from commands.router import CommandRouter

    with pytest.raises(ValueError, match="unknown help topic"):
        CommandRouter().add("x", lambda req: None, summary="x", example="/crm x", topic="Misc")


def test_crm_without_text_shows_help(slack, standin):
    assert slack.command("/crm", "").status == 200
    [call] = standin.wait_for("response_url")
    assert "CRM commands" in json.dumps(call.params["blocks"])


@pytest.mark.parametrize("typed", ["frobnicate", "<!channel> *bold*", "🙂" * 40, "x" * 2000])
def test_unknown_subcommand_gets_help_not_silence(slack, standin, typed):
    assert slack.command("/crm", typed + " more words").status == 200
    [call] = standin.wait_for("response_url")
    blocks_text = json.dumps(call.params["blocks"])
    assert "I don't know" in blocks_text
    assert "CRM commands" in blocks_text
    # User text is escaped: it can never ping a channel from our message.
    assert "<!channel>" not in blocks_text


def test_forged_signature_is_refused_and_writes_nothing(slack, app_server, standin):
    resp = slack.command("/crm", "help", signature="v0=" + "0" * 64)
    assert resp.status == 401
    assert _workspace_count(app_server.services) == 0
    app_server.drain()
    assert standin.calls_to("response_url") == []


def test_wrong_secret_is_refused(slack, app_server, standin):
    resp = slack.command("/crm", "help", secret="not-the-signing-secret")
    assert resp.status == 401
    assert _workspace_count(app_server.services) == 0


def test_stale_timestamp_is_refused(slack, app_server, standin):
    resp = slack.command("/crm", "help", timestamp=int(time.time()) - 301)
    assert resp.status == 401
    app_server.drain()
    assert standin.calls_to("response_url") == []


def test_fifty_concurrent_commands_are_all_acknowledged_in_time(slack, standin):
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: slack.command("/crm", "help"), range(50)))
    assert [r.status for r in responses] == [200] * 50
    slowest = max(r.elapsed for r in responses)
    assert slowest < 3.0, f"slowest ack took {slowest:.2f}s"
    assert len(standin.wait_for("response_url", count=50, timeout=20)) == 50


def test_healthz_answers_200_when_the_database_answers(app_server):
    with urllib.request.urlopen(app_server.url + "/healthz", timeout=5) as resp:
        assert resp.status == 200
        assert json.loads(resp.read())["status"] == "ok"


def test_healthz_answers_503_when_the_database_does_not():
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=1")
    server = ServerThread(make_wsgi_app(None, engine), threads=2).start()
    try:
        url = server.url + "/healthz"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=10)
        assert err.value.code == 503
    finally:
        server.stop()


def test_unknown_paths_are_404(app_server):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(app_server.url + "/nope", timeout=5)
    assert err.value.code == 404


def test_every_request_kind_reaches_its_listener(services, standin):
    """The driver's signed requests of each kind are accepted and routed by Bolt."""
    app = create_app(services)
    seen: dict[str, dict] = {}

    @app.action("probe_button")
    def on_action(ack, body):
        ack()
        seen["block_actions"] = body

    @app.view("probe_view")
    def on_view(ack, body):
        ack(response_action="errors", errors={"name": "Too short"})
        seen["view_submission"] = body

    @app.options("probe_select")
    def on_options(ack, body):
        ack(options=[{"text": {"type": "plain_text", "text": body["value"]}, "value": "v1"}])

    @app.shortcut("probe_global")
    def on_global(ack, body):
        ack()
        seen["shortcut"] = body

    @app.shortcut("probe_message")
    def on_message_shortcut(ack, body):
        ack()
        seen["message_action"] = body

    @app.event("reaction_added")  # an event no feature listens to (member_joined_channel is the rooms')
    def on_join(event):
        seen["event"] = event

    server = ServerThread(make_wsgi_app(app, services.engine), threads=4).start()
    driver = SlackDriver(
        server.url + "/slack/events",
        SIGNING_SECRET,
        team_id=TEAM_ID,
        response_url_factory=standin.response_url,
    )
    try:
        assert driver.click("probe_button", "42").status == 200
        view_resp = driver.view_submission("probe_view", {"name": {"v": {"type": "plain_text_input"}}})
        assert view_resp.json() == {"response_action": "errors", "errors": {"name": "Too short"}}
        options = driver.block_suggestion("probe_select", "ac").json()
        assert options["options"][0]["text"]["text"] == "ac"
        assert driver.global_shortcut("probe_global").status == 200
        assert driver.message_shortcut("probe_message", {"ts": "1.2", "text": "hi"}).status == 200
        joined = {
            "type": "reaction_added",
            "user": "U0REP",
            "reaction": "tada",
            "item": {"type": "message", "channel": "C1", "ts": "1.000100"},
        }
        assert driver.event(joined).status == 200
        deadline = time.time() + 5
        while len(seen) < 5 and time.time() < deadline:
            time.sleep(0.02)
        assert set(seen) == {"block_actions", "view_submission", "shortcut", "message_action", "event"}
        assert seen["block_actions"]["actions"][0]["value"] == "42"
        # A forged interaction is refused too.
        assert driver.click("probe_button", "43", secret="forged").status == 401
    finally:
        server.stop()
        app.listener_runner.listener_executor.shutdown(wait=True)
