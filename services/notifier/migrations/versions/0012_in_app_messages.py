"""the message centre: in-app messages and each person's read marks

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 04:00:00

In-app messages are notifications on the channel ``inbox`` (issue 29): they gain the request they
are about (where a message leads) and an index to read one audience's messages newest first;
message_reads holds each reader's mark on each message.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import BigIntPK, UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(
            sa.Column(
                "request_id",
                sa.String(36),
                nullable=True,
                comment="the request it is about: where an in-app message leads the enterprise",
            )
        )
    op.create_index(
        "ix_notifications_audience", "notifications", ["channel", "recipient_kind", "address", "id"]
    )
    op.create_table(
        "message_reads",
        sa.Column("notification_id", BigIntPK, sa.ForeignKey("notifications.id"), primary_key=True),
        sa.Column("reader", sa.String(200), primary_key=True),
        sa.Column("read_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_reads")
    op.drop_index("ix_notifications_audience", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("request_id")
