"""Every event the notifier emits, each added to its outbox in the caller's transaction. Call
sites say what happened; how it is encoded lives here.

- ``sla.events``: a work item's deadlines changed, keyed by request (intake shows them, the router
  tells the unit).
- ``notifications``: a notification for anyone who listens on Kafka, keyed by work item.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.messaging.encoding import OutgoingMessage
from shared.messaging.outbox import Outbox

from .models import Notification, SlaRecord, outbox

OUTBOX = Outbox(outbox, events.SOURCE_NOTIFIER)


def deadlines_message(record: SlaRecord, now: datetime) -> OutgoingMessage:
    """A work item's deadlines as they stand (``sla.events``), for ``emit`` with others."""
    update = events.SlaUpdated(
        work_item_id=record.work_item_id,
        request_id=record.request_id,
        acknowledge_due_at=record.acknowledge_due_at,
        resolve_due_at=None if record.paused_at else record.resolve_due_at,
        paused=record.paused_at is not None,
    )
    return OUTBOX.message(update, topic=events.SLA_EVENTS, key=record.request_id, subject=record.work_item_id, time=now)


async def emit(session: AsyncSession, outgoing: list[OutgoingMessage]) -> None:
    """Messages built here, added to the outbox with one INSERT."""
    await OUTBOX.emit_all(session, outgoing)


async def notifications_published(session: AsyncSession, notifications: list[Notification], now: datetime) -> None:
    """The ``topic`` channel: each notification, sent by publishing it."""
    outgoing = []
    for notification in notifications:
        audience, _, key = notification.address.partition(":")
        sent = events.NotificationSent(
            notification_id=notification.id,
            kind=notification.kind,
            work_item_id=notification.work_item_id,
            recipient_kind=audience,
            recipient_key=key,
            title=notification.title,
            body=notification.body,
            urgent=notification.urgent,
            occurred_at=now,
        )
        outgoing.append(
            OUTBOX.message(
                sent,
                topic=events.NOTIFICATIONS,
                key=notification.work_item_id,
                subject=notification.work_item_id,
                time=now,
            )
        )
    await OUTBOX.emit_all(session, outgoing)
