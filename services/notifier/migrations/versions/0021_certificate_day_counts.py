"""certificate_day_counts: 证明替代率's department items counted per day and subject region

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 05:00:00

证明替代率 counted a period's department certificate items per subject region from
``ix_sla_records_certificates`` (0018): every one of them, 3.4 million index entries for a year of
Guangdong (0.24 s on a tenth of it, seconds on the year). The notifier now keeps their counts per
Chinese day and subject region at every flush that adds or changes a record (models.py), and the
figures add up those rows. This fills them from the records once (a read of sla_records, nothing
rewritten) and drops the index, which nothing reads now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The Chinese day of the dispatch (UTC+8, no daylight saving): SQLite keeps the instant in UTC as text.
CHINESE_DAY = {
    "postgresql": "(dispatched_at AT TIME ZONE 'Asia/Shanghai')::date",
    "sqlite": "date(dispatched_at, '+8 hours')",
}


def upgrade() -> None:
    op.create_table(
        "certificate_day_counts",
        sa.Column("day", sa.Date(), nullable=False, comment="the Chinese day the items were dispatched"),
        sa.Column("subject_region", sa.String(6), nullable=False, comment="where the subject is"),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "subject_region", name="pk_certificate_day_counts"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # no record written meanwhile goes uncounted: writes wait for the fill
        op.execute("LOCK TABLE sla_records IN SHARE MODE")
    day = CHINESE_DAY[dialect]
    op.execute(
        "INSERT INTO certificate_day_counts (day, subject_region, items) "
        f"SELECT {day}, coalesce(subject_region, region_code), count(*) FROM sla_records "
        "WHERE request_type = 'compliance_certificate' AND state <> 'cancelled' "
        f"GROUP BY {day}, coalesce(subject_region, region_code)"
    )
    op.drop_index("ix_sla_records_certificates", table_name="sla_records")


def downgrade() -> None:
    op.create_index(
        "ix_sla_records_certificates",
        "sla_records",
        ["request_type", "dispatched_at"],
        postgresql_include=["state", "subject_region", "region_code"],
    )
    op.drop_table("certificate_day_counts")
