"""Migrations: they build the schema the models describe, run twice safely, and race safely."""

from __future__ import annotations

import sys
import textwrap

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from crm.db import make_engine
from crm.migrate import current_revision, head_revision, upgrade
from crm.models import OPTIONAL_INDEXES, Base


def _declared(obj, name, type_, reflected, compare_to) -> bool:
    """Everything but the indexes a migration creates only where it can (pg_trgm's)."""
    return not (type_ == "index" and name in OPTIONAL_INDEXES)


def test_migrated_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _declared})
            diffs = compare_metadata(ctx, Base.metadata)
        assert diffs == [], f"models and migrations differ; add a migration: {diffs}"
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url):
    engine = make_engine(database_url)
    try:
        assert upgrade(engine) == head_revision()
        assert upgrade(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
    finally:
        engine.dispose()


def test_replicas_migrating_at_once_do_not_collide(tmp_path, request, processes):
    """Three processes run `crm-bot migrate` on one fresh database at the same moment."""
    for kind in ("sqlite", "postgresql"):
        url = f"sqlite:///{tmp_path / 'race.db'}" if kind == "sqlite" else _fresh_pg_database(request)
        script = textwrap.dedent(
            f"""
            from crm.db import make_engine
            from crm.migrate import upgrade
            print(upgrade(make_engine({url!r})))
            """
        )
        procs = [
            processes.start(f"{kind}-migrate-{i}", [sys.executable, "-c", script], split_stderr=True) for i in range(3)
        ]
        for proc in procs:
            assert proc.wait(timeout=120) == 0, processes.story()
            assert proc.output().strip() == head_revision(), processes.story()


def _fresh_pg_database(request) -> str:
    import uuid

    from sqlalchemy import create_engine, text

    from tests.conftest import PG_ADMIN_URL

    request.getfixturevalue("pg_database")  # skips (or fails in CI) when PostgreSQL is absent
    name = f"crm_race_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def test_names_normalised_by_older_rules_are_normalised_again(tmp_path):
    from sqlalchemy import text

    from crm.normalize import normalize_name

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        assert upgrade(engine, "0005") == "0005"
        name = "UNILEVER N.V., ROTTERDAM"
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, team_id, enterprise_id_key, settings, search_version, "
                    "created_at, created_by) VALUES (1, 'T1', '', '{}', 3, CURRENT_TIMESTAMP, 'system')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO customers (id, workspace_id, name, normalized_name, index_version, "
                    "created_at, created_by) VALUES (1, 1, :n, 'unilever nv rotterdam', 0, "
                    "CURRENT_TIMESTAMP, 'system')"
                ),
                {"n": name},
            )
            conn.execute(
                text(
                    "INSERT INTO contacts (id, workspace_id, customer_id, name, normalized_name, "
                    "created_at, created_by) VALUES (1, 1, 1, 'Jane Doe', 'jane doe', "
                    "CURRENT_TIMESTAMP, 'system')"
                )
            )
        assert upgrade(engine) == head_revision()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT normalized_name FROM customers")) == normalize_name(name)
            assert conn.scalar(text("SELECT normalized_name FROM contacts")) == normalize_name("Jane Doe")
            assert conn.scalar(text("SELECT search_version FROM workspaces")) == 4  # indexes load again
        assert normalize_name(name) != "unilever nv rotterdam"  # the rule this migration is for
    finally:
        engine.dispose()
