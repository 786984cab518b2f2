"""customer record: phone, addresses, industry, size, revenue, description, tags, lifecycle stage
with its history; contacts' mobile phone and address; custom fields and their values

Every new column is nullable, so existing rows keep everything and need no backfill; a
contact's ``phone`` keeps meaning its work phone. Plain ADD COLUMN works on SQLite too.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _address(prefix: str) -> list[sa.Column]:
    return [
        sa.Column(f"{prefix}street", sa.String(512), nullable=True),
        sa.Column(f"{prefix}city", sa.String(128), nullable=True),
        sa.Column(f"{prefix}region", sa.String(128), nullable=True),
        sa.Column(f"{prefix}postal_code", sa.String(32), nullable=True),
        sa.Column(f"{prefix}country", sa.String(2), nullable=True),
    ]


def upgrade() -> None:
    customer_columns = [
        sa.Column("phone", sa.String(32), nullable=True),
        *_address("billing_"),
        *_address("shipping_"),
        sa.Column("industry", sa.String(128), nullable=True),
        sa.Column("employees", sa.Integer(), nullable=True),
        sa.Column("annual_revenue_minor", sa.BigInteger(), nullable=True),
        sa.Column("annual_revenue_currency", sa.String(3), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(64), nullable=True),
    ]
    for column in customer_columns:
        op.add_column("customers", column)
    for column in [sa.Column("mobile_phone", sa.String(32), nullable=True), *_address("")]:
        op.add_column("contacts", column)

    op.create_table(
        "customer_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("normalized", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_customer_tags_customer_id_customers")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_customer_tags_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_tags")),
        sa.UniqueConstraint("customer_id", "normalized", name=op.f("uq_customer_tags_customer_id_normalized")),
    )
    op.create_index("ix_customer_tags_ws_norm", "customer_tags", ["workspace_id", "normalized"])

    op.create_table(
        "customer_lifecycle_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(64), nullable=True),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_lifecycle_changes_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_customer_lifecycle_changes_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_lifecycle_changes")),
    )
    op.create_index(
        "ix_customer_lifecycle_changes_customer", "customer_lifecycle_changes", ["customer_id", "created_at"]
    )
    op.create_index(
        "ix_customer_lifecycle_changes_ws_to_at",
        "customer_lifecycle_changes",
        ["workspace_id", "to_stage", "created_at"],
    )

    op.create_table(
        "custom_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired_at", UTC_DATETIME, nullable=True),
        sa.Column("retired_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_by", sa.String(32), nullable=True),
        sa.Column("deleted_at", UTC_DATETIME, nullable=True),
        sa.Column("deleted_by", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_custom_fields_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_fields")),
        sa.UniqueConstraint("workspace_id", "entity", "key", name=op.f("uq_custom_fields_workspace_id_entity_key")),
    )
    op.create_index("ix_custom_fields_ws_entity_pos", "custom_fields", ["workspace_id", "entity", "position"])

    op.create_table(
        "custom_field_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_int", sa.BigInteger(), nullable=True),
        sa.Column("value_currency", sa.String(3), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("value_list", sa.JSON(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_by", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["field_id"], ["custom_fields.id"], name=op.f("fk_custom_field_values_field_id_custom_fields")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_custom_field_values_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_values")),
        sa.UniqueConstraint("field_id", "record_id", name=op.f("uq_custom_field_values_field_id_record_id")),
    )
    op.create_index("ix_custom_field_values_record", "custom_field_values", ["workspace_id", "entity", "record_id"])


def downgrade() -> None:
    raise NotImplementedError("Migrations never drop data; restore from a backup instead.")
