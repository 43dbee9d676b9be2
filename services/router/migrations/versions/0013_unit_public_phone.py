"""Each unit's public telephone and office hours (issue 29)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 01:20:00

Optional in the registry (file and API); announced with the unit, so the notifier shows them to
enterprises on every item.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("department_units") as batch:
        batch.add_column(
            sa.Column("phone", sa.String(40), nullable=True, comment="public telephone, shown to enterprises")
        )
        batch.add_column(
            sa.Column("office_hours", sa.String(100), nullable=True, comment="when the public telephone is answered")
        )


def downgrade() -> None:
    with op.batch_alter_table("department_units") as batch:
        batch.drop_column("office_hours")
        batch.drop_column("phone")
