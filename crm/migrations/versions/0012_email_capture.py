"""email capture: per-workspace inbox addresses and the mail captured (issue 17)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

``mail_inboxes`` holds each workspace's secret address token and whether capture is on;
``inbound_emails`` holds each captured mail once per workspace (unique digest of its
Message-ID), filed as an activity or waiting for the rep to pick the customer.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_inboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_inboxes")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_mail_inboxes_workspace_id_workspaces")
        ),
        sa.UniqueConstraint("workspace_id", name=op.f("uq_mail_inboxes_workspace_id")),
        sa.UniqueConstraint("token", name=op.f("uq_mail_inboxes_token")),
    )
    op.create_table(
        "inbound_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(80), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("rep_user_id", sa.String(32), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("counterparts", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_emails")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_inbound_emails_workspace_id_workspaces")
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_inbound_emails_activity_id_activities")
        ),
        sa.UniqueConstraint("workspace_id", "message_key", name=op.f("uq_inbound_emails_workspace_id_message_key")),
    )
    op.create_index("ix_inbound_emails_ws_rep_status", "inbound_emails", ["workspace_id", "rep_user_id", "status"])


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
