"""Alembic environment: runs migrations on the connection handed over by crm.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from crm.models import Base

MIGRATION_LOCK_ID = 727_001  # pg advisory lock key shared by every replica

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # SQLite's DDL is transactional too. Alembic assumes not and commits after each revision,
        # letting a replica starting at the same moment read the version half-way and run the
        # same revisions again; one transaction (BEGIN IMMEDIATE) makes the others wait instead.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas starting together queue here; the later ones find the schema current.
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_ID})
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `crm-bot migrate`.")
run_migrations_online()
