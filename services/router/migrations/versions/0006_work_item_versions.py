"""work item versions: every workitems.events message carries the item's version

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "1 at dispatch, +1 with every event; readers ignore an event older than what they hold"


def upgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0", comment=COMMENT))
    with op.batch_alter_table("work_items") as batch:
        batch.alter_column("version", server_default=None, existing_type=sa.Integer(), existing_comment=COMMENT)


def downgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("version")
