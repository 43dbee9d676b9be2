"""A commit in a process that does not run the outbox's relay still wakes the relay.

``xiaoer serve`` with several HTTP workers (and ``xiaoer api`` beside ``xiaoer worker``) commits
outbox rows in processes whose relay object never runs: the active relay is elsewhere. Two relay
objects over one outbox, each with an engine of its own, stand for the two processes. On
PostgreSQL the active relay polls only once an hour here, so the event can reach the topic only
through the writer's NOTIFY; on SQLite (one host, no NOTIFY) it is found at the next poll.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from sqlalchemy import MetaData, func, select

from shared import db, events
from shared.messaging.applying import EventApplier
from shared.messaging.encoding import encode
from shared.messaging.outbox import Outbox
from shared.messaging.relay import OutboxRelay
from tests.support import MINGLUO, database_backend, eventually, header, make_databases, read_topic


async def test_a_commit_elsewhere_wakes_the_active_relay(broker, tmp_path):
    metadata = MetaData()
    table, _ = db.infrastructure_tables(metadata)
    databases = await make_databases(tmp_path, ["wakeup"])
    url = databases.urls["wakeup"]
    relay_engine, writer_engine = db.create_engine(url), db.create_engine(url)
    async with relay_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    poll = 3600.0 if database_backend() == "postgres" else 0.2
    topic = f"relay-wakeup.{uuid.uuid4().hex[:8]}"
    outbox = Outbox(table, "/tests/relay-wakeup")

    def relay(engine) -> OutboxRelay:
        return OutboxRelay(
            name="wakeup",
            sessions=db.session_factory(engine),
            outbox=table,
            broker=broker.bootstrap,
            poll_seconds=poll,
            batch_size=200,
        )

    active, elsewhere = relay(relay_engine), relay(writer_engine)

    async def commit(reason: str) -> str:
        message = outbox.message(
            events.RequestWithdrawn(
                request_id="r-1",
                reason=reason,
                actor=events.Actor(role="enterprise", id=MINGLUO),
                occurred_at=datetime.now(UTC),
            ),
            topic=topic,
            key="r-1",
        )
        async with elsewhere.sessions() as session, session.begin():
            await outbox.emit_all(session, [message])
        elsewhere.notify()  # what an API handler does after its commit
        return message.headers["ce_id"]

    async def sent(count: int) -> bool:
        async with writer_engine.connect() as conn:
            query = select(func.count()).select_from(table).where(table.c.sent_at.is_not(None))
            return await conn.scalar(query) >= count

    task = asyncio.create_task(active.run())
    try:
        await eventually(lambda: active.active, timeout=30)
        # The first event: the relay has made its first round and now waits (an hour on PostgreSQL).
        first = await commit("first")
        await eventually(lambda: sent(1), timeout=30)
        second = await commit("second")
        await eventually(lambda: sent(2), timeout=30)
        records = await read_topic(broker.bootstrap, topic, until=lambda rs: len(rs) >= 2, timeout=30)
        assert [header(r, "ce_id") for r in records] == [first, second]
        assert not elsewhere.active, "the writer's relay never ran: the active one published both"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await relay_engine.dispose()
        await writer_engine.dispose()
        for cleanup in databases.cleanup:
            await cleanup()


async def test_a_consumed_event_wakes_the_relay_only_when_it_added_outbox_rows(tmp_path):
    """A consumer's commit wakes its service's relay when its handler emitted events (the
    router's routing) and not when it only updated a read model (intake's work-item views):
    each wake-up is a relay round, a query of the outbox, for nothing."""
    metadata = MetaData()
    table, processed = db.infrastructure_tables(metadata)
    databases = await make_databases(tmp_path, ["consumed"])
    engine = db.create_engine(databases.urls["consumed"])
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    outbox = Outbox(table, events.SOURCE_ROUTER)

    async def forwards(session, received):
        await outbox.emit(session, received.data, topic="forwarded", key=received.data.request_id)

    async def only_reads(session, received):
        await session.execute(select(func.count()).select_from(table))

    wakeups = []
    try:
        for handler, woken in ((only_reads, []), (forwards, ["woken"])):
            wakeups.clear()
            applier = EventApplier(
                name=f"wakeup.{handler.__name__}",
                sessions=db.session_factory(engine),
                processed=processed,
                handlers={events.RequestWithdrawn.ce_type: handler},
                after_commit=lambda: wakeups.append("woken"),
            )
            withdrawn = events.RequestWithdrawn(
                request_id=str(uuid.uuid4()),
                actor=events.Actor(role="enterprise", id=MINGLUO),
                occurred_at=datetime.now(UTC),
            )
            message = encode(withdrawn, topic="requests.updates", source=events.SOURCE_INTAKE, key="r")
            record = ConsumerRecord(
                "requests.updates", 0, 0, 0, 0, b"r", message.value, None, len(message.value), -1,
                message.kafka_headers(),
            )  # fmt: skip
            assert await applier.apply_one(record) == "handled"
            assert wakeups == woken, handler.__name__
    finally:
        await engine.dispose()
        for cleanup in databases.cleanup:
            await cleanup()
