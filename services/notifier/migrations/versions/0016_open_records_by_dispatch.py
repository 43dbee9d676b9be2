"""ix_sla_records_open_dispatched: the open items by day of dispatch, for the statistics

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:10:00

The unit statistics read the open items of their period from the records (their figures move with
the clock; day_counts.py). The state index alone gave PostgreSQL every open item of every period
to filter (issue 28: 51,000 on a year of Guangdong, 230 ms for a period of 17 days). A partial
index over the open ones by dispatch time reads only the period's. The states are those of
shared.vocabulary.OPEN_STATES when this was written; a new open state needs a new index. No table
is rewritten; on that year the index is built in under a second.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('acknowledged', 'awaiting_supplement', 'dispatched', 'in_progress', 'returned')"


def upgrade() -> None:
    op.create_index(
        "ix_sla_records_open_dispatched",
        "sla_records",
        ["dispatched_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_sla_records_open_dispatched",
        table_name="sla_records",
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
