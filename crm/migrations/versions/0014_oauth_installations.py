"""OAuth installs: slack_sdk's installation and state tables, a workspace's uninstall mark and settings version

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

``slack_installations``, ``slack_bots`` and ``slack_oauth_states`` are the tables slack_sdk's
SQLAlchemy stores use, with wider token columns (they hold Fernet ciphertext). Workspaces gain
``uninstalled_at`` and ``uninstall_reason`` (nullable: every existing workspace stays installed),
and ``settings_version`` (0), bumped when an admin changes the workspace's settings in Slack.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TOKEN = 1000


def _columns(*, user: bool) -> list[sa.Column]:
    columns: list[sa.Column] = [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("enterprise_name", sa.String(200), nullable=True),
    ]
    if user:
        columns.append(sa.Column("enterprise_url", sa.String(200), nullable=True))
    columns += [
        sa.Column("team_id", sa.String(32), nullable=True),
        sa.Column("team_name", sa.String(200), nullable=True),
        sa.Column("bot_token", sa.String(TOKEN), nullable=True),
        sa.Column("bot_id", sa.String(32), nullable=True),
        sa.Column("bot_user_id", sa.String(32), nullable=True),
        sa.Column("bot_scopes", sa.String(1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(TOKEN), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
    ]
    if user:
        columns += [
            sa.Column("user_id", sa.String(32), nullable=False),
            sa.Column("user_token", sa.String(TOKEN), nullable=True),
            sa.Column("user_scopes", sa.String(1000), nullable=True),
            sa.Column("user_refresh_token", sa.String(TOKEN), nullable=True),
            sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
            sa.Column("incoming_webhook_url", sa.String(TOKEN), nullable=True),
            sa.Column("incoming_webhook_channel", sa.String(200), nullable=True),
            sa.Column("incoming_webhook_channel_id", sa.String(200), nullable=True),
            sa.Column("incoming_webhook_configuration_url", sa.String(200), nullable=True),
        ]
    columns.append(sa.Column("is_enterprise_install", sa.Boolean(), nullable=False))
    if user:
        columns.append(sa.Column("token_type", sa.String(32), nullable=True))
    columns.append(sa.Column("installed_at", sa.DateTime(), nullable=False))
    return columns


def upgrade() -> None:
    op.create_table("slack_installations", *_columns(user=True))
    op.create_index(
        "slack_installations_idx",
        "slack_installations",
        ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
    )
    op.create_table("slack_bots", *_columns(user=False))
    op.create_index("slack_bots_idx", "slack_bots", ["client_id", "enterprise_id", "team_id", "installed_at"])
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("uninstall_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("settings_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("settings_version")
        batch.drop_column("uninstall_reason")
        batch.drop_column("uninstalled_at")
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_bots")
    op.drop_table("slack_installations")
