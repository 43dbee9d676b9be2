"""Where each outbox event landed: its partition and offset, and the high water per partition

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:00:00

The relay records the broker's acknowledgement of every event it publishes, so it can tell when
the broker lost acknowledged events (an empty broker after a restart, an unclean leader election)
and publish exactly those again (shared/messaging/relay.py). Adds two nullable columns and an
index to outbox (no rewrite of existing rows: they stay without a landing place) and a small
table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sent_partition", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sent_offset", sa.BigInteger(), nullable=True))
        batch.create_index("ix_outbox_landed", ["topic", "sent_partition", "sent_offset"])
    op.create_table(
        "outbox_high_water",
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("high_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", name=op.f("pk_outbox_high_water")),
    )


def downgrade() -> None:
    op.drop_table("outbox_high_water")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_landed")
        batch.drop_column("sent_offset")
        batch.drop_column("sent_partition")
