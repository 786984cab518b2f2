"""`crm-bot run` in OAuth mode as a real process: the install page, an install, a refused attempt at
reusing a callback, a command served with the stored token; and the OAuth settings' sentences."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings
from bot.dev.driver import SlackDriver
from tests.conftest import SIGNING_SECRET
from tests.support.processes import CRM_BOT, clean_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()
    except OSError:
        return 0, {}, ""


def test_crm_bot_run_installs_with_oauth_and_serves_the_workspace(tmp_path, standin, processes):
    port = _free_port()
    env = clean_env(
        SLACK_CLIENT_ID=standin.client_id,
        SLACK_CLIENT_SECRET=standin.client_secret,
        CRM_SECRET_KEY=Fernet.generate_key().decode(),
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        PORT=str(port),
    )
    bot = processes.start("crm-bot-oauth", [CRM_BOT, "run", "--host", "127.0.0.1"], cwd=tmp_path, env=env)
    base = f"http://127.0.0.1:{port}"
    processes.wait_until(lambda: _get(base + "/healthz")[0] == 200, "crm-bot run to answer /healthz", timeout=30)
    status, headers, page = _get(base + "/slack/install")
    assert status == 200, processes.story()
    state = re.search(r"state=([0-9a-f-]+)", page).group(1)
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    code = standin.approve("T0PROC", team_name="Proc Co")
    assert _get(f"{base}/slack/oauth_redirect?code={code}&state={state}", cookie)[0] == 200
    assert _get(f"{base}/slack/oauth_redirect?code={code}&state={state}", cookie)[0] == 401  # used up

    driver = SlackDriver(
        base + "/slack/events", SIGNING_SECRET, team_id="T0PROC", response_url_factory=standin.response_url
    )
    assert driver.command("/crm", "help").status == 200
    assert "CRM commands" in str(standin.wait_for("response_url")[0].params["blocks"])
    [token] = standin.tokens_of("T0PROC")
    assert token in {c.token for c in standin.calls_to("auth.test")}
    assert bot.terminate_and_wait() == 0, processes.story()
    assert "Traceback" not in bot.output(), processes.story()


def test_oauth_settings_missing_or_malformed_are_one_sentence():
    base = {"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"}
    with pytest.raises(ConfigError, match="SLACK_CLIENT_SECRET is not set"):
        load_settings(base)
    with pytest.raises(ConfigError, match=r"CRM_SECRET_KEY is not set: .*Fernet\.generate_key\(\)"):
        load_settings({**base, "SLACK_CLIENT_SECRET": "x"}).require_slack()
    bad = f"{Fernet.generate_key().decode()},oops"
    with pytest.raises(ConfigError, match="CRM_SECRET_KEY is malformed: key 2 is not a Fernet key"):
        load_settings({**base, "SLACK_CLIENT_SECRET": "x", "CRM_SECRET_KEY": bad})
    good = load_settings({**base, "SLACK_CLIENT_SECRET": "x", "CRM_SECRET_KEY": Fernet.generate_key().decode()})
    good.require_slack()
    assert good.oauth and good.has_slack_credentials and not good.slack_bot_token
