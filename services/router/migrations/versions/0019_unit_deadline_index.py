"""ix_work_items_unit_deadline: a unit's items in the queue's deadline order

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 16:40:00

A clerk's queue is ordered by the deadline that counts now (签收 until signed, then 办结), an
expression no index held, so every page sorted all the unit's items of the asked tab: for the
busiest unit of a year of Guangdong, 94 k finished items read from the whole table for a page of
21 of its 已办结 (1.3 s). This index holds each unit's items in that order; queue.find reads a
unit's own items and those it assists as two ordered parts. PostgreSQL only (the embedded SQLite
default has a few thousand items). No table is rewritten; the index is built once (on that year:
docs/operations.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As of 0019: WorkItem.no_deadline and WorkItem.current_due_at (the states that wait for 签收).
CURRENT_DUE_AT = "CASE WHEN state IN ('dispatched', 'returned') THEN acknowledge_due_at ELSE resolve_due_at END"
NO_DEADLINE = f"CASE WHEN ({CURRENT_DUE_AT}) IS NULL THEN 1 ELSE 0 END"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_work_items_unit_deadline",
            "work_items",
            ["unit_code", sa.text(f"({NO_DEADLINE})"), sa.text(f"({CURRENT_DUE_AT})"), "id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_work_items_unit_deadline", table_name="work_items")
