"""Issue 29, item 2 — the enterprise's 催办, on the real notifier: refused while less than 80 % of
the deadline has elapsed (saying from when), accepted once it is late, refused again the same
working day (409, both languages, saying when next), accepted the next working day; a 催办 on a
rest day counts for the next working day. The unit and its region's supervisors are told through
the notification log; the unit's statistics count it (被催办次数, 合计 from the rows); the
enterprise reads on every item whether it may chase now and the unit's telephone. Instants are
computed from the working calendar ahead of today and read at fixed instants (fix_reading_now)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest

from services.notifier.workcal import WorkingCalendar
from shared.clock import SHANGHAI, fix_reading_now, utcnow
from shared.validation import make_uscc
from tests.support import OTHER_CO, eventually, publish_item_event, work_item_event

CALENDAR = WorkingCalendar()


def local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), SHANGHAI)


def working_days_from(day: date, count: int) -> list[date]:
    days = []
    while len(days) < count:
        day = CALENDAR.next_working_day(day)
        days.append(day)
    return days


def rest_day_after(day: date) -> date:
    day += timedelta(days=1)
    while CALENDAR.is_working_day(day):
        day += timedelta(days=1)
    return day


class Item:
    """A work item of its own unit and enterprise, dispatched by publishing the router's event."""

    def __init__(self, system, producer):
        self.system, self.producer = system, producer
        self.id, self.request_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.unit = f"440112.tax.u{uuid.uuid4().hex[:6]}"
        self.enterprise = make_uscc(f"91440112MA{uuid.uuid4().int % 10**7:07d}")

    async def dispatch(self, when: datetime) -> None:
        event = work_item_event(
            work_item_id=self.id,
            request_id=self.request_id,
            reference_no="XE-URGE-000001",
            unit_code=self.unit,
            unit_name="黄埔区税务局催办测试所",
            subject_uscc=self.enterprise,
            subject_name="广州催办测试有限公司",
            enterprise_uscc=self.enterprise,
            occurred_at=when,
            version=1,
        )
        await publish_item_event(self.producer, event)

    def caller(self, who: str) -> dict:
        auth = self.system.auth
        return {
            "enterprise": lambda: auth("enterprise", usccs=[self.enterprise], sub=f"e-{self.enterprise}"),
            "liaison": lambda: auth("liaison", usccs=[self.enterprise], sub="urge-liaison"),
            "clerk": lambda: auth("department", unit=self.unit, sub=f"clerk-{self.unit}"),
            "supervisor": lambda: auth("supervisor", region="440112", sub="urge-supervisor"),
            "stranger": lambda: auth("enterprise", usccs=[OTHER_CO], sub="urge-stranger"),
        }[who]()

    async def urge(self, who: str = "enterprise", language: str = "zh"):
        headers = {**self.caller(who), "Accept-Language": language}
        return await self.system.notifier.post(f"/v1/sla/{self.id}/urge", headers=headers)

    async def shown(self) -> dict:
        answer = await self.system.notifier.post(
            "/v1/countdowns", json={"work_item_ids": [self.id]}, headers=self.caller("enterprise")
        )
        [mine] = answer.json()
        return mine


@pytest.fixture
def reading():
    yield fix_reading_now
    fix_reading_now(None)


@pytest.fixture
async def late_item(system, producer):
    """An item dispatched at 10:00 of a working day a week ahead; its 签收 is due at close of the next."""
    start = CALENDAR.next_working_day(utcnow().astimezone(SHANGHAI).date() + timedelta(days=7))
    item = Item(system, producer)
    item.dispatched = local(start, 10)
    await item.dispatch(item.dispatched)

    async def known():
        return (await system.notifier.get(f"/v1/sla/{item.id}", headers=item.caller("clerk"))).status_code == 200

    await eventually(known)
    item.days = working_days_from(start, 4)  # the 签收 deadline's day, then the working days after it
    return item


def at_iso(answer: str) -> datetime:
    return datetime.fromisoformat(answer)


async def test_a_late_item_is_chased_once_per_working_day_and_the_unit_and_supervisors_are_told(
    system, late_item, reading
):
    item = late_item
    due = CALENDAR.add_working_days(item.dispatched, 1)
    eighty = CALENDAR.add_working_time(item.dispatched, CALENDAR.working_time_between(item.dispatched, due) * 0.8)

    reading(item.dispatched + timedelta(hours=1))
    early = await item.urge()
    assert early.status_code == 409 and early.headers["content-type"].startswith("application/problem+json")
    assert early.json()["code"] == "urge_too_early" and at_iso(early.json()["next_allowed_at"]) == eighty

    reading(eighty)  # 80 % elapsed, not yet late: allowed
    assert (await item.shown())["urge"]["allowed"] is True

    late_day, next_day = item.days[1], item.days[2]
    reading(local(late_day, 10))  # the 签收 deadline passed yesterday evening
    first = await item.urge()
    assert first.status_code == 201, first.text
    tomorrow = local(next_day, 0)
    assert first.json()["working_day"] == late_day.isoformat() and at_iso(first.json()["next_allowed_at"]) == tomorrow
    assert first.json()["notified"] >= 2  # the unit and the supervisors, on the event stream at least

    reading(local(late_day, 17))
    again = await item.urge(language="en")
    body = again.json()
    assert again.status_code == 409 and body["code"] == "urge_already_today"
    assert at_iso(body["next_allowed_at"]) == tomorrow and "next allowed at" in body["title"]
    assert body["errors"][0]["field"] == "work_item_id"
    in_chinese = (await item.urge(who="liaison")).json()
    assert "下次可催办时间" in in_chinese["title"] and tomorrow.strftime("%m月%d日 00:00") in in_chinese["title"]

    shown = await item.shown()
    assert shown["urge"]["allowed"] is False and shown["urge"]["reason"] == "already_today"
    assert shown["urge"]["count"] == 1 and at_iso(shown["urge"]["next_allowed_at"]) == tomorrow

    reading(local(next_day, 9))
    assert (await item.urge(who="liaison")).status_code == 201

    log = await system.notifier.get(
        "/v1/notifications", params={"work_item_id": item.id}, headers=item.caller("supervisor")
    )
    urged = [n for n in log.json() if n["kind"] == "enterprise_urge"]
    assert {n["recipient_kind"] for n in urged} == {"unit", "supervisor"}
    assert {n["kind_name"] for n in urged} == {"企业催办"} and len({n["body"] for n in urged}) >= 2
    assert any("驻企联络员催办" in n["body"] for n in urged) and any("企业催办工单" in n["body"] for n in urged)


async def test_a_rest_day_chase_counts_for_the_next_working_day(system, late_item, reading):
    item = late_item
    rest = rest_day_after(item.days[1])
    monday = CALENDAR.next_working_day(rest)
    reading(local(rest, 11))
    weekend = await item.urge()
    assert weekend.status_code == 201 and weekend.json()["working_day"] == monday.isoformat()
    reading(local(monday, 10))
    refused = await item.urge()
    assert refused.status_code == 409
    assert at_iso(refused.json()["next_allowed_at"]) == local(CALENDAR.next_working_day(monday), 0)


async def test_only_the_items_enterprise_may_chase_it(system, late_item, reading):
    item = late_item
    reading(local(item.days[1], 10))
    assert (await item.urge(who="clerk")).status_code == 403
    assert (await item.urge(who="supervisor")).status_code == 403
    assert (await item.urge(who="stranger")).status_code == 404
    assert (await system.notifier.post(f"/v1/sla/{item.id}/urge")).status_code == 401
    unknown = await system.notifier.post(f"/v1/sla/{uuid.uuid4()}/urge", headers=item.caller("enterprise"))
    assert unknown.status_code == 404


async def test_chases_count_for_the_unit_as_被催办次数_and_the_total_adds_up(system, late_item, reading):
    item = late_item
    for day in item.days[1:3]:
        reading(local(day, 10))
        assert (await item.urge()).status_code == 201
    period = {"from": item.dispatched.date().isoformat(), "to": (item.days[-1] + timedelta(days=1)).isoformat()}
    table = (await system.notifier.get("/v1/stats/units", params=period, headers=item.caller("supervisor"))).json()
    [row] = [r for r in table["units"] if r["unit_code"] == item.unit]
    assert row["urged"] == 2
    assert table["total"]["urged"] == sum(r["urged"] for r in table["units"])
    [definition] = [d for d in table["definitions"] if d["field"] == "urged"]
    assert definition["zh"] == "被催办次数" and "每个工作日至多一次" in definition["definition_zh"]
    exported = await system.notifier.get(
        "/v1/stats/units", params={**period, "format": "csv"}, headers=item.caller("supervisor")
    )
    assert "被催办次数" in exported.content.decode("utf-8-sig").splitlines()[0]


async def test_the_enterprise_sees_its_units_public_telephone_on_the_item(system, late_item):
    item = late_item
    admin = system.auth("admin", sub="urge-admin")
    unit = {
        "unit_code": item.unit,
        "name": "黄埔区税务局催办测试所",
        "kind": "tax",
        "region_code": "440112",
        "phone": "020-8211 2345转801",
        "office_hours": "工作日 9:00–12:00，13:00–18:00",
    }
    bad = await system.router.put(f"/v1/units/{item.unit}", json={**unit, "phone": "请拨总机"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone"
    assert "电话号码格式不正确" in bad.json()["errors"][0]["message"]
    assert (await system.router.put(f"/v1/units/{item.unit}", json=unit, headers=admin)).status_code == 200

    async def shown():
        contact = (await item.shown())["unit_contact"]
        return contact if contact["phone"] else None

    contact = await eventually(shown)
    assert contact == {"phone": "020-8211 2345转801", "office_hours": "工作日 9:00–12:00，13:00–18:00"}
