"""ix_work_items_unit_open_deadline: a unit's open items in the queue's deadline order

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 00:00:00

A clerk's 已超期, 暂停计时 and 正常计时 filters ask for a unit's open items in the queue's deadline
order (ix_work_items_unit_deadline's). In that index the unit's finished items come first, their
deadlines long past: for the busiest unit of a year of Guangdong, 已超期 stepped over 88,921 of them
for a page of 21 (0.5–0.7 s). This index holds the open items only. The queue writes the open states
into its SQL (db.in_written), so PostgreSQL sees this index's condition in the query. PostgreSQL only,
as 0019. No table is rewritten; the index is built once (on that year, with 51,697 open items:
docs/operations.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As of 0021: WorkItem.no_deadline and WorkItem.current_due_at (0019), and shared.vocabulary.OPEN_STATES
# in sorted order, as db.in_written writes them; a new open state needs a new index.
CURRENT_DUE_AT = "CASE WHEN state IN ('dispatched', 'returned') THEN acknowledge_due_at ELSE resolve_due_at END"
NO_DEADLINE = f"CASE WHEN ({CURRENT_DUE_AT}) IS NULL THEN 1 ELSE 0 END"
OPEN = "state IN ('acknowledged', 'awaiting_supplement', 'dispatched', 'in_progress', 'returned')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_work_items_unit_open_deadline",
            "work_items",
            ["unit_code", sa.text(f"({NO_DEADLINE})"), sa.text(f"({CURRENT_DUE_AT})"), "id"],
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_work_items_unit_open_deadline", table_name="work_items")
