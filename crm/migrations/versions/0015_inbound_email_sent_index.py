"""Inbound mail by send time: an inline forward of a mail captured before is found by its time

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

A forward written as text carries no Message-ID of the original, so email capture looks for the
original among the workspace's mails sent within that minute (``ix_inbound_emails_ws_sent``).
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbound_emails_ws_sent", "inbound_emails", ["workspace_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_emails_ws_sent", table_name="inbound_emails")
