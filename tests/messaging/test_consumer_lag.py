"""Lag is visible (issue 26, row 5): a consumer behind its partitions' ends says how far, per
partition, on ``xiaoer_consumer_lag`` and in ``/readyz`` (as detail and a warning past the
threshold, never failing readiness), and the figure falls to 0 once it has caught up.

A consumer of its own (tests/support/consumers.py) is given 600 events at once and a handler
that takes a few milliseconds each, as a database under load would; its lag is read while it
works through them."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

from tests.support import eventually
from tests.support.consumers import at_least, own_consumer, record_applied

EVENTS = 600


async def test_a_consumer_behind_shows_its_lag_per_partition_and_catches_up(broker, producer, tmp_path):
    async def slow(session, received) -> None:
        await asyncio.sleep(0.005)  # the scenario: each event takes a little work
        await record_applied(session, received)

    async with own_consumer(broker, tmp_path, slow) as h:
        h.runtime.settings.consumer_lag_warning = 100
        await h.produce(producer, range(EVENTS))
        name = h.consumer.name

        def lag_on_metric() -> float:
            return sum(
                REGISTRY.get_sample_value("xiaoer_consumer_lag", {"consumer": name, "topic": h.topic, "partition": p})
                or 0
                for p in ("0", "1", "2")
            )

        behind = await eventually(lambda: lag_on_metric() >= 100 and lag_on_metric(), timeout=30)
        detail = h.runtime.lag()[name]
        warned = [w for w in h.runtime.warnings() if name in w]
        await eventually(lambda: at_least(h.applied, EVENTS), timeout=120)
        await eventually(lambda: lag_on_metric() == 0, timeout=30)
        applied = await h.applied()

    print(f"\n[consumer lag] events={EVENTS} lag_seen={behind:.0f} per_partition={detail} warning={warned}")
    assert set(detail) <= {f"{h.topic}/{p}" for p in range(3)} and sum(detail.values()) > 0
    assert warned and "events behind" in warned[0]
    assert len({event_id for event_id, _ in applied}) == EVENTS


async def test_a_partition_taken_away_while_its_lag_is_read_is_no_failure(broker, producer, tmp_path):
    """A rebalance can take a partition away while the consumer waits to learn its place there
    (looked up again after a seek): that partition's lag is its new owner's to tell, and this
    consumer's poll goes on instead of failing, backing off and reporting itself stalled."""
    async with own_consumer(broker, tmp_path, record_applied) as h:
        await h.produce(producer, range(6))
        client = AIOKafkaConsumer(bootstrap_servers=h.bootstrap, enable_auto_commit=False)
        await client.start()
        try:
            partitions = [TopicPartition(h.topic, p) for p in range(3)]
            client.assign(partitions)
            await client.getmany(timeout_ms=2000)
            assert all(client.highwater(tp) is not None for tp in partitions)  # each partition's end is known
            seeking = asyncio.ensure_future(client.seek_to_beginning(*partitions))
            await asyncio.sleep(0)  # the places are being looked up again
            measuring = asyncio.ensure_future(h.consumer._measure_lag(client))
            await asyncio.sleep(0)
            assert not measuring.done()  # it waits for a place
            client.assign([])  # the rebalance
            assert await asyncio.wait_for(measuring, timeout=10) == []
            with contextlib.suppress(Exception):
                await seeking
        finally:
            await client.stop()
