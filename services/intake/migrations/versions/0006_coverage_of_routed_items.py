"""信用代证: work_item_views.coverage names the coverage versions of routed certificate items too

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "信用代证: the coverage version that covered the item, e.g. 440000 v1"
AFTER = (
    "信用代证: the coverage versions a certificate item was decided under, e.g. 440000 v1 (covered "
    "by that report) or 440000 v1、441900 v1 (routed to a unit though they were in force)"
)


def upgrade() -> None:
    with op.batch_alter_table("work_item_views") as batch:
        batch.alter_column(
            "coverage",
            existing_type=sa.String(length=40),
            existing_nullable=True,
            comment=AFTER,
            existing_comment=BEFORE,
        )


def downgrade() -> None:
    with op.batch_alter_table("work_item_views") as batch:
        batch.alter_column(
            "coverage",
            existing_type=sa.String(length=40),
            existing_nullable=True,
            comment=BEFORE,
            existing_comment=AFTER,
        )
