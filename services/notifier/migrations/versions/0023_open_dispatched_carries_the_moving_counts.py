"""ix_sla_records_open_dispatched carries what the moving counts read (PostgreSQL: INCLUDE)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 09:00:00

The statistics add to the kept day counts the MOVING counts of the period's open items at the time
asked (day_counts._add_moving): late to sign for, past the 办结 limit, overdue now. PostgreSQL found
those records by this index and then read each from the table (issue 28: on a year of Guangdong the
trend's last week alone, 28,721 open records, read 28,636 buffers). The index now also holds the
columns that read needs, so PostgreSQL answers it from the index alone once a vacuum has marked the
pages visible. SQLite has no INCLUDE: its index stays as it is. No table is rewritten; the index
is built again from the table (2.5 s on that year). DROP INDEX locks sla_records until the upgrade
commits: its reads and writes wait meanwhile.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITHIN_A_PERIOD = (
    "state IN ('acknowledged', 'awaiting_supplement', 'dispatched', 'in_progress', 'returned') "
    "AND dispatched_at IS NOT NULL"
)
MOVING_READS = [
    "state", "counted", "counted_holder_unit", "counted_holder_region", "request_type", "paused_at",
    "counted_sign_due_at", "acknowledged_at", "acknowledge_due_at", "resolve_due_at",
]  # fmt: skip


def _recreate(include: list[str]) -> None:
    op.drop_index("ix_sla_records_open_dispatched", table_name="sla_records", postgresql_where=sa.text(WITHIN_A_PERIOD))
    op.create_index(
        "ix_sla_records_open_dispatched",
        "sla_records",
        ["dispatched_at"],
        postgresql_where=sa.text(WITHIN_A_PERIOD),
        postgresql_include=include,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _recreate(MOVING_READS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _recreate([])
