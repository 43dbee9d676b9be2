"""intake's event handlers: ``workitems.events`` → the enterprise's read model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.kafka import ReceivedEvent

from . import service


async def on_work_item_event(session: AsyncSession, received: ReceivedEvent) -> None:
    assert isinstance(received.data, events.WorkItemEvent)
    await service.apply_work_item_event(session, received.data, received.type)


HANDLERS = {events.WorkItemDispatched.ce_type: on_work_item_event}
