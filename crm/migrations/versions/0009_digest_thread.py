"""digest runs: where the summary went and the thread reply, so a retry finishes the thread only

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A digest is now a short summary with its detail and charts in a thread reply. The summary's
channel (the channel, or the subscriber's DM) and ts are kept as soon as it is posted
(``post_channel``, ``message_ts``), and the reply's ts as soon as it is posted (``detail_ts``),
while the run stays claimed; a retry after a failure or a crash posts only what is missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_runs") as batch:
        batch.add_column(sa.Column("post_channel", sa.String(32), nullable=True))
        batch.add_column(sa.Column("detail_ts", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_runs") as batch:
        batch.drop_column("detail_ts")
        batch.drop_column("post_channel")
