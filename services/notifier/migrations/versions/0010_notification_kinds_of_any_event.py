"""notifications.kind holds the ce_type of any work-item event

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00

cn.xiaoer.workitem.returned_to_enterprise (41 characters) did not fit the 40 of notifications.kind
on PostgreSQL; 100 leaves room for the next ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "a timer kind, or the ce_type of the event it tells of"


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column(
            "kind",
            existing_type=sa.String(length=40),
            type_=sa.String(length=100),
            existing_nullable=False,
            comment=COMMENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column(
            "kind",
            existing_type=sa.String(length=100),
            type_=sa.String(length=40),
            existing_nullable=False,
            comment=None,
            existing_comment=COMMENT,
        )
