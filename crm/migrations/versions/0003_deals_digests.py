"""deals and digests: index for "deals created since", one live digest subscription per channel

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deals_ws_created", "deals", ["workspace_id", "created_at"], unique=False)
    op.create_index(
        "uq_digest_subscriptions_live_channel",
        "digest_subscriptions",
        ["workspace_id", "channel_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
