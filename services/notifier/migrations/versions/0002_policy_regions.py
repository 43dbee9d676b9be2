"""SLA policies per region: a region's admin sets its own, a national admin the nationwide ones

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "region_code",
                sa.String(length=6),
                nullable=False,
                server_default="*",
                comment="GB/T 2260 code the policy applies under; * nationwide",
            )
        )
        batch_op.drop_constraint("uq_sla_policies_type_kind", type_="unique")
        batch_op.create_unique_constraint("uq_sla_policies_type_kind_region", ["request_type", "department_kind", "region_code"])


def downgrade() -> None:
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sla_policies_type_kind_region", type_="unique")
        batch_op.create_unique_constraint("uq_sla_policies_type_kind", ["request_type", "department_kind"])
        batch_op.drop_column("region_code")
