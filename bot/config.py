"""Settings, read once from the environment into a typed object.

Nothing else in the project reads ``os.environ``. A missing or malformed value raises
:class:`ConfigError` with one sentence naming the variable and how to get it; the
entry point prints that sentence and exits, with no stack trace.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.activity_types import parse_activity_types
from crm.fields.phones import DEFAULT_REGION, clean_region_code
from crm.lifecycle import parse_lifecycle_stages
from crm.pipeline_stages import parse_pipeline_stages
from crm.slack_ids import is_user_id
from crm.stale import parse_by_stage as parse_stale_by_stage

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
APPS_PAGE = "https://api.slack.com/apps"
# The bot scopes of manifest.yml: what an OAuth install asks for unless SLACK_SCOPES says otherwise.
DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "app_mentions:read",
    "users:read",
    "users:read.email",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "channels:join",
    "im:write",
    "im:history",
    "groups:write",  # /crm room
    "files:write",  # the charts
)
GENERATE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class ConfigError(Exception):
    """A setting is missing or malformed; ``str(err)`` is one sentence for the operator."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = "sqlite:///crm.db"
    port: int = DEFAULT_PORT
    default_timezone: str = "UTC"
    workday_start: time = time(9, 0)
    nudge_interval_seconds: int = 60
    nudge_lease_seconds: int = 60
    web_threads: int = 32
    search_cache_workspaces: int = 500  # search indexes a replica keeps (least recently used go)
    log_level: str = "INFO"
    activity_types: str | None = None
    deal_stages: str | None = None
    lifecycle_stages: str | None = None
    phone_region: str = "US"
    stale_days: int = 14
    stale_days_by_stage: str | None = None
    key_account_days: int = 30
    stage_probabilities: str | None = None
    managers: frozenset[str] = frozenset()
    extra: Mapping[str, str] = field(default_factory=dict)
    slack_response_url_base: str | None = None
    # Email capture (issue 17; bot/mail): off unless CRM_MAIL_DOMAIN is set.
    mail_domain: str | None = None
    mail_local_part: str = "crm"
    mail_smtp_port: int | None = None
    mail_smtp_host: str = "127.0.0.1"
    mail_sender_domains: frozenset[str] = frozenset()
    mail_max_bytes: int = 30 * 1024 * 1024
    mail_webhook_auth: str | None = None  # "user:password" for the webhooks' basic auth
    mailgun_signing_key: str | None = None
    mail_authserv_id: str | None = None
    mail_tls_cert: str | None = None  # PEM files: the SMTP receiver offers STARTTLS with them
    mail_tls_key: str | None = None
    # OAuth ("Add to Slack", many workspaces): set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET instead of
    # SLACK_BOT_TOKEN; CRM_SECRET_KEY (Fernet keys, newest first) encrypts the stored tokens.
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    secret_keys: tuple[str, ...] = ()
    slack_scopes: tuple[str, ...] = DEFAULT_SCOPES
    slack_redirect_uri: str | None = None
    token_rotation_minutes: int = 120

    @property
    def response_url_base(self) -> str:
        """Where Slack's ``response_url`` links may point: only there does the app post to one.

        ``SLACK_RESPONSE_URL_BASE`` when set; else Slack's hooks host beside the Web API (GovSlack
        too), or, for any other ``SLACK_API_URL`` (a stand-in), that server."""
        if self.slack_response_url_base:
            return self.slack_response_url_base
        api = urlparse(self.slack_api_url)
        if api.hostname in ("slack.com", "slack-gov.com"):
            return f"https://hooks.{api.hostname}/"
        return f"{api.scheme}://{api.netloc}/"

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def oauth(self) -> bool:
        """OAuth mode: installed with "Add to Slack" in any number of workspaces."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def has_slack_credentials(self) -> bool:
        return bool(self.slack_bot_token) or self.oauth

    def require_slack(self) -> None:
        """Check what ``crm-bot run`` needs to talk to Slack; raise ConfigError if not."""
        if self.oauth:
            if not self.secret_keys:
                raise ConfigError(
                    "CRM_SECRET_KEY is not set: OAuth installs store each workspace's bot token encrypted with it. "
                    f"Make one with {GENERATE_KEY} and keep it secret."
                )
            if not self.slack_signing_secret:
                raise ConfigError(
                    "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from Basic Information on "
                    f"your app's page at {APPS_PAGE}."
                )
            return
        if not self.slack_bot_token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from "
                f"OAuth & Permissions on your app's page at {APPS_PAGE}."
            )
        if not self.socket_mode and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from Basic Information on "
                f"your app's page at {APPS_PAGE} (or set SLACK_APP_TOKEN to use Socket Mode)."
            )


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _check_token(name: str, value: str | None, prefix: str, where: str) -> str | None:
    if value is None:
        return None
    if not value.startswith(prefix) or re.search(r"\s", value):
        raise ConfigError(
            f"{name} does not look like a Slack token (it should start with '{prefix}'): "
            f"copy it from {where} on your app's page at {APPS_PAGE}."
        )
    return value


def _default_sqlite_url() -> str:
    return "sqlite:///" + str(Path.cwd() / "crm.db")


def _check_database_url(value: str) -> str:
    if value.startswith("postgres://"):
        # Heroku-style URLs; SQLAlchemy wants the full dialect name.
        value = "postgresql://" + value[len("postgres://") :]
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
        raise ConfigError(
            "DATABASE_URL must be a SQLite or PostgreSQL URL, such as sqlite:///crm.db or "
            "postgresql://user@host:5432/crm."
        )
    if scheme == "postgresql":
        # psycopg 3 is the driver we install with the `postgres` extra.
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _stale_by_stage(env: Mapping[str, str], deal_stages: str | None) -> str | None:
    raw = _clean(env, "CRM_STALE_DAYS_BY_STAGE")
    try:
        parse_stale_by_stage(raw, parse_pipeline_stages(deal_stages).open_keys)
    except ValueError as err:
        raise ConfigError(
            f"CRM_STALE_DAYS_BY_STAGE is malformed: {err}. Write stage:days pairs separated by commas, "
            "such as lead:30,proposal:14, or none."
        ) from None
    return raw


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int, hint: str) -> int:
    raw = _clean(env, name)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        number = lo - 1
    if not lo <= number <= hi:
        raise ConfigError(f"{name} must be a whole number from {lo} to {hi} ({hint}); it is {raw!r}.")
    return number


def load_settings(env: Mapping[str, str] | None = None, *, port: int | None = None) -> Settings:
    """Read and check every setting. ``env`` defaults to the process environment."""
    env = os.environ if env is None else env

    bot_token = _check_token("SLACK_BOT_TOKEN", _clean(env, "SLACK_BOT_TOKEN"), "xoxb-", "OAuth & Permissions")
    app_token = _check_token(
        "SLACK_APP_TOKEN", _clean(env, "SLACK_APP_TOKEN"), "xapp-", "Basic Information > App-Level Tokens"
    )
    signing_secret = _clean(env, "SLACK_SIGNING_SECRET")
    if signing_secret is not None and re.search(r"\s", signing_secret):
        raise ConfigError(
            "SLACK_SIGNING_SECRET contains spaces: copy the Signing Secret again from Basic Information "
            f"on your app's page at {APPS_PAGE}."
        )

    api_url = _clean(env, "SLACK_API_URL") or DEFAULT_SLACK_API_URL
    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            "SLACK_API_URL must be an http(s) URL such as https://slack.com/api/ "
            f"(or https://slack-gov.com/api/ for GovSlack); it is {api_url!r}."
        )
    if not api_url.endswith("/"):
        api_url += "/"

    hooks_url = _clean(env, "SLACK_RESPONSE_URL_BASE")
    hooks = urlparse(hooks_url or "https://hooks.slack.com/")
    if hooks.scheme not in ("http", "https") or not hooks.netloc:
        raise ConfigError(
            f"SLACK_RESPONSE_URL_BASE must be an http(s) URL such as https://hooks.slack.com/; it is {hooks_url!r}."
        )
    if hooks_url and not hooks_url.endswith("/"):
        hooks_url += "/"

    database_url = _check_database_url(_clean(env, "DATABASE_URL") or _default_sqlite_url())

    if port is None:
        port = _int(env, "PORT", DEFAULT_PORT, 1, 65535, "the HTTP port to listen on")
    elif not 1 <= port <= 65535:
        raise ConfigError(f"--port must be from 1 to 65535; it is {port}.")

    tz_name = _clean(env, "CRM_DEFAULT_TIMEZONE") or "UTC"
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "CRM_DEFAULT_TIMEZONE must be an IANA time zone name such as Europe/Berlin or "
            f"America/New_York; it is {tz_name!r}."
        ) from None

    workday_raw = _clean(env, "CRM_WORKDAY_START") or "09:00"
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", workday_raw)
    if not match:
        raise ConfigError(f"CRM_WORKDAY_START must be a time of day as HH:MM, such as 09:00; it is {workday_raw!r}.")
    workday_start = time(int(match.group(1)), int(match.group(2)))

    activity_types = _clean(env, "CRM_ACTIVITY_TYPES")
    try:
        parse_activity_types(activity_types)
    except ValueError as err:
        raise ConfigError(
            f"CRM_ACTIVITY_TYPES is malformed: {err}. Write comma-separated key:Label:emoji entries, "
            "such as call:Call:📞,meeting:Meeting:🤝."
        ) from None

    deal_stages = _clean(env, "CRM_DEAL_STAGES")
    try:
        parse_pipeline_stages(deal_stages)
    except ValueError as err:
        raise ConfigError(
            f"CRM_DEAL_STAGES is malformed: {err}. Write comma-separated key:Label:emoji entries in pipeline "
            "order, ending with won and lost, such as lead:Lead:🌱,demo:Demo:🖥️,won:Won:🏆,lost:Lost:🪦."
        ) from None

    lifecycle_stages = _clean(env, "CRM_LIFECYCLE_STAGES")
    try:
        parse_lifecycle_stages(lifecycle_stages)
    except ValueError as err:
        raise ConfigError(
            f"CRM_LIFECYCLE_STAGES is malformed: {err}. Write comma-separated key:Label:emoji entries in order, "
            "such as lead:Lead:🌱,prospect:Prospect:🔭,customer:Customer:🤝,former_customer:Former customer:👋."
        ) from None

    stage_probabilities = _clean(env, "CRM_STAGE_PROBABILITIES")
    from crm.forecast import (
        parse_stage_probabilities,
    )  # here: crm.forecast loads SQLAlchemy, and `crm-bot --help` must not

    try:
        parse_stage_probabilities(stage_probabilities, parse_pipeline_stages(deal_stages))
    except ValueError as err:
        raise ConfigError(
            f"CRM_STAGE_PROBABILITIES is malformed: {err}. Write comma-separated stage:percent entries for open "
            "stages, such as lead:10,qualified:25,proposal:50,negotiation:75."
        ) from None

    try:
        phone_region = clean_region_code(_clean(env, "CRM_PHONE_REGION") or DEFAULT_REGION)
    except ValueError as err:
        raise ConfigError(f"CRM_PHONE_REGION is not a region: {err}.") from None

    log_level = (_clean(env, "CRM_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"CRM_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR; it is {log_level!r}.")

    managers_raw = _clean(env, "CRM_MANAGERS") or ""
    managers = frozenset(m.strip() for m in managers_raw.split(",") if m.strip())
    bad = [m for m in managers if not is_user_id(m)]
    if bad:
        raise ConfigError(
            "CRM_MANAGERS must be Slack user ids separated by commas, such as U012ABCDEF,U034GHIJKL "
            f"(profile > ⋮ > Copy member ID); {bad[0]!r} is not one."
        )

    client_id = _clean(env, "SLACK_CLIENT_ID")
    client_secret = _clean(env, "SLACK_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(
            f"{missing} is not set: OAuth installs need both the Client ID and the Client Secret, from "
            f"Basic Information > App Credentials on your app's page at {APPS_PAGE}."
        )
    secret_raw = _clean(env, "CRM_SECRET_KEY")
    secret_keys: tuple[str, ...] = ()
    if secret_raw is not None:
        from bot.installations import TokenCipher

        try:
            secret_keys = tuple(TokenCipher.parse(secret_raw))
        except ValueError as err:
            raise ConfigError(
                f"CRM_SECRET_KEY is malformed: {err}. Write Fernet keys separated by commas, newest first; "
                f"make one with {GENERATE_KEY}."
            ) from None
    scopes_raw = _clean(env, "SLACK_SCOPES")
    scopes = tuple(s.strip() for s in scopes_raw.split(",") if s.strip()) if scopes_raw else DEFAULT_SCOPES
    redirect_uri = _clean(env, "SLACK_REDIRECT_URI")
    if redirect_uri is not None and urlparse(redirect_uri).scheme not in ("http", "https"):
        raise ConfigError(
            "SLACK_REDIRECT_URI must be the https URL of /slack/oauth_redirect on your server, as listed under "
            f"OAuth & Permissions > Redirect URLs; it is {redirect_uri!r}."
        )

    mail = _mail_settings(env)
    return Settings(
        **mail,
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        secret_keys=secret_keys,
        slack_scopes=scopes,
        slack_redirect_uri=redirect_uri,
        token_rotation_minutes=_int(
            env, "SLACK_TOKEN_ROTATION_MINUTES", 120, 1, 700, "minutes before a rotating token expires to refresh it"
        ),
        managers=managers,
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=api_url,
        slack_response_url_base=hooks_url,
        database_url=database_url,
        port=port,
        default_timezone=tz_name,
        workday_start=workday_start,
        nudge_interval_seconds=_int(
            env, "CRM_NUDGE_INTERVAL", 60, 5, 3600, "seconds between follow-up reminder checks"
        ),
        nudge_lease_seconds=_int(
            env, "CRM_NUDGE_LEASE", 60, 5, 3600, "seconds a replica's claim on a due nudge lasts if it dies"
        ),
        web_threads=_int(env, "CRM_WEB_THREADS", 32, 2, 256, "HTTP worker threads"),
        search_cache_workspaces=_int(
            env, "CRM_SEARCH_CACHE_WORKSPACES", 500, 1, 100_000, "workspaces whose search index a replica keeps"
        ),
        log_level=log_level,
        activity_types=activity_types,
        deal_stages=deal_stages,
        lifecycle_stages=lifecycle_stages,
        phone_region=phone_region,
        stale_days=_int(env, "CRM_STALE_DAYS", 14, 1, 365, "days without activity before an open deal counts as stale"),
        stale_days_by_stage=_stale_by_stage(env, deal_stages),
        key_account_days=_int(
            env, "CRM_KEY_ACCOUNT_DAYS", 30, 1, 365, "days without activity before a key account is listed as untouched"
        ),
        stage_probabilities=stage_probabilities,
    )


def _mail_settings(env: Mapping[str, str]) -> dict:
    """CRM_MAIL_*: email capture's settings (bot/mail); all unset means capture is off."""
    domain = (_clean(env, "CRM_MAIL_DOMAIN") or "").lower() or None
    if domain is not None and not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", domain):
        raise ConfigError(f"CRM_MAIL_DOMAIN must be a mail domain such as mail.example.com; it is {domain!r}.")
    local = _clean(env, "CRM_MAIL_LOCAL_PART") or "crm"
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,40}", local):
        raise ConfigError(
            f"CRM_MAIL_LOCAL_PART must be letters, digits, '.', '_' or '-', such as crm; it is {local!r}."
        )
    port_raw = _clean(env, "CRM_MAIL_SMTP_PORT")
    port = _int(env, "CRM_MAIL_SMTP_PORT", 0, 1, 65535, "the SMTP port to receive mail on") if port_raw else None
    if port is not None and domain is None:
        raise ConfigError("CRM_MAIL_SMTP_PORT is set but CRM_MAIL_DOMAIN is not: set the domain mail arrives for.")
    senders = frozenset(
        d.strip().lower() for d in (_clean(env, "CRM_MAIL_SENDER_DOMAINS") or "").split(",") if d.strip()
    )
    auth = _clean(env, "CRM_MAIL_WEBHOOK_AUTH")
    if auth is not None and (":" not in auth or not auth.split(":", 1)[0] or not auth.split(":", 1)[1]):
        raise ConfigError("CRM_MAIL_WEBHOOK_AUTH must be user:password for the inbound webhooks' basic auth.")
    return {
        "mail_domain": domain,
        "mail_local_part": local,
        "mail_smtp_port": port,
        "mail_smtp_host": _clean(env, "CRM_MAIL_SMTP_HOST") or "127.0.0.1",
        "mail_sender_domains": senders,
        "mail_max_bytes": _int(env, "CRM_MAIL_MAX_MB", 30, 1, 60, "the largest mail accepted, in MB") * 1024 * 1024,
        "mail_webhook_auth": auth,
        "mailgun_signing_key": _clean(env, "CRM_MAILGUN_SIGNING_KEY"),
        "mail_authserv_id": _clean(env, "CRM_MAIL_AUTHSERV_ID"),
        **_mail_tls(env),
    }


def _mail_tls(env: Mapping[str, str]) -> dict:
    cert, key = _clean(env, "CRM_MAIL_TLS_CERT"), _clean(env, "CRM_MAIL_TLS_KEY")
    if bool(cert) != bool(key):
        raise ConfigError("Set both CRM_MAIL_TLS_CERT and CRM_MAIL_TLS_KEY (PEM files) for STARTTLS, or neither.")
    for name, path in (("CRM_MAIL_TLS_CERT", cert), ("CRM_MAIL_TLS_KEY", key)):
        if path and not Path(path).is_file():
            raise ConfigError(f"{name} must be a readable PEM file; {path!r} is not a file.")
    return {"mail_tls_cert": cert, "mail_tls_key": key}
