"""names: normalised again with today's rules (legal forms anywhere, spaced initials, ...)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

The normalised name is what the exact "same name" checks and the search index compare. Rows
written before the rules learnt legal forms after a comma or before a city, dangling parts of a
legal form and spaced-out initials keep the old form, so an exact check would miss them. Each
customer's, former name's and contact's normalised name is worked out again from its name, in
batches, and every workspace's search index is told to load again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.normalize import normalize_name

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5000
TABLES = (
    ("customers", "name", "normalized_name"),
    ("customer_aliases", "alias", "normalized"),
    ("contacts", "name", "normalized_name"),
)
MAX_NAME = 255


def upgrade() -> None:
    bind = op.get_bind()
    for table, source, target in TABLES:
        last = 0
        while True:
            rows = bind.execute(
                sa.text(f"SELECT id, {source}, {target} FROM {table} WHERE id > :last ORDER BY id LIMIT :n"),
                {"last": last, "n": BATCH},
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            changed = [
                {"id": row[0], "value": new}
                for row in rows
                if (new := normalize_name(row[1] or "")[:MAX_NAME]) != row[2]
            ]
            if changed:
                bind.execute(sa.text(f"UPDATE {table} SET {target} = :value WHERE id = :id"), changed)
    bind.execute(sa.text("UPDATE workspaces SET search_version = search_version + 1"))


def downgrade() -> None:
    # The old rules are gone from the code; the names stay as they are (a newer form is harmless).
    pass
