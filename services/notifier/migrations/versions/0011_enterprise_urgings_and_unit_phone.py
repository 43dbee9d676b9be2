"""the enterprise's 催办 of its late items, and each unit's public telephone

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 01:30:00

urgings: one row per 催办, at most one per item per working day (issue 29); known_units gains the
unit's public telephone and office hours, shown to enterprises on every item.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import BigIntPK, UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "urgings",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("work_item_id", sa.String(36), sa.ForeignKey("sla_records.work_item_id"), nullable=False),
        sa.Column("unit_code", sa.String(100), nullable=False),
        sa.Column(
            "deadline", sa.String(20), nullable=False, comment="acknowledge | resolve: the deadline that counted"
        ),
        sa.Column("working_day", sa.Date(), nullable=False),
        sa.Column("urged_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "urged_by", sa.String(100), nullable=False, comment="the sub of the enterprise user or liaison officer"
        ),
        sa.UniqueConstraint("work_item_id", "working_day", name="uq_urgings_item_day"),
    )
    op.create_index("ix_urgings_work_item_id", "urgings", ["work_item_id"])
    op.create_index("ix_urgings_unit_code", "urgings", ["unit_code"])
    with op.batch_alter_table("known_units") as batch:
        batch.add_column(
            sa.Column(
                "phone", sa.String(40), nullable=True, comment="the unit's public telephone, shown to enterprises"
            )
        )
        batch.add_column(
            sa.Column("office_hours", sa.String(100), nullable=True, comment="when the public telephone is answered")
        )


def downgrade() -> None:
    with op.batch_alter_table("known_units") as batch:
        batch.drop_column("office_hours")
        batch.drop_column("phone")
    op.drop_table("urgings")
