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
from commands.users import UserDirectory
from crm.db import make_engine, make_session_factory
from crm.insights import MentionRegistry
from crm.lookup import SearchRegistry
from crm.models import utcnow
from crm.workspaces import get_or_create_workspace


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
    _workspace_ids: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.search = SearchRegistry(self.session_factory)
        self.mentions = MentionRegistry(self.session_factory)
        self.people = UserDirectory(self)

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine | None = None) -> Services:
        engine = engine or make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, session_factory=make_session_factory(engine))

    def now(self) -> datetime:
        return self.clock()

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
        self.engine.dispose()
