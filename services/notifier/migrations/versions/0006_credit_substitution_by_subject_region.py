"""信用代证: covered items follow the report's upload and the request's withdrawal; SLA records
know the subject's region, so 证明替代率 counts department items where the subject is

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECT_REGION = "where the subject is (region_code is the unit's); 证明替代率 counts by it"
STATE = "credit_report → credit_report_uploaded | cancelled"
CHANGED_AT = "when the report was uploaded or the request withdrawn"


def upgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.add_column(sa.Column("subject_region", sa.String(length=6), nullable=True, comment=SUBJECT_REGION))
    with op.batch_alter_table("covered_items") as batch:
        # Items covered before states were kept are still to obtain as far as the notifier knows.
        batch.add_column(
            sa.Column("state", sa.String(length=30), nullable=False, server_default="credit_report", comment=STATE)
        )
        batch.add_column(
            sa.Column("changed_at", shared.db.UTCDateTime(timezone=True), nullable=True, comment=CHANGED_AT)
        )
    with op.batch_alter_table("covered_items") as batch:
        batch.alter_column("state", server_default=None, existing_type=sa.String(length=30), existing_comment=STATE)


def downgrade() -> None:
    with op.batch_alter_table("covered_items") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("state")
    with op.batch_alter_table("sla_records") as batch:
        batch.drop_column("subject_region")
