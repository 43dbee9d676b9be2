"""Reference numbers from a sequence on PostgreSQL: reference_numbers and reference_days

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 04:40:00

The day's counter row was updated by every submission and stayed locked until it committed, or
(since the third performance pass) took a connection and a commit of its own per submission. A
sequence hands out values without locks inside the submission's own transaction; reference_days
says where each day starts. A day already begun goes on from its counter's last number. Stop
every intake process of the older version before starting this one: the two number differently.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reference_days",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_reference_days")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.CreateSequence(sa.Sequence("reference_numbers")))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The counters go on from the last number the sequence gave each day, so the older code
        # does not hand those numbers out again.
        op.execute(
            """
            INSERT INTO reference_counters (day, last)
            SELECT day, (SELECT last_value FROM reference_numbers) - base FROM reference_days
            ON CONFLICT (day) DO UPDATE SET last = GREATEST(reference_counters.last, excluded.last)
            """
        )
        op.execute(sa.schema.DropSequence(sa.Sequence("reference_numbers")))
    op.drop_table("reference_days")
