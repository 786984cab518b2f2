"""Engine and session set-up for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` transactions, so concurrent writers in
one process (or several processes on one file) queue on the busy timeout instead of
failing with "database is locked" half-way through a request.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL: connections kept open at most; the rest of a burst opens (and closes) on demand.
POOL_KEPT = 20
POOL_TIMEOUT_S = 10


def make_engine(url: str, *, threads: int = 30, echo: bool = False) -> Engine:
    """Create an engine tuned for the app's concurrency on either database.

    ``threads`` is how many threads may hold a connection at once. PostgreSQL gets a pool
    that never makes one of them queue: up to :data:`POOL_KEPT` connections stay open, and
    the pool may grow to ``threads`` during a burst (so PostgreSQL's ``max_connections`` must
    cover ``threads`` per replica)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_on_connect(dbapi_connection, _record):  # pragma: no cover - trivial
            # Let SQLAlchemy's "begin" event below issue BEGIN itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    return create_engine(
        url,
        echo=echo,
        pool_size=min(threads, POOL_KEPT),
        max_overflow=max(0, threads - POOL_KEPT),
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception as exc:  # any driver error means "not healthy"
        log.warning("database ping failed: %s", exc)
        return False


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed. ``Session.execute`` is typed to return a plain
    ``Result``, but for those statements it is a ``CursorResult``, which knows the count."""
    return cast(CursorResult[Any], result).rowcount
