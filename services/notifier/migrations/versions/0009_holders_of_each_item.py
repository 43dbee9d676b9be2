"""Every unit that held an item, for statistics that give each of them a row

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00

sla_records.holders: each unit that held the item, in order — when it received the item, its
签收 deadline then, when it signed, and when and how it let go (returned, transferred, dispatched
on) or the item ended with it (services/notifier/holders.py). Existing records get what they tell:
the units that returned the item (退回率 kept them), then the unit holding it now.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDERS = "every unit that held the item, in order, and how it left (holders.py)"
ENDED = ("resolved", "closed", "cancelled", "returned_to_enterprise")


def _iso(value) -> str | None:
    """An instant as holders keep it: ISO 8601 in UTC (SQLite hands back naive UTC, text even)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _backfill(row) -> list[dict]:
    earlier = [
        {
            "unit_code": code,
            "unit_name": code,
            "region_code": code.split(".")[0],
            "received_at": _iso(row.dispatched_at),
            "acknowledge_due_at": None,
            "acknowledged_at": None,
            "left_at": _iso(row.dispatched_at),
            "left_how": "returned",
            "ended_at": None,
        }
        for code in (row.returned_by or [])
    ]
    current = {
        "unit_code": row.unit_code,
        "unit_name": row.unit_name,
        "region_code": row.region_code,
        "received_at": _iso(row.dispatched_at),
        "acknowledge_due_at": _iso(row.acknowledge_due_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "left_at": None,
        "left_how": None,
        "ended_at": _iso(row.resolved_at) if row.state in ENDED else None,
    }
    return [*earlier, current]


def upgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.add_column(sa.Column("holders", sa.JSON(), nullable=False, server_default="[]", comment=HOLDERS))
    with op.batch_alter_table("sla_records") as batch:
        batch.alter_column("holders", server_default=None, existing_type=sa.JSON(), existing_comment=HOLDERS)
    records = sa.table(
        "sla_records",
        *(sa.column(name) for name in ("work_item_id", "unit_code", "unit_name", "region_code", "state")),
        *(sa.column(name, sa.DateTime()) for name in ("dispatched_at", "acknowledge_due_at", "acknowledged_at")),
        sa.column("resolved_at", sa.DateTime()),
        sa.column("returned_by", sa.JSON()),
        sa.column("holders", sa.JSON()),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(records)).all():
        bind.execute(records.update().where(records.c.work_item_id == row.work_item_id).values(holders=_backfill(row)))


def downgrade() -> None:
    with op.batch_alter_table("sla_records") as batch:
        batch.drop_column("holders")
