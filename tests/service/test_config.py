"""Settings come from the environment; bad ones stop the start with one clear sentence."""

from __future__ import annotations

from datetime import time

import pytest

from bot.config import ConfigError, load_settings
from tests.support.processes import CRM_BOT, clean_env, run

GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "abc123"}


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(GOOD)
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.database_url == f"sqlite:///{tmp_path / 'crm.db'}"
    assert s.port == 3000
    assert s.default_timezone == "UTC"
    assert s.workday_start == time(9, 0)
    assert not s.socket_mode
    s.require_slack()


def test_values_are_read_and_normalised():
    s = load_settings(
        {
            **GOOD,
            "SLACK_APP_TOKEN": "xapp-1-A1-xyz",
            "SLACK_API_URL": "http://127.0.0.1:9999/api",
            "DATABASE_URL": "postgres://u@db:5432/crm",
            "PORT": "8080",
            "CRM_DEFAULT_TIMEZONE": "Europe/Berlin",
            "CRM_WORKDAY_START": "8:30",
            "CRM_PHONE_REGION": "de",
            "CRM_LIFECYCLE_STAGES": "lead:Lead:🌱,trial:Trial:🧪,customer:Customer:🤝",
        }
    )
    assert s.phone_region == "DE" and s.lifecycle_stages.startswith("lead:")
    assert s.socket_mode
    assert s.slack_api_url == "http://127.0.0.1:9999/api/"
    assert s.database_url == "postgresql+psycopg://u@db:5432/crm"
    assert s.port == 8080
    assert s.default_timezone == "Europe/Berlin"
    assert s.workday_start == time(8, 30)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"SLACK_SIGNING_SECRET": "has spaces in it"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"CRM_DEFAULT_TIMEZONE": "Mars/Olympus"}, "CRM_DEFAULT_TIMEZONE"),
        ({"CRM_WORKDAY_START": "9am"}, "CRM_WORKDAY_START"),
        ({"CRM_NUDGE_INTERVAL": "0"}, "CRM_NUDGE_INTERVAL"),
        ({"CRM_LIFECYCLE_STAGES": "lead,,customer"}, "CRM_LIFECYCLE_STAGES"),
        ({"CRM_LIFECYCLE_STAGES": "Lead Stage!"}, "CRM_LIFECYCLE_STAGES"),
        ({"CRM_PHONE_REGION": "USA"}, "CRM_PHONE_REGION"),
        ({"CRM_PHONE_REGION": "XX"}, "CRM_PHONE_REGION"),
        ({"CRM_MAIL_DOMAIN": "not a domain"}, "CRM_MAIL_DOMAIN"),
        ({"CRM_MAIL_SMTP_PORT": "2525"}, "CRM_MAIL_DOMAIN"),  # a port without the domain
        ({"CRM_MAIL_DOMAIN": "mail.example.com", "CRM_MAIL_SMTP_PORT": "smtp"}, "CRM_MAIL_SMTP_PORT"),
        ({"CRM_MAIL_LOCAL_PART": "c r m"}, "CRM_MAIL_LOCAL_PART"),
        ({"CRM_MAIL_MAX_MB": "500"}, "CRM_MAIL_MAX_MB"),
        ({"CRM_MAIL_WEBHOOK_AUTH": "nopassword"}, "CRM_MAIL_WEBHOOK_AUTH"),
        ({"CRM_MAIL_TLS_CERT": "/etc/hostname"}, "CRM_MAIL_TLS_KEY"),
        ({"CRM_MAIL_TLS_CERT": "/no/such.pem", "CRM_MAIL_TLS_KEY": "/no/such.key"}, "CRM_MAIL_TLS_CERT"),
    ],
)
def test_malformed_settings_name_the_variable(env, names):
    with pytest.raises(ConfigError) as err:
        load_settings({**GOOD, **env})
    message = str(err.value)
    assert names in message
    assert "\n" not in message


def test_missing_credentials_say_where_to_get_them():
    with pytest.raises(ConfigError, match=r"SLACK_BOT_TOKEN is not set.*OAuth & Permissions"):
        load_settings({}).require_slack()
    with pytest.raises(ConfigError, match=r"SLACK_SIGNING_SECRET is not set.*Basic Information"):
        load_settings({"SLACK_BOT_TOKEN": "xoxb-1"}).require_slack()
    # Socket Mode needs no signing secret.
    load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).require_slack()


def _run_cli(args, env, cwd):
    return run([CRM_BOT, *args], env=clean_env(**env), cwd=cwd, timeout=60)


def test_cli_reports_a_missing_setting_in_one_sentence(tmp_path):
    # (With no SLACK_BOT_TOKEN at all, `run` starts the playground: see test_playground_api.)
    result = _run_cli(["run"], {"SLACK_BOT_TOKEN": "xoxb-1"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("crm-bot: SLACK_SIGNING_SECRET is not set")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_reports_an_unreachable_database_in_one_sentence(tmp_path):
    env = {**GOOD, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"}
    result = _run_cli(["migrate"], env, tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL points at a database that does not answer" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_migrate_creates_the_embedded_database(tmp_path):
    result = _run_cli(["migrate"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "crm.db").exists()


def test_mail_settings_are_read():
    s = load_settings(
        {
            **GOOD,
            "CRM_MAIL_DOMAIN": "Mail.Example.com",
            "CRM_MAIL_SMTP_PORT": "2525",
            "CRM_MAIL_SENDER_DOMAINS": "OurCo.com, ourco.de",
            "CRM_MAIL_MAX_MB": "25",
        }
    )
    assert (s.mail_domain, s.mail_smtp_port, s.mail_smtp_host) == ("mail.example.com", 2525, "127.0.0.1")
    assert s.mail_sender_domains == {"ourco.com", "ourco.de"} and s.mail_max_bytes == 25 * 1024 * 1024
    assert load_settings(GOOD).mail_domain is None  # capture is off by default
