"""内部批注: internal comments on work items between supervisors and units

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 04:15:00

work_item_comments (issue 29 item 6): notes the supervisors over an item and the units holding it
write to each other; no event carries them, so the enterprise never reads them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_item_comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("work_item_id", sa.String(36), sa.ForeignKey("work_items.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False, comment="role:id of the person"),
        sa.Column("author_name", sa.String(100), nullable=True),
        sa.Column("author_role", sa.String(20), nullable=False),
        sa.Column("author_unit", sa.String(100), nullable=True, comment="the clerk's unit; null for supervisors"),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_work_item_comments_work_item_id", "work_item_comments", ["work_item_id"])


def downgrade() -> None:
    op.drop_table("work_item_comments")
