"""unit_month_counts: the unit statistics' counts per month too, the sum of their days' rows

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 05:30:00

A whole year's unit statistics added up every day row of the year (issue 28: on a tenth of a year
of Guangdong, 178,908 rows sorted and grouped, 0.45–0.95 s; the year has some 600,000). Counting
now keeps a row per month beside the day rows (day_counts.py), and a period adds up its whole
months' rows and the days at its ends. This fills the month rows from the day rows: on PostgreSQL
with one grouped read (the unit named as on its latest day), on SQLite in Python (it cannot join
bytes). Nothing is rewritten.
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = (
    "received acknowledged_on_time acknowledged_late acknowledge_counted kept resolved resolved_on_time "
    "resolve_counted extended returned transferred urged rated satisfied followed_up solved partly_solved open_now"
).split()
KEY = ("unit_code", "region_code", "request_type")
HOURS = "working hours from dispatch to resolution, one per resolved item: float64, big-endian (HOURS_PACKED)"


def upgrade() -> None:
    op.create_table(
        "unit_month_counts",
        sa.Column("unit_code", sa.String(100), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("request_type", sa.String(40), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False, comment="the unit's name when it last received one"),
        sa.Column("named_at", UTCDateTime(), nullable=False, comment="when that was"),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS if name != "open_now"),
        sa.Column("open_now", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("hours", sa.LargeBinary(), nullable=False, comment=HOURS),
        sa.Column(
            "month", sa.Date(), nullable=False, comment="the first day of the Chinese month the items were dispatched in"
        ),
        sa.PrimaryKeyConstraint("month", *KEY, name="pk_unit_month_counts"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE unit_day_counts IN SHARE MODE")  # no day row counted meanwhile and missed
        month = "date_trunc('month', day::timestamp)::date"
        op.execute(
            f"INSERT INTO unit_month_counts (month, {', '.join(KEY)}, unit_name, named_at, {', '.join(COUNTS)}, hours) "
            f"SELECT {month}, {', '.join(KEY)}, (array_agg(unit_name ORDER BY named_at DESC, unit_name COLLATE \"C\" DESC))[1], "
            f"max(named_at), {', '.join(f'sum({c})' for c in COUNTS)}, string_agg(hours, ''::bytea) "
            f"FROM unit_day_counts GROUP BY {month}, {', '.join(KEY)}"
        )
    else:
        _fill_in_python()


def _fill_in_python() -> None:
    connection = op.get_bind()
    months: dict[tuple, dict] = {}
    hours: dict[tuple, list[bytes]] = defaultdict(list)
    for row in connection.execute(sa.text("SELECT * FROM unit_day_counts ORDER BY day")).mappings():
        key = (row["day"][:7] + "-01", *(row[k] for k in KEY))  # SQLite keeps a date as its ISO text
        month = months.setdefault(key, {"month": key[0], **dict(zip(KEY, key[1:])), **dict.fromkeys(COUNTS, 0)})
        for name in COUNTS:
            month[name] += row[name]
        if (row["named_at"], row["unit_name"]) >= (month.get("named_at", ""), month.get("unit_name", "")):
            month["named_at"], month["unit_name"] = row["named_at"], row["unit_name"]
        hours[key].append(row["hours"])
    columns = ["month", *KEY, "unit_name", "named_at", *COUNTS, "hours"]
    insert = sa.text(f"INSERT INTO unit_month_counts ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
    for key, month in months.items():
        connection.execute(insert, {**month, "hours": b"".join(hours[key])})


def downgrade() -> None:
    op.drop_table("unit_month_counts")
