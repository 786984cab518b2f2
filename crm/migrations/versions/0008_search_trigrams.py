"""search: trigram indexes for a cold workspace's first look-up (PostgreSQL with pg_trgm)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02

A replica builds a workspace's in-memory search index only when the workspace is first used
(:mod:`crm.lookup`). Until it is built, candidates come from the database: on PostgreSQL from
GIN trigram indexes on the customers' and former names' normalised names. ``pg_trgm`` ships
with PostgreSQL but creating it may need rights the app's role lacks; then nothing is created,
the migration still succeeds, and the cold path uses its bounded fallback (see crm.lookup).
SQLite has no trigram indexes: nothing to do there.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

# Kept in step with crm.models.OPTIONAL_INDEXES (they exist only where pg_trgm could be created).
INDEXES = (
    ("ix_trgm_customers_normalized_name", "customers", "normalized_name"),
    ("ix_trgm_customer_aliases_normalized", "customer_aliases", "normalized"),
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:  # no right to create it: look-up falls back, migrations go on
        savepoint.rollback()
        log.warning("pg_trgm could not be created (%s); cold look-ups use the bounded fallback", exc.orig)
        return
    savepoint.commit()
    for name, table, column in INDEXES:
        bind.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
