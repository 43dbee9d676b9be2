"""The registry's generation: a number every change to units, coverage, rules or 信用代证 coverage
raises (by trigger, so edits made outside xiaoer count too), which lets routing keep its
snapshot of the registry between batches and reload it only when the number moved

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A later migration that rebuilds one of these tables on SQLite (op.batch_alter_table copies it
# into a new table) drops its triggers and must create them again, or routing would keep a stale
# registry (tests/system/test_workflow.py renames a unit in SQL and fails if so).
TABLES = ("department_units", "unit_coverage", "routing_rules", "credit_coverage")
BUMP = "UPDATE registry_generation SET generation = generation + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "registry_generation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False, comment="+1 with every change to the registry"),
    )
    op.execute("INSERT INTO registry_generation (id, generation) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_registry_generation() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_bump_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_generation()"
            )
    else:  # SQLite: row triggers, one per kind of change
        for table in TABLES:
            for change in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_{change.lower()}_bumps_generation AFTER {change} ON {table} "
                    f"BEGIN {BUMP}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_bump_generation ON {table}")
        op.execute("DROP FUNCTION bump_registry_generation()")
    else:
        for table in TABLES:
            for change in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_{change}_bumps_generation")
    op.drop_table("registry_generation")
