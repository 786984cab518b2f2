"""What every handler and job needs, built once per process and passed in explicitly."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import ConfigError, Settings
from bot.pool import WorkPool
from commands.users import UserDirectory
from crm import workspace_settings
from crm.activity_types import types_for
from crm.db import make_engine, make_session_factory
from crm.forecast import probabilities_for
from crm.insights import MentionRegistry
from crm.lifecycle import lifecycle_for
from crm.lookup import SearchRegistry
from crm.models import utcnow
from crm.pipeline_stages import stages_for
from crm.stale import stale_rule_for
from crm.workspace_config import WorkspaceConfig
from crm.workspaces import get_or_create_workspace, mark_installed, mark_uninstalled, tenant

if TYPE_CHECKING:
    from bot.installations import Installations

# How often a replica looks at a workspace's settings version again (an admin's change reaches it then).
CONFIG_POLL_SECONDS = 2.0
# Threads that run handlers' work after Slack has been answered, and how much may wait for one.
WORK_THREADS = 16
WORK_QUEUE = 512
WARM_AT_START = 10  # workspaces indexed in the background at start; the rest on first use
# Threads besides the web server's that may hold a database connection at once: Bolt's listener
# pool (bot.app.LISTENER_THREADS), the work pool (WORK_THREADS), the users.info refreshes
# (commands.users.REFRESH_THREADS), the scheduler's jobs and the cache warm-up. A test keeps this
# in step with those constants.
OTHER_DB_THREADS = 64 + WORK_THREADS + 8 + 8


def make_replica_id() -> str:
    """A name for this process in claims (``host:pid:random``), unique across restarts."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    replica_id: str = field(default_factory=make_replica_id)
    search: SearchRegistry = field(init=False)
    mentions: MentionRegistry = field(init=False)
    people: UserDirectory = field(init=False)
    work: WorkPool = field(init=False)
    installations: Installations | None = field(init=False, default=None)  # OAuth mode only
    # team_id -> (workspace row id, the enterprise id on record)
    _workspace_ids: dict[str, tuple[int, str | None]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # workspace id -> (when its settings version was last looked at, that version, its settings)
    _configs: dict[int, tuple[float, int, WorkspaceConfig]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        cached = self.settings.search_cache_workspaces
        self.search = SearchRegistry(self.session_factory, max_workspaces=cached)
        self.mentions = MentionRegistry(self.session_factory, max_workspaces=cached)
        self.people = UserDirectory(self)
        self.work = WorkPool(workers=WORK_THREADS, queue=WORK_QUEUE)
        if self.settings.oauth:
            self.installations = _installations(self.settings, self.engine, self._installed)

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine | None = None) -> Services:
        engine = engine or make_engine(settings.database_url, threads=settings.web_threads + OTHER_DB_THREADS)
        return cls(settings=settings, engine=engine, session_factory=make_session_factory(engine))

    def now(self) -> datetime:
        return self.clock()

    def config(self, workspace_id: int) -> WorkspaceConfig:
        """The workspace's settings: what its admins set in Slack, else the environment's defaults.

        Cached per workspace; the workspace's ``settings_version`` is looked at again after
        :data:`CONFIG_POLL_SECONDS`, so an admin's change reaches every replica within seconds."""
        now = time.monotonic()
        with self._lock:
            cached = self._configs.get(workspace_id)
        if cached is not None and now - cached[0] < CONFIG_POLL_SECONDS:
            return cached[2]
        stored = workspace_settings.read(self.session_factory, workspace_id)
        fresh = cached is None or cached[1] != stored.version
        config = self._build_config(stored.values) if fresh or cached is None else cached[2]
        with self._lock:
            self._configs[workspace_id] = (now, stored.version, config)
        return config

    def _build_config(self, own: dict) -> WorkspaceConfig:
        """The admins' own settings (``crm.workspace_settings``) over the environment's defaults.

        A stale limit or probability the environment gives for a stage the admins have since
        removed is dropped, never an error: the admins' stages win."""
        s = self.settings
        deal_stages = own.get("deal_stages") or s.deal_stages
        try:
            stale = stale_rule_for(s.stale_days, s.stale_days_by_stage, deal_stages)
        except ValueError:
            stale = stale_rule_for(s.stale_days, None, deal_stages)
        try:
            probabilities = dict(probabilities_for(s.stage_probabilities, deal_stages))
        except ValueError:
            probabilities = dict(probabilities_for(None, deal_stages))
        own_probabilities = own.get("stage_probabilities") or {}
        probabilities.update({k: int(v) for k, v in own_probabilities.items() if k in probabilities})
        stale_days = int(own.get("stale_days") or s.stale_days)
        if own.get("stale_days"):  # the admins' one limit replaces every stage's
            stale = stale_rule_for(stale_days, None, deal_stages)
        return WorkspaceConfig(
            types=types_for(own.get("activity_types") or s.activity_types),
            stages=stages_for(deal_stages),
            lifecycle=lifecycle_for(own.get("lifecycle_stages") or s.lifecycle_stages),
            phone_region=s.phone_region,
            stale_days=stale_days,
            stale=stale,
            key_account_days=int(own.get("key_account_days") or s.key_account_days),
            default_currency=str(own.get("default_currency") or "USD"),
            stage_probabilities=tuple(probabilities.items()),
            managers=frozenset(own["managers"]) if "managers" in own else s.managers,
            default_timezone=s.default_timezone,
            workday_start=s.workday_start,
        )

    def forget_config(self, workspace_id: int) -> None:
        """Build the workspace's settings again on next use (after an admin changed them here)."""
        with self._lock:
            self._configs.pop(workspace_id, None)

    def workspace_id(self, team_id: str, enterprise_id: str | None = None) -> int:
        """The workspace row id for a Slack team (found by team id, also inside a Grid org); cached.

        Raises :class:`crm.workspaces.NoWorkspace` for an empty team id."""
        with self._lock:
            cached = self._workspace_ids.get(team_id)
        if cached is not None and (enterprise_id is None or cached[1] == enterprise_id):
            return cached[0]
        workspace = get_or_create_workspace(self.session_factory, team_id, enterprise_id)
        with self._lock:
            self._workspace_ids[team_id] = (workspace.id, workspace.enterprise_id)
        return workspace.id

    def bot_token(self, workspace_id: int) -> str | None:
        """The token to send to a workspace with, or None when nothing may be sent there: the app
        was uninstalled or its token revoked, or (OAuth) it has no installation."""
        found = tenant(self.session_factory, workspace_id)
        if found is None or found.uninstalled:
            return None
        if self.installations is None:
            return self.settings.slack_bot_token
        return self.installations.bot_token(found.team_id, found.enterprise_id)

    def _installed(self, installation) -> None:
        """An install (or a reinstall) was stored: the workspace's data is picked up again."""
        mark_installed(
            self.session_factory,
            team_id=installation.team_id,
            enterprise_id=installation.enterprise_id,
            org_wide=bool(installation.is_enterprise_install),
            now=self.now(),
        )

    def token_died(self, workspace_id: int, error: str) -> None:
        """Slack refused the workspace's token (revoked, uninstalled): stop every send to it at once."""
        found = tenant(self.session_factory, workspace_id)
        if found is not None:
            mark_uninstalled(
                self.session_factory, team_id=found.team_id, enterprise_id=None, reason=error, now=self.now()
            )

    def warm_caches(self) -> None:
        """Build the search indexes and name dictionaries of the few busiest (most changed)
        workspaces (at start, in the background); every other one is built on first use."""
        self.search.warm_all(limit=WARM_AT_START)
        self.mentions.warm_all(limit=WARM_AT_START)

    def migrate(self) -> str | None:
        """Bring the schema up to date; the revision it is at. A database that does not answer is
        a :class:`ConfigError` saying what to check."""
        from crm.migrate import upgrade

        try:
            return upgrade(self.engine)
        except OperationalError as exc:
            raise ConfigError(
                "DATABASE_URL points at a database that does not answer "
                f"({exc.orig.__class__.__name__}: {str(exc.orig).strip().splitlines()[0]}); "
                "check the host, port, user and database name."
            ) from None

    def close(self) -> None:
        self.work.shutdown()
        self.engine.dispose()


def _installations(settings: Settings, engine: Engine, on_saved: Callable[..., None]) -> Installations:
    from slack_sdk import WebClient

    from bot.installations import Installations, OAuthConfig

    config = OAuthConfig(
        client_id=settings.slack_client_id or "",
        client_secret=settings.slack_client_secret or "",
        secret_keys=settings.secret_keys,
        scopes=settings.slack_scopes,
        redirect_uri=settings.slack_redirect_uri,
        token_rotation_minutes=settings.token_rotation_minutes,
    )
    return Installations(config, engine, WebClient(base_url=settings.slack_api_url, timeout=10), on_saved)
