"""解决率 beside 满意率 (issue 29 item 8): each unit's 回访 after 办结 — followed up, 已解决, 部分解决
— counted from the router's ``cn.xiaoer.workitem.followed_up`` events, 解决率 = 已解决 ÷ 回访数, and
合计 the rows added up. The events are published as the router publishes them, days ago."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.notifier import stats
from services.notifier.models import SlaRecord
from services.notifier.notify import timer_messages
from shared import events
from shared.clock import SHANGHAI, utcnow
from shared.messaging.encoding import encode
from tests.support import MINGLUO, eventually

REGION = "310115"


class Item:
    """A work item of ``unit``, moved by publishing the router's events."""

    def __init__(self, producer, unit: str):
        self.producer, self.unit = producer, unit
        self.id, self.request_id, self.version = str(uuid.uuid4()), str(uuid.uuid4()), 0

    async def send(self, model, days_ago: float, state: str, **extra):
        self.version += 1
        event = model(
            work_item_id=self.id,
            request_id=self.request_id,
            reference_no="XE-00000000-000099",
            request_type="compliance_certificate",
            item="tax",
            department_kind="tax",
            unit_code=self.unit,
            unit_name=f"测试单位 {self.unit}",
            region_code=REGION,
            subject_uscc=MINGLUO,
            subject_name="明珞(上海)科技有限公司",
            enterprise_uscc=MINGLUO,
            state=state,
            occurred_at=utcnow() - timedelta(days=days_ago),
            version=self.version,
            **extra,
        )
        message = encode(event, topic=events.WORKITEMS_EVENTS, source=events.SOURCE_ROUTER, key=self.request_id)
        await self.producer.send_and_wait(
            message.topic, message.value, key=message.key.encode(), headers=message.kafka_headers()
        )

    async def resolved(self, follow_up: str | None) -> None:
        extra = {"rule_id": None, "rule_version": None, "routing_reason": "t"}
        await self.send(events.WorkItemDispatched, 3, "dispatched", **extra)
        await self.send(events.WorkItemAcknowledged, 2.9, "acknowledged")
        await self.send(events.WorkItemResolved, 2, "resolved", resolution={"outcome": "answered"})
        if follow_up:
            await self.send(events.WorkItemFollowedUp, 1, "resolved", result=follow_up, method="phone")


async def test_the_solution_rate_counts_follow_ups_and_the_total_adds_up(system, producer):
    tag = uuid.uuid4().hex[:6]
    first, second = f"{REGION}.tax.f{tag}1", f"{REGION}.tax.f{tag}2"
    for unit, answers in ((first, ("solved", "partly", None)), (second, ("unsolved", "solved"))):
        for answer in answers:
            await Item(producer, unit).resolved(answer)
    today = utcnow().astimezone(SHANGHAI).date()
    period = {"from": str(today - timedelta(days=10)), "to": str(today + timedelta(days=1)), "region": REGION}
    supervisor = system.auth("supervisor", region="310000")

    async def table():
        shown = (await system.notifier.get("/v1/stats/units", params=period, headers=supervisor)).json()
        rows = {row["unit_code"]: row for row in shown["units"]}
        # Each item's events come on its own partition: wait for all of them, the first unit's
        # third item (resolved, never followed up) too.
        one, two = rows.get(first, {}), rows.get(second, {})
        seen = [row.get(field) for row in (one, two) for field in ("resolved", "followed_up")]
        ready = seen == [3, 2, 2, 2]
        return (shown, rows) if ready else None

    shown, rows = await eventually(table, timeout=30)
    one, two = rows[first], rows[second]
    assert (one["resolved"], one["followed_up"], one["solved"], one["partly_solved"]) == (3, 2, 1, 1)
    assert one["solution_rate"] == 0.5, "部分解决 is not solved"
    assert (two["followed_up"], two["solved"], two["partly_solved"], two["solution_rate"]) == (2, 1, 0, 0.5)
    total = shown["total"]
    for field in ("followed_up", "solved", "partly_solved"):
        assert total[field] == sum(row[field] for row in shown["units"]), field
    assert total["solution_rate"] == round(total["solved"] / total["followed_up"], 4)
    definitions = {d["field"]: d for d in shown["definitions"]}
    assert definitions["solution_rate"]["zh"] == "解决率" and definitions["resolution_rate"]["zh"] == "办结率"
    assert list(definitions).index("solution_rate") > list(definitions).index("satisfaction_rate")
    assert "solution_rate" in stats.RATES and "followed_up" in stats.COUNTS


def test_the_follow_up_message_asks_for_the_rating_and_whether_it_is_solved():
    record = SlaRecord(reference_no="XE-00000000-000001", subject_name="明珞", unit_name="浦东新区税务局")
    [(audience, title, body)] = timer_messages(record, "follow_up")
    assert (audience, title) == ("enterprise", "回访")
    assert "请对办理结果进行评价" in body and "问题是否已解决" in body
