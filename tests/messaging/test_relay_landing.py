"""Where each outbox event landed, and no false alarm: a relay records every event's partition
and offset, and its check for lost events finds none on a broker that lost nothing, even where
the embedded broker reports the end of a batched write as the first offset of the batch + 1.
(A broker that really lost events: tests/faults/test_faults.py, the broker killed and back empty.)"""

from __future__ import annotations

import asyncio
import json
import uuid

from prometheus_client import REGISTRY
from sqlalchemy import MetaData, func, select

from shared import db
from shared.messaging.outbox import Outbox
from shared.messaging.relay import OutboxRelay
from tests.support import eventually, header, make_databases, numbered_event, read_topic

EVENTS = 300


async def test_every_event_keeps_where_it_landed_and_a_check_finds_nothing_lost(broker, tmp_path):
    metadata = MetaData()
    table, _ = db.infrastructure_tables(metadata)
    high_water = metadata.tables["outbox_high_water"]
    databases = await make_databases(tmp_path, ["landing"])
    engine = db.create_engine(databases.urls["landing"])
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = db.session_factory(engine)
    topic = f"relay-landing.{uuid.uuid4().hex[:8]}"
    outbox = Outbox(table, "/tests/relay-landing")
    async with sessions() as session, session.begin():
        await outbox.emit_all(
            session, [outbox.message(numbered_event(n), topic=topic, key=f"key-{n % 7}") for n in range(EVENTS)]
        )
    relay = OutboxRelay(
        name=f"landing-{uuid.uuid4().hex[:6]}",
        sessions=sessions,
        outbox=table,
        broker=broker.bootstrap,
        poll_seconds=0.05,
        batch_size=200,
    )
    task = asyncio.create_task(relay.run())
    try:

        async def all_sent():
            async with sessions() as session:
                return not await session.scalar(
                    select(func.count()).select_from(table).where(table.c.sent_at.is_(None))
                )

        await eventually(all_sent, timeout=60)
        # The check a relay makes every 10 s, made now on a connection of the test's own: the
        # lease's connection is the running relay's, and on PostgreSQL one connection serves one
        # transaction at a time.
        async with engine.connect() as conn, conn.begin():
            await relay.landings.check(conn)
        async with sessions() as session:
            landed = (await session.execute(select(table.c.headers, table.c.sent_partition, table.c.sent_offset))).all()
            highs = dict(((p, o) for _, p, o in (await session.execute(select(high_water))).all()))
            unsent = await session.scalar(select(func.count()).select_from(table).where(table.c.sent_at.is_(None)))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
        for cleanup in databases.cleanup:
            await cleanup()

    records = await read_topic(broker.bootstrap, topic, timeout=30, until=lambda rs: len(rs) >= EVENTS)
    where = {header(r, "ce_id"): (r.partition, r.offset) for r in records}
    recorded = {json.loads(h)["ce_id"]: (p, o) for h, p, o in landed}
    republished = REGISTRY.get_sample_value("xiaoer_events_republished_total", {"service": relay.name}) or 0
    assert recorded == where, "each row says where its event is on the topic"
    assert highs == {p: max(o for q, o in where.values() if q == p) for p, _ in where.values()}
    assert unsent == 0 and republished == 0, "nothing lost, nothing sent again"
