"""When a handler fails, Slack still gets its 200 in time and the user gets one sentence with a
reference, sent only where Slack said to (a Slack response_url, or the user in the channel)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import text

from bot.app import create_app, is_slack_response_url
from bot.config import ConfigError, Settings, load_settings
from bot.dev.driver import SlackDriver
from bot.server import ServerThread, make_wsgi_app
from bot.services import Services
from tests.conftest import REP, SIGNING_SECRET, TEAM_ID, _pg_unavailable_reason, make_settings, new_pg_database

SORRY = "Something went wrong on our side (reference"


@contextmanager
def serving(services: Services, standin, *, extra=None) -> Iterator[SlackDriver]:
    """The real app (plus ``extra(app)`` listeners) over HTTP; a driver whose response URLs
    point at the stand-in."""
    app = create_app(services)
    if extra is not None:
        extra(app)
    server = ServerThread(make_wsgi_app(app, services.engine), threads=16).start()
    try:
        yield SlackDriver(
            server.url + "/slack/events", SIGNING_SECRET, team_id=TEAM_ID, response_url_factory=standin.response_url
        )
    finally:
        server.stop()
        app.listener_runner.listener_executor.shutdown(wait=True)


def _fail_after_ack(app) -> None:
    @app.command("/boom")
    def boom(ack, body):
        ack()
        raise RuntimeError("the handler broke right after ack()")


def _sorry_texts(standin, method: str = "response_url") -> list[str]:
    return [c.params.get("text", "") for c in standin.calls_to(method) if SORRY in c.params.get("text", "")]


def test_a_failure_right_after_ack_is_a_200_and_a_message(services, standin):
    """Bolt resets the ack when the listener raises; if that beats its 10 ms poll, Slack would get
    a 404 after 3 s. Twenty tries make that race near certain without the fix."""
    with serving(services, standin, extra=_fail_after_ack) as slack:
        responses = [slack.command("/boom", "now") for _ in range(20)]
        assert [r.status for r in responses] == [200] * 20
        assert max(r.elapsed for r in responses) < 1.0
        calls = standin.wait_for("response_url", count=20)
    assert len(calls) == 20 and all(SORRY in c.params["text"] for c in calls)
    assert all(c.params["response_type"] == "ephemeral" for c in calls)


def test_a_response_url_that_is_not_slacks_is_never_posted_to(services, standin):
    """The message goes to the user privately in the channel instead."""
    with serving(services, standin, extra=_fail_after_ack) as slack:
        slack.response_url_factory = lambda: "http://127.0.0.1:9/x"
        assert slack.command("/boom", "now").status == 200
        [call] = standin.wait_for("chat.postEphemeral")
    assert SORRY in call.params["text"] and call.params["user"] == REP and call.params["channel"] == "C0SALES"
    assert standin.calls_to("response_url") == []


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://hooks.slack.com/commands/T1/2/abc", True),
        ("https://hooks.slack.com/actions/T1/2/abc", True),
        ("https://HOOKS.slack.com/commands/T1/2/abc", True),
        ("http://hooks.slack.com/commands/T1", False),
        ("https://hooks.slack.com.evil.example/commands/T1", False),
        ("https://hooks.slack.com@evil.example/commands/T1", False),
        ("https://evil.example/https://hooks.slack.com/", False),
        ("http://127.0.0.1:9/x", False),
        ("", False),
    ],
)
def test_only_slack_hooks_urls_are_answered(url, ok):
    assert is_slack_response_url(url, "https://hooks.slack.com/") is ok


@pytest.mark.parametrize(
    "api,expected",
    [
        ("https://slack.com/api/", "https://hooks.slack.com/"),
        ("https://slack-gov.com/api/", "https://hooks.slack-gov.com/"),
        ("http://127.0.0.1:4567/api/", "http://127.0.0.1:4567/"),
    ],
)
def test_the_response_url_base_follows_the_web_api(api, expected):
    settings = Settings(slack_bot_token="xoxb-1", slack_signing_secret="s", slack_api_url=api)
    assert settings.response_url_base == expected
    assert replace(settings, slack_response_url_base="https://hooks.example/").response_url_base == (
        "https://hooks.example/"
    )


def test_the_response_url_base_is_read_and_checked():
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert load_settings(env).response_url_base == "https://hooks.slack.com/"
    custom = load_settings({**env, "SLACK_RESPONSE_URL_BASE": "https://hooks.example.com/slack"})
    assert custom.response_url_base == "https://hooks.example.com/slack/"
    with pytest.raises(ConfigError, match="SLACK_RESPONSE_URL_BASE"):
        load_settings({**env, "SLACK_RESPONSE_URL_BASE": "hooks.slack.com"})


# -- a database outage -----------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request, tmp_path, sqlite_template) -> Iterator[tuple[str, object]]:
    """(database url, cut) on a database of this test's own; ``cut(services)`` takes it away."""
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        shutil.copy(sqlite_template, path)

        def cut_sqlite(services: Services) -> None:
            services.engine.dispose()
            path.rename(path.with_suffix(".away"))
            path.write_bytes(b"this is not a database " * 200)

        yield f"sqlite:///{path}", cut_sqlite
        return
    reason = _pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    name, url, admin = new_pg_database("crm_outage")

    def cut_postgres(_services: Services) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})

    try:
        yield url, cut_postgres
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_during_a_database_outage_every_command_is_acked_and_answered(outage, standin):
    url, cut = outage
    services = Services.from_settings(make_settings(url, standin))
    try:
        with serving(services, standin) as slack:
            assert slack.command("/crm", "followups").status == 200  # warm: workspace, auth.test
            standin.wait_for("response_url")
            cut(services)
            with ThreadPoolExecutor(max_workers=5) as pool:
                responses = list(pool.map(lambda i: slack.command("/crm", "followups"), range(5)))
            assert [r.status for r in responses] == [200] * 5
            assert max(r.elapsed for r in responses) < 3.0
            standin.wait_for("response_url", count=6, timeout=20)
            assert len(_sorry_texts(standin)) == 5
    finally:
        services.close()
