"""ix_sla_records_open_dispatched: for a period's open items only, not for the overdue board

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 02:00:00

The index of the open records by dispatch time (0016) serves the statistics of a period. PostgreSQL
also chose it for the overdue board's summary, which has no period: it read all of a province's
open records, reckoning them as close together on disk as their dispatch times (issue 28: on a
year of Guangdong, 51,765 open records and 24,000 buffers for 6,610 overdue ones, 96–300 ms). The
index now also says ``dispatched_at IS NOT NULL``, which a query proves only by a condition on the
dispatch time (a period): the summary reads ``ix_sla_records_overdue``, the overdue ones alone
(13 ms), and the statistics read this index as before. No table is rewritten; on that year the
index is built again in a few seconds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('acknowledged', 'awaiting_supplement', 'dispatched', 'in_progress', 'returned')"
WITHIN_A_PERIOD = f"{OPEN} AND dispatched_at IS NOT NULL"


def _recreate(where: str, was: str) -> None:
    op.drop_index(
        "ix_sla_records_open_dispatched",
        table_name="sla_records",
        postgresql_where=sa.text(was),
        sqlite_where=sa.text(was),
    )
    op.create_index(
        "ix_sla_records_open_dispatched",
        "sla_records",
        ["dispatched_at"],
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    _recreate(WITHIN_A_PERIOD, was=OPEN)


def downgrade() -> None:
    _recreate(OPEN, was=WITHIN_A_PERIOD)
