"""SLA record versions: an event older than the clock holds changes nothing

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "the router's version of the item these clocks follow; older events do not move them"


def upgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0", comment=COMMENT))
    with op.batch_alter_table("sla_records") as batch:
        batch.alter_column("version", server_default=None, existing_type=sa.Integer(), existing_comment=COMMENT)


def downgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.drop_column("version")
