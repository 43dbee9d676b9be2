"""延期率 and 退回率: an SLA record knows whether its unit was granted an extension and which
units returned the item

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXTENDED = "an extension was approved for the item (延期率)"
RETURNED_BY = "units that returned the item to the coordinator, in order (退回率)"


def upgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.add_column(
            sa.Column("extended", sa.Boolean(), nullable=False, server_default=sa.false(), comment=EXTENDED)
        )
        batch.add_column(sa.Column("returned_by", sa.JSON(), nullable=False, server_default="[]", comment=RETURNED_BY))
    with op.batch_alter_table("sla_records") as batch:
        batch.alter_column("extended", server_default=None, existing_type=sa.Boolean(), existing_comment=EXTENDED)
        batch.alter_column("returned_by", server_default=None, existing_type=sa.JSON(), existing_comment=RETURNED_BY)


def downgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.drop_column("returned_by")
        batch.drop_column("extended")
