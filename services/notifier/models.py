"""notifier's tables: one SLA record per work item, and the SLA policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import NAMING_CONVENTION, UTCDateTime, infrastructure_tables, utcnow


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


outbox, processed_events = infrastructure_tables(Base.metadata)


class SlaPolicy(Base):
    """Time limits for (request type, department kind); ``*`` matches any kind. A unit of
    ``working_days``, ``working_hours`` or ``minutes`` (calendar minutes, for emergencies)."""

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("request_type", "department_kind", name="uq_sla_policies_type_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_type: Mapped[str] = mapped_column(String(40))
    department_kind: Mapped[str] = mapped_column(String(40), default="*")
    acknowledge_amount: Mapped[int]
    acknowledge_unit: Mapped[str] = mapped_column(String(20))
    resolve_amount: Mapped[int]
    resolve_unit: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaRecord(Base):
    """The clocks of one work item."""

    __tablename__ = "sla_records"

    work_item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    reference_no: Mapped[str] = mapped_column(String(20))
    request_type: Mapped[str] = mapped_column(String(40))
    department_kind: Mapped[str] = mapped_column(String(40))
    unit_code: Mapped[str] = mapped_column(String(100), index=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    state: Mapped[str] = mapped_column(String(30))
    dispatched_at: Mapped[datetime]
    acknowledge_due_at: Mapped[datetime]
    resolve_due_at: Mapped[datetime] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    policy: Mapped[dict[str, Any]] = mapped_column(comment="the policy as it was when the clock started")
