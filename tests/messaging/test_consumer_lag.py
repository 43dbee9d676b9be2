"""Lag is visible (issue 26, row 5): a consumer behind its partitions' ends says how far, per
partition, on ``xiaoer_consumer_lag`` and in ``/readyz`` (as detail and a warning past the
threshold, never failing readiness), and the figure falls to 0 once it has caught up.

A consumer of its own (tests/support/consumers.py) is given 600 events at once and a handler
that takes a few milliseconds each, as a database under load would; its lag is read while it
works through them."""

from __future__ import annotations

import asyncio

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
