"""Shared fixtures: real databases, the Slack Web API stand-in, and the real app over HTTP.

Every test that takes ``database_url`` (directly or through ``services`` / ``app_server``)
runs twice: on a fresh SQLite file and on a fresh PostgreSQL database. PostgreSQL tests
skip with a reason when the server is unreachable, unless ``CRM_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), which turns that into a failure so CI can never pass vacuously.
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
from sqlalchemy import create_engine, text

from bot.app import create_app
from bot.config import Settings
from bot.dev.driver import SlackDriver
from bot.dev.standin import SlackStandIn
from bot.pool import TrackedExecutor
from bot.server import ServerThread, make_wsgi_app
from bot.services import Services
from crm.db import make_engine
from crm.migrate import upgrade
from crm.models import Base

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0TEST"
PG_ADMIN_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CRM_REQUIRE_POSTGRES") == "1"

# Users the stand-in knows: a rep, a manager and a workspace admin.
REP, REP2, MANAGER, ADMIN = "U0REP", "U0REP2", "U0MGR", "U0ADMIN"

# The layers: each folder under tests/ is one, and its tests carry its marker (`pytest -m slack`).
LAYERS = ("pure", "service", "slack", "browser")
TESTS = Path(__file__).resolve().parent
collect_ignore = ["support"]  # shared helpers, not tests


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


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated; dropped at the end."""
    reason = _pg_unavailable_reason()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (CRM_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
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


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A migrated, empty database: a SQLite file, or the run's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


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
