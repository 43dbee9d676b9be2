"""Who may ask about whom: the enterprise-group registry, and 授权委托书 files tied to their subject

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 11:00:00

enterprise_relations: a parent that may name one of its subsidiaries or branches as a subject of
its requests (kept by liaison offices and admins; ``xiaoer relations import``). attachments
.subject_uscc: the subject a 授权委托书 upload speaks for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enterprise_relations",
        sa.Column("parent_uscc", sa.String(length=18), nullable=False),
        sa.Column("subject_uscc", sa.String(length=18), nullable=False),
        sa.Column("parent_name", sa.String(length=200), nullable=False),
        sa.Column("parent_region", sa.String(length=6), nullable=False, comment="whose admins keep the entry"),
        sa.Column("subject_name", sa.String(length=200), nullable=False),
        sa.Column("subject_region", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False, comment="shared.vocabulary.RELATION_KINDS"),
        sa.Column("source", sa.String(length=20), nullable=False, comment="file · api"),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("parent_uscc", "subject_uscc", name=op.f("pk_enterprise_relations")),
    )
    with op.batch_alter_table("enterprise_relations") as batch:
        batch.create_index(batch.f("ix_enterprise_relations_parent_region"), ["parent_region"], unique=False)
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(
            sa.Column(
                "subject_uscc",
                sa.String(length=18),
                nullable=True,
                comment="授权委托书: the subject that authorised the applicant",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("subject_uscc")
    with op.batch_alter_table("enterprise_relations") as batch:
        batch.drop_index(batch.f("ix_enterprise_relations_parent_region"))
    op.drop_table("enterprise_relations")
