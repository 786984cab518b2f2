"""An app in OAuth mode over the real HTTP server, with the stand-in playing Slack's side of
"Add to Slack" (``oauth_app``; import it into a test module to use it)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.fernet import Fernet

from bot.app import create_app
from bot.dev.driver import SlackDriver
from bot.dev.standin import SlackStandIn
from bot.pool import TrackedExecutor
from bot.server import ServerThread, make_wsgi_app
from bot.services import Services
from tests.support.constants import SIGNING_SECRET


def _settings(database_url, standin, **overrides):
    from tests.conftest import make_settings

    return make_settings(database_url, standin, **overrides)


KEY = Fernet.generate_key().decode()


@dataclass
class OAuthApp:
    url: str
    services: Services
    standin: SlackStandIn
    listeners: TrackedExecutor

    def drain(self, timeout: float = 15.0) -> None:
        """Wait until every request sent so far has been handled (as ``RunningApp.drain``)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the app was still busy after {timeout} s")
            idle = self.listeners.idle(left) and self.services.work.drain(max(deadline - time.monotonic(), 0.01))
            quiet = quiet + 1 if idle else 0

    def get(self, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(self.url + path, headers={"Cookie": cookie} if cookie else {})
        try:
            with urllib.request.urlopen(request, timeout=15) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    def start_install(self) -> tuple[str, str]:
        """GET /slack/install as a browser: (the state on Slack's authorize link, the cookie set)."""
        status, headers, page = self.get("/slack/install")
        assert status == 200, page
        link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page)
        assert link, page
        state = re.search(r"state=([^&\"]+)", link.group(1)).group(1)
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        assert cookie == f"slack-app-oauth-state={state}"
        return state, cookie

    def install(self, team_id: str | None, **grant) -> tuple[int, str]:
        state, cookie = self.start_install()
        code = self.standin.approve(team_id, **grant)
        status, _, page = self.get(f"/slack/oauth_redirect?code={code}&state={state}", cookie)
        return status, page

    def driver(self, team_id: str, enterprise_id: str | None = None) -> SlackDriver:
        return SlackDriver(
            self.url + "/slack/events",
            SIGNING_SECRET,
            team_id=team_id,
            enterprise_id=enterprise_id,
            response_url_factory=self.standin.response_url,
            org_wide_install=enterprise_id is not None,
        )

    def lookup(self, team_id: str, query: str, enterprise_id: str | None = None) -> str:
        seen = len(self.standin.calls_to("response_url"))
        assert self.driver(team_id, enterprise_id).command("/customer", query).status == 200
        reply = self.standin.wait_for("response_url", count=seen + 1)[-1].params
        return json.dumps(reply, ensure_ascii=False)


def oauth_settings(database_url: str, standin: SlackStandIn, **overrides):
    return _settings(
        database_url,
        standin,
        slack_bot_token=None,
        slack_client_id=standin.client_id,
        slack_client_secret=standin.client_secret,
        secret_keys=(KEY,),
        **overrides,
    )


@pytest.fixture
def oauth_app(database_url, standin) -> Iterator[OAuthApp]:
    services = Services.from_settings(oauth_settings(database_url, standin))
    app = create_app(services)
    server = ServerThread(make_wsgi_app(app, services.engine), threads=8).start()
    listeners = app.listener_runner.listener_executor
    assert isinstance(listeners, TrackedExecutor)
    yield OAuthApp(server.url, services, standin, listeners)
    server.stop()
    app.listener_runner.listener_executor.shutdown(wait=True, cancel_futures=False)
    services.close()
