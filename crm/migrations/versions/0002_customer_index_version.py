"""customers.index_version: lets each replica reload only the customers that changed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("index_version", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_index("ix_customers_ws_index_version", ["workspace_id", "index_version"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
