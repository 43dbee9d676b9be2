"""a supervisor's 督办单 to a unit, and the unit's answer

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:10:00

unit_supervisions: one row per 督办单 (issue 29 item 6): the note, the day the unit must answer by,
who sent it, and the unit's answer with when and by whom.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit_supervisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("unit_code", sa.String(100), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False, comment="the unit's, when it was supervised"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False, comment="the last day (Asia/Shanghai) for the unit's answer"),
        sa.Column(
            "due_at",
            UTCDateTime(timezone=True),
            nullable=False,
            comment="the first instant after due_on: an answer before it is on time",
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_by_name", sa.String(100), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(100), nullable=True),
        sa.Column("answered_by_name", sa.String(100), nullable=True),
    )
    op.create_index("ix_unit_supervisions_unit_code", "unit_supervisions", ["unit_code"])
    op.create_index("ix_unit_supervisions_region_code", "unit_supervisions", ["region_code"])


def downgrade() -> None:
    op.drop_table("unit_supervisions")
