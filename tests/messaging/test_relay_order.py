"""Two outbox relays over one outbox never publish one key's events out of order.

Two relays (two replicas of a service) share one outbox table: on PostgreSQL when the suite runs
there (``XIAOER_TEST_DATABASE=postgres``), else on one SQLite file. The first relay's producer
lingers 1.5 s before each send (real producer configuration, so its acknowledgements come late);
before the lease, the second relay published the next rows meanwhile and 50 of 50 keys arrived
out of order (issue 14). Now only the lease holder publishes: the second relay waits, and takes
over when the first stops.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData, func, select, update

from shared import db
from shared.messaging.broker import BrokerAccess
from shared.messaging.outbox import Outbox
from shared.messaging.relay import OutboxRelay
from tests.support import database_backend, eventually, header, make_databases, numbered_event, read_topic

pytestmark = pytest.mark.faults

KEYS, PER_KEY = 50, 40


def slow_producer(broker: BrokerAccess) -> AIOKafkaProducer:
    """Holds each batch 1.5 s before sending it: the acknowledgements of this relay come late."""
    return AIOKafkaProducer(
        **broker.client_options(), acks="all", linger_ms=1500, max_batch_size=1_048_576, request_timeout_ms=10_000
    )


def relay(name: str, sessions, outbox, bootstrap: str, **extra) -> OutboxRelay:
    return OutboxRelay(
        name=name,
        sessions=sessions,
        outbox=outbox,
        broker=bootstrap,
        poll_seconds=0.05,
        batch_size=200,
        standby_seconds=0.2,
        **extra,
    )


async def fill(sessions, outbox: Outbox, topic: str) -> None:
    """KEYS × PER_KEY events, the keys interleaved (as many requests' events are)."""
    messages = [
        outbox.message(
            numbered_event(seq, request_id=f"key-{k}"),
            topic=topic,
            key=f"key-{k}",
        )
        for seq in range(PER_KEY)
        for k in range(KEYS)
    ]
    async with sessions() as session, session.begin():
        await outbox.emit_all(session, messages)


async def test_two_relays_keep_each_keys_order(broker, tmp_path):
    metadata = MetaData()
    table, _ = db.infrastructure_tables(metadata)
    databases = await make_databases(tmp_path, ["relays"])
    engine = db.create_engine(databases.urls["relays"])
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = db.session_factory(engine)
    topic = f"relay-order.{uuid.uuid4().hex[:8]}"
    await fill(sessions, Outbox(table, "/tests/relay-order"), topic)
    total = KEYS * PER_KEY

    async def sent() -> int:
        async with sessions() as session:
            return await session.scalar(select(func.count()).select_from(table).where(table.c.sent_at.is_not(None)))

    first = relay("relays", sessions, table, broker.bootstrap, producer_factory=slow_producer)
    second = relay("relays", sessions, table, broker.bootstrap)
    both_active = 0

    async def watch():
        nonlocal both_active
        while True:
            both_active += first.active and second.active
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    tasks = [asyncio.create_task(first.run())]
    try:
        await eventually(lambda: first.active, timeout=30)
        tasks.append(asyncio.create_task(second.run()))
        # The first relay sends two slow batches while the second stands by.
        await eventually(lambda: _at_least(sent, 400), timeout=60)
        assert not second.active
        tasks[0].cancel()  # the first replica stops (a deploy, a crash of its process)
        stopped = time.monotonic()
        await eventually(lambda: second.active, timeout=30)
        failover = time.monotonic() - stopped
        await eventually(lambda: _at_least(sent, total), timeout=60)
    finally:
        watcher.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(watcher, *tasks, return_exceptions=True)
        await engine.dispose()
        for cleanup in databases.cleanup:
            await cleanup()

    records = await read_topic(
        broker.bootstrap, topic, timeout=60, until=lambda rs: len({header(r, "ce_id") for r in rs}) >= total
    )
    first_seen: dict[str, list[int]] = defaultdict(list)  # key → seqs in the order first delivered
    ids: set[str] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        ce_id = header(record, "ce_id")
        if ce_id in ids:
            continue  # a duplicate around the hand-over: consumers ignore it by ce_id
        ids.add(ce_id)
        first_seen[record.key.decode()].append(_seq(record))
    out_of_order = [k for k, seqs in first_seen.items() if seqs != list(range(PER_KEY))]
    print(
        f"\n[two relays, {database_backend()}] keys={KEYS} events={total} topic_messages={len(records)} "
        f"duplicates={len(records) - len(ids)} keys_out_of_order={len(out_of_order)} "
        f"both_active_samples={both_active} failover={failover:.2f}s"
    )
    assert len(ids) == total, "every event published"
    assert out_of_order == [], f"out of order: {out_of_order[:5]}"
    assert both_active == 0, "never two active relays"


def _seq(record) -> int:
    return int(json.loads(record.value)["reason"])


async def _at_least(count, wanted: int):
    return (await count()) >= wanted


async def test_sent_rows_are_kept_for_the_retention_window_then_pruned(broker, tmp_path):
    """``xiaoer outbox republish`` needs sent rows; the active relay deletes them after ``retention``."""
    metadata = MetaData()
    table, _ = db.infrastructure_tables(metadata)
    databases = await make_databases(tmp_path, ["pruning"])
    engine = db.create_engine(databases.urls["pruning"])
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = db.session_factory(engine)
    topic = f"relay-pruning.{uuid.uuid4().hex[:8]}"
    await fill(sessions, Outbox(table, "/tests/relay-pruning"), topic)  # KEYS × PER_KEY unsent rows
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        ids = (await session.scalars(select(table.c.id).order_by(table.c.id))).all()
        await session.execute(update(table).where(table.c.id.in_(ids[:10])).values(sent_at=now - timedelta(days=8)))
        await session.execute(update(table).where(table.c.id.in_(ids[10:20])).values(sent_at=now - timedelta(days=6)))

    async def remaining() -> tuple[int, int]:
        async with sessions() as session:
            rows = (await session.execute(select(table.c.id, table.c.sent_at))).all()
        return len(rows), sum(1 for _, sent_at in rows if sent_at is None)

    pruner = relay("pruning", sessions, table, broker.bootstrap, retention=timedelta(days=7), prune_every=0)
    task = asyncio.create_task(pruner.run())
    try:
        left = await eventually(lambda: _when(remaining, lambda r: r[1] == 0), timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
        for cleanup in databases.cleanup:
            await cleanup()
    assert left == (KEYS * PER_KEY - 10, 0), "the 8-day-old rows pruned, the 6-day-old and fresh ones kept"


async def _when(read, condition):
    value = await read()
    return value if condition(value) else None
