"""A consumer of its own for delivery tests: a runtime with one consumer of a fresh topic of the
session's broker, on a real database behind an ``Outage``, recording what it applied in order."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared import db, events
from shared.messaging.encoding import encode
from shared.runtime import ServiceRuntime
from tests.support.data import numbered_event
from tests.support.databases import Outage, make_databases
from tests.support.system import make_settings

METADATA = MetaData()
db.infrastructure_tables(METADATA)  # outbox and processed_events, as every service has
APPLIED = Table(
    "applied",
    METADATA,
    Column("id", db.BigIntPK, primary_key=True, autoincrement=True),  # the order things were applied in
    Column("event_id", String(200), nullable=False),
    Column("seq", Integer, nullable=False),
)


@dataclass
class Harness:
    runtime: ServiceRuntime
    topic: str
    outage: Outage
    bootstrap: str

    @property
    def consumer(self):
        return self.runtime.consumers[0]

    async def produce(self, producer, seqs, key: str | None = None) -> dict[int, tuple[int, int]]:
        """One RequestWithdrawn per seq (the type does not matter here); seq → (partition, offset)."""
        placed = {}
        for seq in seqs:
            message = encode(
                numbered_event(seq),
                topic=self.topic,
                source="/tests/faults",
            )
            sent = await producer.send_and_wait(
                self.topic,
                message.value,
                key=(key or f"k{seq}").encode(),
                headers=message.kafka_headers(),
            )
            placed[seq] = (sent.partition, sent.offset)
        return placed

    async def applied(self) -> list[tuple[str, int]]:
        """(event id, seq) in the order applied, read past the outage with an engine of its own."""
        engine = db.create_engine(self.runtime.database_url)
        try:
            async with engine.connect() as conn:
                return [
                    tuple(r)
                    for r in await conn.execute(select(APPLIED.c.event_id, APPLIED.c.seq).order_by(APPLIED.c.id))
                ]
        finally:
            await engine.dispose()


@asynccontextmanager
async def own_consumer(broker, tmp_path, handler):
    """A runtime with one consumer of a fresh topic, applying ``handler``, behind an ``Outage``."""
    tag = uuid.uuid4().hex[:8]
    topic = f"faults.{tag}"
    databases = await make_databases(tmp_path, ["router"])
    url = databases.urls["router"]
    setup = db.create_engine(url)
    async with setup.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    await setup.dispose()

    settings = make_settings("router", tmp_path, broker.bootstrap, databases.urls)
    runtime = ServiceRuntime("router", settings, METADATA, migrations_dir=tmp_path)
    await runtime.engine.dispose()
    # No pool: every transaction opens a connection, so an outage reaches each one.
    if db.is_sqlite(url):
        runtime.engine = db.create_engine(url, poolclass=NullPool)
    else:
        runtime.engine = create_async_engine(url, poolclass=NullPool)
    runtime.sessions = db.session_factory(runtime.engine)
    outage = Outage(runtime.engine)
    runtime.add_consumer(name=f"faults.{tag}", topics=[topic], handlers={events.RequestWithdrawn.ce_type: handler})
    runtime.consumers[0].max_backoff = 1.0  # the production cap is 10 s; keep the test short
    await runtime.start_workers()
    try:
        await asyncio.wait_for(runtime.consumers[0].ready.wait(), timeout=30)
        yield Harness(runtime, topic, outage, broker.bootstrap)
    finally:
        await runtime.stop()
        for cleanup in databases.cleanup:
            await cleanup()


async def record_applied(session, received) -> None:
    await session.execute(insert(APPLIED).values(event_id=received.id, seq=int(received.data.reason)))


async def at_least(read, count: int):
    """What ``read`` returns once it holds ``count`` rows (for ``eventually``)."""
    rows = await read()
    return rows if len(rows) >= count else None
