"""intake's event handlers: work-item changes and SLA deadlines → the enterprise's read model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.kafka import ReceivedEvent

from . import read_model


async def on_work_item_event(session: AsyncSession, received: ReceivedEvent) -> None:
    assert isinstance(received.data, events.WorkItemEvent)
    await read_model.apply_work_item_event(session, received.data)


async def on_sla_updated(session: AsyncSession, received: ReceivedEvent) -> None:
    assert isinstance(received.data, events.SlaUpdated)
    await read_model.apply_sla_update(session, received.data)


HANDLERS = {
    **{model.ce_type: on_work_item_event for model in events.WORK_ITEM_EVENTS},
    events.SlaUpdated.ce_type: on_sla_updated,
}
