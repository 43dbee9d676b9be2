"""信用代证: covered items change state (report uploaded, withdrawn) with a version; routed
certificate items record the coverage versions they were decided under

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERAGE = (
    "信用代证: the coverage versions in force when a certificate item was routed "
    "([{region_code, version}], province first); null for other request types"
)
STATE = "credit_report → credit_report_uploaded | cancelled"
VERSION = "1 when covered, +1 with every event after"


def upgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("credit_coverage", sa.JSON(), nullable=True, comment=COVERAGE))
    with op.batch_alter_table("credit_items") as batch:
        batch.add_column(
            sa.Column(
                "report_file_id", sa.String(length=36), nullable=True, comment="the uploaded report (intake's file id)"
            )
        )
        # Items covered before versions were counted had one event: version 1.
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1", comment=VERSION))
        batch.add_column(sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=True))
        batch.alter_column("state", existing_type=sa.String(length=30), existing_nullable=False, comment=STATE)
    with op.batch_alter_table("credit_items") as batch:
        batch.alter_column("version", server_default=None, existing_type=sa.Integer(), existing_comment=VERSION)


def downgrade() -> None:
    with op.batch_alter_table("credit_items") as batch:
        batch.alter_column("state", existing_type=sa.String(length=30), existing_nullable=False, comment=None)
        batch.drop_column("updated_at")
        batch.drop_column("version")
        batch.drop_column("report_file_id")
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("credit_coverage")
