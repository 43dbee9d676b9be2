"""Row 8 of issue 25, the clerk's queue: a search covers every tab and each hit says its tab; the
tabs' counts follow the same filters; filters by enterprise, deadline range and SLA state (as the
notifier's clock stands: paused during 补正, overdue past the deadline that counts now); and 签收
of many items in one call."""

from __future__ import annotations

import uuid
from datetime import timedelta

from shared.clock import fix_reading_now, utcnow
from shared.validation import make_uscc
from tests.support import certificate_request, eventually

UNIT = "440112.tax"


def new_enterprise() -> tuple[str, str]:
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    return make_uscc(f"91440112MA{digits}"[:17]), f"搜索测试{digits}有限公司"


async def items_of(system, uscc: str, name: str, count: int, kind: str = "tax") -> list[str]:
    ids = []
    for _ in range(count):
        body = certificate_request(enterprise=uscc, items=(kind,))
        body["enterprise"]["name"] = name
        created = await system.enterprise(uscc).submit(body)
        [item] = await system.routed_items(created["id"], 1)
        ids.append(item.id)
    return ids


async def queue(system, **params) -> list[dict]:
    response = await system.router.get(
        "/v1/workitems", params={"limit": 500, **params}, headers=system.clerk(UNIT).headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def counts(system, **params) -> dict[str, int]:
    response = await system.router.get("/v1/workitems/counts", params=params, headers=system.clerk(UNIT).headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == sum(t["count"] for t in body["tabs"])
    return {t["code"]: t["count"] for t in body["tabs"]}


async def test_a_search_covers_every_tab_and_the_counts_follow_the_filters(system):
    uscc, name = new_enterprise()
    fresh, working, waiting = await items_of(system, uscc, name, 3)
    clerk = system.clerk(UNIT)
    for item_id in (working, waiting):
        assert (await clerk.act(item_id, "acknowledge")).status_code == 200
    assert (await clerk.act(waiting, "request-supplement", note="请补充近三年纳税申报表")).status_code == 200

    found = {i["id"]: i["tab"] for i in await queue(system, q=name[2:])}
    assert found == {fresh: "new", working: "working", waiting: "supplement"}, "every tab, each hit with its tab"
    assert [i["id"] for i in await queue(system, q=uscc, tab="working")] == [working]
    assert await counts(system, q=name) == {"new": 1, "working": 1, "supplement": 1, "done": 0, "returned": 0}
    assert await counts(system, enterprise=uscc) == await counts(system, q=name)
    assert {i["id"] for i in await queue(system, enterprise=name)} == {fresh, working, waiting}

    async def paused():
        shown = await queue(system, enterprise=uscc, sla="paused")
        return shown if [i["id"] for i in shown] == [waiting] else None

    [held] = await eventually(paused)  # as the notifier paused its clock
    assert held["sla_paused"] is True
    assert {i["id"] for i in await queue(system, enterprise=uscc, sla="running")} == {fresh, working}
    assert await queue(system, enterprise=uscc, sla="overdue") == []


async def test_overdue_and_deadline_ranges_follow_the_deadline_that_counts_now(system):
    uscc, name = new_enterprise()
    fresh, working = await items_of(system, uscc, name, 2)
    assert (await system.clerk(UNIT).act(working, "acknowledge")).status_code == 200

    async def deadlines():
        shown = {i["id"]: i for i in await queue(system, enterprise=uscc)}
        known = all(i["acknowledge_due_at"] and i["resolve_due_at"] for i in shown.values())
        return shown if len(shown) == 2 and known else None

    shown = await eventually(deadlines)
    ack_due, resolve_due = shown[fresh]["acknowledge_due_at"], shown[working]["resolve_due_at"]
    assert ack_due < resolve_due
    only_fresh = await queue(system, enterprise=uscc, due_to=resolve_due)
    assert [i["id"] for i in only_fresh] == [fresh], "an unsigned item counts by its 签收 deadline"
    assert [i["id"] for i in await queue(system, enterprise=uscc, due_from=resolve_due)] == [working]
    fix_reading_now(utcnow() + timedelta(days=60))
    try:
        overdue = {i["id"] for i in await queue(system, enterprise=uscc, sla="overdue")}
        assert overdue == {fresh, working}
        assert await counts(system, enterprise=uscc, sla="overdue") == {
            "new": 1,
            "working": 1,
            "supplement": 0,
            "done": 0,
            "returned": 0,
        }
    finally:
        fix_reading_now(None)


async def test_many_items_are_signed_for_in_one_call(system):
    uscc, name = new_enterprise()
    first, second = await items_of(system, uscc, name, 2)
    [elsewhere] = await items_of(system, uscc, name, 1, kind="commerce")
    ids = [first, second, elsewhere, "no-such-item", first]
    signed = await system.router.post(
        "/v1/workitems/acknowledge", json={"ids": ids}, headers=system.clerk(UNIT).headers
    )
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["acknowledged"] == 2
    results = {r["id"]: r for r in body["results"]}
    assert list(results) == [first, second, elsewhere, "no-such-item"], "once each, in the order asked"
    assert results[first]["ok"] and results[first]["state"] == "acknowledged" and results[first]["message"] is None
    assert results[elsewhere] == {
        "id": elsewhere,
        "ok": False,
        "state": None,
        "code": "work_item_not_found",
        "message": "工单不存在",
    }
    again = await system.router.post(
        "/v1/workitems/acknowledge",
        json={"ids": [first]},
        headers={**system.clerk(UNIT).headers, "Accept-Language": "en"},
    )
    [result] = again.json()["results"]
    assert (result["ok"], result["code"]) == (False, "invalid_transition") and "acknowledged" in result["message"]
    assert {i["id"] for i in await queue(system, enterprise=uscc, tab="working")} == {first, second}
    supervisor = await system.router.post(
        "/v1/workitems/acknowledge", json={"ids": [second]}, headers=system.auth("supervisor", region="440112")
    )
    assert supervisor.status_code == 403
