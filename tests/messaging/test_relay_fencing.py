"""Fault (issue 26, row 3): the active relay stalls in a send while its database lease is lost.

Two relays of one service share one outbox on PostgreSQL (the only database where a live holder
can lose its lease: the advisory lock goes with its session). The first relay's producer stalls
before handing its 61st record to Kafka; meanwhile the network between that relay and the
database is cut (its session ended with ``pg_terminate_backend``, new connections refused), the
standby takes the lease and publishes everything, and only then does the stalled send resume.
Before fencing, the old relay went on sending the rest of its batch: 200 re-sends and per-key
order inverted on every key.
Expected now: not one record from the old relay after the standby's first, every event on the
topic, and each key's events first delivered in their order.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData, event, func, select, text

from shared import db
from shared.messaging.broker import BrokerAccess, new_producer
from shared.messaging.outbox import Outbox
from shared.messaging.relay import OutboxRelay
from tests.support import eventually, header, numbered_event, postgres_databases, read_topic

ADMIN = os.environ.get("XIAOER_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not ADMIN, reason="a lease lost by a live holder exists on PostgreSQL only"),
]

KEYS, PER_KEY = 20, 20
STALL_AT = 60  # the first relay's 61st record: in its second chunk of 50


class StallingProducer:
    """A real producer that notes when each record is handed to it, and can stall before one."""

    def __init__(self, name: str, broker: BrokerAccess, log: list, stall_at: int | None = None) -> None:
        self.name, self.log, self.stall_at = name, log, stall_at
        self.stalled, self.resume = asyncio.Event(), asyncio.Event()
        self.handed = 0
        self.broker = broker
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:  # a relay starts its producer afresh each time it leads
        self._producer = new_producer(self.broker)
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic, value, key=None, headers=None):
        if self.handed == self.stall_at:
            self.stalled.set()
            await self.resume.wait()  # a send stuck waiting for the broker
        self.handed += 1
        self.log.append((self.name, time.monotonic(), dict(headers)["ce_id"].decode()))
        return await self._producer.send(topic, value, key=key, headers=headers)


async def test_a_relay_that_lost_its_lease_sends_nothing_after_its_standby_took_over(broker):
    metadata = MetaData()
    table, _ = db.infrastructure_tables(metadata)
    async with postgres_databases(["fencing"]) as urls:
        engine, cut_off = db.create_engine(urls["fencing"]), db.create_engine(urls["fencing"])
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = db.session_factory(engine)
        cut = False

        def refuse_when_cut(*_args):
            if cut:
                raise ConnectionRefusedError(111, "Connection refused (the test's network cut)")

        event.listen(cut_off.sync_engine, "do_connect", refuse_when_cut)
        topic = f"relay-fencing.{uuid.uuid4().hex[:8]}"
        outbox = Outbox(table, "/tests/relay-fencing")
        messages = [
            outbox.message(numbered_event(seq, request_id=f"key-{k}"), topic=topic, key=f"key-{k}")
            for seq in range(PER_KEY)
            for k in range(KEYS)
        ]
        async with sessions() as session, session.begin():
            await outbox.emit_all(session, messages)

        sends: list[tuple[str, float, str]] = []
        first = StallingProducer("first", BrokerAccess(broker.bootstrap), sends, stall_at=STALL_AT)
        second = StallingProducer("second", BrokerAccess(broker.bootstrap), sends)
        relays = [
            _relay(db.session_factory(cut_off), table, broker.bootstrap, first),
            _relay(sessions, table, broker.bootstrap, second),
        ]
        tasks = [asyncio.create_task(relays[0].run())]
        try:
            await eventually(lambda: relays[0].active, timeout=30)
            tasks.append(asyncio.create_task(relays[1].run()))
            await asyncio.wait_for(first.stalled.wait(), timeout=30)
            lost_at, cut = time.monotonic(), True
            async with engine.connect() as conn:  # the first relay's session ends under it
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                )
            await eventually(lambda: relays[1].active, timeout=30)
            took_over = time.monotonic() - lost_at
            await eventually(lambda: _all_sent(sessions, table), timeout=60)
            first.resume.set()  # the stalled send comes back
            await eventually(lambda: not relays[0].active, timeout=10)
            await asyncio.sleep(1)  # whatever the first relay would still send, it would send now
        finally:
            first.resume.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await engine.dispose()
            await cut_off.dispose()

    total = KEYS * PER_KEY
    records = await read_topic(
        broker.bootstrap, topic, timeout=60, until=lambda rs: len({header(r, "ce_id") for r in rs}) >= total
    )
    first_seen: dict[str, list[int]] = defaultdict(list)
    ids: set[str] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        if (ce_id := header(record, "ce_id")) not in ids:
            ids.add(ce_id)
            first_seen[record.key.decode()].append(int(json.loads(record.value)["reason"]))
    out_of_order = [k for k, seqs in first_seen.items() if seqs != list(range(PER_KEY))]
    standby_first = min(t for name, t, _ in sends if name == "second")
    late = [ce_id for name, t, ce_id in sends if name == "first" and t > standby_first]
    print(
        f"\n[relay fenced, lease lost mid-send] events={total} first_relay_sent={first.handed} "
        f"standby_sent={second.handed} sent_after_standby_began={len(late)} topic_messages={len(records)} "
        f"same_ce_id_copies={len(records) - len(ids)} keys_out_of_order={len(out_of_order)} takeover={took_over:.2f}s"
    )
    assert late == [], "the relay that lost its lease sent after the standby began"
    assert first.handed == STALL_AT, "the stalled send never went out"
    assert len(ids) == total, "every event published"
    assert out_of_order == [], f"out of order: {out_of_order[:5]}"


def _relay(sessions, table, bootstrap: str, producer: StallingProducer) -> OutboxRelay:
    return OutboxRelay(
        name="fencing",
        sessions=sessions,
        outbox=table,
        broker=bootstrap,
        poll_seconds=0.05,
        batch_size=200,
        standby_seconds=0.2,
        fence_every=50,
        producer_factory=lambda _broker: producer,
    )


async def _all_sent(sessions, table) -> bool:
    async with sessions() as session:
        unsent = await session.scalar(select(func.count()).select_from(table).where(table.c.sent_at.is_(None)))
    return unsent == 0
