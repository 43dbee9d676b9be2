"""notifier's domain logic: starting and moving the SLA clocks of work items."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.workcal import WorkingCalendar

from . import policies
from .models import SlaRecord


async def start_clock(session: AsyncSession, calendar: WorkingCalendar, event: events.WorkItemDispatched) -> SlaRecord:
    record = await session.get(SlaRecord, event.work_item_id)
    if record is not None:  # a re-dispatch keeps the clock the enterprise was promised
        record.unit_code, record.unit_name, record.state = event.unit_code, event.unit_name, event.state
        return record
    limits = await policies.limits_for(session, event.request_type, event.department_kind)
    record = SlaRecord(
        work_item_id=event.work_item_id,
        request_id=event.request_id,
        reference_no=event.reference_no,
        request_type=event.request_type,
        department_kind=event.department_kind,
        unit_code=event.unit_code,
        unit_name=event.unit_name,
        region_code=event.region_code,
        state=event.state,
        dispatched_at=event.occurred_at,
        acknowledge_due_at=policies.due(
            calendar, event.occurred_at, limits.acknowledge_amount, limits.acknowledge_unit
        ),
        resolve_due_at=policies.due(calendar, event.occurred_at, limits.resolve_amount, limits.resolve_unit),
        acknowledged_at=None,
        resolved_at=None,
        policy=policies.as_dict(limits),
    )
    session.add(record)
    return record
