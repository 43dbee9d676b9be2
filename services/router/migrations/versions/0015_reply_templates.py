"""A unit's reply templates for 补正 and 退回 (issue 29)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 03:55:00

reply_templates: texts the unit's lead (科长) keeps and its clerks fill in, with placeholders such
as {企业名称} filled from the item at hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_code", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=20),
            nullable=False,
            comment="supplement | return (vocabulary.REPLY_TEMPLATE_KINDS)",
        ),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, comment="the text, with placeholders such as {企业名称}"),
        sa.Column(
            "updated_by", sa.String(length=120), nullable=False, comment="the lead who wrote it last (token sub)"
        ),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["department_units.unit_code"], name=op.f("fk_reply_templates_unit_code_department_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_templates")),
    )
    op.create_index(op.f("ix_reply_templates_unit_code"), "reply_templates", ["unit_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reply_templates_unit_code"), table_name="reply_templates")
    op.drop_table("reply_templates")
