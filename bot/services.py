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
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.pool import WorkPool
from commands.users import UserDirectory
from crm.activity_types import types_for
from crm.db import make_engine, make_session_factory
from crm.insights import MentionRegistry
from crm.lookup import SearchRegistry
from crm.models import utcnow
from crm.pipeline_stages import stages_for
from crm.workspace_config import WorkspaceConfig
from crm.workspaces import get_or_create_workspace

# Threads that run handlers' work after Slack has been answered, and how much may wait for one.
WORK_THREADS = 32
WORK_QUEUE = 512


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
    _workspace_ids: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.search = SearchRegistry(self.session_factory)
        self.mentions = MentionRegistry(self.session_factory)
        self.people = UserDirectory(self)
        self.work = WorkPool(workers=WORK_THREADS, queue=WORK_QUEUE)

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine | None = None) -> Services:
        engine = engine or make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, session_factory=make_session_factory(engine))

    def now(self) -> datetime:
        return self.clock()

    def config(self, workspace_id: int) -> WorkspaceConfig:
        """The workspace's settings: activity types, stages, managers, habits (parsed once)."""
        s = self.settings
        return WorkspaceConfig(
            types=types_for(s.activity_types),
            stages=stages_for(s.deal_stages),
            stale_days=s.stale_days,
            managers=s.managers,
            default_timezone=s.default_timezone,
            workday_start=s.workday_start,
        )

    def workspace_id(self, team_id: str, enterprise_id: str | None = None) -> int:
        """The workspace row id for a Slack team; cached after the first lookup."""
        key = (team_id, enterprise_id or "")
        with self._lock:
            cached = self._workspace_ids.get(key)
        if cached is not None:
            return cached
        workspace = get_or_create_workspace(self.session_factory, team_id, enterprise_id)
        with self._lock:
            self._workspace_ids[key] = workspace.id
        return workspace.id

    def warm_caches(self) -> None:
        """Build the per-workspace search indexes and name dictionaries (at start, in the background)."""
        self.search.warm_all()
        self.mentions.warm_all()

    def close(self) -> None:
        self.work.shutdown()
        self.engine.dispose()
