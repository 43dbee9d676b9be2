"""The supervisors' overdue board a page at a time (issue 28: a province has thousands overdue at
once): the oldest deadline first, the next page's address in the ``Link`` header, filters by unit,
department kind and request type, and a summary with the count and the filters' choices. A forged
cursor is a field error; a clerk has no board."""

from __future__ import annotations

import uuid

from tests.notifier.test_unit_stats import REGION, Item
from tests.support import eventually


async def test_the_overdue_board_comes_a_page_at_a_time_oldest_first_with_its_summary(system, producer):
    tag = uuid.uuid4().hex[:6]
    late, other = f"{REGION}.tax.o{tag}", f"{REGION}.market.o{tag}"
    items = [Item(system, producer, late) for _ in range(3)]
    for day, item in zip(("10-20", "10-21", "10-22"), items, strict=True):
        await item.dispatch(f"{day}T10:00", late)  # past both limits long ago
    elsewhere = Item(system, producer, other)
    await elsewhere.dispatch("10-23T10:00", other)
    supervisor = system.auth("supervisor", region="310000")

    async def summary(**params):
        answer = await system.notifier.get("/v1/overdue/summary", params=params, headers=supervisor)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def all_there():
        shown = await summary(region=REGION)
        units = {c["code"]: c["count"] for c in shown["units"]}
        return shown if (units.get(late), units.get(other)) == (3, 1) else None

    shown = await eventually(all_there)
    assert {c["code"] for c in shown["kinds"]} >= {"tax"} and shown["total"] >= 4
    assert (await summary(region=REGION, unit=late))["total"] == 3

    first = await system.notifier.get("/v1/overdue", params={"unit": late, "limit": 2}, headers=supervisor)
    assert first.status_code == 200, first.text
    assert [r["work_item_id"] for r in first.json()] == [items[0].id, items[1].id], "the oldest deadline first"
    after = first.links["next"]["url"]
    second = await system.notifier.get(after, headers=supervisor)
    assert [r["work_item_id"] for r in second.json()] == [items[2].id]
    assert "next" not in second.links, "the last page says so"
    assert all(r["countdown"]["overdue"] for r in first.json() + second.json())

    typed = await system.notifier.get(
        "/v1/overdue", params={"region": REGION, "request_type": "no_such_type"}, headers=supervisor
    )
    assert typed.json() == []
    forged = await system.notifier.get("/v1/overdue", params={"cursor": "1_x"}, headers=supervisor)
    assert forged.status_code == 422 and forged.json()["errors"][0]["field"] == "cursor"
    clerk = system.auth("department", unit=late)
    assert (await system.notifier.get("/v1/overdue/summary", headers=clerk)).status_code == 403
