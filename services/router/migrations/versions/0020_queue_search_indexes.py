"""A clerk's search found by indexes: trigrams of subject names and 受理编号, subjects' USCCs

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 17:10:00

A clerk's search (``q``: part of a 受理编号 or of a subject's name, or a USCC) and the enterprise
filter read every item of the unit and tried each one (on a year of Guangdong, 0.3–0.55 s for the
busiest unit, list and tab counts alike). PostgreSQL's pg_trgm finds the rows whose text contains
a fragment from a GIN index of their trigrams (Chinese included, in a UTF-8 database whose LC_CTYPE
is not C: docs/operations.md); the USCC is
an equality. With these, the search is a BitmapOr of three lookups ANDed with the unit's items.
pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it. PostgreSQL
only for the trigram indexes; the USCC index on both. No table is rewritten; the indexes are built
once (on that year: docs/operations.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_work_items_subject_uscc", "work_items", ["subject_uscc"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_work_items_subject_name_trgm",
            "work_items",
            ["subject_name"],
            postgresql_using="gin",
            postgresql_ops={"subject_name": "gin_trgm_ops"},
        )
        op.create_index(
            "ix_routed_requests_reference_no_trgm",
            "routed_requests",
            ["reference_no"],
            postgresql_using="gin",
            postgresql_ops={"reference_no": "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_routed_requests_reference_no_trgm", table_name="routed_requests")
        op.drop_index("ix_work_items_subject_name_trgm", table_name="work_items")
    op.drop_index("ix_work_items_subject_uscc", table_name="work_items")
