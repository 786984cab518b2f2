"""handovers: one row per `/crm handover`, with what moved (for Undo) and its brief's send claim

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("from_user_id", sa.String(length=32), nullable=False),
        sa.Column("to_user_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=32), nullable=True),
        sa.Column("brief_claimed_by", sa.String(length=64), nullable=True),
        sa.Column("brief_claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("brief_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("brief_ts", sa.String(length=32), nullable=True),
        sa.Column("brief_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_handovers_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handovers")),
        sa.UniqueConstraint("workspace_id", "idempotency_key", name=op.f("uq_handovers_workspace_id_idempotency_key")),
    )


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
