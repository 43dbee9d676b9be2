"""intake's event handlers: work-item changes and SLA deadlines → the enterprise's read model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.messaging.applying import BatchHandler
from shared.messaging.encoding import ReceivedEvent

from . import read_model


async def on_work_item_events(session: AsyncSession, received: list[ReceivedEvent]) -> None:
    assert all(isinstance(event.data, events.WorkItemEvent) for event in received)
    await read_model.apply_work_item_events(session, [event.data for event in received])


async def on_sla_updates(session: AsyncSession, received: list[ReceivedEvent]) -> None:
    assert all(isinstance(event.data, events.SlaUpdated) for event in received)
    await read_model.apply_sla_updates(session, [event.data for event in received])


# One handler for every kind of work-item event: given each run of them in a fetched batch.
WORK_ITEM_EVENTS = BatchHandler(on_work_item_events)

HANDLERS = {
    **{model.ce_type: WORK_ITEM_EVENTS for model in events.WORK_ITEM_EVENTS},
    events.SlaUpdated.ce_type: BatchHandler(on_sla_updates),
}
