"""unit_day_counts: the open items counted too, the hours packed

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:00:00

The unit statistics read every open item of their period as it is, for the counts that move with
the clock (issue 28: on a year of Guangdong, 51,306 open records through the ORM, 2.8 s of each
whole-year call and of each 8-week trend). The day counts now hold an open item's other counts
too; what moves (stats.MOVING) is counted in SQL at each reading, from the record and three columns
counting writes on it: the unit holding it then, that unit's region, and its 签收 limit while it had
not signed. The open records counted before are marked uncounted here, so the scheduler counts them
again (a partial-index update of the open ones only). The day rows' handling hours become float64
bytes (big-endian, PostgreSQL's float8send) instead of JSON lists: a year's 3.5 million numbers were
joined as text and parsed at every call (1.1 s). That conversion rewrites unit_day_counts (on the
the year: docs/operations.md); sla_records is not rewritten.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_STATES = ("acknowledged", "awaiting_supplement", "dispatched", "in_progress", "returned")  # as of 0019
HOURS = "working hours from dispatch to resolution, one per resolved item: float64, big-endian (HOURS_PACKED)"


def upgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.add_column(
            sa.Column(
                "counted_holder_unit",
                sa.String(length=100),
                nullable=True,
                comment="open when counted: the unit holding it then (day_counts.py)",
            )
        )
        batch.add_column(
            sa.Column("counted_holder_region", sa.String(length=6), nullable=True, comment="that unit's region")
        )
        batch.add_column(
            sa.Column(
                "counted_sign_due_at",
                UTCDateTime(timezone=True),
                nullable=True,
                comment="that unit's 签收 limit, while it had not signed (day_counts.py)",
            )
        )
    open_ones = ", ".join(f"'{state}'" for state in OPEN_STATES)
    op.execute(f"UPDATE sla_records SET counted = false WHERE counted AND state IN ({open_ones})")
    with op.batch_alter_table("unit_day_counts") as batch:
        batch.add_column(sa.Column("open_now", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("hours_packed", sa.LargeBinary(), nullable=True))
    _pack_hours()
    with op.batch_alter_table("unit_day_counts") as batch:
        batch.drop_column("hours")
    with op.batch_alter_table("unit_day_counts") as batch:
        batch.alter_column(
            "hours_packed", new_column_name="hours", existing_type=sa.LargeBinary(), nullable=False, comment=HOURS
        )


def _pack_hours() -> None:
    """Each day row's JSON list of hours as float64 bytes, big-endian."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE unit_day_counts SET hours_packed = coalesce("
            "(SELECT string_agg(float8send(value::float8), ''::bytea) FROM json_array_elements_text(hours)), "
            "''::bytea)"
        )
        return
    import numpy as np  # SQLite: the embedded default's few rows, one by one

    table = sa.table(
        "unit_day_counts",
        *(sa.column(name) for name in ("day", "unit_code", "region_code", "request_type", "hours", "hours_packed")),
    )
    key = ("day", "unit_code", "region_code", "request_type")
    for row in bind.execute(sa.select(table)).mappings().all():
        hours = row["hours"] if isinstance(row["hours"], list) else json.loads(row["hours"])
        packed = np.asarray(hours, dtype=">f8").tobytes()
        bind.execute(table.update().where(*(table.c[name] == row[name] for name in key)).values(hours_packed=packed))


def downgrade() -> None:
    """The day counts are derived: they are dropped, and every record is counted again by 0018's
    scheduler into JSON lists."""
    op.execute("DELETE FROM unit_day_counts")
    with op.batch_alter_table("unit_day_counts") as batch:
        batch.drop_column("hours")
        batch.drop_column("open_now")
    with op.batch_alter_table("unit_day_counts") as batch:
        batch.add_column(
            sa.Column(
                "hours",
                sa.JSON(),
                nullable=False,  # the table is empty: no default needed, as 0015 made it
                comment="working hours from dispatch to resolution, one per resolved item",
            )
        )
    # Every record, the uncounted too: the older release would take their counts off rows rebuilt without them.
    op.execute("UPDATE sla_records SET counted = false, counted_as = NULL")
    with op.batch_alter_table("sla_records") as batch:
        batch.drop_column("counted_sign_due_at")
        batch.drop_column("counted_holder_region")
        batch.drop_column("counted_holder_unit")
