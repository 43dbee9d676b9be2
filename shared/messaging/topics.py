"""Topics exist with the configured partitions before anything uses them (``TopicKeeper``)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from shared.messaging.broker import BrokerAccess

log = structlog.get_logger(__name__)


class TopicKeeper:
    """Creates the topics that are missing, with the configured partitions, before anything uses
    them. A client that asks the broker for one named topic's metadata (a producer about to send,
    a consumer subscribed by name) makes a broker with auto-creation create it with the broker's
    own default partition count (Tansu: 4), which silently changes which partition a key lands
    on. So topics are looked up by a metadata request that forbids auto-creation
    (``allow_auto_topic_creation=False``, Metadata v4+, honoured by Kafka and Tansu) and created
    here; consumers subscribe by pattern for the same reason. The lookup names only the topics
    asked about: the relay asks before every batch, and an all-topics request (what
    ``describe_topics()`` sends) cost several times as much CPU, growing with every unit's
    inbox (docs/benchmarks.md)."""

    def __init__(self, broker: BrokerAccess | str, partitions: int, replication: int = 1) -> None:
        self.broker = BrokerAccess.of(broker)
        self.partitions = partitions
        self.replication = replication
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._warned: set[str] = set()
        self.partition_counts: dict[str, int] = {}  # of the topics looked up: as the broker last said

    async def ensure(self, topics: Iterable[str]) -> list[str]:
        """Creates those of ``topics`` the broker does not have; returns their names."""
        wanted = set(topics)
        if not wanted:
            return []
        try:
            admin = await self._admin_client()
            lookup = MetadataRequest(sorted(wanted), allow_auto_topic_creation=False)
            answer = await admin._send_request(lookup)  # aiokafka has no public form of this request
            if answer.API_VERSION < 4:  # the flag exists from v4 (Kafka 1.0); Tansu and Kafka 3/4 speak it
                raise KafkaError("the broker is too old to look topics up without creating them (Metadata < v4)")
            described = answer.to_object()["topics"]
            existing = {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}
            missing = sorted(wanted - set(existing))
            if missing:
                # A topic created meanwhile by another process answers TOPIC_ALREADY_EXISTS: fine.
                # Any other answer (no Create grant on a broker with ACLs, say) is an error: aiokafka
                # returns it per topic rather than raising it.
                response = await admin.create_topics([NewTopic(t, self.partitions, self.replication) for t in missing])
                refused = [
                    f"{topic} (error {code})"
                    for topic, code, *_message in response.topic_errors
                    if code not in (0, TopicAlreadyExistsError.errno)
                ]
                if refused:
                    raise KafkaError(f"the broker refused to create topics: {', '.join(refused)}")
                log.info("topics.created", topics=missing, partitions=self.partitions)
            self.partition_counts |= existing | dict.fromkeys(missing, self.partitions)
        except BaseException:
            await self.close()
            raise
        for topic in sorted(wanted & set(existing)):
            if existing[topic] != self.partitions and topic not in self._warned:
                self._warned.add(topic)
                log.warning(
                    "topics.partitions_differ", topic=topic, partitions=existing[topic], configured=self.partitions
                )
        return missing

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset the next record of each partition will get, as the broker says now. Call
        ``ensure`` for their topics first: a partition the topic does not have (re-created
        smaller) answers 0, and no topic is created by asking."""
        asked = list(partitions)
        there = [tp for tp in asked if tp.partition < self.partition_counts.get(tp.topic, 0)]
        ends = dict.fromkeys(asked, 0)
        if there:
            try:
                if self._offsets is None:
                    consumer = AIOKafkaConsumer(**self.broker.client_options(), request_timeout_ms=10_000)
                    await consumer.start()
                    self._offsets = consumer
                ends |= await self._offsets.end_offsets(there)
            except BaseException:
                await self.close()
                raise
        return ends

    async def records_at(
        self, positions: dict[TopicPartition, int], wait_seconds: float = 5.0
    ) -> dict[TopicPartition, ConsumerRecord]:
        """The record at each given offset that the broker still has (absent from the answer: it
        has none there). The embedded broker reports a partition's end as the first offset of its
        last batch + 1, so an end offset alone cannot tell whether a record is there."""
        wanted = {
            tp: offset for tp, offset in positions.items() if tp.partition < self.partition_counts.get(tp.topic, 0)
        }
        if not wanted:
            return {}
        consumer = AIOKafkaConsumer(
            **self.broker.client_options(),
            enable_auto_commit=False,
            auto_offset_reset="latest",
            request_timeout_ms=10_000,
        )
        await consumer.start()
        try:
            consumer.assign(list(wanted))
            for tp, offset in wanted.items():
                consumer.seek(tp, offset)
            found: dict[TopicPartition, ConsumerRecord] = {}
            pending, deadline = set(wanted), time.monotonic() + wait_seconds
            while pending and time.monotonic() < deadline:
                for tp, records in (await consumer.getmany(*pending, timeout_ms=250)).items():
                    found.update((tp, r) for r in records if r.offset == wanted[tp])
                    if records:  # what comes first from there on is the record, or it is gone
                        pending.discard(tp)
            return found
        finally:
            await consumer.stop()

    async def _admin_client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**self.broker.client_options(), request_timeout_ms=10_000)
            try:
                await admin.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await admin.close()
                raise
            self._admin = admin
        return self._admin

    async def close(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()
        if self._offsets is not None:
            consumer, self._offsets = self._offsets, None
            with contextlib.suppress(Exception):
                await consumer.stop()


async def ensure_topics(
    broker: BrokerAccess | str, topics: Iterable[str], partitions: int, replication: int = 1
) -> None:
    """Creates the topics that do not exist yet; existing ones are left as they are."""
    keeper = TopicKeeper(broker, partitions, replication)
    try:
        await keeper.ensure(topics)
    finally:
        await keeper.close()


def subscription_pattern(topics: Iterable[str]) -> str:
    """A regular expression matching exactly ``topics``: a pattern subscription reads all-topics
    metadata, so a missing topic is not auto-created by the consumer at the broker's defaults."""
    return "^(?:" + "|".join(re.escape(t) for t in sorted(set(topics))) + ")$"
