"""A 授权委托书 is read by the units of its subject's items only

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 14:00:00

item_files.subject_uscc: the subject a letter of authorisation speaks for; null for every other
file (the request's, an item's own).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item_files") as batch:
        batch.add_column(
            sa.Column(
                "subject_uscc",
                sa.String(length=18),
                nullable=True,
                comment="a 授权委托书: only the items of this subject show it",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("item_files") as batch:
        batch.drop_column("subject_uscc")
