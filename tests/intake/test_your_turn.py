""" "Your turn" is visible (row 5 of issue 25): a request says what it waits for from its enterprise
— its status (待补正, 待评价), the items it waits on, a summary of its items by state and its step
(提交 → 受理 → 办理 → 办结); the enterprise's list puts such requests first; and the enterprise is
told through its channel."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.notifier.models import Notification
from shared.validation import make_uscc
from tests.support import certificate_request, eventually


async def waiting_request(system):
    """An enterprise of its own, a request of three items of which the tax bureau asks for a 补正."""
    uscc = make_uscc(f"91440112MA{uuid.uuid4().int % 10**7:07d}")
    enterprise = system.enterprise(uscc)
    created = await enterprise.submit(certificate_request(enterprise=uscc, items=("tax", "commerce", "statistics")))
    items = {i.item: i.id for i in await system.routed_items(created["id"], 3)}
    return enterprise, created, items


async def seen_when(enterprise, request_id: str, check) -> dict:
    async def seen():
        body = await enterprise.request(request_id)
        return body if check(body) else None

    return await eventually(seen)


async def test_a_request_says_when_it_is_the_enterprises_turn(system):
    enterprise, created, items = await waiting_request(system)
    seen = await seen_when(enterprise, created["id"], lambda b: b["summary"]["total"] == 3)
    assert (seen["status"], seen["status_name"], seen["your_turn"]) == ("dispatched", "已派单", [])
    assert seen["summary"]["zh"] == "3 项：待签收 3"
    assert (seen["step"]["code"], [s["current"] for s in seen["step"]["steps"]]) == (
        "accepted",
        [False, True, False, False],
    )

    tax = system.clerk("440112.tax")
    await tax.act(items["tax"], "acknowledge")
    await tax.act(items["tax"], "request-supplement", note="请补充近三年纳税申报表")
    seen = await seen_when(enterprise, created["id"], lambda b: b["status"] == "awaiting_supplement")
    assert seen["status_name"] == "待补正"
    [turn] = seen["your_turn"]
    assert (turn["kind"], turn["work_item_id"]) == ("supplement", items["tax"])
    assert turn["zh"] == "广州市黄埔区税务局要求补正材料（广州明珞装备股份有限公司）"
    assert seen["summary"]["zh"] == "3 项：待签收 2 · 待您补正 1" and seen["step"]["code"] == "handling"

    answered = await system.intake.post(
        f"/v1/requests/{created['id']}/supplements",
        json={"work_item_id": items["tax"], "text": "已补充"},
        headers=enterprise.headers,
    )
    assert answered.status_code == 202
    seen = await seen_when(enterprise, created["id"], lambda b: b["status"] == "in_progress")
    assert seen["your_turn"] == []

    commerce = system.clerk("440112.commerce")
    await commerce.act(items["commerce"], "acknowledge")
    await commerce.act(items["commerce"], "resolve", outcome="not_issued", note="存在一起行政处罚")
    seen = await seen_when(enterprise, created["id"], lambda b: b["status"] == "awaiting_rating")
    assert seen["status_name"] == "待评价" and [t["kind"] for t in seen["your_turn"]] == ["rating"]
    rated = await system.intake.post(
        f"/v1/requests/{created['id']}/ratings",
        json={"work_item_id": items["commerce"], "score": 4},
        headers=enterprise.headers,
    )
    assert rated.status_code == 201
    seen = await enterprise.request(created["id"])
    assert seen["status"] == "in_progress" and seen["your_turn"] == [], "rated: no longer its turn"


async def test_the_enterprises_list_puts_its_turn_first_and_it_is_told(system):
    enterprise, created, items = await waiting_request(system)
    tax = system.clerk("440112.tax")
    await tax.act(items["tax"], "acknowledge")
    await tax.act(items["tax"], "request-supplement", note="请补充营业执照副本")
    await seen_when(enterprise, created["id"], lambda b: b["status"] == "awaiting_supplement")
    newer = await enterprise.submit(certificate_request(enterprise=enterprise.uscc, items=("tax",)))

    listed = (await system.intake.get("/v1/requests", params={"limit": 1}, headers=enterprise.headers)).json()
    [first] = listed["items"]
    assert (first["id"], first["your_turn"], first["status_name"]) == (created["id"], True, "待补正")
    rest = await system.intake.get(
        "/v1/requests", params={"limit": 10, "cursor": listed["next_cursor"]}, headers=enterprise.headers
    )
    assert [r["id"] for r in rest.json()["items"]] == [newer["id"]], "then the newest, none twice"
    assert rest.json()["items"][0]["your_turn"] is False

    async def told():
        async with system.runtimes["notifier"].sessions() as session:
            rows = await session.scalars(
                select(Notification).where(
                    Notification.work_item_id == items["tax"], Notification.recipient_kind == "enterprise"
                )
            )
            return [n for n in rows if n.title == "请补正材料" and "营业执照副本" in n.body] or None

    assert await eventually(told)
