"""The timeline and the latest actor in English too

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:00:00

timeline_entries.summary_en and work_item_views.last_actor_en: what an entry says and who moved an
item last, in English, so the pages' English mode shows English. Existing rows keep only their
Chinese (the API shows it for both).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_entries") as batch:
        batch.add_column(
            sa.Column("summary_en", sa.Text(), nullable=True, comment="the same in English (null before issue 25)")
        )
    with op.batch_alter_table("work_item_views") as batch:
        batch.add_column(
            sa.Column("last_actor_en", sa.String(length=200), nullable=True, comment="the same in English")
        )


def downgrade() -> None:
    with op.batch_alter_table("work_item_views") as batch:
        batch.drop_column("last_actor_en")
    with op.batch_alter_table("timeline_entries") as batch:
        batch.drop_column("summary_en")
