"""Shared fixtures for every layer: real databases, the Slack Web API stand-in, the real app over
HTTP, row factories and process helpers.

The folders are the layers (``pure``, ``service``, ``slack``, ``browser``); each test carries
its folder's marker, so ``pytest -m slack`` runs one layer. ``tests/support/`` holds the shared
helpers (``make.py`` factories, ``processes.py``, ``hostile.py``, ``constants.py``).

Every test that takes ``database_url`` (directly or through ``services`` / ``app_server`` /
``make`` / ``ws``) runs twice: on a fresh SQLite file and on a fresh PostgreSQL database; a test
that takes none runs once. PostgreSQL tests skip with a reason when the server is unreachable,
unless ``CRM_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns that into a failure so CI can
never pass vacuously. Each xdist worker has its own PostgreSQL database and temporary folders.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.app import create_app
from bot.config import Settings
from bot.dev.driver import SlackDriver
from bot.dev.standin import SlackStandIn
from bot.pool import TrackedExecutor
from bot.server import ServerThread, make_wsgi_app
from bot.services import Services
from crm.db import make_engine
from crm.migrate import upgrade
from crm.models import Base, Customer
from tests.support.constants import ADMIN, BOT_TOKEN, MANAGER, REP, REP2, SIGNING_SECRET, TEAM_ID
from tests.support.make import Make
from tests.support.processes import Processes

__all__ = ["ADMIN", "BOT_TOKEN", "MANAGER", "REP", "REP2", "SIGNING_SECRET", "TEAM_ID", "make_settings"]

PG_ADMIN_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CRM_REQUIRE_POSTGRES") == "1"


# The layers: each folder under tests/ is one, and its tests carry its marker (`pytest -m slack`).
LAYERS = ("pure", "service", "slack", "browser")
TESTS = Path(__file__).resolve().parent
collect_ignore = ["support"]  # shared helpers, not tests


# This is a 2-core machine (CI too), but much of the suite waits on processes, sockets and the
# database rather than the CPU: three workers take it from about 6 minutes to about 5.
WORKERS = 3
SMALL_RUN = 3  # test files: up to this many run in this process, without workers


def pytest_xdist_auto_num_workers(config) -> int | None:
    """``-n auto`` (in pyproject's addopts): three workers for the suite or a layer, none for a few
    files, so ``pytest tests/slack/test_guard.py`` starts at once. ``-n 0`` or ``-n 4`` still win,
    and so does PYTEST_XDIST_AUTO_NUM_WORKERS."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own rule reads it
    files = 0
    for arg in config.args or [str(TESTS)]:
        path = Path(arg.split("::")[0])
        files += sum(1 for _ in path.rglob("test_*.py")) if path.is_dir() else 1
    return WORKERS if files > SMALL_RUN else 0


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        try:
            layer = Path(item.path).resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test outside tests/ (e.g. a path given on the command line)
            continue
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


# -- databases -------------------------------------------------------------------------
def _pg_unavailable_reason() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver error: report it as the skip reason
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}"


def new_pg_database(prefix: str) -> tuple[str, str, Engine]:
    """A new, migrated PostgreSQL database: (its name, its URL, an AUTOCOMMIT admin engine to drop it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return name, url, admin


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated; dropped at the end."""
    reason = _pg_unavailable_reason()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (CRM_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name, url, admin = new_pg_database("crm_test")
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "crm.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


class _EmptyAgain:
    """Empties the run's PostgreSQL database between tests, as TRUNCATE ... RESTART IDENTITY would,
    in a few milliseconds instead of most of a second: it DELETEs only from the tables that hold
    rows (children first) and restarts only the sequences that were used."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_size=1)
        tables = Base.metadata.sorted_tables
        self.children_first = list(reversed(tables))
        self.probe = text(
            " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")" for t in tables)
        )

    def __call__(self) -> None:
        with self.engine.begin() as conn:
            holding = set(conn.scalars(self.probe))
            for table in self.children_first:
                if table.name in holding:
                    conn.execute(table.delete())
            used = conn.scalars(
                text("SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences WHERE last_value IS NOT NULL")
            )
            for sequence in list(used):
                conn.execute(text("SELECT setval(CAST(:s AS regclass), 1, false)"), {"s": sequence})

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture(scope="session")
def pg_empty_again(pg_database) -> Iterator[_EmptyAgain]:
    empty = _EmptyAgain(pg_database)
    yield empty
    empty.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A migrated, empty database: a SQLite file, or the run's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    request.getfixturevalue("pg_empty_again")()
    return request.getfixturevalue("pg_database")


# -- Slack ----------------------------------------------------------------------------
@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    """The loopback Slack Web API, with a rep, a second rep, a manager and an admin."""
    server = SlackStandIn(team_id=TEAM_ID).start()
    server.add_user(REP, name="rita", real_name="Rita Rep", tz="America/New_York")
    server.add_user(REP2, name="sam", real_name="Sam Seller", tz="Europe/Berlin", locale="en-GB")
    server.add_user(MANAGER, name="maria", real_name="Maria Manager", tz="America/Los_Angeles")
    server.add_user(ADMIN, name="alex", real_name="Alex Admin", tz="UTC", is_admin=True)
    server.add_channel("C0SALES", name="sales")
    yield server
    server.stop()
    # Every Block Kit payload the app sent in the test must have passed Slack's limits.
    assert not server.block_errors, f"the app sent invalid Block Kit: {server.block_errors}"


def make_settings(database_url: str, standin: SlackStandIn, **overrides) -> Settings:
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=standin.base_url,
        database_url=database_url,
        port=0,
        default_timezone="UTC",
    )
    return replace(settings, **overrides)


@pytest.fixture
def services(database_url, standin) -> Iterator[Services]:
    svc = Services.from_settings(make_settings(database_url, standin))
    yield svc
    svc.close()


@dataclass
class RunningApp:
    url: str
    services: Services
    standin: SlackStandIn
    listeners: TrackedExecutor

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def drain(self, timeout: float = 15.0) -> None:
        """Wait until every request sent so far has been handled completely: Bolt's listeners
        and the work they handed on. Use it before asserting that something did NOT happen."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:  # twice in a row: a listener may hand work on just as we look
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the app was still busy after {timeout} s")
            idle = self.listeners.idle(left) and self.services.work.drain(max(deadline - time.monotonic(), 0.01))
            quiet = quiet + 1 if idle else 0


@pytest.fixture
def app_server(services, standin) -> Iterator[RunningApp]:
    """The real Bolt app behind the real WSGI server on a free 127.0.0.1 port."""
    app = create_app(services)
    server = ServerThread(make_wsgi_app(app, services.engine), threads=16).start()
    listeners = app.listener_runner.listener_executor
    assert isinstance(listeners, TrackedExecutor)
    yield RunningApp(server.url, services, standin, listeners)
    server.stop()
    app.listener_runner.listener_executor.shutdown(wait=True, cancel_futures=False)


@pytest.fixture
def slack(app_server) -> SlackDriver:
    """Signed Slack requests to the running app; response URLs point at the stand-in."""
    return SlackDriver(
        app_server.events_url,
        SIGNING_SECRET,
        team_id=TEAM_ID,
        response_url_factory=app_server.standin.response_url,
    )


# -- rows -----------------------------------------------------------------------------
@pytest.fixture
def make(services) -> Make:
    """Factories for workspaces, customers, contacts, deals, activities and follow-ups
    (tests/support/make.py), on the test's database and clock."""
    return Make(services)


@pytest.fixture
def ws(make) -> int:
    """The T0TEST workspace's row id."""
    return make.ws


@pytest.fixture
def acme(make) -> Customer:
    """A customer "Acme Corp" created by REP (a module may declare its own ``acme``)."""
    return make.customer("Acme Corp")


# -- processes ------------------------------------------------------------------------
@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    """Start processes with logs in files (tests/support/processes.py); whatever still runs is
    stopped at the end, and a failed test's report tells what each process did."""
    started = Processes(tmp_path / "processes")
    yield started
    started.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    started = getattr(item, "funcargs", {}).get("processes")
    if report.failed and isinstance(started, Processes) and started.started:
        report.sections.append(("processes: what each one did", started.story()))
