"""Dead letters: what a consumer can never apply goes to ``<topic>.dlq`` (``send``) with the
error beside it; operators read them (``dead_letters``) and send chosen ones back to the topic they
came from after a fix (``replay``, what ``xiaoer dlq`` does).

Replaying is safe to repeat because every consumer records the CloudEvents ``ce_id`` of what it
applied (``processed_events``): a replayed event that was applied before changes nothing. A
replayed dead letter keeps its key, value, ``ce_id`` and every original header; only the headers
the consumer added when dead-lettering it (``DEAD_LETTER_HEADERS``) are dropped, and
``x-replayed-from`` names the dead letter it came from.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import events
from shared.messaging.broker import BrokerAccess, new_producer
from shared.messaging.topics import TopicKeeper

log = structlog.get_logger(__name__)

# What a consumer adds to a message it dead-letters.
DEAD_LETTER_HEADERS = ("x-error", "x-original-topic", "x-original-partition", "x-original-offset", "x-consumer")


def dead_letter_headers(record: ConsumerRecord, error: str, consumer: str) -> list[tuple[str, bytes]]:
    """The record's own headers and why and where it was dead-lettered."""
    added = (error[:4000], record.topic, str(record.partition), str(record.offset), consumer)
    added_headers = [(name, value.encode()) for name, value in zip(DEAD_LETTER_HEADERS, added, strict=True)]
    return [*list(record.headers or ()), *added_headers]


async def send(
    producer: AIOKafkaProducer, topics: TopicKeeper, record: ConsumerRecord, error: str, consumer: str
) -> None:
    """Puts ``record`` on its topic's DLQ (created first: never auto-created at the broker's defaults)."""
    await topics.ensure([events.dlq(record.topic)])
    await producer.send_and_wait(
        events.dlq(record.topic), record.value, key=record.key, headers=dead_letter_headers(record, error, consumer)
    )


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the DLQ topic
    partition: int
    offset: int
    timestamp: datetime  # when it was dead-lettered
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def ref(self) -> str:
        """How an operator names it: ``<dlq topic>:<partition>:<offset>``."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name and value is not None:
                return value.decode(errors="replace")
        return None

    @property
    def ce_id(self) -> str | None:
        return self.header("ce_id")

    @property
    def ce_type(self) -> str | None:
        return self.header("ce_type")

    @property
    def error(self) -> str | None:
        return self.header("x-error")

    @property
    def original_topic(self) -> str:
        return self.header("x-original-topic") or self.topic.removesuffix(events.DLQ_SUFFIX)

    def replay_headers(self) -> list[tuple[str, bytes]]:
        kept = [(k, v) for k, v in self.headers if k not in DEAD_LETTER_HEADERS and k != "x-replayed-from"]
        return [*kept, ("x-replayed-from", self.ref.encode())]

    def summary(self) -> dict:
        return {
            "ref": self.ref,
            "dead_lettered_at": self.timestamp.isoformat(),
            "original_topic": self.original_topic,
            "ce_type": self.ce_type,
            "ce_id": self.ce_id,
            "consumer": self.header("x-consumer"),
            "error": self.error,
        }

    def details(self) -> dict:
        value = (self.value or b"").decode(errors="replace")
        try:
            body = json.loads(value)
        except ValueError:
            body = value
        return {
            **self.summary(),
            "key": self.key.decode(errors="replace") if self.key is not None else None,
            "headers": {k: (v.decode(errors="replace") if v is not None else None) for k, v in self.headers},
            "value": body,
        }


@dataclass(frozen=True)
class DeadLetterFilter:
    topic: str | None = None  # the original topic or its DLQ
    ce_type: str | None = None
    since: datetime | None = None
    refs: tuple[str, ...] = ()  # ``<dlq topic>:<partition>:<offset>`` or a ce_id

    def dlq_topics(self, all_topics: Iterable[str]) -> list[str]:
        dlqs = sorted(t for t in all_topics if events.is_dlq(t))
        if self.topic:
            wanted = self.topic if events.is_dlq(self.topic) else events.dlq(self.topic)
            dlqs = [t for t in dlqs if t == wanted]
        if self.refs and all(_is_ref(r) for r in self.refs):
            named = {r.rsplit(":", 2)[0] for r in self.refs}
            dlqs = [t for t in dlqs if t in named]
        return dlqs

    def matches(self, letter: DeadLetter) -> bool:
        if self.ce_type and letter.ce_type != self.ce_type:
            return False
        if self.since and letter.timestamp < self.since:
            return False
        return not self.refs or letter.ref in self.refs or letter.ce_id in self.refs


def _is_ref(text: str) -> bool:
    parts = text.rsplit(":", 2)
    return len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit()


async def dead_letters(
    broker: BrokerAccess | str, selection: DeadLetterFilter = DeadLetterFilter()
) -> list[DeadLetter]:
    """The dead letters that match, oldest first per DLQ topic: every DLQ topic read from its
    beginning to the end it had when reading started (no consumer group, nothing committed)."""
    described = await _dlq_topics(broker, selection)
    partitions = [
        TopicPartition(topic, p["partition"])
        for topic in selection.dlq_topics(described)
        for p in described[topic]["partitions"]
    ]
    letters = [letter for letter in await _read(broker, partitions) if selection.matches(letter)]
    return sorted(letters, key=lambda d: (d.topic, d.timestamp, d.partition, d.offset))


async def _dlq_topics(broker: BrokerAccess | str, selection: DeadLetterFilter, attempts: int = 5) -> dict[str, dict]:
    """The selected DLQ topics' metadata, from all topics' (which DLQs exist is what is asked).
    A topic the broker reports with an error (no leader yet, say) is asked about again and,
    if it stays so, named in an error: a listing must never leave a DLQ out without saying so."""
    admin = AIOKafkaAdminClient(**BrokerAccess.of(broker).client_options(), request_timeout_ms=10_000)
    await admin.start()
    try:
        for attempt in range(attempts):
            described = await admin.describe_topics()
            chosen = set(selection.dlq_topics(t["topic"] for t in described))
            topics = [t for t in described if t["topic"] in chosen]
            failing = sorted(f"{t['topic']} (error {t['error_code']})" for t in topics if t["error_code"])
            if not failing:
                return {t["topic"]: t for t in topics}
            if attempt < attempts - 1:
                await asyncio.sleep(0.5 * (attempt + 1))  # the broker's metadata settling
        raise RuntimeError(f"the broker cannot describe these DLQ topics now: {', '.join(failing)}")
    finally:
        await admin.close()


async def _read(
    broker: BrokerAccess | str,
    partitions: list[TopicPartition],
    quiet_seconds: float = 1.0,
    at_most_seconds: float = 60,
) -> list[DeadLetter]:
    """Every record of ``partitions`` from the beginning, read until none has come for
    ``quiet_seconds`` (or ``at_most_seconds`` passed). Not up to the end offsets the broker
    reports: the embedded broker reports the end of a batch written at once as its first
    record's offset + 1, which would leave the rest of the batch unread."""
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        **BrokerAccess.of(broker).client_options(), enable_auto_commit=False, request_timeout_ms=10_000
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        letters: list[DeadLetter] = []
        started = quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_seconds:
            if time.monotonic() - started > at_most_seconds:
                log.warning("dead_letters.read_cut_short", seconds=at_most_seconds, read=len(letters))
                break
            batch = await consumer.getmany(timeout_ms=250)
            if batch:
                letters += [_letter(record) for records in batch.values() for record in records]
                quiet_since = time.monotonic()
        return letters
    finally:
        await consumer.stop()


def _letter(record) -> DeadLetter:
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )


async def replay(broker: BrokerAccess | str, letters: list[DeadLetter], partitions: int, replication: int = 1) -> int:
    """Sends each dead letter back to its original topic (creating the topic if the broker lost
    it), in the order given; returns how many were sent."""
    if not letters:
        return 0
    keeper = TopicKeeper(broker, partitions, replication)
    try:
        await keeper.ensure({letter.original_topic for letter in letters})
    finally:
        await keeper.close()
    producer = new_producer(broker)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.original_topic, letter.value, key=letter.key, headers=letter.replay_headers()
            )
    finally:
        await producer.stop()
    return len(letters)
