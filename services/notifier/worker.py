"""notifier's event handlers: work-item changes → SLA clocks."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.kafka import ReceivedEvent
from shared.workcal import WorkingCalendar


def handlers(calendar: WorkingCalendar) -> dict:
    from . import service

    async def on_dispatched(session: AsyncSession, received: ReceivedEvent) -> None:
        assert isinstance(received.data, events.WorkItemDispatched)
        await service.start_clock(session, calendar, received.data)

    return {events.WorkItemDispatched.ce_type: on_dispatched}
