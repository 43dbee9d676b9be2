"""A second router instance joins the consumer group and leaves again while requests flow:
partitions move between them, and every request is still routed exactly once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from services.router import main as router_main
from services.router.models import WorkItem
from tests.support import MINGLUO, certificate_request, eventually

# Tansu, the test broker, once took over a minute to settle a group after a member left (seen in
# one run of many); the test is about what is routed, not how fast the group settles.
REBALANCE_WAIT = 180


async def test_rebalance_neither_loses_nor_doubles_work(system):
    headers = system.auth("enterprise", usccs=[MINGLUO], sub="rebalance-tests")

    async def submit_many(count: int) -> list[str]:
        ids = []
        for _ in range(count):
            response = await system.intake.post(
                "/v1/requests", json=certificate_request(items=("tax", "commerce")), headers=headers
            )
            assert response.status_code == 201
            ids.append(response.json()["id"])
        return ids

    async def routed(ids: list[str]) -> dict[str, int]:
        async with system.runtimes["router"].sessions() as session:
            rows = await session.execute(
                select(WorkItem.request_id, func.count())
                .where(WorkItem.request_id.in_(ids))
                .group_by(WorkItem.request_id)
            )
            return dict(rows.all())

    second = router_main.build_runtime(system.runtimes["router"].settings)  # same database, same consumer groups
    ids = await submit_many(10)
    await second.start_workers()
    try:
        ids += await submit_many(10)  # while the group rebalances onto two members
        for consumer in second.consumers:  # both groups now have two members
            await asyncio.wait_for(consumer.ready.wait(), timeout=REBALANCE_WAIT)
        ids += await submit_many(10)
    finally:
        await second.stop()  # and back to one member
    ids += await submit_many(10)

    counts = await eventually(lambda: _all_routed(routed, ids), timeout=REBALANCE_WAIT)
    assert set(counts) == set(ids) and set(counts.values()) == {2}, "two work items per request, no more, no less"

    # The router's other group (enterprise updates, department actions) came through the
    # rebalances too: withdrawals of requests on every partition are still applied.
    for request_id in ids[-6:]:
        response = await system.intake.post(f"/v1/requests/{request_id}/withdraw", json={}, headers=headers)
        assert response.status_code == 202

    async def all_cancelled():
        async with system.runtimes["router"].sessions() as session:
            states = set(await session.scalars(select(WorkItem.state).where(WorkItem.request_id.in_(ids[-6:]))))
        return states == {"cancelled"}

    assert await eventually(all_cancelled, timeout=REBALANCE_WAIT)


async def _all_routed(routed, ids):
    counts = await routed(ids)
    return counts if len(counts) == len(ids) else None
