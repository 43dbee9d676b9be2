"""Whether a work item's clock is paused, for the clerk's queue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 09:00:00

The notifier pauses an item's handling clock during 补正 and says so on sla.events; the router now
keeps that (work_items.sla_paused), so the queue filters by SLA state (overdue · paused · running)
as the notifier counts it. Existing rows are not paused until the notifier says otherwise.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(
            sa.Column(
                "sla_paused",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="the notifier paused the clock (补正)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("sla_paused")
