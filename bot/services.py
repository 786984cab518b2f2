"""What every handler and job needs, built once per process and passed in explicitly."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import ConfigError, Settings
from bot.pool import WorkPool
from commands.users import UserDirectory
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
from crm.workspaces import get_or_create_workspace

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
    # team_id -> (workspace row id, the enterprise id on record)
    _workspace_ids: dict[str, tuple[int, str | None]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        cached = self.settings.search_cache_workspaces
        self.search = SearchRegistry(self.session_factory, max_workspaces=cached)
        self.mentions = MentionRegistry(self.session_factory, max_workspaces=cached)
        self.people = UserDirectory(self)
        self.work = WorkPool(workers=WORK_THREADS, queue=WORK_QUEUE)

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine | None = None) -> Services:
        engine = engine or make_engine(settings.database_url, threads=settings.web_threads + OTHER_DB_THREADS)
        return cls(settings=settings, engine=engine, session_factory=make_session_factory(engine))

    def now(self) -> datetime:
        return self.clock()

    def config(self, workspace_id: int) -> WorkspaceConfig:
        """The workspace's settings: activity types, stages, managers, habits (parsed once)."""
        s = self.settings
        return WorkspaceConfig(
            types=types_for(s.activity_types),
            stages=stages_for(s.deal_stages),
            lifecycle=lifecycle_for(s.lifecycle_stages),
            phone_region=s.phone_region,
            stale_days=s.stale_days,
            stale=stale_rule_for(s.stale_days, s.stale_days_by_stage, s.deal_stages),
            key_account_days=s.key_account_days,
            stage_probabilities=probabilities_for(s.stage_probabilities, s.deal_stages),
            managers=s.managers,
            default_timezone=s.default_timezone,
            workday_start=s.workday_start,
        )

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
