"""回访 after 办结: each item's follow-up result, for the units' 解决率

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:10:00

sla_records.follow_up_result: 已解决 · 部分解决 · 未解决 as the enterprise answered (or a liaison
officer recorded) in the 回访 (issue 29); the statistics count 解决率 from it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.add_column(
            sa.Column(
                "follow_up_result",
                sa.String(length=20),
                nullable=True,
                comment="回访 after 办结: shared.vocabulary.FOLLOW_UP_RESULTS (解决率)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.drop_column("follow_up_result")
