"""承办人: the clerk of the unit who handles a work item (issue 29)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:00:00

A clerk takes (认领) an item of their unit, or the unit's lead (科长) assigns it; the queue filters
and the per-person figures read these columns. Existing items have no 承办人.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(
            sa.Column(
                "assignee_sub",
                sa.String(120),
                nullable=True,
                comment="承办人: the token subject (sub) of the clerk handling it",
            )
        )
        batch.add_column(
            sa.Column("assignee_name", sa.String(100), nullable=True, comment="承办人's name when assigned")
        )
        batch.add_column(sa.Column("assigned_at", shared.db.UTCDateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_work_items_assignee_sub"), ["assignee_sub"])


def downgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.drop_index(batch.f("ix_work_items_assignee_sub"))
        batch.drop_column("assigned_at")
        batch.drop_column("assignee_name")
        batch.drop_column("assignee_sub")
