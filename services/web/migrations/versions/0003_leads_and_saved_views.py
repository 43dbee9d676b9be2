"""a unit's lead (科长) among its clerks; each person's saved queue views (issue 29)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.add_column(
            sa.Column(
                "lead",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="department: the unit's lead (科长), who assigns its items",
            )
        )
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False, comment="whose view it is"),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False, comment="the queue page's parameters (filters and sort)"),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["staff_accounts.username"],
            name=op.f("fk_saved_views_username_staff_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("username", "name", name=op.f("uq_saved_views_username_name")),
    )
    op.create_index(op.f("ix_saved_views_username"), "saved_views", ["username"])


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_views_username"), table_name="saved_views")
    op.drop_table("saved_views")
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("lead")
