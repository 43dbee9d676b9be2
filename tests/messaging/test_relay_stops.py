"""A relay stops when it is cancelled, even at the moment a wake-up arrives. On Python 3.11,
``asyncio.wait_for`` drops a cancellation that comes as the future it waits for completes
(gh-86296): a relay that waited for its wake-up that way went on forever, and a runtime's ``stop``
with it (a hung test run showed it: a second router stopped while requests flowed)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import MetaData

from shared import db
from shared.messaging.relay import OutboxRelay
from tests.support import eventually, make_databases


async def test_a_relay_cancelled_as_it_is_woken_stops(broker, tmp_path):
    metadata = MetaData()
    table, _ = db.infrastructure_tables(metadata)
    databases = await make_databases(tmp_path, ["stops"])
    engine = db.create_engine(databases.urls["stops"])
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    relay = OutboxRelay(
        name=f"stops-{uuid.uuid4().hex[:6]}",
        sessions=db.session_factory(engine),
        outbox=table,
        broker=broker.bootstrap,
        poll_seconds=60,  # it waits for its wake-up, not for a poll
        batch_size=100,
    )
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: relay.active and relay.wakeup._waiters, timeout=30)  # idle, waiting
        relay.wakeup.set()
        for _ in range(2):  # the wake-up reaches the relay's wait (two loop turns), then the cancellation
            await asyncio.sleep(0)
        task.cancel()
        async with asyncio.timeout(15):
            await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled(), "the relay ended because it was cancelled"
    finally:
        task.cancel()
        await engine.dispose()
        for cleanup in databases.cleanup:
            await cleanup()
