"""Partitions added to a topic while a consumer reads it are read too, without a restart.
``EventConsumer`` subscribes by pattern and refreshes metadata every ``metadata_max_age_ms`` (5 s);
aiokafka then sees the topic grow and rejoins the group, but Tansu 0.6 answers a member that rejoins
unchanged with its old assignment (a formed group's SyncGroup ignores the leader's new one), so the
consumer joins afresh as a new member when a topic it reads grows (``_partitions_grew``).

The test broker (Tansu 0.6) has no CreatePartitions (Kafka API 37: not in its ApiVersions answer,
and a request for it closes the connection), so there a topic grows the only way it can: deleted
and created again with more partitions while the consumer runs. On Apache Kafka,
``kafka-topics.sh --alter --partitions`` grows a topic in place; the consumer's path is the same.
A topic re-created under a consumer also starts its partitions again from offset 0: a place the
consumer holds past a partition's new end is read from the start (``_reset_places_past_end``).

The consumer is a runtime of its own on a fresh topic of the session's broker (tests/faults/test_faults.py's
harness), as tests/messaging/test_dlq.py uses it.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from prometheus_client import REGISTRY

from shared.messaging.broker import new_producer
from shared.messaging.encoding import encode
from tests.support import eventually, numbered_event
from tests.support.consumers import at_least, own_consumer, record_applied

pytestmark = pytest.mark.faults

GROWN = 6  # partitions after growing; the harness creates the topic with 3
# A metadata refresh (5 s) and a rebalance (about 5 s on Tansu) with room to spare on a busy machine.
NEW_PARTITION_WAIT = 60


async def _send(producer, topic: str, seq: int, partition: int) -> int:
    """One event to ``partition``; its offset."""
    message = encode(
        numbered_event(seq),
        topic=topic,
        source="/tests/new-partitions",
    )
    sent = await producer.send_and_wait(
        topic,
        message.value,
        key=f"k{seq}".encode(),
        partition=partition,
        headers=message.kafka_headers(),
    )
    return sent.offset


async def _send_afresh(bootstrap: str, topic: str, seq: int, partition: int) -> int:
    """``_send`` with a producer of its own: one that knows the topic with fewer partitions refuses
    to send to one it does not know rather than refreshing its metadata."""
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        return await _send(producer, topic, seq, partition)
    finally:
        await producer.stop()


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    return admin


async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> int:
    """How many partitions ``topic`` has (0: none). Read from all topics' metadata: asking for one
    topic by name would make Tansu create it (see shared.messaging.topics.TopicKeeper)."""
    described = {t["topic"]: t for t in await admin.describe_topics() if not t["error_code"]}
    return len(described[topic]["partitions"]) if topic in described else 0


async def _reads_new_partition(h, producer, grow) -> float:
    """Runs ``grow`` (the topic to GROWN partitions) under a running consumer, sends one event to
    the last new partition and waits for it to be applied; the seconds that took."""
    await _send(producer, h.topic, 0, partition=0)
    await eventually(lambda: at_least(h.applied, 1), timeout=30)  # the consumer runs and reads
    # Its place committed before the topic goes: a commit on its way could land on the new topic
    # (the last test's case, not this one's).
    await eventually(lambda: _committed_past(h.consumer, TopicPartition(h.topic, 0), 0), timeout=10)

    rejoins_before = _rejoins(h.consumer.name)
    await grow()
    new = TopicPartition(h.topic, GROWN - 1)
    started = time.monotonic()
    offset = await _send_afresh(h.bootstrap, h.topic, 1, partition=new.partition)

    applied = await eventually(lambda: at_least(h.applied, 2), timeout=NEW_PARTITION_WAIT)
    took = time.monotonic() - started
    assert [seq for _, seq in applied] == [0, 1]
    committed = await eventually(lambda: _committed_past(h.consumer, new, offset), timeout=10)
    assert committed == offset + 1  # read by the group, and its place kept
    # Through the consumer's own rejoin, not by luck of a rebalance (Tansu would keep the old assignment).
    assert _rejoins(h.consumer.name) > rejoins_before
    return took


def _rejoins(consumer: str) -> float:
    labels = {"consumer": consumer, "reason": "partitions_added"}
    return REGISTRY.get_sample_value("xiaoer_consumer_rejoins_total", labels) or 0


async def _committed_past(consumer, tp: TopicPartition, offset: int) -> int | None:
    committed = await consumer.committed(tp)
    return committed if committed is not None and committed > offset else None


async def test_a_topic_re_created_with_more_partitions_is_read_on_all_of_them(broker, producer, tmp_path):
    async with own_consumer(broker, tmp_path, record_applied) as h:
        admin = await _admin(broker.bootstrap)

        async def re_create() -> None:
            async def grown() -> bool:
                # The runtime's topic keeper may put the topic back (3 partitions) between the two
                # requests: then again.
                await admin.delete_topics([h.topic])
                await eventually(lambda: _absent(admin, h.topic), timeout=10)
                await admin.create_topics([NewTopic(h.topic, GROWN, 1)])
                return await _partitions(admin, h.topic) == GROWN

            await eventually(grown, timeout=30)

        try:
            took = await _reads_new_partition(h, producer, re_create)
        finally:
            await admin.close()
        print(f"\n[new-partitions] re-created topic: event on a new partition applied in {took:.1f}s")

        # The old partitions start again from offset 0, and the group's places in them went with the
        # topic (Tansu drops them): read from the start, nothing skipped.
        assert await _send_afresh(h.bootstrap, h.topic, 2, partition=0) == 0
        applied = await eventually(lambda: at_least(h.applied, 3), timeout=30)
        assert [seq for _, seq in applied] == [0, 1, 2]


async def _absent(admin: AIOKafkaAdminClient, topic: str) -> bool:
    return await _partitions(admin, topic) == 0


async def test_a_place_past_a_re_created_topic_s_end_is_read_from_its_start(broker, producer, tmp_path):
    """The topic re-created under a consumer that holds its place 3 in partition 0 (kept by the
    member, or a commit on its way landing on the new topic): the new log's records start at 0.
    Kafka answers a fetch past the end with OFFSET_OUT_OF_RANGE and the client starts afresh; Tansu
    answers with nothing, so the consumer sees the place past the end itself and reads from the
    start. Without that, the first three records of the new log would never be read."""
    async with own_consumer(broker, tmp_path, record_applied) as h:
        first = TopicPartition(h.topic, 0)
        for seq in range(3):
            await _send(producer, h.topic, seq, partition=first.partition)
        await eventually(lambda: at_least(h.applied, 3), timeout=30)
        await eventually(lambda: _committed_past(h.consumer, first, 2), timeout=10)
        resets_before = _resets(h.consumer.name)

        admin = await _admin(broker.bootstrap)
        try:

            async def re_created() -> bool:
                # Created by this test or by the runtime's topic keeper, whichever is first.
                if not await _partitions(admin, h.topic):
                    with contextlib.suppress(TopicAlreadyExistsError):
                        await admin.create_topics([NewTopic(h.topic, 3, 1)])
                    return False
                return await _end_offset(h.bootstrap, first) == 0

            await admin.delete_topics([h.topic])
            await eventually(re_created, timeout=30)
        finally:
            await admin.close()

        # The consumer has seen its place past the new end and read the partition from the start;
        # then a record for the new log, at its offset 0.
        await eventually(lambda: _resets(h.consumer.name) > resets_before, timeout=30)
        # The group keeps the new place at once (Tansu dropped the old one with the old topic): a
        # member that took the partition over now would start where this one does.
        assert await eventually(lambda: _committed_at(h.consumer, first, 0), timeout=10)
        assert await _send_afresh(h.bootstrap, h.topic, 3, partition=first.partition) == 0
        applied = await eventually(lambda: at_least(h.applied, 4), timeout=30)
        assert [seq for _, seq in applied] == [0, 1, 2, 3]


async def _committed_at(consumer, tp: TopicPartition, offset: int) -> bool:
    return await consumer.committed(tp) == offset


def _resets(consumer: str) -> float:
    return REGISTRY.get_sample_value("xiaoer_consumer_places_reset_total", {"consumer": consumer}) or 0


async def _end_offset(bootstrap: str, tp: TopicPartition) -> int:
    """The partition's end as its leader says now, asked by a client of its own (no group)."""
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await client.start()
    try:
        return (await client.end_offsets([tp]))[tp]
    finally:
        await client.stop()
