"""ix_sla_records_overdue: the open, unpaused records in the order of the deadline that counts now

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 14:10:00

The overdue board lists the oldest overdue items first, a page at a time (api_overdue.py). Its
order is an expression — the 签收 deadline until an item is signed for, then the 办结 deadline —
that no index held, so PostgreSQL read every open record to sort them (issue 28: 51,000 on a year
of Guangdong, 366 ms for a page of 100). An index on that expression, over the open and unpaused
records only, gives a page by reading the page (0.7 ms). The states are those of
shared.vocabulary.OPEN_STATES when this was written; a new open state needs a new index. No table
is rewritten; on that year the index is built in about 2 s.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_UNPAUSED = (
    "state IN ('acknowledged', 'awaiting_supplement', 'dispatched', 'in_progress', 'returned') AND paused_at IS NULL"
)
CURRENT_DUE_AT = "(CASE WHEN (acknowledged_at IS NULL) THEN acknowledge_due_at ELSE resolve_due_at END)"


def upgrade() -> None:
    op.create_index(
        "ix_sla_records_overdue",
        "sla_records",
        [sa.text(CURRENT_DUE_AT), "work_item_id"],
        postgresql_where=sa.text(OPEN_UNPAUSED),
        sqlite_where=sa.text(OPEN_UNPAUSED),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_records_overdue", table_name="sla_records")
