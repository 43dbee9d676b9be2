"""Issue 29, item 1 — the message centre (消息中心) on the real notifier: what the notifier tells an
audience is also stored as an in-app message for it (an enterprise by USCC, also read by its
liaison officers; a unit by code; the supervisors whose region covers the handling unit's), listed
newest first a page at a time, with each person's own read marks, and logged beside the other
channels as 站内消息. Items are moved by publishing the router's events, each test with a unit and
an enterprise of its own so that its counts are exact."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from shared import events
from shared.clock import utcnow
from shared.messaging.encoding import encode
from shared.validation import make_uscc
from tests.support import eventually


class Desk:
    """A unit and an enterprise of their own, whose items are moved by publishing the router's events."""

    def __init__(self, system, producer, region: str = "440112"):
        self.system, self.producer, self.region = system, producer, region
        self.unit = f"{region}.tax.m{uuid.uuid4().hex[:6]}"
        self.enterprise = make_uscc(f"91{region}MA{uuid.uuid4().int % 10**7:07d}")
        self.request_id = str(uuid.uuid4())  # one request: its items' events keep their order (one partition)
        self.versions: dict[str, int] = {}

    async def send(self, model, item_id: str, state: str, when: datetime | None = None, **extra) -> None:
        self.versions[item_id] = self.versions.get(item_id, 0) + 1
        event = model(
            work_item_id=item_id,
            request_id=self.request_id,
            reference_no="XE-20261206-000777",
            request_type="compliance_certificate",
            item="tax",
            department_kind="tax",
            unit_code=self.unit,
            unit_name="消息测试税务所",
            region_code=self.region,
            subject_uscc=self.enterprise,
            subject_name="广州消息测试有限公司",
            enterprise_uscc=self.enterprise,
            state=state,
            occurred_at=when or utcnow(),
            version=self.versions[item_id],
            **extra,
        )
        message = encode(event, topic=events.WORKITEMS_EVENTS, source=events.SOURCE_ROUTER, key=self.request_id)
        await self.producer.send_and_wait(
            message.topic, message.value, key=message.key.encode(), headers=message.kafka_headers()
        )

    async def dispatch(self, when: datetime | None = None) -> str:
        item_id = str(uuid.uuid4())
        extra = {"rule_id": 1, "rule_version": 1, "routing_reason": "t"}
        await self.send(events.WorkItemDispatched, item_id, "dispatched", when, **extra)
        return item_id

    def clerk(self, sub: str = "clerk-a", lead: bool = False) -> dict:
        return self.system.auth("department", unit=self.unit, sub=f"{sub}-{self.unit}", lead=lead)

    def enterprise_user(self) -> dict:
        return self.system.auth("enterprise", usccs=[self.enterprise], sub=f"e-{self.enterprise}")

    def liaison(self) -> dict:
        return self.system.auth("liaison", usccs=[self.enterprise], sub=f"l-{self.enterprise}")

    async def messages(self, headers: dict, **params) -> dict:
        answer = await self.system.notifier.get("/v1/messages", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def unread(self, headers: dict) -> int:
        answer = await self.system.notifier.get("/v1/messages/unread-count", headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()["unread"]

    async def until_unread(self, headers: dict, count: int) -> None:
        async def reached():
            return await self.unread(headers) == count

        await eventually(reached)


async def test_each_new_item_tells_its_unit_newest_first_a_page_at_a_time(system, producer):
    desk = Desk(system, producer)
    items = [await desk.dispatch() for _ in range(5)]
    clerk = desk.clerk()
    await desk.until_unread(clerk, 5)

    pages, cursor = [], None
    while True:
        page = await desk.messages(clerk, limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        assert page["unread"] == 5
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    shown = [m for p in pages for m in p]
    ids = [m["id"] for m in shown]
    assert ids == sorted(ids, reverse=True), "newest first"
    assert [m["work_item_id"] for m in shown] == items[::-1]
    first = shown[-1]
    assert first == {
        **first,
        "kind": "cn.xiaoer.workitem.dispatched",
        "kind_name": "新工单待签收",
        "kind_name_en": "New item to sign for",
        "title": "新工单待签收",
        "audience": "unit",
        "target": "work_item",
        "request_id": desk.request_id,
        "read": False,
        "read_at": None,
    }
    assert "消息测试税务所收到新工单" in first["body"]

    read = await system.notifier.post(f"/v1/messages/{ids[0]}/read", headers=clerk)
    assert read.status_code == 200 and read.json()["read"] is True and read.json()["read_at"]
    unread = await desk.messages(clerk, unread="true")
    assert [m["id"] for m in unread["items"]] == ids[1:] and unread["unread"] == 4
    everything = await desk.messages(clerk)
    assert [m["read"] for m in everything["items"]] == [True, False, False, False, False]


async def test_a_cursor_that_is_not_one_is_refused_in_both_languages(system):
    headers = system.auth("department", unit="440112.tax")
    for cursor in ("abc", "-1", "9" * 30):
        answer = await system.notifier.get("/v1/messages", params={"cursor": cursor}, headers=headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == ["cursor"]
    english = await system.notifier.get(
        "/v1/messages", params={"cursor": "abc"}, headers={**headers, "Accept-Language": "en"}
    )
    assert english.json()["errors"][0]["message"] == "Invalid cursor"


async def test_read_marks_are_each_persons_own_and_all_can_be_marked_at_once(system, producer):
    desk = Desk(system, producer)
    for _ in range(3):
        await desk.dispatch()
    anna, bo = desk.clerk("anna"), desk.clerk("bo")
    await desk.until_unread(anna, 3)
    newest = (await desk.messages(anna))["items"][0]

    first = await system.notifier.post(f"/v1/messages/{newest['id']}/read", headers=anna)
    again = await system.notifier.post(f"/v1/messages/{newest['id']}/read", headers=anna)
    assert again.json()["read_at"] == first.json()["read_at"], "read once; reading again changes nothing"
    assert (await desk.unread(anna), await desk.unread(bo)) == (2, 3), "bo has read nothing"

    all_read = await system.notifier.post("/v1/messages/read-all", headers=anna)
    assert all_read.status_code == 200 and all_read.json() == {"marked": 2, "unread": 0}
    assert (await desk.unread(anna), await desk.unread(bo)) == (0, 3)
    assert (await system.notifier.post("/v1/messages/read-all", headers=anna)).json()["marked"] == 0

    # A new item after 全部已读 is unread again, for everyone of the unit.
    await desk.dispatch()
    await desk.until_unread(anna, 1)
    assert await desk.unread(bo) == 4


async def test_the_enterprise_and_its_liaison_read_the_supplement_and_the_log_shows_the_in_app_channel(
    system, producer
):
    desk = Desk(system, producer)
    item = await desk.dispatch()
    await desk.send(events.WorkItemAcknowledged, item, "acknowledged")
    await desk.send(events.WorkItemSupplementRequested, item, "awaiting_supplement", note="请补充近三年纳税证明")
    enterprise, liaison = desk.enterprise_user(), desk.liaison()
    await desk.until_unread(enterprise, 2)

    mine = (await desk.messages(enterprise))["items"]
    assert [(m["kind_name"], m["title"]) for m in mine] == [("待您补正", "请补正材料"), ("已签收", "已签收")]
    assert {(m["audience"], m["target"], m["request_id"], m["work_item_id"]) for m in mine} == {
        ("enterprise", "request", desk.request_id, item)
    }
    assert "请补充近三年纳税证明" in mine[0]["body"]
    assert [m["id"] for m in (await desk.messages(liaison))["items"]] == [m["id"] for m in mine]
    assert [m["kind"] for m in (await desk.messages(desk.clerk()))["items"]] == ["cn.xiaoer.workitem.dispatched"]

    await system.notifier.post(f"/v1/messages/{mine[0]['id']}/read", headers=enterprise)
    assert (await desk.unread(enterprise), await desk.unread(liaison)) == (1, 2)

    log = await system.notifier.get(
        "/v1/notifications", params={"work_item_id": item}, headers=system.auth("supervisor", region="440100")
    )
    in_app = [n for n in log.json() if n["channel"] == "inbox"]
    assert {(n["recipient_kind"], n["address"], n["status"]) for n in in_app} == {
        ("unit", desk.unit, "sent"),
        ("enterprise", desk.enterprise, "sent"),
    }
    assert {(n["channel_name"], n["channel_name_en"]) for n in in_app} == {("站内消息", "In-app message")}
    news = [n for n in log.json() if n["kind"] == "cn.xiaoer.workitem.supplement_requested"]
    assert {n["channel"] for n in news} == {"inbox", "topic"}, "said on every channel, the message centre too"
    assert not [n for n in log.json() if n["kind"] == "cn.xiaoer.workitem.dispatched" and n["channel"] != "inbox"]


async def test_an_escalation_reaches_the_supervisors_whose_region_covers_the_unit(system, producer):
    desk = Desk(system, producer, region="440114")
    item = await desk.dispatch(when=utcnow() - timedelta(days=20))  # long past its 签收 limit
    await desk.until_unread(desk.clerk(), 1)

    async def escalated():
        while await system.runtimes["notifier"].scheduler.fire_due_timers(utcnow()):
            pass  # every timer due by now, ours among them
        log = await system.notifier.get(
            "/v1/notifications", params={"work_item_id": item}, headers=system.auth("admin")
        )
        rows = [n for n in log.json() if n["channel"] == "inbox" and n["recipient_kind"] == "supervisor"]
        return rows if len(rows) >= 2 else None

    chase = {n["kind"]: n["id"] for n in await eventually(escalated)}
    message = chase["acknowledge_escalate"]
    district = system.auth("supervisor", region="440114", sub="dudao-440114")
    city = system.auth("supervisor", region="440100", sub="dudao-440100")
    for reader in (district, city):
        seen = await system.notifier.get(f"/v1/messages/{message}", headers=reader)
        assert (
            seen.status_code == 200 and seen.json()["kind_name"] == "签收督办" and seen.json()["target"] == "work_item"
        )
    await system.notifier.post(f"/v1/messages/{message}/read", headers=district)
    assert (await system.notifier.get(f"/v1/messages/{message}", headers=city)).json()["read"] is False
    for stranger in (
        system.auth("supervisor", region="440112"),
        system.auth("supervisor", region="310000"),
        desk.clerk(),
        desk.enterprise_user(),
    ):
        assert (await system.notifier.get(f"/v1/messages/{message}", headers=stranger)).status_code == 404
        assert (await system.notifier.post(f"/v1/messages/{message}/read", headers=stranger)).status_code == 404
    lead = desk.clerk("lead", lead=True)
    leadership = [m for m in (await desk.messages(lead))["items"] if m["audience"] == "leadership"]
    assert [m["kind"] for m in leadership] == ["acknowledge_escalate"], "the unit's lead reads its 督办"
    assert not [m for m in (await desk.messages(desk.clerk()))["items"] if m["audience"] == "leadership"]
