"""router's event handlers: new requests → work items."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.kafka import ReceivedEvent

from . import service


async def on_request_submitted(session: AsyncSession, received: ReceivedEvent) -> None:
    assert isinstance(received.data, events.RequestSubmitted)
    await service.route_request(session, received.data)


HANDLERS = {events.RequestSubmitted.ce_type: on_request_submitted}
