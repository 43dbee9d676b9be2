"""The apply-once core: an event's handler runs in the transaction that records its ``ce_id``, so
a redelivered event changes nothing. Knows nothing of polling or offsets (``consumer`` does): it
takes records and a session factory, so a test can give it records made by hand."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiokafka import ConsumerRecord
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import db, tracing
from shared.clock import utcnow
from shared.messaging.encoding import PoisonMessage, ReceivedEvent, decode
from shared.messaging.outbox import wrote_outbox

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, ReceivedEvent], Awaitable[None]]


@dataclass(frozen=True)
class BatchHandler:
    """A handler given every event it handles that comes in a row in one fetched batch, in order,
    in the batch's transaction: it can write their rows with one statement each instead of
    several per event (the router routing a backlog of submissions, intake's timeline entries).
    Register the same instance for several types to be given runs of them all. A single event
    comes as a list of one."""

    apply: Callable[[AsyncSession, list[ReceivedEvent]], Awaitable[None]]


class NotYetKnown(Exception):
    """The event refers to something this service has not seen yet, which another topic (read by
    another consumer, so in no guaranteed order) will bring: retried like any transient failure,
    never dead-lettered."""


class EventApplier:
    """Applies events once: ``handlers`` maps ``ce_type`` to a coroutine (or a ``BatchHandler``)
    run inside the transaction that also records the event id in ``processed`` (unique per
    consumer name and event id); types with no handler are recorded and skipped (a consumer reads
    only what it needs). ``after_commit`` is called after a commit that added outbox rows (the
    relay's wake-up); a batch that only updated a read model wakes nothing."""

    def __init__(
        self,
        *,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        processed: Table,
        handlers: dict[str, Handler | BatchHandler],
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.sessions = sessions
        self.processed = processed
        self.handlers = handlers
        self.after_commit = after_commit

    async def apply_together(self, records: list[ConsumerRecord]) -> list[str] | None:
        """Applies a partition's fetched records in one transaction: one commit (and one relay
        wake-up) for the lot instead of one per event. Events already processed (a redelivery)
        are skipped by id. All or nothing: if anything fails — a record that is not a CloudEvent,
        a handler refusing one (``PoisonMessage``), or anything transient — nothing of the batch
        is kept and None says so; the caller then applies the records one by one (``apply_one``),
        which tells exactly the poison ones and stops at exactly the record a transient failure
        is about. Otherwise the outcome of each record, in order."""
        if len(records) < 2 or tracing.enabled():  # traced: one span per event (shared/tracing.py)
            return None
        try:
            received = [decode(record) for record in records]
        except PoisonMessage:
            return None
        outcomes: list[str] = []
        try:
            async with self.sessions() as session, session.begin():
                # Recorded and told apart from those processed before in one statement.
                now = utcnow()
                rows = [{"consumer": self.name, "event_id": e.id, "processed_at": now} for e in received]
                new = {
                    event_id
                    for _, event_id in await db.insert_new(session, self.processed, rows, ["consumer", "event_id"])
                }
                fresh: list[ReceivedEvent] = []
                for event in received:
                    if event.id in new:
                        new.discard(event.id)  # the same event twice in one batch: applied once
                        fresh.append(event)
                    else:
                        outcomes.append("duplicate")
                outcomes += await self._run_handlers(session, fresh)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one by one, each failure gets its usual treatment
            log.info("consumer.batch_retried_one_by_one", consumer=self.name, records=len(records), error=repr(exc))
            return None
        self._after(session)
        return outcomes

    async def apply_one(self, record: ConsumerRecord) -> str:
        """Applies one record in its own transaction: "handled", "ignored" (no handler) or
        "duplicate" (applied before). Raises ``PoisonMessage`` for a record that can never be
        applied, anything else for a transient failure."""
        received = decode(record)
        headers = {name: value.decode() for name, value in record.headers or () if value is not None}
        try:
            with tracing.consuming(received.type, headers, self.name):
                async with self.sessions() as session, session.begin():
                    await session.execute(
                        insert(self.processed).values(consumer=self.name, event_id=received.id, processed_at=utcnow())
                    )
                    [outcome] = await self._run_handlers(session, [received])
        except IntegrityError:
            if await self._already_processed(received.id):
                return "duplicate"
            raise
        self._after(session)
        return outcome

    async def _run_handlers(self, session: AsyncSession, received: list[ReceivedEvent]) -> list[str]:
        """Runs each event's handler in order (a ``BatchHandler`` once for each run of events it
        handles); the outcome of each event."""
        outcomes: list[str] = []
        for handler, run in itertools.groupby(received, key=lambda event: self.handlers.get(event.type)):
            in_a_row = list(run)
            if isinstance(handler, BatchHandler):
                await handler.apply(session, in_a_row)
            elif handler is not None:
                for event in in_a_row:
                    await handler(session, event)
            outcomes += ["handled" if handler else "ignored"] * len(in_a_row)
        return outcomes

    def _after(self, session: AsyncSession) -> None:
        if self.after_commit is not None and wrote_outbox(session):
            self.after_commit()

    async def _already_processed(self, event_id: str) -> bool:
        async with self.sessions() as session:
            found = await session.execute(
                select(self.processed.c.id).where(
                    self.processed.c.consumer == self.name, self.processed.c.event_id == event_id
                )
            )
            return found.first() is not None
