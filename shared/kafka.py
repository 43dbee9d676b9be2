"""Kafka plumbing: CloudEvents binary-mode encoding, topic creation, the outbox relay and the
idempotent consumer loop with its dead-letter topic.

Delivery guarantees, end to end:
- A producer never publishes directly from a request handler. State and the event describing it
  are written in one database transaction (the outbox); ``OutboxRelay`` publishes afterwards and
  marks rows sent, so a broker outage delays events but never loses them.
- ``EventConsumer`` records each handled ``ce_id`` in the same transaction as the state change it
  made, and commits offsets only after that transaction, so a redelivered event changes nothing.
- A message that can never be applied (not a CloudEvent, unknown type, bad body, or refused by a
  handler with ``PoisonMessage``) goes to ``<topic>.dlq`` with the error in the ``x-error``
  header, and the consumer goes on with the next one. Any other failure is transient: the
  consumer keeps its place, backs off and retries the same record, and reports itself stalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import utcnow
from shared.db import is_sqlite
from shared.events import EVENT_TYPES, Event, dlq

log = structlog.get_logger(__name__)
_JSON = JSONFormat()

EVENTS_CONSUMED = Counter("xiaoer_events_consumed_total", "Events handled", ["consumer", "outcome"])
EVENTS_PUBLISHED = Counter("xiaoer_events_published_total", "Events published by the outbox relay", ["topic"])
CONSUMER_TRANSIENT_FAILURES = Counter(
    "xiaoer_consumer_transient_failures_total", "Records retried after a transient failure", ["consumer"]
)
CONSUMER_STALLED = Gauge(
    "xiaoer_consumer_stalled", "1 while a consumer retries a record after a transient failure", ["consumer"]
)


# --- CloudEvents ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str | None
    headers: dict[str, str]
    value: bytes


def encode(
    event: Event,
    *,
    topic: str,
    source: str,
    subject: str | None = None,
    key: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> OutgoingMessage:
    """One CloudEvent in Kafka binary mode: attributes as ``ce_*`` headers, the model as JSON."""
    attributes: dict[str, Any] = {
        "id": event_id or str(uuid.uuid4()),
        "type": event.ce_type,
        "source": source,
        "time": time or utcnow(),
        "datacontenttype": "application/json",
    }
    if subject:
        attributes["subject"] = subject
    message = to_binary(CloudEvent(attributes, event.model_dump(mode="json")), _JSON)
    headers = {name: value.decode() for name, value in message.headers.items()}
    return OutgoingMessage(topic, key, headers, message.value)


@dataclass(frozen=True)
class ReceivedEvent:
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    data: Event
    record: ConsumerRecord = field(repr=False)


class PoisonMessage(Exception):
    """A message that no retry can fix: not a CloudEvent, an unknown type, or a bad body."""


def decode(record: ConsumerRecord) -> ReceivedEvent:
    headers = {name: value for name, value in (record.headers or ()) if value is not None}
    if "ce_id" not in headers or "ce_type" not in headers:
        raise PoisonMessage("not a CloudEvent in binary mode: ce_id or ce_type header missing")
    try:
        cloud_event = from_binary(KafkaMessage(headers, record.key, record.value or b""), _JSON)
    except Exception as exc:  # the SDK raises several kinds for malformed attributes or JSON
        raise PoisonMessage(f"malformed CloudEvent: {exc}") from exc
    ce_type = cloud_event.get_type()
    if ce_type not in EVENT_TYPES:
        raise PoisonMessage(f"unknown event type {ce_type!r}")
    try:
        data = EVENT_TYPES[ce_type].model_validate(cloud_event.get_data())
    except ValidationError as exc:
        raise PoisonMessage(f"{ce_type} body does not match its schema: {exc}") from exc
    return ReceivedEvent(
        id=cloud_event.get_id(),
        type=ce_type,
        source=cloud_event.get_source(),
        subject=cloud_event.get_subject(),
        time=cloud_event.get_time(),
        data=data,
        record=record,
    )


# --- Topics -----------------------------------------------------------------------------------
async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int, replication: int = 1) -> None:
    """Creates the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(topics) - existing)
        if missing:
            await admin.create_topics([NewTopic(t, partitions, replication) for t in missing])
            log.info("topics.created", topics=missing)
    finally:
        await admin.close()


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    # acks=all: a send counts only once every in-sync replica has it. The idempotent producer
    # would be better still but Tansu cannot grant producer ids; consumers dedupe by ce_id anyway.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        compression_type="gzip",
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


# --- Outbox -------------------------------------------------------------------------------------
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
            await session.execute(insert(self.table), rows)


class OutboxRelay:
    """Publishes outbox rows in id order and marks them sent. Several relays may run against one
    PostgreSQL database: rows are claimed with ``FOR UPDATE SKIP LOCKED``."""

    def __init__(
        self,
        *,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        bootstrap: str,
        poll_seconds: float,
        batch_size: int,
    ) -> None:
        self.name = name
        self.sessions = sessions
        self.outbox = outbox
        self.bootstrap = bootstrap
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.wakeup = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None

    def notify(self) -> None:
        """Called after a commit that added outbox rows, so they go out without waiting a poll."""
        self.wakeup.set()

    async def run(self) -> None:
        backoff = self.poll_seconds
        try:
            while True:
                try:
                    sent = await self.relay_once()
                    backoff = self.poll_seconds
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker or database away: keep the rows, try again later
                    log.warning("outbox.relay_failed", relay=self.name, error=str(exc))
                    await self._drop_producer()
                    sent = 0
                    backoff = min(backoff * 2, 10.0)
                if sent < self.batch_size:
                    self.wakeup.clear()
                    try:
                        await asyncio.wait_for(self.wakeup.wait(), timeout=backoff)
                    except TimeoutError:
                        pass
        finally:
            await self._drop_producer()

    async def relay_once(self) -> int:
        producer = await self._get_producer()
        async with self.sessions() as session, session.begin():
            query = select(self.outbox).where(self.outbox.c.sent_at.is_(None)).order_by(self.outbox.c.id)
            query = query.limit(self.batch_size)
            if not is_sqlite(str(session.bind.url)):
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).mappings().all()
            if not rows:
                return 0
            # Send the whole batch, then wait for every acknowledgement; per-key order holds
            # because one producer sends to one partition per key in order.
            futures = []
            for row in rows:
                headers = json.loads(row["headers"])
                futures.append(
                    await producer.send(
                        row["topic"],
                        row["value"].encode(),
                        key=row["key"].encode() if row["key"] else None,
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                )
            await asyncio.gather(*futures)
            await session.execute(
                update(self.outbox).where(self.outbox.c.id.in_([row["id"] for row in rows])).values(sent_at=utcnow())
            )
        for row in rows:
            EVENTS_PUBLISHED.labels(row["topic"]).inc()
        return len(rows)

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self.bootstrap)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await producer.stop()
            except Exception:  # already broken; nothing more to do with it
                pass


# --- Consumer -----------------------------------------------------------------------------------
Handler = Callable[[AsyncSession, ReceivedEvent], Awaitable[None]]


class NotYetKnown(Exception):
    """The event refers to something this service has not seen yet, which another topic (read by
    another consumer, so in no guaranteed order) will bring: retried like any transient failure,
    never dead-lettered."""


class EventConsumer:
    """Consumes topics in a consumer group and applies each event exactly once to the database.

    ``handlers`` maps ``ce_type`` to a coroutine run inside the transaction that also records the
    event id; types with no handler are recorded and skipped (a consumer reads only what it
    needs). Offsets are committed after the batch's transactions, never before.

    Failures come in two kinds. A ``PoisonMessage`` (from ``decode`` or a handler) can never be
    applied: it goes to the DLQ and the consumer goes on. Anything else (database or broker away,
    timeouts, deadlocks, ``NotYetKnown``) is transient: the consumer seeks back to the first record
    not yet applied, backs off and tries that record again until it goes through, reporting itself
    stalled (``stalled``, ``last_error``, the ``xiaoer_consumer_stalled`` gauge) meanwhile.
    """

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        group_id: str,
        bootstrap: str,
        sessions: async_sessionmaker[AsyncSession],
        processed: Table,
        handlers: dict[str, Handler],
        after_commit: Callable[[], None] | None = None,
        initial_backoff: float = 0.2,
        max_backoff: float = 10.0,
    ) -> None:
        self.name = name
        self.topics = topics
        self.group_id = group_id
        self.bootstrap = bootstrap
        self.sessions = sessions
        self.processed = processed
        self.handlers = handlers
        self.after_commit = after_commit
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.ready = asyncio.Event()  # set once partitions are assigned
        self.stalled = False  # True from a transient failure until the record it hit is applied
        self.last_error: str | None = None
        self._stuck_at: tuple[TopicPartition, int] | None = None  # the record that failed, if known
        self._failures = 0  # consecutive transient failures: the backoff's exponent
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        CONSUMER_STALLED.labels(name).set(0)

    @property
    def healthy(self) -> bool:
        return not self.stalled

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset of ``partition`` (None before anything is committed)."""
        assert self._consumer is not None, "the consumer is not running"
        return await self._consumer.committed(partition)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=200,
        )
        self._consumer = consumer
        self._producer = new_producer(self.bootstrap)
        await consumer.start()
        await self._producer.start()
        try:
            while True:
                try:
                    await self._poll_once(consumer)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # whatever it is, the task lives on: back off, try again
                    await self._back_off(exc)
        finally:
            CONSUMER_STALLED.labels(self.name).set(0)
            await consumer.stop()
            await self._producer.stop()

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        batch = await consumer.getmany(timeout_ms=500)
        if consumer.assignment():
            self.ready.set()
        # Where each partition must be read from again if this batch stops early: its first
        # record not yet applied (or dead-lettered). getmany has already moved the fetch positions
        # past the whole batch, so without a seek back the rest would be skipped for good.
        resume_at = {tp: records[0].offset for tp, records in batch.items()}
        try:
            for tp, records in batch.items():
                if tp not in consumer.assignment():
                    del resume_at[tp]
                    continue  # revoked by a rebalance: its new owner reads these again
                for record in records:
                    await self._apply(record)
                    resume_at[tp] = record.offset + 1
                await self._commit(consumer, tp, resume_at.pop(tp))
        except Exception:
            # Partitions are handled in order: the first one left is where it failed.
            self._stuck_at = next(iter(resume_at.items()), None)
            await self._keep_place(consumer, resume_at, batch)
            raise
        self._note_progress(consumer, batch)

    async def _apply(self, record: ConsumerRecord) -> None:
        """Applies one record or dead-letters it if it is poison; any other error propagates."""
        try:
            outcome = await self.handle(record)
        except PoisonMessage as exc:
            await self._dead_letter(record, str(exc))  # if this send fails, that is transient too
            outcome = "dead_letter"
        EVENTS_CONSUMED.labels(self.name, outcome).inc()

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # The partition moved during the batch. Its new owner re-reads from the last
            # committed offset; processed_events makes that redelivery change nothing.
            log.info("consumer.commit_skipped_rebalance", consumer=self.name, partition=str(tp), error=repr(exc))

    async def _keep_place(self, consumer: AIOKafkaConsumer, resume_at: dict[TopicPartition, int], batch: dict) -> None:
        """After a failure: commit what the failing partition did apply (so dead letters are not
        sent twice), and seek every unfinished partition back to its first unapplied record."""
        for tp, offset in resume_at.items():
            if offset > batch[tp][0].offset:
                with contextlib.suppress(Exception):  # best effort: re-reading is harmless anyway
                    await consumer.commit({tp: offset})
            try:
                consumer.seek(tp, offset)
            except IllegalStateError:
                pass  # no longer ours: its new owner starts from the last committed offset

    async def _back_off(self, exc: Exception) -> None:
        self._failures += 1
        delay = min(self.max_backoff, self.initial_backoff * 2 ** (self._failures - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: instances hit by one outage do not retry in step
        self.stalled = True
        self.last_error = f"{type(exc).__name__}: {exc}"
        CONSUMER_STALLED.labels(self.name).set(1)
        CONSUMER_TRANSIENT_FAILURES.labels(self.name).inc()
        log.warning(
            "consumer.transient_failure",
            consumer=self.name,
            partition=f"{self._stuck_at[0].topic}-{self._stuck_at[0].partition}" if self._stuck_at else None,
            offset=self._stuck_at[1] if self._stuck_at else None,
            failures=self._failures,
            error=self.last_error,
            retry_in=round(delay, 2),
        )
        await asyncio.sleep(delay)

    def _note_progress(self, consumer: AIOKafkaConsumer, batch: dict) -> None:
        """A batch went through. The consumer has recovered once the record it was stuck on has
        been applied: its partition came back in a batch, or is no longer this consumer's."""
        if not self.stalled:
            return
        stuck = self._stuck_at[0] if self._stuck_at else None
        if stuck is not None and stuck in consumer.assignment() and stuck not in batch:
            return  # not read again yet (the broker may be away too)
        log.info("consumer.recovered", consumer=self.name, failures=self._failures)
        self.stalled = False
        self.last_error = None
        self._stuck_at = None
        self._failures = 0
        CONSUMER_STALLED.labels(self.name).set(0)

    async def handle(self, record: ConsumerRecord) -> str:
        received = decode(record)
        handler = self.handlers.get(received.type)
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    insert(self.processed).values(consumer=self.name, event_id=received.id, processed_at=utcnow())
                )
                if handler is not None:
                    await handler(session, received)
        except IntegrityError:
            if await self._already_processed(received.id):
                return "duplicate"
            raise
        if self.after_commit is not None:
            self.after_commit()
        return "handled" if handler else "ignored"

    async def _already_processed(self, event_id: str) -> bool:
        async with self.sessions() as session:
            found = await session.execute(
                select(self.processed.c.id).where(
                    self.processed.c.consumer == self.name, self.processed.c.event_id == event_id
                )
            )
            return found.first() is not None

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        log.error("consumer.dead_letter", consumer=self.name, topic=record.topic, offset=record.offset, error=error)
        headers = [
            *list(record.headers or ()),
            ("x-error", error[:4000].encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-consumer", self.name.encode()),
        ]
        assert self._producer is not None
        await self._producer.send_and_wait(dlq(record.topic), record.value, key=record.key, headers=headers)


async def ping(bootstrap: str) -> None:
    """Raises unless the broker answers a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), timeout=3)
        await asyncio.wait_for(admin.list_topics(), timeout=3)
    finally:
        await admin.close()
