"""The one way a service emits an event: added to its outbox table in the caller's transaction.
``relay.OutboxRelay`` publishes it after the commit; ``republish`` sends a range again."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import MetaData, Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db
from shared.clock import utcnow
from shared.events import Event
from shared.messaging.encoding import OutgoingMessage, encode


class Outbox:
    """The one way a service emits an event: encoded as a CloudEvent from the service's source and
    added to its outbox table in the caller's transaction, so the event exists exactly when the
    state it describes does. ``OutboxRelay`` publishes it after the commit."""

    def __init__(self, table: Table, source: str) -> None:
        self.table = table
        self.source = source

    def message(
        self, event: Event, *, topic: str, key: str, subject: str | None = None, time: datetime | None = None
    ) -> OutgoingMessage:
        return encode(event, topic=topic, source=self.source, subject=subject, key=key, time=time)

    async def emit(
        self,
        session: AsyncSession,
        event: Event,
        *,
        topic: str,
        key: str,
        subject: str | None = None,
        time: datetime | None = None,
    ) -> None:
        await self.emit_all(session, [self.message(event, topic=topic, key=key, subject=subject, time=time)])

    async def emit_all(self, session: AsyncSession, messages: Iterable[OutgoingMessage]) -> None:
        """Several messages in one INSERT, in the order given (the relay publishes by id)."""
        rows = self.rows(session, messages)
        if rows:
            # On the session's connection, not through the ORM's execute: the rows need no flush
            # of the session's objects before them (they are flushed by the commit), and the ORM's
            # path cost more CPU than the INSERT.
            await (await session.connection()).execute(insert(self.table), rows)

    def rows(self, session: AsyncSession, messages: Iterable[OutgoingMessage]) -> list[dict]:
        """The outbox rows of ``messages``, for a caller that writes them with its other rows
        (``db.insert_rows``) in ``session``'s transaction; the session is marked as having
        written to the outbox, so a consumer wakes the relay after the commit."""
        rows = [
            {
                "topic": m.topic,
                "key": m.key,
                "headers": json.dumps(m.headers, ensure_ascii=False),
                "value": m.value.decode(),
                "created_at": utcnow(),
            }
            for m in messages
        ]
        if rows:
            session.info[_OUTBOX_WRITTEN] = True
        return rows


_OUTBOX_WRITTEN = "xiaoer.outbox_written"


def wrote_outbox(session: AsyncSession) -> bool:
    """Whether anything was added to the outbox in ``session``."""
    return session.info.get(_OUTBOX_WRITTEN, False)


async def republish(database_url: str, since: datetime, until: datetime | None = None, topic: str | None = None) -> int:
    """Marks the outbox rows created in [since, until) unsent, so the service's active relay
    publishes them again, lowest id first (each key's events in their order). Returns how many."""
    outbox, _ = db.infrastructure_tables(MetaData())
    query = update(outbox).where(outbox.c.created_at >= since, outbox.c.sent_at.is_not(None))
    if until is not None:
        query = query.where(outbox.c.created_at < until)
    if topic is not None:
        query = query.where(outbox.c.topic == topic)
    engine = db.create_engine(database_url)
    try:
        async with engine.begin() as conn:
            return (await conn.execute(query.values(sent_at=None, sent_partition=None, sent_offset=None))).rowcount
    finally:
        await engine.dispose()
