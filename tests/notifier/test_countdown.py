"""Row 6 of issue 25, one clock: an item's countdown reads the same for its enterprise, its unit's
clerk, the supervisor's overdue board and its timer plan, because one function computes it
(services/notifier/countdown.py); paused during 补正 for everyone. The item's events carry fixed
instants of November 2025 and the answers are read at fixed instants (shared.clock.fix_reading_now)."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from shared import events
from shared.clock import fix_reading_now
from shared.messaging.encoding import encode
from shared.validation import make_uscc
from tests.support import OTHER_CO, eventually


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2025-11-{text}+08:00")


class Item:
    """A work item of its own unit and enterprise, moved by publishing the router's events."""

    def __init__(self, system, producer):
        self.system, self.producer = system, producer
        self.id, self.request_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.unit = f"440112.tax.c{uuid.uuid4().hex[:6]}"
        self.enterprise = make_uscc(f"91440112MA{uuid.uuid4().int % 10**7:07d}")
        self.version = 0

    async def send(self, model, when: str, state: str, **extra):
        self.version += 1
        event = model(
            work_item_id=self.id,
            request_id=self.request_id,
            reference_no="XE-20251103-000007",
            request_type="compliance_certificate",
            item="tax",
            department_kind="tax",
            unit_code=self.unit,
            unit_name="黄埔区税务局第一税务所",
            region_code="440112",
            subject_uscc=self.enterprise,
            subject_name="广州倒计时测试有限公司",
            enterprise_uscc=self.enterprise,
            state=state,
            occurred_at=at(when),
            version=self.version,
            **extra,
        )
        message = encode(event, topic=events.WORKITEMS_EVENTS, source=events.SOURCE_ROUTER, key=self.request_id)
        await self.producer.send_and_wait(
            message.topic, message.value, key=message.key.encode(), headers=message.kafka_headers()
        )

    def callers(self) -> dict[str, dict]:
        auth = self.system.auth
        return {
            "enterprise": auth("enterprise", usccs=[self.enterprise], sub=f"e-{self.enterprise}"),
            "clerk": auth("department", unit=self.unit, sub=f"clerk-{self.unit}"),
            "supervisor": auth("supervisor", region="440112", sub="countdown-supervisor"),
        }

    async def texts(self) -> dict[str, str]:
        """The countdown as each reader's answer gives it."""
        notifier, callers = self.system.notifier, self.callers()
        shown = {}
        for who, headers in callers.items():
            answer = await notifier.post("/v1/countdowns", json={"request_ids": [self.request_id]}, headers=headers)
            [mine] = answer.json()
            shown[f"{who}: countdowns"] = mine["countdown"]["zh"]
        for who in ("clerk", "supervisor"):
            plan = (await notifier.get(f"/v1/sla/{self.id}", headers=callers[who])).json()
            shown[f"{who}: sla"] = plan["countdown"]["zh"]
        return shown


@pytest.fixture
def reading():
    yield fix_reading_now
    fix_reading_now(None)


async def test_every_reader_sees_the_same_countdown_paused_during_a_supplement(system, producer, reading):
    item = Item(system, producer)
    await item.send(events.WorkItemDispatched, "03T10:00", "dispatched", rule_id=1, rule_version=1, routing_reason="t")
    clerk = item.callers()["clerk"]

    async def known():
        return (await system.notifier.get(f"/v1/sla/{item.id}", headers=clerk)).status_code == 200

    await eventually(known)
    reading(at("04T14:00"))
    assert set((await item.texts()).values()) == {"签收剩余 4 小时"}

    reading(at("06T10:00"))  # a day and an hour past 签收's deadline
    assert set((await item.texts()).values()) == {"签收超期 1 个工作日"}
    board = await system.notifier.get("/v1/overdue", params={"region": "440112"}, headers=item.callers()["supervisor"])
    [late] = [row for row in board.json() if row["work_item_id"] == item.id]
    assert late["countdown"]["zh"] == "签收超期 1 个工作日" and late["countdown"]["tone"] == "late"
    assert late["overdue_working_hours"] == 9.0

    await item.send(events.WorkItemAcknowledged, "06T11:00", "acknowledged")
    await item.send(events.WorkItemSupplementRequested, "06T15:00", "awaiting_supplement", note="补充纳税申报表")

    async def paused():
        return (await system.notifier.get(f"/v1/sla/{item.id}", headers=clerk)).json()["paused"]

    await eventually(paused)
    reading(at("12T10:00"))  # past the deadline as it stood, but the clock stands still
    paused_text = "暂停计时（待补正），办结剩余 2 个工作日"
    assert set((await item.texts()).values()) == {paused_text}
    board = await system.notifier.get("/v1/overdue", params={"region": "440112"}, headers=item.callers()["supervisor"])
    assert item.id not in [row["work_item_id"] for row in board.json()], "a paused item is overdue for no one"


async def test_strangers_read_no_countdown(system, producer):
    item = Item(system, producer)
    await item.send(events.WorkItemDispatched, "03T10:00", "dispatched", rule_id=1, rule_version=1, routing_reason="t")
    clerk = item.callers()["clerk"]

    async def known():
        return (await system.notifier.get(f"/v1/sla/{item.id}", headers=clerk)).status_code == 200

    await eventually(known)
    strangers = {
        "another enterprise": system.auth("enterprise", usccs=[OTHER_CO]),
        "another unit": system.auth("department", unit="440112.tax"),
        "a neighbouring supervisor": system.auth("supervisor", region="440113"),
    }
    for who, headers in strangers.items():
        for asked in ({"request_ids": [item.request_id]}, {"work_item_ids": [item.id]}):
            answer = await system.notifier.post("/v1/countdowns", json=asked, headers=headers)
            assert answer.status_code == 200 and answer.json() == [], who
    assert (await system.notifier.post("/v1/countdowns", json={"work_item_ids": [item.id]})).status_code == 401
    neither = await system.notifier.post("/v1/countdowns", json={}, headers=clerk)
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "work_item_ids"
