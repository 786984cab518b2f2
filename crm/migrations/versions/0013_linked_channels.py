"""capture without typing: channels linked to customers and deals, routed alerts, their outbox,
and the people who took part in a logged thread

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
LIVE = sa.text("deleted_at IS NULL")


def _created() -> list[sa.Column]:
    return [
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
    ]


def _tracked() -> list[sa.Column]:
    return [
        *_created(),
        sa.Column("updated_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_by", sa.String(32), nullable=True),
        sa.Column("deleted_at", UTC_DATETIME, nullable=True),
        sa.Column("deleted_by", sa.String(32), nullable=True),
    ]


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{table}_workspace_id_workspaces")
    )


def upgrade() -> None:
    op.create_table(
        "linked_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("channel_name", sa.String(80), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("is_room", sa.Boolean(), nullable=False),
        sa.Column("is_shared", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_note", sa.String(255), nullable=True),
        sa.Column("status_at", UTC_DATETIME, nullable=True),
        *_tracked(),
        _workspace_fk("linked_channels"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_linked_channels_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name=op.f("fk_linked_channels_deal_id_deals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linked_channels")),
    )
    op.create_index(
        "uq_linked_channels_live_channel",
        "linked_channels",
        ["workspace_id", "channel_id"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_index("ix_linked_channels_ws_customer", "linked_channels", ["workspace_id", "customer_id"])
    op.create_index("ix_linked_channels_ws_deal", "linked_channels", ["workspace_id", "deal_id"])

    op.create_table(
        "alert_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("subscriber_user_id", sa.String(32), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=True),
        sa.Column("min_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("reps", sa.JSON(), nullable=True),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_note", sa.String(255), nullable=True),
        *_tracked(),
        _workspace_fk("alert_subscriptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_subscriptions")),
    )
    op.create_index(
        "uq_alert_subscriptions_live_channel",
        "alert_subscriptions",
        ["workspace_id", "channel_id"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )

    op.create_table(
        "channel_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("event_key", sa.String(128), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("send_at", UTC_DATETIME, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", UTC_DATETIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("error", sa.String(255), nullable=True),
        *_created(),
        _workspace_fk("channel_posts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_posts")),
        sa.UniqueConstraint(
            "workspace_id", "event_key", "channel_id", name=op.f("uq_channel_posts_workspace_id_event_key_channel_id")
        ),
    )
    op.create_index(
        "ix_channel_posts_send_at",
        "channel_posts",
        ["send_at"],
        postgresql_where=sa.text("send_at IS NOT NULL"),
        sqlite_where=sa.text("send_at IS NOT NULL"),
    )

    op.create_table(
        "activity_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        _workspace_fk("activity_participants"),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_activity_participants_activity_id_activities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_participants")),
        sa.UniqueConstraint("activity_id", "user_id", name=op.f("uq_activity_participants_activity_id_user_id")),
    )
    op.create_index("ix_activity_participants_ws_user", "activity_participants", ["workspace_id", "user_id"])


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
