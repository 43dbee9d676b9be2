"""回访 after 办结: one follow-up per work item

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00

item_follow_ups: whether the problem was solved (已解决 · 部分解决 · 未解决), asked online of the
enterprise or by a liaison officer's call, once per finished work item (issue 29).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_follow_ups",
        sa.Column("work_item_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False, comment="shared.vocabulary.FOLLOW_UP_RESULTS"),
        sa.Column("method", sa.String(length=20), nullable=False, comment="shared.vocabulary.FOLLOW_UP_METHODS"),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "recorded_by",
            sa.String(length=100),
            nullable=False,
            comment="the sub of the enterprise user or liaison officer",
        ),
        sa.Column("recorded_by_role", sa.String(length=20), nullable=False),
        sa.Column("recorded_by_name", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_item_follow_ups_request_id_requests")),
        sa.PrimaryKeyConstraint("work_item_id", name=op.f("pk_item_follow_ups")),
    )
    op.create_index(op.f("ix_item_follow_ups_request_id"), "item_follow_ups", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_item_follow_ups_request_id"), table_name="item_follow_ups")
    op.drop_table("item_follow_ups")
