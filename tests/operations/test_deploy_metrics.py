"""The notifier's SLA gauges that deploy/prometheus/alerts.yml and the Grafana board read: overdue
items per region (XiaoerSlaBreachesRising) and items waiting for 签收 per unit, with the late
ones (XiaoerAcknowledgeBacklog), as the notifier's /metrics shows them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from services.notifier import metrics
from services.notifier.models import SlaRecord
from shared import events
from shared.clock import utcnow
from tests.support import eventually, publish_item_event, work_item_event

REGION = "440117"  # 从化区: no other test's items, so the region's count is this test's


async def publish(producer, model, item: dict, **fields) -> None:
    event = work_item_event(
        model,
        **item,
        reference_no="XE-20251103-000042",
        unit_name="测试税务所",
        region_code=REGION,
        subject_name="广州明珞",
        **fields,
    )
    await publish_item_event(producer, event)


async def gauges(system) -> dict[tuple[str, str], float]:
    """Every sample of the three gauges on the notifier's /metrics, by (metric, label value)."""
    text = (await system.notifier.get("/metrics")).text
    wanted = {"xiaoer_sla_overdue_items": "region", "xiaoer_acknowledge_backlog_items": "unit",
              "xiaoer_acknowledge_overdue_items": "unit"}  # fmt: skip
    return {
        (sample.name, sample.labels[wanted[sample.name]]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name in wanted
        for sample in family.samples
    }


async def test_overdue_items_per_region_and_the_signing_backlog_per_unit(system, producer):
    unit = f"{REGION}.tax.m{uuid.uuid4().hex[:6]}"
    now = utcnow()
    late = {"work_item_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()), "unit_code": unit}
    fresh = {"work_item_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()), "unit_code": unit}
    dispatched = {"rule_id": 1, "rule_version": 1, "routing_reason": "t", "state": "dispatched", "version": 1}
    await publish(producer, events.WorkItemDispatched, late, occurred_at=now - timedelta(days=30), **dispatched)
    await publish(producer, events.WorkItemDispatched, fresh, occurred_at=now, **dispatched)

    async def clocks(*ids, state="dispatched"):
        async with system.runtimes["notifier"].sessions() as session:
            rows = list(await session.scalars(select(SlaRecord).where(SlaRecord.work_item_id.in_(ids))))
            return len(rows) == len(ids) and all(r.state == state for r in rows)

    await eventually(lambda: clocks(late["work_item_id"], fresh["work_item_id"]))
    assert await metrics.refresh(system.runtimes["notifier"].sessions, utcnow(), force=True)
    seen = await gauges(system)
    assert seen[("xiaoer_acknowledge_backlog_items", unit)] == 2
    assert seen[("xiaoer_acknowledge_overdue_items", unit)] == 1, "the one dispatched 30 days ago"
    assert seen[("xiaoer_sla_overdue_items", REGION)] == 1

    # Cancelled: the late item leaves both counts; the unit and the region read 0, not nothing.
    await publish(producer, events.WorkItemCancelled, late, occurred_at=utcnow(), state="cancelled", version=2)
    await eventually(lambda: clocks(late["work_item_id"], state="cancelled"))
    await publish(producer, events.WorkItemCancelled, fresh, occurred_at=utcnow(), state="cancelled", version=2)
    await eventually(lambda: clocks(fresh["work_item_id"], state="cancelled"))
    assert await metrics.refresh(system.runtimes["notifier"].sessions, utcnow(), force=True)
    seen = await gauges(system)
    assert seen[("xiaoer_acknowledge_backlog_items", unit)] == 0
    assert seen[("xiaoer_acknowledge_overdue_items", unit)] == 0
    assert seen[("xiaoer_sla_overdue_items", REGION)] == 0


async def test_the_scheduler_refreshes_the_gauges_at_most_every_30_seconds(system):
    sessions = system.runtimes["notifier"].sessions
    assert await metrics.refresh(sessions, utcnow(), force=True)
    assert not await metrics.refresh(sessions, utcnow()), "counted again within REFRESH_SECONDS"
