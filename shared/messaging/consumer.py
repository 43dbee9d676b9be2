"""``EventConsumer``: reads topics in a consumer group, hands each fetched batch to the apply-once
core (``applying.EventApplier``), commits offsets after it, and keeps its place through failures."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging import dead_letters
from shared.messaging.applying import BatchHandler, EventApplier, Handler
from shared.messaging.broker import BrokerAccess, new_producer
from shared.messaging.encoding import PoisonMessage
from shared.messaging.metrics import (
    CONSUMER_LAG,
    CONSUMER_PLACES_RESET,
    CONSUMER_REJOINS,
    CONSUMER_STALLED,
    CONSUMER_TRANSIENT_FAILURES,
    EVENTS_CONSUMED,
)
from shared.messaging.topics import TopicKeeper, subscription_pattern

log = structlog.get_logger(__name__)

# The most records one poll hands over, all partitions together (aiokafka's default: all it has
# fetched; each partition's share is also bounded by its 1 MiB fetch). Each partition's share is
# applied in one transaction and committed once (one transaction per record if the batch fails).
# 1,000, not the 200 used before: the notifier drained a backlog 12-23 % faster (docs/benchmarks.md,
# issue 28's eleventh pass). Every consumer has it: the router may route a backlog of up to 1,000
# requests (8,000 items) in one transaction. While keeping up, a poll holds only what arrived since
# the last one.
MAX_BATCH = 1000


class EventConsumer:
    """Consumes topics in a consumer group and applies each event exactly once to the database.

    ``handlers`` are given to the apply-once core (``applying.EventApplier``, see there). The
    records a fetch brings for one partition are applied in one transaction (``apply_together``),
    falling back to one transaction per record when any of them fails. Offsets are committed
    after the batch's transactions, never before.

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
        broker: BrokerAccess | str,
        sessions: async_sessionmaker[AsyncSession],
        processed: Table,
        handlers: dict[str, Handler | BatchHandler],
        after_commit: Callable[[], None] | None = None,
        initial_backoff: float = 0.2,
        max_backoff: float = 10.0,
        partitions: int = 3,
        replication: int = 1,
        metadata_max_age_ms: int = 5_000,
        assignment_grace: float = 15.0,
        reconnect_after: int = 5,
        fetch_max_wait_ms: int = 50,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
    ) -> None:
        self.name = name
        self.topics = topics
        # How long a fetch waits for records when there are none. Apache Kafka answers a waiting
        # fetch as soon as a record arrives; the embedded broker (Tansu) answers only when this
        # runs out, so aiokafka's default of 500 ms would add up to half a second to every hop.
        self.fetch_max_wait_ms = fetch_max_wait_ms
        # How soon the group notices a member gone without leaving (killed) and hands its
        # partitions to the others.
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.group_id = group_id
        self.broker = BrokerAccess.of(broker)
        self.applier = EventApplier(
            name=name, sessions=sessions, processed=processed, handlers=handlers, after_commit=after_commit
        )
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.metadata_max_age_ms = metadata_max_age_ms  # how soon new or re-created topics are seen
        self.assignment_grace = assignment_grace  # a rebalance may leave it without partitions this long
        self.reconnect_after = reconnect_after  # consecutive broker errors before a fresh consumer
        self.topic_keeper = TopicKeeper(self.broker, partitions, replication)  # for its DLQ topics
        self.ready = asyncio.Event()  # set once partitions are assigned
        self.stalled = False  # True from a transient failure until the record it hit is applied
        self.last_error: str | None = None
        self._stuck_at: tuple[TopicPartition, int] | None = None  # the record that failed, if known
        self._failures = 0  # consecutive transient failures: the backoff's exponent
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._covered_at = time.monotonic()  # last seen owning a partition of every topic it reads
        self._partition_counts: dict[str, int] = {}  # of the topics it reads: the most seen since connecting
        self.lag: dict[TopicPartition, int] = {}  # records behind, per owned partition
        self._assigned: set[TopicPartition] = set()  # the assignment last logged
        CONSUMER_STALLED.labels(name).set(0)

    @property
    def healthy(self) -> bool:
        return not self.stalled

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset of ``partition`` (None before anything is committed)."""
        assert self._consumer is not None, "the consumer is not running"
        return await self._consumer.committed(partition)

    def assignment_problem(self) -> str | None:
        """Why this consumer reads less than it should, or None: it never joined its group, or for
        longer than ``assignment_grace`` it has owned no partition of a topic it reads (the topic
        missing on the broker, or the group not settled). Runs with more members than a topic has
        partitions leave some without one: run at most as many as the topics' partitions."""
        consumer = self._consumer
        if consumer is None or not self.ready.is_set():
            return "not joined to its group yet"
        owned = {tp.topic for tp in consumer.assignment()}
        unowned = [t for t in self.topics if t not in owned]
        if not unowned or time.monotonic() - self._covered_at < self.assignment_grace:
            return None
        absent = [t for t in unowned if t not in consumer.subscription()]
        return f"owns no partition of {', '.join(unowned)}" + (
            f" (not on the broker: {', '.join(absent)})" if absent else ""
        )

    async def run(self) -> None:
        try:
            while True:
                consumer = await self._connect()
                try:
                    while True:
                        try:
                            await self._poll_once(consumer)
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:  # whatever it is, the task lives on: back off, try again
                            await self._back_off(exc)
                            if isinstance(exc, KafkaError) and self._failures % self.reconnect_after == 0:
                                # The broker keeps failing us: start afresh (a new connection and
                                # group membership; the committed offsets say where to resume).
                                log.warning("consumer.reconnecting", consumer=self.name, failures=self._failures)
                                CONSUMER_REJOINS.labels(self.name, "broker_errors").inc()
                                break
                        if self._partitions_grew(consumer):
                            # aiokafka sees it and rejoins, but Tansu (0.6) answers a member that rejoins
                            # unchanged with the old assignment: a new member makes the group assign afresh.
                            log.info("consumer.partitions_added", consumer=self.name)
                            CONSUMER_REJOINS.labels(self.name, "partitions_added").inc()
                            break
                finally:
                    await self._disconnect()
        finally:
            CONSUMER_STALLED.labels(self.name).set(0)
            await self.topic_keeper.close()

    def _partitions_grew(self, consumer: AIOKafkaConsumer) -> bool:
        """Whether a topic it reads has more partitions than it ever had since this consumer
        connected: partitions added, or the topic re-created larger (also when the consumer saw
        it gone in between: the largest count seen is kept, not the last)."""
        grew = False
        for topic in self.topics:
            now, before = len(consumer.partitions_for_topic(topic) or ()), self._partition_counts.get(topic, 0)
            grew = grew or 0 < before < now
            self._partition_counts[topic] = max(before, now)
        return grew

    async def _connect(self) -> AIOKafkaConsumer:
        """Starts a consumer and the DLQ producer, retrying with back-off while the broker is
        away (at start-up too): the task never ends for that, it reports itself stalled."""
        while True:
            consumer = AIOKafkaConsumer(
                **self.broker.client_options(),
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=MAX_BATCH,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                metadata_max_age_ms=self.metadata_max_age_ms,
                session_timeout_ms=self.session_timeout_ms,
                heartbeat_interval_ms=self.heartbeat_interval_ms,
                # Time for members to rejoin in a rebalance: one busy with a batch must not be
                # dropped for it (a dead member is gone after the session timeout anyway).
                rebalance_timeout_ms=max(10_000, self.session_timeout_ms),
            )
            self._consumer, self._producer = consumer, new_producer(self.broker)
            try:
                await consumer.start()
                # By pattern, not by name: see TopicKeeper. Re-created topics and added partitions
                # are seen at the next metadata refresh and rebalance the group.
                consumer.subscribe(pattern=subscription_pattern(self.topics))
                await self._producer.start()
                self._covered_at = time.monotonic()
                self._partition_counts = {}  # a new consumer's first look sets them
                return consumer
            except asyncio.CancelledError:
                await self._disconnect()
                raise
            except Exception as exc:
                await self._disconnect()
                await self._back_off(exc)

    async def _disconnect(self) -> None:
        consumer, producer = self._consumer, self._producer
        self._consumer = self._producer = None
        for client in (consumer, producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        batch = await consumer.getmany(timeout_ms=500)
        self._note_assignment(consumer)
        if consumer.assignment():
            self.ready.set()
        if {tp.topic for tp in consumer.assignment()} >= set(self.topics):
            self._covered_at = time.monotonic()
        # Where each partition must be read from again if this batch stops early: its first
        # record not yet applied (or dead-lettered). getmany has already moved the fetch positions
        # past the whole batch, so without a seek back the rest would be skipped for good.
        resume_at = {tp: records[0].offset for tp, records in batch.items()}
        try:
            for tp, records in batch.items():
                if tp not in consumer.assignment():
                    del resume_at[tp]
                    continue  # revoked by a rebalance: its new owner reads these again
                outcomes = await self.applier.apply_together(records)
                if outcomes is not None:
                    for outcome in outcomes:
                        EVENTS_CONSUMED.labels(self.name, outcome).inc()
                    resume_at[tp] = records[-1].offset + 1
                else:
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
        past_end = await self._measure_lag(consumer)
        await self._reset_places_past_end(consumer, past_end)

    def _note_assignment(self, consumer: AIOKafkaConsumer) -> None:
        """Logs the partitions this member owns whenever they change (a rebalance, a new consumer)."""
        assigned = set(consumer.assignment())
        if assigned != self._assigned:
            self._assigned = assigned
            log.info(
                "consumer.assigned",
                consumer=self.name,
                partitions=sorted(f"{tp.topic}-{tp.partition}" for tp in assigned),
            )

    async def _reset_places_past_end(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """A place past a partition's end means the log is not the one it was read in: the topic
        was re-created (or the broker came back empty) after this place was committed or reached,
        possibly by a commit still on its way. Everything in it is new: read it from the start.
        Apache Kafka answers a fetch past the end with OFFSET_OUT_OF_RANGE and aiokafka resets by
        itself (``auto_offset_reset``); Tansu answers with nothing, and the records that fill the
        new log up to the old place would be skipped for good."""
        for tp in partitions:
            try:
                # Asked again of the partition's leader: on Kafka a leader just elected may report
                # a high watermark behind for a moment (an empty fetch, no error), and a whole
                # partition read again for that would be a flood of redeliveries.
                end = (await consumer.end_offsets([tp]))[tp]
                place = await consumer.position(tp)
                if place <= end:
                    continue
                log.warning("consumer.place_past_end", consumer=self.name, partition=str(tp), place=place, end=end)
                CONSUMER_PLACES_RESET.labels(self.name).inc()
                await consumer.seek_to_beginning(tp)
                # Kept at once: until then the group's place is the old one, and a member that took
                # the partition over in a rebalance would start from there.
                await self._commit(consumer, tp, await consumer.position(tp))
            except IllegalStateError:
                continue  # no longer ours: its new owner starts from the group's place

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """How far behind each owned partition's end this consumer is, from what its fetches
        already told (no request of its own): ``xiaoer_consumer_lag`` and ``lag``. Returns the
        partitions whose place lies past that end (``_reset_places_past_end``)."""
        lag: dict[TopicPartition, int] = {}
        past_end = []
        for tp in consumer.assignment():
            # A rebalance may take partitions away while position() waits for a place being
            # looked up again (after a seek): their lag is their new owner's to tell.
            end = consumer.highwater(tp) if tp in consumer.assignment() else None
            if end is not None:
                try:
                    place = await consumer.position(tp)
                except IllegalStateError:
                    continue
                behind = end - place
                if behind < 0:
                    past_end.append(tp)
                lag[tp] = max(0, behind)
                CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(lag[tp])
        for gone in self.lag.keys() - lag.keys():  # moved to another member: its lag is theirs now
            CONSUMER_LAG.remove(self.name, gone.topic, str(gone.partition))
        self.lag = lag
        return past_end

    async def _apply(self, record: ConsumerRecord) -> None:
        """Applies one record or dead-letters it if it is poison; any other error propagates."""
        try:
            outcome = await self.applier.apply_one(record)
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

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        log.error("consumer.dead_letter", consumer=self.name, topic=record.topic, offset=record.offset, error=error)
        assert self._producer is not None
        await dead_letters.send(self._producer, self.topic_keeper, record, error, self.name)
