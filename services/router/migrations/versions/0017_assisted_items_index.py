"""ix_work_items_assisted: the items other units assist, for a unit's queue at a province's scale

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 08:30:00

A partial index of the work items whose assisting_units list is not empty (会办: a few). A unit's
queue reads its own items by unit_code and those it assists through this index; before, the
condition on every row's list made each clerk's call a full scan of work_items (issue 28: 2.8 s on
a year of Guangdong, docs/benchmarks.md). No table is rewritten; on that year the index is built in
seconds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ASSISTED = "CAST(assisting_units AS VARCHAR) <> '[]'"


def upgrade() -> None:
    op.create_index(
        "ix_work_items_assisted",
        "work_items",
        ["id"],
        postgresql_where=sa.text(ASSISTED),
        sqlite_where=sa.text(ASSISTED),
    )


def downgrade() -> None:
    op.drop_index("ix_work_items_assisted", table_name="work_items")
