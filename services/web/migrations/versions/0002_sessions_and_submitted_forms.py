"""staff sessions end on demand; submitted forms remember their request

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.add_column(
            sa.Column(
                "sessions_revoked_at",
                shared.db.UTCDateTime(timezone=True),
                nullable=True,
                comment="sessions begun before this instant have ended (deactivated, password changed)",
            )
        )
    op.create_table(
        "submitted_forms",
        sa.Column("key", sa.String(length=64), nullable=False, comment="the form's Idempotency-Key"),
        sa.Column("owner", sa.String(length=200), nullable=False, comment="the token subject that submitted it"),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("reference_no", sa.String(length=40), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_submitted_forms")),
    )
    op.create_index(op.f("ix_submitted_forms_created_at"), "submitted_forms", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_submitted_forms_created_at"), table_name="submitted_forms")
    op.drop_table("submitted_forms")
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("sessions_revoked_at")
