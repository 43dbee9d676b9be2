"""Where each outbox event landed on the broker, and whether the broker still has it.

Kafka acknowledges a send with the partition and offset the record got. The relay keeps both on
the outbox row and the highest offset per partition in ``outbox_high_water``. A broker can lose
records it acknowledged: the embedded broker keeps nothing across a restart, and a real Kafka
loses them in an unclean leader election or with a lost disk. Two signs tell it, both checked by
the relay that holds the outbox's lease:

- the record at the highest offset the relay recorded on a partition is not there any more: every
  record from the partition's end offset on is gone (an empty broker answers 0 for all of them);
- an acknowledgement hands out an offset at or below one handed out before: the partition
  started again, so what the relay had recorded there from that offset on is gone.

Either way exactly those rows are marked unsent again, with their own ``ce_id``, and the relay
publishes them lowest id first; consumers skip the copies they had already applied. The check
runs when a relay takes the lease (before it sends anything, so what it republishes keeps its
order before newer events) and every ``check_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import db
from shared.clock import utcnow
from shared.messaging.metrics import BROKER_LOSS_DETECTED, EVENTS_REPUBLISHED
from shared.messaging.topics import TopicKeeper

log = structlog.get_logger(__name__)


@dataclass
class Repair:
    """Events republished after a loss, until the relay has sent them all again."""

    events: int
    up_to_id: int  # the highest outbox id among them


class Landings:
    def __init__(self, *, name: str, outbox: Table, high_water: Table, topics: TopicKeeper, check_seconds: float):
        self.name = name
        self.outbox = outbox
        self.high_water = high_water
        self.topics = topics
        self.check_seconds = check_seconds
        self.high: dict[TopicPartition, int] = {}
        self.loaded = False
        self.repair: Repair | None = None
        self._next_check = 0.0

    def forget(self) -> None:
        """The lease was given up: the next holder (maybe this relay again) reads it all afresh."""
        self.loaded = False

    async def check_if_due(self, conn: AsyncConnection) -> None:
        if not self.loaded:
            rows = (await conn.execute(select(self.high_water))).all()
            self.high = {TopicPartition(topic, partition): offset for topic, partition, offset in rows}
            self.loaded, self._next_check = True, 0.0
        if time.monotonic() >= self._next_check:
            await self.check(conn)

    async def check(self, conn: AsyncConnection) -> None:
        """Compares every partition's end offset with the highest offset recorded there."""
        if self.high:
            await self.topics.ensure({tp.topic for tp in self.high})  # a broker back empty lacks them
            ends = await self.topics.end_offsets(self.high)
            behind = {tp: high for tp, high in self.high.items() if ends[tp] <= high}
            # An end offset at or below a recorded offset is a loss only when the record is not
            # there either (the embedded broker under-reports the end of batched writes).
            there = await self.topics.records_at({tp: high for tp, high in behind.items() if ends[tp] > 0})
            for tp, high in sorted(behind.items()):
                if tp not in there:
                    await self._republish(conn, tp, ends[tp], f"end offset {ends[tp]}, recorded up to {high}")
        self._next_check = time.monotonic() + self.check_seconds

    async def record(self, conn: AsyncConnection, rows: Sequence, landed: Sequence[RecordMetadata]) -> None:
        """Marks ``rows`` sent where the broker put them, and notices offsets handed out twice."""
        now = utcnow()
        await conn.execute(
            update(self.outbox)
            .where(self.outbox.c.id == bindparam("row_id"))
            .values(sent_at=now, sent_partition=bindparam("partition"), sent_offset=bindparam("offset")),
            [
                {"row_id": row["id"], "partition": md.partition, "offset": md.offset}
                for row, md in zip(rows, landed, strict=True)
            ],
        )
        lowest: dict[TopicPartition, int] = {}
        highest: dict[TopicPartition, int] = {}
        for md in landed:
            tp = TopicPartition(md.topic, md.partition)
            lowest[tp] = min(lowest.get(tp, md.offset), md.offset)
            highest[tp] = max(highest.get(tp, md.offset), md.offset)
        first_id = min(row["id"] for row in rows)
        for tp, offset in lowest.items():
            if offset <= self.high.get(tp, -1):
                reason = f"acknowledged offset {offset}, recorded up to {self.high[tp]}"
                await self._republish(conn, tp, offset, reason, before_id=first_id)
        await self._raise_high_water(conn, highest)

    async def _raise_high_water(self, conn: AsyncConnection, highest: dict[TopicPartition, int]) -> None:
        statement = db.insert_for(conn.dialect.name)(self.high_water)
        rows = [{"topic": tp.topic, "partition": tp.partition, "high_offset": offset} for tp, offset in highest.items()]
        excluded = statement.excluded.high_offset
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["topic", "partition"],
                # The relay that holds the lease is the only writer, so its view is the truth.
                set_={"high_offset": excluded},
            ),
            rows,
        )
        self.high |= highest

    async def _republish(
        self, conn: AsyncConnection, tp: TopicPartition, from_offset: int, reason: str, before_id: int | None = None
    ) -> None:
        """Marks the rows recorded on ``tp`` from ``from_offset`` on as unsent (those before
        ``before_id`` only: later ones are being recorded now), so the relay sends them again."""
        lost = (
            self.outbox.c.topic == tp.topic,
            self.outbox.c.sent_partition == tp.partition,
            self.outbox.c.sent_offset >= from_offset,
            *((self.outbox.c.id < before_id,) if before_id is not None else ()),
        )
        count, up_to = (await conn.execute(select(func.count(), func.max(self.outbox.c.id)).where(*lost))).one()
        await conn.execute(update(self.outbox).where(*lost).values(sent_at=None, sent_partition=None, sent_offset=None))
        if before_id is None:  # the partition now ends below what was recorded: start it afresh
            if from_offset == 0:
                await conn.execute(
                    delete(self.high_water).where(
                        self.high_water.c.topic == tp.topic, self.high_water.c.partition == tp.partition
                    )
                )
                self.high.pop(tp, None)
            else:
                await self._raise_high_water(conn, {tp: from_offset - 1})
        BROKER_LOSS_DETECTED.labels(self.name).inc()
        EVENTS_REPUBLISHED.labels(self.name).inc(count)
        log.error(
            "outbox.broker_lost_events",
            relay=self.name,
            topic=tp.topic,
            partition=tp.partition,
            republished=count,
            reason=reason,
        )
        if count:
            previous = self.repair or Repair(0, 0)
            self.repair = Repair(previous.events + count, max(previous.up_to_id, up_to))

    def note_progress(self, lowest_unsent_id: int | None) -> None:
        """The repair is over once every republished row went out again."""
        if self.repair and (lowest_unsent_id is None or lowest_unsent_id > self.repair.up_to_id):
            log.info("outbox.broker_loss_repaired", relay=self.name, republished=self.repair.events)
            self.repair = None

    def warning(self) -> str | None:
        if self.repair is None:
            return None
        return (
            f"{self.name}: the broker lost {self.repair.events} acknowledged events; "
            "republishing them (xiaoer_broker_loss_detected_total)"
        )
