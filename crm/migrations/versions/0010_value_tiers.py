"""value tiers: each customer's A/B/C tier by Pareto over won deals (issue 16, item 4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

A table of its own rather than columns on ``customers``: the daily recompute rewrites only
the rows whose tier changed, and never touches (or locks) the customer records reps edit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customer_value_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("basis_currency", sa.String(3), nullable=True),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_value_tiers_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_customer_value_tiers_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_value_tiers")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_customer_value_tiers_customer_id")),
    )
    op.create_index("ix_customer_value_tiers_ws_tier", "customer_value_tiers", ["workspace_id", "tier"])


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
