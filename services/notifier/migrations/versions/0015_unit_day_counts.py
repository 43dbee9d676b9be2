"""unit_day_counts: the unit statistics' counts per Chinese day, kept by the worker

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 11:30:00

The unit statistics of a year read every SLA record of the year into Python (issue 28: on a year of
Guangdong, 3.57 million records, the call was killed at 4 GiB). unit_day_counts keeps, per day of
dispatch, unit, region and request type, the counts of the items that are settled and their
handling hours; the statistics add these up and read only the open items and the records not yet
counted again (day_counts.py). sla_records.counted says whether a record is in the counts as it is
now, counted_as what it added. Every record starts uncounted; the scheduler counts them after the
upgrade, a few thousand at a time, writing each record once (on that year: docs/benchmarks.md).
The new columns have constant defaults: the upgrade itself rewrites no table; the partial index
over the uncounted records is built once over all of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = (
    "received",
    "acknowledged_on_time",
    "acknowledged_late",
    "acknowledge_counted",
    "kept",
    "resolved",
    "resolved_on_time",
    "resolve_counted",
    "extended",
    "returned",
    "transferred",
    "urged",
    "rated",
    "satisfied",
    "followed_up",
    "solved",
    "partly_solved",
)
COUNTED = "as it is now, in unit_day_counts (day_counts.py); any change of the record clears it"
COUNTED_AS = "what the record added to unit_day_counts when last counted (day_counts.py)"


def upgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.text("false"), comment=COUNTED)
        )
        batch.add_column(sa.Column("counted_as", sa.JSON(), nullable=True, comment=COUNTED_AS))
    op.create_index(
        "ix_sla_records_uncounted",
        "sla_records",
        ["dispatched_at"],
        postgresql_where=sa.text("NOT counted"),
        sqlite_where=sa.text("NOT counted"),
    )
    op.create_table(
        "unit_day_counts",
        sa.Column("day", sa.Date(), nullable=False, comment="the Chinese day the items were dispatched"),
        sa.Column("unit_code", sa.String(length=100), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("unit_name", sa.String(length=200), nullable=False, comment="the unit's name when it last received one"),
        sa.Column("named_at", UTCDateTime(timezone=True), nullable=False, comment="when that was"),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column(
            "hours",
            sa.JSON(),
            nullable=False,
            comment="working hours from dispatch to resolution, one per resolved item",
        ),
        sa.PrimaryKeyConstraint("day", "unit_code", "region_code", "request_type", name="pk_unit_day_counts"),
    )


def downgrade() -> None:
    op.drop_table("unit_day_counts")
    op.drop_index(
        "ix_sla_records_uncounted",
        table_name="sla_records",
        postgresql_where=sa.text("NOT counted"),
        sqlite_where=sa.text("NOT counted"),
    )
    with op.batch_alter_table("sla_records") as batch:
        batch.drop_column("counted_as")
        batch.drop_column("counted")
