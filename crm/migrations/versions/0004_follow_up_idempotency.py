"""follow-ups: one per idempotency key and workspace (a double-submitted modal saves once)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys were only checked under a lock before; should two rows share one, the older keeps it
    # (no row is lost, the newer one just stops claiming the key).
    op.execute(
        sa.text(
            """
            UPDATE follow_ups SET idempotency_key = NULL
            WHERE idempotency_key IS NOT NULL AND id NOT IN (
                SELECT MIN(id) FROM follow_ups WHERE idempotency_key IS NOT NULL
                GROUP BY workspace_id, idempotency_key
            )
            """
        )
    )
    op.create_index("uq_follow_ups_ws_idempotency_key", "follow_ups", ["workspace_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
